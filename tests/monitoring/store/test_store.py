"""Tests for the embedded telemetry store (whispersync.monitoring.store)."""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from helpers import FakeClock

from whispersync.errors import QueryTimeout
from whispersync.monitoring.store import _segments
from whispersync.monitoring.store import _store as store_module
from whispersync.monitoring.store import MetricSeries, TelemetryStore, dims_key, run_with_deadline

# 2026-11-27T13:45:00Z, the start of a minute.
T0 = 1795787100.0
T0_MS = int(T0 * 1000)
DAY = 86400


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[TelemetryStore]:
    # A long flush interval keeps the background thread out of the way: tests flush.
    s = TelemetryStore(tmp_path / "telemetry", flush_interval=60, clock=clock)
    yield s
    s.close()


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log(i: int, *, ms: int | None = None, level: str = "INFO", cid: str = "c-1", **extra) -> dict:
    return {
        "level": level,
        "location": "worker:12",
        "message": f"message {i}",
        "timestamp": iso(T0_MS + i if ms is None else ms),
        "service": "whispersync",
        "logger": "whispersync.worker",
        "correlation_id": cid,
        "trace_id": f"{i % 3:032x}",
        "span_id": f"{i:016x}",
        **extra,
    }


def metric(value: float, *, ms: int = T0_MS, name: str = "TranscriptsProcessed", **dims: str) -> dict:
    return {
        "timestamp": ms,
        "namespace": "WhisperSync/Business",
        "name": name,
        "unit": "Count",
        "value": value,
        "dimensions": dims,
    }


def span(i: int, *, trace: int = 0, cid: str = "c-1") -> dict:
    start = int(T0 * 1e9) + i * 1_000_000
    return {
        "trace_id": f"{trace:032x}",
        "span_id": f"{i:016x}",
        "parent_span_id": None if i == 0 else f"{0:016x}",
        "name": "agent_processing",
        "kind": "INTERNAL",
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + 2_500_000,
        "duration_ms": 2.5,
        "status": "OK" if i % 4 else "ERROR",
        "status_message": "",
        "service": "whispersync",
        "correlation_id": cid,
        "annotations": {"agent_type": "work", "success": bool(i % 4)},
        "metadata": {"transcript_length": 100 + i},
        "events": [],
    }


def emit_sample(store: TelemetryStore, n: int = 20) -> None:
    for i in range(n):
        store.emit("logs", log(i, level="ERROR" if i % 5 == 0 else "INFO"))
        store.emit("metrics", metric(float(i), ms=T0_MS + i * 1000, AgentType="work", Status="Success"))
        store.emit("spans", span(i, trace=i % 2))
    store.flush()


def count(store: TelemetryStore, view: str) -> int:
    with store.connect() as con:
        return con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]


def answers(store: TelemetryStore) -> dict:
    """Every public query's answer, to compare before and after compaction."""
    with store.connect() as con:
        by_level = con.execute("SELECT level, count(*) FROM logs GROUP BY level ORDER BY level").fetchall()
        extracted = con.execute("SELECT raw->>'$.location' FROM logs LIMIT 1").fetchall()
        metric_rows = con.execute(
            "SELECT ts, namespace, name, unit, dims, dimensions, value FROM metrics ORDER BY ts"
        ).fetchall()
        span_rows = con.execute(
            "SELECT * EXCLUDE (raw) FROM spans ORDER BY start_time_unix_nano"
        ).fetchall()
    return {
        "logs": store.logs(),
        "errors": store.logs(level="ERROR"),
        "by_level": by_level,
        "extracted": extracted,
        "spans": store.spans(),
        "trace": store.spans(trace_id=f"{1:032x}"),
        "trace_ids": store.trace_ids_for("c-1"),
        "list_metrics": store.list_metrics(),
        "sum": store.metric_statistics(
            "WhisperSync/Business", "TranscriptsProcessed",
            dimensions={"AgentType": "work", "Status": "Success"},
            start_ms=T0_MS, end_ms=T0_MS + 3_600_000,
        ),
        "metric_rows": metric_rows,
        "span_rows": span_rows,
    }


def files(store: TelemetryStore, suffix: str) -> list[Path]:
    return sorted(store.root.rglob(f"*{suffix}"))


