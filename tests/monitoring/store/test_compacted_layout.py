"""How compaction lays out Parquet: metrics by series then time, logs and spans by time.

Metrics are sorted by (namespace, name, dims, ts) in small row groups so that the first read of
one series from a day file skips the row groups of every other series (store/_series.py); logs
and spans stay sorted by time, which their time-range queries prune on. The layout must not
change a single answer: metric statistics are compared from live JSONL, from compacted segments
and from the day's merged file.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from helpers import FakeClock

from whispersync.monitoring.store import TelemetryStore, _schema, _series
from whispersync.plan import MetricStat

DAY = 86400
D0 = 1795737600  # 2026-11-27T00:00:00Z
NS = "Test/Layout"
SERIES = [
    ("Latency", {"Service": "b"}),
    ("Latency", {"Service": "a"}),
    ("Latency", {}),
    ("Errors", {"Service": "a", "Region": "x"}),
]
STATISTICS = ["Sum", "Average", "p99", "SampleCount", "TM(10%:90%)"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(D0 + 2 * DAY + 600)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[TelemetryStore]:
    _series.clear()
    s = TelemetryStore(tmp_path / "telemetry", flush_interval=60, clock=clock)
    yield s
    s.close()


def points(rng: random.Random, count: int) -> list[dict]:
    """Points over days 0-2 in two units; values exact in binary, so sums do not depend on their order."""
    out = []
    for _ in range(count):
        name, dims = rng.choice(SERIES)
        value = rng.randrange(0, 4000) / 4
        rec: dict = {"namespace": NS, "name": name, "dimensions": dims, "unit": rng.choice(["Milliseconds", "Count"]),
                     "timestamp": (D0 + rng.randrange(3 * DAY)) * 1000 + rng.randrange(1000)}
        if rng.random() < 0.1:
            rec["statistic_values"] = {"SampleCount": 2, "Sum": 2 * value, "Minimum": value, "Maximum": value}
        else:
            rec["value"] = value
        out.append(rec)
    return out


def answers(store: TelemetryStore) -> list[tuple]:
    """Every statistic of every series, without a unit and in each unit, over the three days."""
    out = []
    for unit in (None, "Milliseconds", "Count"):
        requests = [MetricStat(NS, name, dims, statistic, 300, unit)
                    for name, dims in SERIES for statistic in STATISTICS]
        for req, found in zip(requests, store.metric_statistics_batch(
                requests, start_ms=D0 * 1000, end_ms=(D0 + 3 * DAY) * 1000)):
            out.append((req, found.unit, found.timestamps, found.values, found.messages))
    return out


def parquet_files(store: TelemetryStore, stream: str) -> list[Path]:
    return sorted((store.root / stream).rglob("*.parquet"))


def rows_in_file_order(path: Path, columns: str) -> list[tuple]:
    with duckdb.connect(":memory:") as con:
        return con.execute(f"SELECT {columns} FROM read_parquet(?)", [str(path)]).fetchall()


class TestMetricsLayout:
    def test_answers_are_identical_from_jsonl_compacted_segments_and_the_merged_day(
            self, store: TelemetryStore, clock: FakeClock) -> None:
        """Sorting by series changes no statistic, unit or message."""
        rng = random.Random(15)
        for _ in range(3):  # three segments of the same hour
            store.put_metrics(points(rng, 700))
            clock.now += 60
        from_jsonl = answers(store)
        assert sum(len(a[3]) for a in from_jsonl) > 1000
        assert any(a[4] for a in from_jsonl), "some series hold two units: the answer says which was left out"
        clock.now += 600
        assert store.compact() == 3
        assert len(parquet_files(store, "metrics")) == 3
        assert answers(store) == from_jsonl
        clock.now = D0 + 3 * DAY + 600  # day 2 closed: merged into one file
        store.compact()
        [merged] = parquet_files(store, "metrics")
        assert merged.name.startswith("m-")
        assert answers(store) == from_jsonl

    def test_compacted_and_merged_files_are_sorted_by_series_then_time(
            self, store: TelemetryStore, clock: FakeClock) -> None:
        """Rows come back from the file in (namespace, name, dims, ts) order."""
        rng = random.Random(3)
        for _ in range(2):
            store.put_metrics(points(rng, 500))
            clock.now += 60
        clock.now += 600
        store.compact()
        clock.now = D0 + 3 * DAY + 600
        store.compact()
        for path in parquet_files(store, "metrics"):
            rows = rows_in_file_order(path, "namespace, name, dims, ts")
            assert len(rows) == 1000
            assert rows == sorted(rows)

    def test_a_day_of_many_series_is_written_in_row_groups_holding_few_series(
            self, store: TelemetryStore, clock: FakeClock) -> None:
        """Row groups are small and their series ranges do not overlap, so one series' read skips the rest."""
        records = [{"namespace": NS, "name": "Busy", "dimensions": {"Series": f"s{s:03d}"}, "value": float(m),
                    "timestamp": (D0 + 2 * DAY + m * 60) * 1000}
                   for m in range(600) for s in range(120)]  # time-major, as a writer appends them
        store.put_metrics(records)
        clock.now += 600
        store.compact()
        [path] = parquet_files(store, "metrics")
        with duckdb.connect(":memory:") as con:
            groups = con.execute(
                "SELECT row_group_id, any_value(row_group_num_rows), min(stats_min_value), max(stats_max_value)"
                " FROM parquet_metadata(?) WHERE path_in_schema = 'dims' GROUP BY row_group_id ORDER BY row_group_id",
                [str(path)]).fetchall()
        assert len(groups) > 1
        assert sum(rows for _, rows, _, _ in groups) == len(records)
        assert all(rows <= 32_768 for _, rows, _, _ in groups)
        # Each row group holds a contiguous range of series: at most one series spans two groups.
        assert all(prev[3] <= nxt[2] for prev, nxt in zip(groups, groups[1:]))


class TestLogsAndSpansLayout:
    def test_logs_and_spans_stay_sorted_by_time(self, store: TelemetryStore, clock: FakeClock) -> None:
        """Their queries prune on ts, so compaction keeps them in time order."""
        rng = random.Random(5)
        for i in range(300):
            ms = (D0 + 2 * DAY) * 1000 + rng.randrange(3_600_000)
            store.emit("logs", {"timestamp": ms, "level": rng.choice(["INFO", "ERROR"]), "message": f"m{i}",
                                "service": rng.choice(["b", "a"])})
            store.emit("spans", {"trace_id": f"t{i % 7}", "span_id": f"s{i}", "name": rng.choice(["z", "a"]),
                                 "start_time_unix_nano": ms * 1_000_000, "end_time_unix_nano": ms * 1_000_000 + 5})
        store.flush()
        clock.now += 600
        store.compact()
        for stream in ("logs", "spans"):
            [path] = parquet_files(store, stream)
            times = [ts for (ts,) in rows_in_file_order(path, "ts")]
            assert len(times) == 300 and times == sorted(times), stream
        assert _schema.COMPACTED_ORDER["logs"] == _schema.COMPACTED_ORDER["spans"] == "ts"