class TestRoundTrip:
    def test_each_stream_reads_back_the_original_records(self, store: TelemetryStore) -> None:
        """Records come back as the dicts that were emitted, oldest first."""
        emit_sample(store, 5)
        assert store.logs() == [log(i, level="ERROR" if i % 5 == 0 else "INFO") for i in range(5)]
        assert store.spans() == [span(i, trace=i % 2) for i in range(5)]
        assert store.list_metrics() == [
            {
                "namespace": "WhisperSync/Business",
                "name": "TranscriptsProcessed",
                "dimensions": {"AgentType": "work", "Status": "Success"},
            }
        ]

    def test_answers_are_identical_from_jsonl_and_after_compaction(
        self, store: TelemetryStore, clock: FakeClock
    ) -> None:
        """Compaction changes the files, never a query's answer."""
        emit_sample(store)
        before = answers(store)
        assert files(store, ".jsonl") and not files(store, ".parquet")
        clock.advance(120)
        assert store.compact() == 3
        assert not files(store, ".jsonl") and len(files(store, ".parquet")) == 3
        assert answers(store) == before
        clock.advance(2 * DAY)  # the day closes: still one file per stream
        store.compact()
        assert answers(store) == before

    def test_typed_columns_are_extracted(self, store: TelemetryStore) -> None:
        """The views expose typed columns and the raw record for any other field."""
        store.emit("logs", log(1, log_group="/aws/lambda/x", log_stream="s1", agent="work"))
        store.flush()
        with store.connect() as con:
            row = con.execute(
                "SELECT ts, level, service, log_group, log_stream, raw->>'$.agent' FROM logs"
            ).fetchone()
        assert row == (datetime(2026, 11, 27, 13, 45, 0, 1000), "INFO", "whispersync", "/aws/lambda/x", "s1", "work")

    def test_it_works_with_no_data_at_all(self, store: TelemetryStore) -> None:
        """Empty typed views: queries answer nothing instead of failing."""
        assert count(store, "logs") == count(store, "metrics") == count(store, "spans") == 0
        assert store.logs() == [] and store.spans() == [] and store.list_metrics() == []
        assert store.trace_ids_for("c-1") == []
        series = store.metric_statistics("NS", "M", start_ms=0, end_ms=T0_MS)
        assert series == MetricSeries("M", None, [], [])
        assert store.compact() == 0

    def test_it_reads_parquet_and_open_jsonl_together(self, store: TelemetryStore, clock: FakeClock) -> None:
        """Compacted and still-open segments are one view."""
        emit_sample(store, 10)
        clock.advance(120)
        store.compact()
        emit_sample(store, 7)  # a new window: new JSONL segments
        assert files(store, ".jsonl") and files(store, ".parquet")
        assert count(store, "logs") == 17
        assert count(store, "metrics") == 17
        assert count(store, "spans") == 17

    def test_filters_select_records(self, store: TelemetryStore) -> None:
        """logs() and spans() filter by time, ids and level; limit caps the answer."""
        for i in range(10):
            store.emit("logs", log(i, cid="a" if i < 4 else "b"))
            store.emit("spans", span(i, trace=i % 2, cid="a" if i < 4 else "b"))
        store.flush()
        assert [r["message"] for r in store.logs(start_ms=T0_MS + 2, end_ms=T0_MS + 4)] == [
            "message 2", "message 3", "message 4",
        ]
        assert len(store.logs(correlation_id="a")) == 4
        assert len(store.logs(trace_id=f"{0:032x}")) == 4
        assert len(store.logs(limit=3)) == 3
        assert [s["span_id"] for s in store.spans(correlation_id="b", trace_id=f"{1:032x}")] == [
            f"{i:016x}" for i in (5, 7, 9)
        ]
        assert len(store.spans(start_ms=int(T0 * 1000) + 8)) == 2
        assert store.trace_ids_for("a") == [f"{t:032x}" for t in (0, 1, 2)]  # spans and logs


class TestListMetrics:
    """list_metrics reads a compacted file's metrics once while the file is unchanged (issue 15)."""

    def test_a_compacted_file_is_read_once_and_open_segments_every_time(
        self, store: TelemetryStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store.emit("metrics", metric(1, AgentType="work"))
        store.flush()
        clock.advance(120)
        store.compact()
        store.emit("metrics", metric(1, ms=T0_MS + 130_000, AgentType="memory"))  # an open segment
        store.flush()
        reads: list[str] = []
        distinct = store_module._distinct_metrics
        monkeypatch.setattr(store_module, "_distinct_metrics",
                            lambda cursor, source: reads.append(source) or distinct(cursor, source))
        expected = [{"namespace": "WhisperSync/Business", "name": "TranscriptsProcessed",
                     "dimensions": {"AgentType": agent}} for agent in ("memory", "work")]
        assert store.list_metrics() == expected
        assert [".parquet" in r for r in reads] == [True, False]  # the file, then the open segment
        assert store.list_metrics() == expected
        assert [".parquet" in r for r in reads] == [True, False, False]  # the segment only
        assert store.list_metrics(name="Nothing") == [] and store.list_metrics(namespace="WhisperSync/Business")

    def test_a_file_rewritten_in_place_is_read_again(self, store: TelemetryStore, clock: FakeClock) -> None:
        store.emit("metrics", metric(1, AgentType="work"))
        store.flush()
        clock.advance(120)
        store.compact()
        assert [m["dimensions"] for m in store.list_metrics()] == [{"AgentType": "work"}]
        [path] = files(store, ".parquet")
        with duckdb.connect() as con:  # the same path, other contents: a new identity
            con.execute(f"COPY (SELECT * REPLACE (replace(dims, 'work', 'memory') AS dims, "
                        f"replace(dimensions, 'work', 'memory') AS dimensions) FROM read_parquet('{path}')) "
                        f"TO '{path}.new' (FORMAT parquet)")
        Path(f"{path}.new").replace(path)
        assert [m["dimensions"] for m in store.list_metrics()] == [{"AgentType": "memory"}]


class TestWriter:
    def test_emit_never_raises_and_counts_faults(self, store: TelemetryStore) -> None:
        """Unknown streams and emits after close are counted, not raised."""
        store.emit("nonsense", {"a": 1})
        store.flush()
        assert store.faults == 1
        store.close()
        store.emit("logs", log(1))
        assert store.faults == 2

    def test_a_new_window_starts_a_new_segment(self, store: TelemetryStore, clock: FakeClock) -> None:
        """Writers rotate files when the window changes, never append to an old one."""
        store.emit("logs", log(1))
        store.flush()
        clock.advance(60)
        store.emit("logs", log(2))
        store.flush()
        segments = files(store, ".jsonl")
        assert len(segments) == 2
        assert all(len(p.read_bytes().splitlines()) == 1 for p in segments)
        assert segments[0].parent.name == "dt=2026-11-27"

    def test_lines_emitted_while_flushing_are_written_once_and_whole(self, tmp_path: Path) -> None:
        """Emitters append to a stream's buffer while flushes take from it: nothing lost, doubled or cut."""
        s = TelemetryStore(tmp_path, flush_interval=0.001)  # its thread flushes all the time too
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads switch between any two bytecodes: races show
        try:
            def emit(worker: int) -> None:
                for i in range(2000):
                    s.emit("logs", log(i, cid=f"w{worker}", pad="x" * (i % 300)))
                    if i % 97 == 0:
                        s.flush()

            with ThreadPoolExecutor(4) as pool:
                list(pool.map(emit, range(4)))
            s.flush()
            lines = [line for p in files(s, ".jsonl") for line in p.read_bytes().splitlines()]
            pairs = sorted((rec["correlation_id"], rec["message"]) for rec in map(orjson.loads, lines))
            assert pairs == sorted((f"w{w}", f"message {i}") for w in range(4) for i in range(2000))
            assert s.faults == 0
        finally:
            sys.setswitchinterval(interval)
            s.close()

    def test_the_background_thread_flushes(self, tmp_path: Path) -> None:
        """Without flush(), records reach disk within about flush_interval."""
        s = TelemetryStore(tmp_path, flush_interval=0.05)
        try:
            s.emit("logs", log(1))
            deadline = time.monotonic() + 5
            while not files(s, ".jsonl") and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(s.logs()) == 1
        finally:
            s.close()


class TestTruncatedLine:
    def test_a_half_written_last_line_is_skipped(self, store: TelemetryStore, clock: FakeClock) -> None:
        """Readers and the compactor ignore a truncated last line."""
        emit_sample(store, 3)
        for path in files(store, ".jsonl"):
            with path.open("ab") as fh:
                fh.write(b'{"level": "INFO", "message": "half')
        assert len(store.logs()) == 3
        assert count(store, "metrics") == 3 and count(store, "spans") == 3
        clock.advance(120)
        assert store.compact() == 3
        assert len(store.logs()) == 3 and count(store, "spans") == 3


class TestNoDoubleCounting:
    def test_counts_hold_through_every_compaction_step(self, store: TelemetryStore, clock: FakeClock) -> None:
        """Segments, hour merges and day merges each show every record once."""
        total = 0
        for _ in range(4):  # four windows, two of them in the next hour
            emit_sample(store, 5)
            total += 5
            assert count(store, "logs") == total
            clock.advance(1200)
            store.compact()
            assert count(store, "logs") == total
        clock.advance(2 * DAY)
        store.compact()
        assert count(store, "logs") == count(store, "spans") == count(store, "metrics") == total
        assert [p.name for p in files(store, ".parquet") if "logs" in p.parts] == [
            "m-1795737600-1795824000.parquet"
        ]

    def test_a_reader_that_listed_before_compaction_retries(
        self, store: TelemetryStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A segment compacted between a reader's listing and its read is read once, from Parquet."""
        emit_sample(store, 8)
        clock.advance(120)
        real_live_files = _segments.live_files
        calls = []

        def list_then_compact(stream_dir: Path):
            listing = real_live_files(stream_dir)
            if not calls:
                calls.append(stream_dir)
                # Another process compacts right after our listing.
                other = TelemetryStore(store.root, clock=clock)
                assert other.compact() == 3
            return listing

        monkeypatch.setattr(_segments, "live_files", list_then_compact)
        assert len(store.logs()) == 8
        assert calls

    def test_an_old_connection_fails_loudly_rather_than_miscounting(
        self, store: TelemetryStore, clock: FakeClock
    ) -> None:
        """A connection made before compaction raises IOException; it never double counts."""
        emit_sample(store, 4)
        con = store.connect()
        clock.advance(120)
        store.compact()
        with pytest.raises(duckdb.IOException):
            con.execute("SELECT count(*) FROM logs").fetchone()
        con.close()
        assert count(store, "logs") == 4


def _write_from_another_process(root: str, n: int, batch: int) -> None:
    s = TelemetryStore(Path(root), flush_interval=60)
    for i in range(n):
        s.emit("logs", log(i, ms=T0_MS + i))
        if i % batch == batch - 1:
            s.flush()
            time.sleep(0.01)
    s.close()


class TestConcurrentProcesses:
    def test_a_second_process_writes_while_this_one_reads(self, tmp_path: Path) -> None:
        """Reads during another process's writes see a growing prefix, then everything."""
        root = tmp_path / "telemetry"
        reader = TelemetryStore(root)
        # fork: the child needs no import of this test module; it touches no DuckDB.
        ctx = multiprocessing.get_context("fork")
        n = 3000
        proc = ctx.Process(target=_write_from_another_process, args=(str(root), n, 100))
        proc.start()
        seen = []
        try:
            while proc.is_alive():
                seen.append(count(reader, "logs"))
                time.sleep(0.01)
        finally:
            proc.join(timeout=30)
        assert proc.exitcode == 0
        seen.append(count(reader, "logs"))
        assert seen == sorted(seen)
        assert seen[-1] == n
        assert any(0 < c < n for c in seen)  # we really did read mid-write


class TestMetricStatistics:
    NS = "WhisperSync/Business"
    NAME = "Latency"

    @pytest.fixture
    def series(self, store: TelemetryStore):
        """Points at T0 (minute-aligned): bucket 0 holds 1..10, bucket 1 nothing, bucket 2 holds 7 and 3."""
        for v in range(1, 11):
            store.emit("metrics", metric(float(v), ms=T0_MS + v * 1000, name=self.NAME, AgentType="work"))
        store.emit("metrics", metric(7.0, ms=T0_MS + 120_000, name=self.NAME, AgentType="work"))
        store.emit("metrics", metric(3.0, ms=T0_MS + 179_999, name=self.NAME, AgentType="work"))
        # Same name, other dimension sets: other metrics.
        store.emit("metrics", metric(1000.0, ms=T0_MS + 1000, name=self.NAME, AgentType="work", Status="Success"))
        store.emit("metrics", metric(1000.0, ms=T0_MS + 1000, name=self.NAME))
        store.flush()

        def query(statistic: str, **kw) -> MetricSeries:
            kw.setdefault("dimensions", {"AgentType": "work"})
            kw.setdefault("start_ms", T0_MS)
            kw.setdefault("end_ms", T0_MS + 600_000)
            return store.metric_statistics(self.NS, self.NAME, statistic=statistic, **kw)

        return query

    @pytest.mark.parametrize(
        ("statistic", "values"),
        [
            ("Sum", [55.0, 10.0]),
            ("Average", [5.5, 5.0]),
            ("Minimum", [1.0, 3.0]),
            ("Maximum", [10.0, 7.0]),
            ("SampleCount", [10.0, 2.0]),
            # Nearest rank: the ceil(p/100 * n)-th smallest value.
            ("p50", [5.0, 3.0]),  # ranks 5 of 10, 1 of 2
            ("p90", [9.0, 7.0]),  # ranks 9, 2
            ("p95", [10.0, 7.0]),  # ranks ceil(9.5)=10, 2
            ("p0", [1.0, 3.0]),
            ("p100", [10.0, 7.0]),
            ("p10.5", [2.0, 3.0]),  # rank ceil(1.05)=2, 1
            ("p99.99", [10.0, 7.0]),
        ],
    )
    def test_each_statistic_matches_a_hand_computation(self, series, statistic: str, values: list[float]) -> None:
        """Per-period statistics over the exact metric, empty bucket omitted."""
        result = series(statistic)
        assert result == MetricSeries(self.NAME, "Count", [T0_MS, T0_MS + 120_000], values)

    def test_dimensions_must_match_exactly(self, series) -> None:
        """A subset or superset of dimensions is another metric."""
        assert series("SampleCount", dimensions={"AgentType": "work", "Status": "Success"}).values == [1.0]
        assert series("SampleCount", dimensions=None).values == [1.0]
        assert series("SampleCount", dimensions={"AgentType": "other"}).values == []

    def test_buckets_align_to_multiples_of_the_period(self, series) -> None:
        """A 300 s period starts at a multiple of 300 s since the epoch, not at start_ms."""
        result = series("Sum", period=300, start_ms=T0_MS + 1000)
        assert result.timestamps == [T0_MS // 300_000 * 300_000]
        assert result.values == [65.0]

    def test_start_is_inclusive_and_end_exclusive(self, series) -> None:
        """Like GetMetricStatistics: start_ms <= t < end_ms."""
        assert series("Sum", start_ms=T0_MS + 10_000, end_ms=T0_MS + 120_000).values == [10.0]
        assert series("Sum", start_ms=T0_MS + 10_001, end_ms=T0_MS + 120_001).values == [7.0]

    def test_percentiles_are_unavailable_with_negative_values(self, store: TelemetryStore) -> None:
        """CloudWatch has no percentile for data holding a negative value: the bucket is omitted."""
        for v in (-1.0, 2.0):
            store.emit("metrics", metric(v, name="Delta"))
        store.flush()
        q = dict(start_ms=T0_MS, end_ms=T0_MS + 60_000)
        assert store.metric_statistics(self.NS, "Delta", statistic="p50", **q).values == []
        assert store.metric_statistics(self.NS, "Delta", statistic="Sum", **q).values == [1.0]

    @pytest.mark.parametrize("statistic", ["sum", "p101", "p99.12345678901", "tm101", "TM(90%:10%)", "PR(10%:)", "TM(:)", ""])
    def test_unknown_statistics_are_rejected(self, series, statistic: str) -> None:
        with pytest.raises(ValueError):
            series(statistic)

    def test_periods_follow_cloudwatch(self, series) -> None:
        """1, 5, 10, 30 or a multiple of 60 seconds; these points are standard resolution,
        so a 10 s period still answers per minute (see TestStorageResolution)."""
        assert series("Sum", period=10).values == [55.0, 10.0]
        with pytest.raises(ValueError):
            series("Sum", period=90)

    def test_dims_key_is_sorted_k_equals_v(self) -> None:
        assert dims_key({"Status": "Success", "AgentType": "work"}) == "AgentType=work,Status=Success"
        assert dims_key(None) == dims_key({}) == ""

    def test_list_metrics_lists_each_dimension_set_once(self, series, store: TelemetryStore) -> None:
        listed = store.list_metrics(name=self.NAME)
        assert [m["dimensions"] for m in listed] == [{}, {"AgentType": "work"}, {"AgentType": "work", "Status": "Success"}]
        assert store.list_metrics(namespace="Other") == []


class TestRetention:
    def test_it_drops_whole_partitions_older_than_retention(self, tmp_path: Path, clock: FakeClock) -> None:
        """Partitions are dropped by their date; newer ones stay intact."""
        s = TelemetryStore(tmp_path, flush_interval=60, retention_days=30, clock=clock)
        try:
            for days_ago in (40, 31, 30, 0):
                clock.now = T0 - days_ago * DAY
                s.emit("logs", log(days_ago))
                s.emit("spans", span(days_ago))
                s.flush()
            clock.now = T0
            assert s.apply_retention() == 4  # 40 and 31 days ago, logs and spans
            assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["dt=2026-10-28", "dt=2026-11-27"]
            assert count(s, "logs") == 2
            assert s.apply_retention() == 0
        finally:
            s.close()


class Crash(Exception):
    """Stands in for the process dying at a chosen point."""


class TestCrashSafety:
    def crash_when_deleting(self, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
        real_unlink = store_module._unlink

        def unlink(path: Path) -> None:
            if path.name.endswith(suffix) and not path.name.startswith("."):
                raise Crash(path)
            real_unlink(path)

        monkeypatch.setattr(store_module, "_unlink", unlink)

    def test_a_crash_between_rename_and_delete_counts_each_record_once(
        self, store: TelemetryStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Parquet published, JSONL still there: readers see each record once; the next run cleans up."""
        emit_sample(store, 6)
        clock.advance(120)
        with monkeypatch.context() as m:
            self.crash_when_deleting(m, ".jsonl")
            with pytest.raises(Crash):
                store.compact()
        assert files(store, ".jsonl") and files(store, ".parquet")
        assert count(store, "logs") == 6
        assert store.compact() >= 1
        assert not files(store, ".jsonl")
        assert count(store, "logs") == count(store, "metrics") == count(store, "spans") == 6

    def test_a_crash_between_merge_and_delete_counts_each_record_once(
        self, store: TelemetryStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Merged file published, inputs still there: the merged range hides them."""
        for _ in range(3):
            emit_sample(store, 4)
            clock.advance(60)
        clock.advance(60)
        store.compact()
        assert len([p for p in files(store, ".parquet") if "logs" in p.parts]) == 3
        clock.advance(2 * DAY)
        with monkeypatch.context() as m:
            self.crash_when_deleting(m, ".parquet")
            with pytest.raises(Crash):
                store.compact()
        assert count(store, "logs") == 12
        store.compact()
        assert count(store, "logs") == count(store, "metrics") == count(store, "spans") == 12
        assert len(files(store, ".parquet")) == 3

    def test_a_crash_while_writing_parquet_leaves_only_an_ignored_temp_file(
        self, store: TelemetryStore, clock: FakeClock
    ) -> None:
        """Half-written output is a hidden temp file: never read, removed by the next run."""
        emit_sample(store, 5)
        partition = files(store, ".jsonl")[0].parent
        (partition / ".9999999999-1-ab.0000.tmp").write_bytes(b"PAR1 garbage")
        assert count(store, "logs") == 5
        clock.advance(120)
        store.compact()
        assert not list(partition.glob(".*.tmp"))
        assert count(store, "logs") == 5

    def test_only_one_process_compacts_at_a_time(self, store: TelemetryStore, clock: FakeClock) -> None:
        """A second compactor finds the lock taken and does nothing."""
        emit_sample(store, 2)
        clock.advance(120)
        with store._maintenance_lock() as locked:
            assert locked
            assert store.compact() == 0
        assert store.compact() == 3


class TestTimestampOffsets:
    """An ISO 8601 timestamp with a UTC offset names an instant: the offset must be applied.

    DuckDB's string -> TIMESTAMP cast drops the offset, which filed such records
    hours away from when they happened (before and after compaction alike).
    """

    def test_a_log_timestamp_with_an_offset_is_converted_to_utc(self, store: TelemetryStore,
                                                                clock: FakeClock) -> None:
        store.emit("logs", {"timestamp": "2026-11-27T19:15:00.250+05:30", "level": "INFO", "message": "east"})
        store.emit("logs", {"timestamp": "2026-11-27T05:45:00.250-08:00", "level": "INFO", "message": "west"})
        store.flush()
        at = T0_MS + 250  # 2026-11-27T13:45:00.250Z
        assert sorted(r["message"] for r in store.logs(start_ms=at, end_ms=at)) == ["east", "west"]
        clock.advance(3 * 86400)
        store.compact()
        assert sorted(r["message"] for r in store.logs(start_ms=at, end_ms=at)) == ["east", "west"]

    def test_a_metric_timestamp_with_an_offset_is_converted_to_utc(self, store: TelemetryStore) -> None:
        store.emit("metrics", {"timestamp": "2026-11-27T19:15:00+05:30", "namespace": "N", "name": "M",
                               "unit": "Count", "value": 3.0, "dimensions": {}})
        store.flush()
        series = store.metric_statistics("N", "M", start_ms=T0_MS - 3_600_000, end_ms=T0_MS + 3_600_000)
        assert (series.timestamps, series.values) == ([T0_MS], [3.0])


class TestDocumentedStatistics:
    """Issue 9 §5: statistic sets, trimmed/windowed statistics, 10-decimal percentiles, value limits."""

    NS = "WhisperSync/Business"
    Q = dict(start_ms=T0_MS, end_ms=T0_MS + 60_000)

    def stat(self, store: TelemetryStore, statistic: str, name: str = "S") -> list[float]:
        return store.metric_statistics(self.NS, name, statistic=statistic, **self.Q).values

    def put(self, store: TelemetryStore, values: list[float], name: str = "S") -> None:
        store.put_metrics([{**metric(v, name=name)} for v in values])

    @pytest.mark.parametrize(("statistic", "expected"), [
        ("IQM", 5.0),                  # TM(25%:75%) of 1..10 keeps ranks 3..7 (2.5 < i <= 7.5)
        ("TM(25%:75%)", 5.0),
        ("tm90", 5.0),                 # drops the highest 10%: 1..9
        ("TM90", 5.0),
        ("TM(10%:90%)", 5.5),          # 2..9
        ("TM(:5)", 3.0),               # absolute: x <= 5
        ("TM(2:5)", 4.0),              # 2 < x <= 5: 3, 4, 5
        ("TM(:0.5)", None),            # nothing kept: no value
        ("tc90", 9.0),
        ("TC(2:5)", 3.0),
        ("ts90", 45.0),
        ("TS(80%:)", 19.0),            # the top 20%: 9 + 10
        ("wm80", 5.3),                 # 9 and 10 count as 8: (36 + 8 + 8) / 10 ... see below
        ("WM(10%:90%)", 5.5),          # 1 -> 2, 10 -> 9
        ("PR(:3)", 30.0),
        ("PR(3:5)", 20.0),             # 4 and 5
        ("p50.0000000001", 6.0),       # ten decimals: rank ceil(5.000000000001) = 6
    ])
    def test_trimmed_and_windowed_statistics(self, store: TelemetryStore, statistic, expected) -> None:
        self.put(store, [float(v) for v in range(1, 11)])
        if statistic == "wm80":
            expected = (sum(range(1, 9)) + 8 + 8) / 10
        assert self.stat(store, statistic) == ([] if expected is None else [pytest.approx(expected)])

    def test_statistic_sets_count_as_their_samples(self, store: TelemetryStore) -> None:
        """StatisticValues: SampleCount samples with that Sum, Minimum and Maximum."""
        store.put_metrics([
            {**metric(0, name="S"), "value": None,
             "statistic_values": {"SampleCount": 4, "Sum": 20, "Minimum": 2, "Maximum": 8}},
        ])
        self.put(store, [10.0])
        assert self.stat(store, "SampleCount") == [5.0]
        assert self.stat(store, "Sum") == [30.0]
        assert self.stat(store, "Average") == [6.0]
        assert self.stat(store, "Minimum") == [2.0]
        assert self.stat(store, "Maximum") == [10.0]
        # Percentiles need raw data: a set with Min != Max and SampleCount != 1 has none.
        assert self.stat(store, "p50") == []
        assert self.stat(store, "IQM") == []

    def test_percentiles_over_sets_whose_min_equals_max(self, store: TelemetryStore) -> None:
        """GetMetricStatistics: percentiles are available when SampleCount is 1 or Min == Max."""
        store.put_metrics([
            {**metric(0, name="E"), "value": None,
             "statistic_values": {"SampleCount": 3, "Sum": 6, "Minimum": 2, "Maximum": 2}},
            {**metric(0, name="E"), "value": None,
             "statistic_values": {"SampleCount": 1, "Sum": 9, "Minimum": 9, "Maximum": 9}},
        ])
        assert self.stat(store, "p50", "E") == [2.0]   # samples 2, 2, 2, 9
        assert self.stat(store, "p100", "E") == [9.0]
        assert self.stat(store, "SampleCount", "E") == [4.0]

    @pytest.mark.parametrize("bad", [
        {"value": 2.0 ** 361}, {"value": -(2.0 ** 361)}, {"value": 2.0 ** -361}, {"value": float("nan")},
        {"value": 1.0, "statistic_values": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}},
        {"value": None, "statistic_values": {"SampleCount": 1, "Sum": 1, "Minimum": 1}},
        {"value": None, "statistic_values": {"SampleCount": 2, "Sum": 1, "Minimum": 3, "Maximum": 1}},
        {"value": None, "statistic_values": {"SampleCount": 1, "Sum": 2.0 ** 400, "Minimum": 1, "Maximum": 1}},
    ])
    def test_put_metric_data_limits(self, store: TelemetryStore, bad: dict) -> None:
        with pytest.raises(ValueError, match="datapoint 0"):
            store.put_metrics([{**metric(1), **bad}])

    def test_values_inside_the_limits_are_kept(self, store: TelemetryStore) -> None:
        store.put_metrics([metric(v, name="L") for v in (0.0, 2.0 ** 360, -(2.0 ** -360))])
        assert self.stat(store, "SampleCount", "L") == [3.0]


class TestUnitsAggregatedSeparately:
    """"Metric data points that specify a unit of measure, such as Percent, are aggregated
    separately" (PutMetricAlarm, Unit); GetMetricStatistics without Unit returns each
    unit's data with its unit. Our single-series answer: the unit with the most data
    points, and a message naming the others."""

    @pytest.fixture
    def mixed(self, store: TelemetryStore) -> TelemetryStore:
        for v in (1.0, 2.0, 3.0):
            store.emit("metrics", {**metric(v, ms=T0_MS + int(v) * 1000, name="Mixed")})
        store.emit("metrics", {**metric(100.0, ms=T0_MS + 5000, name="Mixed"), "unit": "Seconds"})
        store.flush()
        return store

    def test_without_a_unit_the_most_published_unit_answers_alone(self, mixed: TelemetryStore) -> None:
        series = mixed.metric_statistics("WhisperSync/Business", "Mixed", start_ms=T0_MS, end_ms=T0_MS + 60_000)
        assert (series.values, series.unit) == ([6.0], "Count")
        assert series.messages == [
            "Data points in 2 units (Count, Seconds) are aggregated separately; without a unit this answers"
            " for Count, the unit with the most data points. Ask for a unit to see another."]

    def test_get_metric_data_passes_the_message_on(self, mixed: TelemetryStore) -> None:
        from whispersync.monitoring.metrics import get_metric_data
        from whispersync.plan import MetricDataQuery, MetricStat

        query = MetricDataQuery("m", MetricStat("WhisperSync/Business", "Mixed", {}, "Sum", 60))
        [result] = get_metric_data(mixed, [query], start_ms=T0_MS, end_ms=T0_MS + 60_000)
        assert result.values == [6.0] and "aggregated separately" in result.messages[0]
        assert result.to_aws()["Messages"][0]["Code"] == "Info"

    def test_each_unit_when_asked(self, mixed: TelemetryStore) -> None:
        q = dict(start_ms=T0_MS, end_ms=T0_MS + 60_000)
        seconds = mixed.metric_statistics("WhisperSync/Business", "Mixed", unit="Seconds", **q)
        assert (seconds.values, seconds.unit, seconds.messages) == ([100.0], "Seconds", [])
        assert mixed.metric_statistics("WhisperSync/Business", "Mixed", statistic="Average", **q).values == [2.0]

    def test_the_grouped_read_never_mixes_units(self, mixed: TelemetryStore) -> None:
        """The alarm engine's read: the same choice, so an alarm never sums seconds with counts."""
        key = ("WhisperSync/Business", "Mixed", "")
        [found] = mixed.grouped_statistics(
            [store_module.StatisticGroup(frozenset([key]), "Maximum", 60, T0_MS, T0_MS + 60_000)], units=False)
        assert [value for _, value, _ in found[key]] == [3.0]


class TestStorageResolution:
    """MetricStat.Period: "For metrics with regular resolution, a period can be as short as
    one minute (60 seconds)"; high-resolution metrics, "stored by a PutMetricData call that
    includes a StorageResolution of 1 second", can be read at 1, 5, 10, 20, 30 s."""

    def test_a_high_resolution_point_keeps_its_second_and_a_standard_one_its_minute(
            self, store: TelemetryStore) -> None:
        store.put_metrics([
            {"namespace": "NS", "name": "Hi", "value": 1.0, "timestamp": T0_MS + 1000, "storage_resolution": 1},
            {"namespace": "NS", "name": "Hi", "value": 2.0, "timestamp": T0_MS + 2000, "storage_resolution": 1},
            {"namespace": "NS", "name": "Std", "value": 1.0, "timestamp": T0_MS + 1000, "storage_resolution": 60},
            {"namespace": "NS", "name": "Std", "value": 2.0, "timestamp": T0_MS + 2000},
        ])
        q = dict(period=1, start_ms=T0_MS, end_ms=T0_MS + 60_000)
        hi = store.metric_statistics("NS", "Hi", **q)
        assert (hi.timestamps, hi.values) == ([T0_MS + 1000, T0_MS + 2000], [1.0, 2.0])
        std = store.metric_statistics("NS", "Std", **q)
        assert (std.timestamps, std.values) == ([T0_MS], [3.0])

    def test_other_resolutions_are_refused(self, store: TelemetryStore) -> None:
        with pytest.raises(ValueError, match="storage_resolution"):
            store.put_metrics([{"namespace": "NS", "name": "M", "value": 1.0, "storage_resolution": 10}])

    def test_parquet_files_without_the_column_read_null(self, tmp_path) -> None:
        """A file written before the column existed reads storage_resolution NULL (standard, 60)."""
        path = tmp_path / "old.parquet"
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT {T0_MS + 1000}::BIGINT AS ts, 'NS' AS namespace, 'Old' AS name, 'Count' AS unit,"
            " '' AS dims, '{}' AS dimensions, 5.0::DOUBLE AS value, NULL::DOUBLE AS set_count,"
            " NULL::DOUBLE AS set_sum, NULL::DOUBLE AS set_min, NULL::DOUBLE AS set_max)"
            f" TO '{path}' (FORMAT parquet)")
        con.execute(store_module._schema.view_sql("metrics", [str(path)], []))
        assert con.execute("SELECT value, storage_resolution FROM metrics").fetchall() == [(5.0, None)]
        con.close()


class TestOneDatabasePerStore:
    """Metric statistics run on cursors of one kept database, each over the files live at its start."""

    @staticmethod
    def put(store: TelemetryStore, first: int, n: int) -> None:
        store.put_metrics([{"namespace": "NS", "name": "Kept", "value": float(i), "unit": "Count",
                            "timestamp": T0_MS - 3_600_000 + i * 1000} for i in range(first, first + n)])

    @staticmethod
    def seen(store: TelemetryStore) -> tuple[float, float]:
        """(sample count, sum) of every point written, over one bucket spanning them all."""
        q = dict(period=86_400, start_ms=T0_MS - DAY * 1000, end_ms=T0_MS + 3 * DAY * 1000)
        count = store.metric_statistics("NS", "Kept", statistic="SampleCount", **q).values
        total = store.metric_statistics("NS", "Kept", statistic="Sum", **q).values
        return sum(count), sum(total)

    def test_each_query_sees_every_write_and_compaction_exactly_once(
            self, store: TelemetryStore, clock: FakeClock) -> None:
        def expect(n: int) -> tuple[float, float]:
            return float(n), float(sum(range(n)))

        self.put(store, 0, 10)
        assert self.seen(store) == expect(10)
        self.put(store, 10, 5)  # appended to the segment the last query read
        assert self.seen(store) == expect(15)
        clock.advance(120)
        self.put(store, 15, 5)  # a new segment
        assert self.seen(store) == expect(20)
        assert store.compact() == 1  # the first segment to Parquet; the new one stays JSONL
        assert self.seen(store) == expect(20)
        clock.advance(2 * DAY)
        self.put(store, 20, 3)
        store.compact()  # every closed segment compacted, the day merged into one file
        assert [p.name for p in files(store, ".parquet") if "metrics" in p.parts][0].startswith("m-")
        assert self.seen(store) == expect(23)
        assert store._database() is store._database()

    def test_queries_from_many_threads_share_the_database(self, store: TelemetryStore) -> None:
        self.put(store, 0, 50)
        expected = self.seen(store)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: self.seen(store), range(16)))
        assert answers == [expected] * 16

    def test_a_budget_interrupts_only_its_own_query(self, store: TelemetryStore) -> None:
        """A statement past its budget is interrupted; one running beside it on the same database finishes."""
        self.put(store, 0, 50)
        expected = self.seen(store)
        slow = store._database().cursor()
        try:
            with ThreadPoolExecutor(1) as pool:
                beside = pool.submit(lambda: [self.seen(store) for _ in range(5)])
                with pytest.raises(QueryTimeout):
                    run_with_deadline(slow, "SELECT count(*) FROM range(1000000000000) a, range(10) b", timeout=0.3)
                assert beside.result() == [expected] * 5
        finally:
            slow.close()
        assert self.seen(store) == expected
