"""The embedded telemetry store: many processes write, any process queries.

Writers append JSON lines to their own segment files, one per stream and time
window; the server compacts closed segments to Parquet and merges them per hour
and per day; readers query DuckDB views over Parquet plus the still-open JSONL.
See ``_segments.py`` for the on-disk layout and the rules that keep every record
visible exactly once while files are compacted underneath a reader.

    store = TelemetryStore(home / "telemetry")
    store.emit("logs", {"level": "INFO", "message": "hi", "timestamp": "..."})
    store.flush()
    store.logs(level="ERROR")
"""

from __future__ import annotations

import atexit
import fcntl
import math
import os
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson

from whispersync.errors import QueryTimeout
from whispersync.plan import MetricStat, check_period, check_statistic
from whispersync.monitoring.store import _schema
from whispersync.monitoring.store import _segments
from whispersync.monitoring.store import _series
from whispersync.monitoring.store._footers import FileFacts
from whispersync.telemetry import STREAMS

__all__ = [
    "DEFAULT_QUERY_TIMEOUT", "MetricKey", "MetricSeries", "StatisticGroup", "TelemetryStore",
    "close_to_files", "dims_key", "metric_key", "run_with_deadline",
]

# Seconds a query (Insights, metric statistics and math, trace search) may run
# before it is interrupted and answered with QueryTimeout; callers pass their own.
DEFAULT_QUERY_TIMEOUT = 30.0


def close_to_files(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Let ``con`` read files only under ``root`` (the store), write none, and change no setting.

    Called once the views over the store's files exist. A second line of defence:
    no query we build names a file, but if one ever did (``read_csv('/etc/passwd')``,
    ``COPY ... TO``, ``ATTACH``, ``INSTALL``), DuckDB refuses it.
    """
    allowed = str(Path(root).absolute()).replace("'", "''")
    con.execute(f"SET allowed_directories = ['{allowed}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def run_with_deadline(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = (), *, timeout: float | None
) -> list[tuple]:
    """``con.execute(sql, params).fetchall()``, interrupted after ``timeout`` seconds (QueryTimeout)."""
    if timeout is None:
        return con.execute(sql, params).fetchall()
    if timeout <= 0:
        raise QueryTimeout("the query ran past its time budget")
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(timeout, interrupt)
    timer.daemon = True
    timer.start()
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.InterruptException:
        if fired.is_set():
            raise QueryTimeout(
                f"the query ran longer than its time budget ({timeout:g} s): narrow the time range or simplify it"
            ) from None
        raise
    finally:
        timer.cancel()

# A segment is closed once its window ended this long ago. Writers pick the window
# from the clock when they write, so only a writer stalled for longer than this
# between reading the clock and opening its file could append to a closed window.
_GRACE_SECONDS = 5.0
# Bytes of emitted lines kept in memory per stream at most; beyond it records are
# dropped and counted as faults, so a stuck disk costs memory only up to this.
_MAX_BUFFERED_BYTES = 256 * 1024 * 1024
_HOUR = 3600
_DAY = 86400
# A statistic set (StatisticValues) counts as SampleCount samples with that Sum,
# Minimum and Maximum; a raw point (set_* NULL) as one sample of `value`.
_SIMPLE_STATISTICS = {
    "Sum": "sum(coalesce(set_sum, value))",
    "Average": "sum(coalesce(set_sum, value)) / sum(coalesce(set_count, 1))",
    "Minimum": "min(coalesce(set_min, value))",
    "Maximum": "max(coalesce(set_max, value))",
    "SampleCount": "CAST(sum(coalesce(set_count, 1)) AS DOUBLE)",
}
# Codec of compacted Parquet. Logs Insights' `@message like` has to scan the `raw`
# line of every event in range, so decompression speed bounds most queries.
# Measured (benchmarks/logs_query.py data, 1 M events, one merged file, DuckDB 2.0,
# hand-written SQL, median of 8, interleaved, shared 2-core machine):
#                      error_analysis  performance  user_activity   file size
#   zstd                   151 ms        133 ms        166 ms         46 MB
#   lz4                     80 ms         93 ms        110 ms         81 MB
#   snappy                  77 ms         84 ms        100 ms         86 MB
#   uncompressed           112 ms        106 ms        109 ms        424 MB
# lz4 and snappy are 35-45 % faster to query than zstd for 1.75x the disk; lz4
# is the smaller of the two at the same speed. Disk is cheap here (30 days of
# local logs); query latency is what users wait for.
PARQUET_CODEC = "lz4"


@dataclass
class MetricSeries:
    """Statistics of one metric per period, like CloudWatch's GetMetricStatistics.

    ``timestamps`` are bucket starts in epoch milliseconds, ascending; only
    buckets holding data appear. ``messages`` say what the caller should know
    about the answer (GetMetricData's MetricDataResult Messages), such as units
    left out.
    """

    label: str
    unit: str | None
    timestamps: list[int]
    values: list[float]
    messages: list[str] = field(default_factory=list)


def dims_key(dimensions: Mapping[str, Any] | None) -> str:
    """The canonical identity of a dimension set: sorted ``k=v`` joined by commas.

    Must match the ``dims`` column computed in SQL (see ``_schema._DIMS``).
    """
    if not dimensions:
        return ""
    return ",".join(sorted(f"{k}={_dim_value(v)}" for k, v in dimensions.items()))


def _distinct_metrics(cursor: duckdb.DuckDBPyConnection, source: str) -> list[tuple]:
    """(namespace, name, dims, one dimensions JSON) of each metric in ``source``, a SELECT of the metrics columns."""
    try:
        return cursor.execute(
            f"SELECT namespace, name, dims, any_value(dimensions) FROM ({source}) GROUP BY namespace, name, dims"
        ).fetchall()
    finally:
        cursor.close()


def _metric_order(item: tuple[tuple[Any, Any, Any], Any]) -> tuple:
    """SQL's ORDER BY namespace, name, dims: NULLs last."""
    return tuple((part is None, part or "") for part in item[0])


def _dim_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class TelemetryStore:
    """Append-only JSONL segments, compacted to Parquet, queried with DuckDB.

    Writing implements the telemetry sink protocol (``emit``/``flush``/``close``):
    ``emit`` serialises the record and appends its line to its stream's in-memory
    buffer; a daemon thread appends those to this process's segment every ``flush_interval``
    seconds (a crash loses at most that much). Telemetry
    never raises into the caller: faults are counted in ``self.faults``.

    ``compact`` and ``apply_retention`` are run by one maintenance process (the
    server); they take a lock file so a second one simply skips. Reading works in
    any process and needs nothing from the writers.
    """

    def __init__(
        self,
        root: Path,
        *,
        flush_interval: float = 0.5,
        segment_seconds: int = 60,
        retention_days: int = 30,
        clock: Callable[[], float] = time.time,
        log_listeners: Sequence[Callable[[list[dict]], Iterable[dict]]] = (),
    ) -> None:
        if segment_seconds <= 0 or _HOUR % segment_seconds:
            # Windows must tile hours exactly, or a segment would straddle a merge.
            raise ValueError(f"segment_seconds must divide 3600, got {segment_seconds}")
        if flush_interval <= 0:
            raise ValueError(f"flush_interval must be positive, got {flush_interval}")
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {retention_days}")
        self.root = Path(root)
        self.flush_interval = flush_interval
        self.segment_seconds = segment_seconds
        self.retention_days = retention_days
        self.faults = 0
        self._clock = clock
        # Called by the writer thread with each batch of log records written; the
        # metric records they return are written in the same flush (metric filters).
        self._log_listeners = list(log_listeners)
        # Lines waiting for the writer, one bytearray per stream: appending a line to
        # one costs ~1.3 µs where a deque of separate bytes objects cost ~5 µs (each a
        # fresh allocation faulting in new memory until the writer frees them; issue 15).
        # A bytearray's += and a prefix's copy and deletion are each one C call, atomic
        # under the GIL: emitters append whole lines, the writer takes the whole lines
        # there at one moment and deletes exactly those (see _take).
        self._lines: dict[str, bytearray] = {stream: bytearray() for stream in STREAMS}
        # Log records beside their lines, for log listeners (metric filters) only.
        self._log_records: list[dict] = []
        # Called at the start of every flush, before the lines are taken: Telemetry builds
        # the records it deferred there (see add_producer). Held strongly: a Telemetry
        # dropped without a flush still has its records written.
        self._producers: list[Callable[[], Any]] = []
        self._write_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self._token = secrets.token_hex(4)
        self._files: dict[str, tuple[int, IO[bytes]]] = {}  # stream -> (window, file)
        self._db: duckdb.DuckDBPyConnection | None = None  # see _database
        self._database_lock = threading.Lock()
        self._file_metrics = FileFacts()  # each Parquet file's distinct metrics: see list_metrics

    # ------------------------------------------------------------------ writing

    def emit(self, stream: str, record: dict) -> None:
        """Serialise one record and queue its line; the writer thread appends it to a segment.

        The record is encoded here, once, while it is still in the CPU's cache: the
        writer thread meets records ~0.5 s (hundreds of memos) later, and encoding them
        there cost twice as much, cache misses and all (issue 15 profile). The stream's
        buffer then holds compact bytes, not dicts. A log record is kept beside its line
        only when log listeners (metric filters) need it.
        """
        try:
            if self._closed:
                self.faults += 1
                return
            if self._thread is None:
                self._start()
            buffer = self._lines.get(stream)
            if buffer is None or len(buffer) >= _MAX_BUFFERED_BYTES:
                self.faults += 1
                return
            try:
                buffer += _dumps(record, option=_LINE, default=str)
            except TypeError:  # non-string keys: see _dumps_line
                buffer += _dumps_line(record)
            if stream == "logs" and self._log_listeners:
                self._log_records.append(record)
        except Exception:  # noqa: BLE001 - telemetry must never fail the caller
            self.faults += 1

    def add_producer(self, producer: Callable[[], None]) -> None:
        """Call ``producer()`` at the start of every flush, before the queued lines are written.

        ``Telemetry`` registers itself here and builds the records it deferred when
        called, emitting them into this store, so they are written in that same flush.
        The writer thread starts now, so those flushes happen with no emit before them.
        A producer that raises is counted in ``faults``.
        """
        self._producers.append(producer)
        self._start()

    def _produce(self) -> None:
        for producer in list(self._producers):
            try:
                producer()
            except Exception:  # noqa: BLE001 - a faulty producer costs its own records
                self.faults += 1

    def flush(self) -> None:
        """Write every queued record (and every producer's) to this process's segments now."""
        try:
            with self._write_lock:
                self._produce()
                self._write_pending()
        except Exception:  # noqa: BLE001
            self.faults += 1

    def close(self) -> None:
        """Flush, stop the writer thread and close segment files. Idempotent."""
        if not self._closed:
            with self._write_lock:
                self._produce()  # while emits are still taken
        self._closed = True
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.flush()
        with self._write_lock:
            for _, fh in self._files.values():
                _close_quietly(fh)
            self._files.clear()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(
                target=self._run, name="whispersync-telemetry-store", daemon=True
            )
            self._thread = thread
            thread.start()
            # Flush on interpreter exit without keeping the store alive.
            ref = weakref.ref(self)
            atexit.register(lambda: (s := ref()) is not None and s.flush())

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def _write_pending(self) -> None:
        """Write the lines queued now to the current window's segments. Caller holds the lock."""
        lines: dict[str, list[bytes | bytearray]] = {}
        for stream, buffer in self._lines.items():
            taken = _take(buffer)
            if taken:
                lines[stream] = [taken]
        logs = _take(self._log_records) if self._log_listeners else None
        if logs:
            self._derive_metrics(logs, lines)
        if not lines:
            self._close_stale_files()
            return
        window = int(self._clock() // self.segment_seconds) * self.segment_seconds
        for stream, chunk in lines.items():
            try:
                fh = self._segment(stream, window)
                # One write of whole lines: a concurrent reader sees at worst a
                # truncated last line, which the views skip.
                fh.write(b"".join(chunk) if len(chunk) > 1 else chunk[0])
            except Exception:  # noqa: BLE001
                self.faults += sum(bytes(part).count(b"\n") for part in chunk)
        self._close_stale_files(window)

    def _pending(self) -> bool:
        return any(self._lines.values())

    def _derive_metrics(self, logs: list[dict], lines: dict[str, list[bytes | bytearray]]) -> None:
        for listener in self._log_listeners:
            try:
                for metric in listener(logs):
                    lines.setdefault("metrics", []).append(
                        orjson.dumps(metric, option=orjson.OPT_APPEND_NEWLINE, default=str))
            except Exception:  # noqa: BLE001 - a faulty listener costs its metrics, not the logs
                self.faults += 1

    def _segment(self, stream: str, window: int) -> IO[bytes]:
        current = self._files.get(stream)
        if current is not None and current[0] == window:
            return current[1]
        if current is not None:
            _close_quietly(current[1])
        directory = self.root / stream / _segments.partition_name(window)
        directory.mkdir(parents=True, exist_ok=True)
        name = _segments.segment_name(window, os.getpid(), self._token) + ".jsonl"
        # Unbuffered: each write() goes straight to the OS, visible to readers.
        fh = open(directory / name, "ab", buffering=0)  # noqa: SIM115
        self._files[stream] = (window, fh)
        return fh

    def _close_stale_files(self, window: int | None = None) -> None:
        if window is None:
            window = int(self._clock() // self.segment_seconds) * self.segment_seconds
        for stream, (w, fh) in list(self._files.items()):
            if w != window:
                _close_quietly(fh)
                del self._files[stream]

    # -------------------------------------------------------------- maintenance

    def compact(self) -> int:
        """Compact closed JSONL segments to Parquet and merge closed hours and days.

        Returns the number of JSONL segments compacted; 0 when another process is
        compacting. Crash-safe at every step: outputs are written to a hidden temp
        file, fsynced and renamed into place before any input is deleted, and the
        naming rules hide the inputs from readers from the moment of the rename.
        """
        with self._maintenance_lock() as locked:
            if not locked:
                return 0
            now = self._clock()
            compacted = 0
            with duckdb.connect(":memory:") as con:
                con.execute("SET TimeZone = 'UTC'")
                for stream in STREAMS:
                    for part in _segments.scan_stream(self.root / stream):
                        self._clean_up(part)
                        compacted += self._compact_segments(con, stream, part, now)
                        self._merge(con, stream, part.path, now)
            return compacted

    def _clean_up(self, part: _segments.Partition) -> None:
        """Finish what a crashed compactor left: delete superseded inputs and temp files."""
        for name in part.temporary:
            _unlink(part.path / name)  # we hold the lock: nobody else is writing these
        for stem in part.superseded_jsonl():
            _unlink(part.path / f"{stem}.jsonl")
        for stem in part.superseded_parquet():
            _unlink(part.path / f"{stem}.parquet")

    def _compact_segments(
        self, con: duckdb.DuckDBPyConnection, stream: str, part: _segments.Partition, now: float
    ) -> int:
        count = 0
        for stem in part.live_jsonl():
            window = part.jsonl[stem][0]
            if window + self.segment_seconds + _GRACE_SECONDS > now:
                continue  # still open, or a late writer may still append
            source = part.path / f"{stem}.jsonl"
            select = _schema.split_messages(stream, _schema.from_jsonl(stream, [str(source)]))
            try:
                self._publish(con, stream, select, part.path, stem)
            except (duckdb.IOException, FileNotFoundError):
                continue  # vanished under us (retention); nothing to do
            _unlink(source)
            count += 1
        return count

    def _merge(self, con: duckdb.DuckDBPyConnection, stream: str, path: Path, now: float) -> None:
        """Merge a closed day into one file, else each closed hour into one file."""
        part = _segments.scan_partition(path)
        if part is None or not part.parquet:
            return
        day_start = min(rng[0] for rng in part.parquet.values()) // _DAY * _DAY
        if day_start + _DAY + _GRACE_SECONDS <= now:
            ranges = [(day_start, day_start + _DAY)]
        else:
            hours = {rng[0] // _HOUR * _HOUR for rng in part.parquet.values()}
            ranges = [(h, h + _HOUR) for h in sorted(hours) if h + _HOUR + _GRACE_SECONDS <= now]
        live = part.live_parquet()
        for start, end in ranges:
            inputs = [s for s in live if start <= part.parquet[s][0] and part.parquet[s][1] <= end]
            pending = [s for s, r in part.jsonl.items() if start <= r[0] < end]
            target = _segments.merged_name(start, end)
            if len(inputs) < 2 or pending or target in inputs:
                # Fewer than two files: nothing to gain. JSONL pending: not all of the
                # range is compacted yet. Target exists among live files: the range
                # was merged already and somehow grew; leave it rather than overwrite.
                continue
            files = [str(path / f"{s}.parquet") for s in inputs]
            select = _schema.split_messages(stream, _schema.from_parquet(stream, files))
            self._publish(con, stream, select, path, target)
            for stem in inputs:
                _unlink(path / f"{stem}.parquet")

    def _publish(self, con: duckdb.DuckDBPyConnection, stream: str, select: str, directory: Path, stem: str) -> None:
        """Write ``select`` to ``directory/stem.parquet`` atomically and durably, laid out for ``stream``.

        Logs and spans sorted by time, metrics by series then time: see ``_schema.COMPACTED_ORDER``.
        """
        tmp = directory / f".{stem}.{secrets.token_hex(4)}.tmp"
        target = directory / f"{stem}.parquet"
        quoted = str(tmp).replace("'", "''")
        try:
            con.execute(
                f"COPY ({_schema.compacted(stream, select)}) TO '{quoted}'"
                f" (FORMAT parquet, COMPRESSION {PARQUET_CODEC}{_schema.COMPACTED_OPTIONS[stream]})"
            )
            _segments.fsync_file(tmp)
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise
        _segments.fsync_dir(directory)

    def apply_retention(self) -> int:
        """Drop every ``dt=`` partition older than ``retention_days``; return how many."""
        with self._maintenance_lock() as locked:
            if not locked:
                return 0
            today = datetime.fromtimestamp(self._clock(), UTC).date()
            cutoff = today - timedelta(days=self.retention_days)
            dropped = 0
            for stream in STREAMS:
                stream_dir = self.root / stream
                try:
                    names = os.listdir(stream_dir)
                except FileNotFoundError:
                    continue
                for name in names:
                    if name.startswith(".drop-"):
                        shutil.rmtree(stream_dir / name, ignore_errors=True)  # a crashed drop
                        continue
                    day = _segments.partition_date(name)
                    if day is None or day >= cutoff:
                        continue
                    # Rename first: the partition leaves every listing atomically,
                    # then the slow delete happens out of sight.
                    trash = stream_dir / f".drop-{name}-{secrets.token_hex(4)}"
                    try:
                        os.rename(stream_dir / name, trash)
                    except FileNotFoundError:
                        continue
                    shutil.rmtree(trash, ignore_errors=True)
                    dropped += 1
            return dropped

    def _maintenance_lock(self) -> _FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return _FileLock(self.root / ".maintenance.lock")

    # ------------------------------------------------------------------ reading

    def live_source_sql(self, stream: str, start_ms: int | None = None, end_ms: int | None = None) -> str:
        """The stream's SELECT over the files live now: a view's body without a catalog, so a
        query can run on a cursor of its own (Logs Insights does).

        With ``start_ms``/``end_ms`` (epoch ms, inclusive) it leaves out the Parquet files
        whose footer shows no ``ts`` in that range; the caller still filters on ``ts``.
        JSONL segments are always read: they have no footer, and a file's name tells the
        time it was written, not the times of its records (imports, late events).
        """
        parquet, jsonl = _segments.live_files(self.root / stream)
        if start_ms is not None or end_ms is not None:
            parquet = _segments.overlapping(parquet, start_ms, end_ms)
        return self.source_sql(stream, parquet, jsonl)

    def live_files_in(self, stream: str, start_ms: int, end_ms: int) -> tuple[list[str], list[str], list[str]]:
        """The stream's files live now for ``start_ms <= ts <= end_ms`` (epoch ms): the Parquet files
        wholly inside the range by their footers, the Parquet files that may hold some of it, and
        the JSONL segments (always: they have no footer)."""
        parquet, jsonl = _segments.live_files(self.root / stream)
        inside: list[str] = []
        partly: list[str] = []
        for path in _segments.overlapping(parquet, start_ms, end_ms):
            span = _segments.parquet_ts_range(path)  # epoch µs
            within = span is not None and span[0] >= start_ms * 1000 and span[1] <= end_ms * 1000
            (inside if within else partly).append(path)
        return inside, partly, jsonl

    @staticmethod
    def source_sql(stream: str, parquet: Sequence[str], jsonl: Sequence[str]) -> str:
        """The stream's SELECT over these files (see live_source_sql)."""
        return _schema.view_sql(stream, list(parquet), list(jsonl)).split(" AS ", 1)[1]

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory DuckDB with views ``logs``, ``metrics`` and ``spans``; it reads no other file.

        The views are a snapshot of the file list: records appended to listed
        segments show up, new segments do not, and a file compacted away after this
        call makes a query fail with ``duckdb.IOException``. Connect again (it takes
        a few ms) rather than holding a connection for long.
        """
        try:
            return self._connect()
        except duckdb.IOException:
            # A compactor in another process replaced a file between our listing
            # and DuckDB opening it: list again.
            return self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            for stream in STREAMS:
                parquet, jsonl = _segments.live_files(self.root / stream)
                con.execute(_schema.view_sql(stream, parquet, jsonl))
            close_to_files(con, self.root)
        except BaseException:
            con.close()
            raise
        return con

    def _query(self, sql: str, params: list[Any], timeout: float | None = None) -> list[tuple]:
        if self._pending():
            self.flush()  # a process reads its own writes
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in range(2):
            con = None
            try:
                con = self.connect()
                left = None if deadline is None else deadline - time.monotonic()
                return run_with_deadline(con, sql, params, timeout=left)
            except duckdb.IOException:
                if attempt:
                    raise
            finally:
                if con is not None:
                    con.close()
        raise AssertionError("unreachable")

    def logs(
        self,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        correlation_id: str | None = None,
        trace_id: str | None = None,
        level: str | None = None,
        limit: int = 1000,
        order: str = "asc",
    ) -> list[dict]:
        """The original log records, oldest first (``order="desc"``: newest first);
        ``start_ms``/``end_ms`` both inclusive. The order applies before the limit, so
        ``desc`` with a limit keeps the newest records of the window."""
        if order not in ("asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
        where, params = _conditions(
            ("ts >= epoch_ms(CAST(? AS BIGINT))", start_ms),
            ("ts <= epoch_ms(CAST(? AS BIGINT))", end_ms),
            ("correlation_id = ?", correlation_id),
            ("trace_id = ?", trace_id),
            ("level = ?", level),
        )
        ordering = "ts NULLS FIRST, raw" if order == "asc" else "ts DESC NULLS LAST, raw DESC"  # one the other's mirror
        sql = f"SELECT raw FROM logs {where} ORDER BY {ordering} LIMIT ?"
        return [orjson.loads(raw) for (raw,) in self._query(sql, [*params, limit])]

    def spans(
        self,
        *,
        trace_id: str | None = None,
        correlation_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 10000,
    ) -> list[dict]:
        """The original span records by start time; ``start_ms``/``end_ms`` bound the start, inclusive."""
        where, params = _conditions(
            ("trace_id = ?", trace_id),
            ("correlation_id = ?", correlation_id),
            ("start_time_unix_nano >= CAST(? AS BIGINT) * 1000000", start_ms),
            ("start_time_unix_nano <= CAST(? AS BIGINT) * 1000000 + 999999", end_ms),
        )
        sql = (
            f"SELECT raw FROM spans {where}"
            " ORDER BY start_time_unix_nano NULLS FIRST, span_id LIMIT ?"
        )
        return [orjson.loads(raw) for (raw,) in self._query(sql, [*params, limit])]

    def trace_ids_for(self, correlation_id: str) -> list[str]:
        """Trace ids seen with ``correlation_id`` in spans or logs, first seen first."""
        sql = """
            SELECT trace_id FROM (
                SELECT trace_id, ts FROM spans WHERE correlation_id = ? AND trace_id IS NOT NULL
                UNION ALL
                SELECT trace_id, ts FROM logs WHERE correlation_id = ? AND trace_id IS NOT NULL
            ) GROUP BY trace_id ORDER BY min(ts) NULLS LAST, trace_id
        """
        return [tid for (tid,) in self._query(sql, [correlation_id, correlation_id])]

    def list_metrics(self, namespace: str | None = None, name: str | None = None) -> list[dict]:
        """Distinct metrics (namespace, name, exact dimension set), sorted.

        A compacted file never changes while its identity (inode, size, mtime) holds: its
        distinct metrics are read once and kept (a week of 200 series: 55 ms a call when
        every file was read again, issue 15). Open JSONL segments are read every time.
        """
        if self._pending():
            self.flush()  # a process reads its own writes
        for attempt in range(2):
            parquet, jsonl = _segments.live_files(self.root / "metrics")
            try:
                found: dict[tuple[Any, Any, Any], Any] = {}
                for path in parquet:
                    rows = self._file_metrics.get(path, None, lambda path=path: _distinct_metrics(
                        self._database().cursor(), _schema.from_parquet("metrics", [path])))
                    for ns, metric, dims, dimensions in rows:
                        found.setdefault((ns, metric, dims), dimensions)
                if jsonl:
                    source = self.source_sql("metrics", [], jsonl)
                    for ns, metric, dims, dimensions in _distinct_metrics(self._database().cursor(), source):
                        found.setdefault((ns, metric, dims), dimensions)
                break
            except (duckdb.IOException, FileNotFoundError):
                # A compactor replaced a file between our listing and reading it: list again.
                if attempt:
                    raise
        out = []
        for (ns, metric, dims), dimensions in sorted(found.items(), key=_metric_order):
            if (namespace is not None and ns != namespace) or (name is not None and metric != name):
                continue
            parsed = orjson.loads(dimensions) if dimensions else {}
            out.append({"namespace": ns, "name": metric,
                        "dimensions": {k: _dim_value(v) for k, v in sorted((parsed or {}).items())}})
        return out

    def metric_statistics(
        self,
        namespace: str,
        name: str,
        *,
        dimensions: Mapping[str, str] | None = None,
        statistic: str = "Sum",
        period: int = 60,
        start_ms: int,
        end_ms: int,
        unit: str | None = None,
        origin_ms: int | None = None,
    ) -> MetricSeries:
        """One statistic per ``period``-second bucket, CloudWatch GetMetricStatistics style.

        The metric is ``namespace`` + ``name`` + exactly ``dimensions`` (a point
        with more or fewer dimensions is another metric). Points with
        ``start_ms <= timestamp < end_ms`` count; buckets start at ``origin_ms``
        plus multiples of ``period`` (default origin: the epoch); buckets without
        data are omitted. With ``unit``, only points recorded with that unit count.
        Statistics: Sum, Average, Minimum, Maximum, SampleCount, pNN and pNN.NN.
        """
        return self.metric_statistics_batch(
            [MetricStat(namespace, name, dict(dimensions or {}), statistic, period, unit)],
            start_ms=start_ms, end_ms=end_ms, origin_ms=origin_ms,
        )[0]

    def metric_statistics_batch(
        self,
        requests: Sequence[MetricStat],
        *,
        start_ms: int,
        end_ms: int,
        origin_ms: int | None = None,
        timeout: float | None = DEFAULT_QUERY_TIMEOUT,
    ) -> list[MetricSeries]:
        """``metric_statistics`` for several metrics over one snapshot (one DuckDB statement).

        Past ``timeout`` seconds the query is interrupted: QueryTimeout."""
        # Requests sharing (statistic, period, unit) become one group: one GROUP BY.
        by_kind: dict[tuple[Any, Any, Any], list[int]] = {}
        for i, r in enumerate(requests):
            by_kind.setdefault((r.statistic, r.period, r.unit), []).append(i)
        groups = [
            StatisticGroup(
                frozenset(metric_key(requests[i].namespace, requests[i].name, requests[i].dimensions)
                          for i in members),
                statistic, period, start_ms, end_ms, unit, origin_ms,
            )
            for (statistic, period, unit), members in by_kind.items()
        ]
        found, notes = self._grouped_statistics(groups, units=True, timeout=timeout)
        out: list[MetricSeries | None] = [None] * len(requests)
        for members, rows, group_notes in zip(by_kind.values(), found, notes):
            for i in members:
                req = requests[i]
                key = metric_key(req.namespace, req.name, req.dimensions)
                out[i] = _metric_series(req, rows.get(key))
                if key in group_notes:
                    out[i].messages.append(group_notes[key])
        return out  # type: ignore[return-value]

    def grouped_statistics(
        self, groups: Sequence[StatisticGroup], *, units: bool = True, timeout: float | None = DEFAULT_QUERY_TIMEOUT
    ) -> list[dict[MetricKey, list[StatisticRow]]]:
        """Each group's statistic per bucket for each of its metrics, all in one statement over one snapshot.

        For every group, ``{metric_key: [(bucket, value, units), ...]}`` with buckets
        ascending; metrics and buckets without data are absent. Semantics are
        ``metric_statistics``'s (see there); ``units`` is the one unit of the series
        (empty with ``units=False``). A metric published in several units answers
        for one of them only, see ``_one_unit``. The alarm engine and
        ``metric_statistics_batch`` read here.
        """
        found = self._grouped_statistics(groups, units=units, timeout=timeout)[0]
        return [{key: [(bucket, value, list(bucket_units)) for bucket, value in zip(buckets, values)]
                 for key, (buckets, values, bucket_units) in series.items()}
                for series in found]

    def _grouped_statistics(
        self, groups: Sequence[StatisticGroup], *, units: bool, timeout: float | None
    ) -> tuple[list[dict[MetricKey, _Columns]], list[dict[MetricKey, str]]]:
        """``grouped_statistics`` as columns per metric, and per group a message for each metric whose
        other units were left out."""
        statements = [_grouped_statistics_sql(g) for g in groups]  # validates before any I/O
        if self._pending():
            self.flush()  # a process reads its own writes
        found: list[dict[MetricKey, _Columns]] = [{} for _ in groups]
        notes: list[dict[MetricKey, str]] = [{} for _ in groups]
        if not groups:
            return found, notes
        by_unit: list[dict[MetricKey, list[tuple[str, list[int], list[float], int]]]] = [{} for _ in groups]
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in range(2):
            # Only the metrics files live now: every query sees what was written or
            # compacted before it. Files are not pruned by name: a segment holds records
            # by write time, not by their timestamp.
            parquet, jsonl = _segments.live_files(self.root / "metrics")
            try:
                # The statistics numpy answers from decoded series (_series); SQL the rest.
                fast: dict[int, dict[MetricKey, list[tuple[str, list[int], list[float], int]]]] = {}
                for i, group in enumerate(groups):
                    if _series.supported(group.statistic):
                        answer = _series.statistics(
                            keys=group.metrics, statistic=group.statistic, period=group.period,
                            start_ms=group.start_ms, end_ms=group.end_ms, unit=group.unit,
                            origin_ms=group.origin_ms, parquet=parquet, jsonl=jsonl,
                            cursor=lambda: self._database().cursor(), deadline=deadline)
                        if answer is not None:
                            fast[i] = answer
                slow = [i for i in range(len(groups)) if i not in fast]
                rows = self._statistics_sql([statements[i] for i in slow], parquet, jsonl, deadline) if slow else []
                break
            except (duckdb.IOException, FileNotFoundError):
                # A compactor replaced a file between our listing and reading it: list again.
                if attempt:
                    raise
        for i, answer in fast.items():
            by_unit[i] = answer
        for grp, namespace, name, dims, unit, buckets, values, points in rows:
            grp = slow[grp]
            key = (namespace, name, dims or "")
            if key in groups[grp].metrics:
                by_unit[grp].setdefault(key, []).append((unit, buckets, values, int(points)))
        for grp, series in enumerate(by_unit):
            for key, per_unit in series.items():
                unit, buckets, values, note = _one_unit(per_unit)
                found[grp][key] = (buckets, values, [unit] if units else [])
                if note:
                    notes[grp][key] = note
        return found, notes

    def _statistics_sql(
        self, statements: list[tuple[str, list[Any]]], parquet: list[str], jsonl: list[str], deadline: float | None
    ) -> list[tuple]:
        """Rows (group index, namespace, name, dims, unit, buckets, values, points) of the statements, in one."""
        # One statement for all groups: DuckDB plans the scans together. Each series of
        # each unit comes back as one row of lists: DuckDB builds them, not a Python loop
        # over a week of minutes.
        union = " UNION ALL ".join(
            f"SELECT {i} AS grp, * FROM ({sql})" for i, (sql, _) in enumerate(statements)
        )
        series_sql = (
            "SELECT grp, namespace, name, dims, u, list(bucket ORDER BY bucket), list(value ORDER BY bucket),"
            " sum(points) FROM (" + union + ") WHERE value IS NOT NULL GROUP BY grp, namespace, name, dims, u"
        )
        params = [p for _, ps in statements for p in ps]
        # As a CTE rather than a view, it needs no catalog of its own, so it runs on a
        # cursor of the store's one database.
        source = _schema.view_sql("metrics", parquet, jsonl).split(" AS ", 1)[1]
        # NOT MATERIALIZED: the CTE is read once per group; materialized, it would
        # be the whole stream, every column, copied first.
        sql = f"WITH metrics AS NOT MATERIALIZED ({source}) {series_sql}"
        cursor = self._database().cursor()
        try:
            left = None if deadline is None else deadline - time.monotonic()
            return run_with_deadline(cursor, sql, params, timeout=left)
        finally:
            cursor.close()

    def _database(self) -> duckdb.DuckDBPyConnection:
        """This store's in-memory DuckDB, opened at the first query; queries run on cursors of it.

        A fresh database per query costs ~35 ms over a week of files (a cold buffer pool,
        memory faulted in again), a kept one nothing. Cursors may be used from several
        threads at once, and each is interrupted on its own (``run_with_deadline``).
        """
        with self._database_lock:
            if self._db is None:
                db = duckdb.connect(":memory:")
                try:
                    db.execute("SET GLOBAL TimeZone = 'UTC'")
                    close_to_files(db, self.root)
                except BaseException:
                    db.close()
                    raise
                self._db = db
            return self._db

    def put_metrics(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Record datapoints like PutMetricData and flush, so the next query sees them.

        Each record: ``namespace``, ``name``, ``value`` or ``statistic_values`` (a
        ``{SampleCount, Sum, Minimum, Maximum}`` statistic set), optional ``unit`` (a
        CloudWatch standard unit, default None), ``dimensions`` (at most 30) and
        ``timestamp`` (epoch ms, default now). Every record is checked before any
        is written; a bad one raises ValueError naming its index. Returns the count.
        """
        checked = [_check_datapoint(i, rec, self._clock) for i, rec in enumerate(records)]
        self._lines["metrics"] += b"".join(_dumps_line(rec) for rec in checked)
        self.flush()
        return len(checked)


# A metric's identity: (namespace, name, dims_key(dimensions)).
MetricKey = tuple[str, str, str]
# One bucket of ``TelemetryStore.grouped_statistics``: (bucket start ms, value, distinct units).
StatisticRow = tuple[int, float, list[str]]
# One metric's series as ``_grouped_statistics`` answers it: bucket starts (ms, ascending), values, its units.
_Columns = tuple[list[int], list[float], list[str]]


def metric_key(namespace: Any, name: Any, dimensions: Mapping[str, Any] | None) -> MetricKey:
    """The key ``TelemetryStore.grouped_statistics`` files a metric's buckets under."""
    return (str(namespace), str(name), dims_key(dimensions))


@dataclass(frozen=True)
class StatisticGroup:
    """One statistic of many metrics over one range: a single GROUP BY.

    ``metrics`` holds ``metric_key``s; buckets start at ``origin_ms`` (default: the
    epoch) plus multiples of ``period``; ``start_ms`` inclusive, ``end_ms`` exclusive.
    """

    metrics: frozenset[MetricKey]
    statistic: str
    period: int
    start_ms: int
    end_ms: int
    unit: str | None = None
    origin_ms: int | None = None


# CloudWatch periods: 1, 5, 10, 20, 30 (high resolution), 60 and multiples of 60.


def _one_unit(
    per_unit: list[tuple[str, list[int], list[float], int]],
) -> tuple[str, list[int], list[float], str | None]:
    """One series from a metric's series per unit (unit, buckets, values, data points), and a note if units
    were left out.

    CloudWatch aggregates "metric data points that specify a unit of measure, such
    as Percent, ... separately" (PutMetricAlarm, Unit), and GetMetricStatistics
    without a Unit returns "all data that was collected with any unit ..., along
    with the corresponding units" (GetMetricStatistics, Unit): one statistic per
    unit, never one over mixed units. Our answers hold one series, so they answer
    for the unit with the most data points in the range (ties: the first name) and
    say which units were left out; asking for a unit gives that unit's series.
    """
    if len(per_unit) == 1:
        unit, buckets, values, _ = per_unit[0]
        return unit, buckets, values, None
    counts = {unit: points for unit, _, _, points in per_unit}
    chosen = min(counts, key=lambda u: (-counts[u], u))
    note = (f"Data points in {len(counts)} units ({', '.join(sorted(counts))}) are aggregated separately;"
            f" without a unit this answers for {chosen}, the unit with the most data points."
            " Ask for a unit to see another.")
    unit, buckets, values, _ = next(series for series in per_unit if series[0] == chosen)
    return unit, buckets, values, note


def _grouped_statistics_sql(group: StatisticGroup) -> tuple[str, list[Any]]:
    """The one place the statistic SQL is built: rows (namespace, name, dims, bucket, value, unit, data points).

    Each unit is its own row (see ``_one_unit``); a point stored without a unit has the unit None.
    """
    period_ms = check_period(group.period) * 1000
    kind, lower, upper = MetricStat.parse_statistic(check_statistic(group.statistic))
    origin = int(group.origin_ms or 0)
    namespaces = sorted({k[0] for k in group.metrics})
    names = sorted({k[1] for k in group.metrics})
    dims = sorted({k[2] for k in group.metrics})
    # The IN lists narrow the scan; the caller keeps only the exact keys it asked for.
    where = [
        "ts >= ?", "ts < ?", "(value IS NOT NULL OR set_count IS NOT NULL)",
        f"namespace IN ({', '.join('?' * len(namespaces)) or 'NULL'})",
        f"name IN ({', '.join('?' * len(names)) or 'NULL'})",
        f"dims IN ({', '.join('?' * len(dims)) or 'NULL'})",
    ]
    params: list[Any] = [group.start_ms, group.end_ms, *namespaces, *names, *dims]
    if group.unit is not None:
        where.append("coalesce(unit, 'None') = ?")
        params.append(group.unit)
    unit = "coalesce(unit, 'None')"
    # Integer bucket arithmetic relative to the origin; ``//`` floors, so points
    # before the origin still land in the bucket that contains them.
    ts = "ts"
    if period_ms < 60_000:
        # MetricStat.Period: "For metrics with regular resolution, a period can be as
        # short as one minute"; only points "stored by a PutMetricData call that
        # includes a StorageResolution of 1 second" have sub-minute periods. CloudWatch
        # keeps standard-resolution data at one-minute granularity, so asked at a
        # shorter period such a point counts at the start of its minute: one datapoint
        # per minute, whatever the period.
        ts = "(CASE WHEN storage_resolution = 1 THEN ts ELSE ts // 60000 * 60000 END)"
    bucket = f"({ts} - {origin}) // {period_ms} * {period_ms} + {origin}"
    if kind in _SIMPLE_STATISTICS:
        sql = f"""
            SELECT namespace, name, dims, {bucket} AS bucket,
                   {_SIMPLE_STATISTICS[kind]} AS value, {unit} AS u, count(*) AS points
            FROM metrics
            WHERE {' AND '.join(where)}
            GROUP BY namespace, name, dims, bucket, u
        """
        return sql, params
    # Every other statistic needs the period's raw samples, sorted. "CloudWatch
    # needs raw data points to calculate percentile statistics. If you publish data
    # using a statistic set instead, you can only retrieve percentile statistics for
    # this data if ... the SampleCount value of the statistic set is 1 [or] the Min
    # and the Max values of the statistic set are equal" (GetMetricStatistics): such
    # a set is SampleCount copies of its Minimum; a bucket holding any other set has
    # no value for these statistics. Percentiles "are not available for metrics when
    # any of the metric values are negative numbers" (ExtendedStatistics): such a
    # bucket is omitted too.
    samples = (
        "list_sort(list_concat(list(value) FILTER (WHERE set_count IS NULL),"
        " coalesce(flatten(list(list_resize([set_min], CAST(ceil(set_count) AS BIGINT), set_min))"
        " FILTER (WHERE set_count IS NOT NULL)), [])))"
    )
    having = ["bool_and(set_count IS NULL OR set_count = 1 OR set_min = set_max)"]
    if kind == "p":
        having.append("min(coalesce(set_min, value)) >= 0")
    sql = f"""
        SELECT namespace, name, dims, bucket, {_sample_statistic(kind, lower, upper)} AS value, u, points
        FROM (
            SELECT namespace, name, dims, {bucket} AS bucket, {samples} AS s, {unit} AS u, count(*) AS points
            FROM metrics
            WHERE {' AND '.join(where)}
            GROUP BY namespace, name, dims, bucket, u
            HAVING {' AND '.join(having)}
        )
    """
    return sql, params


def _decimal(number: float) -> str:
    """A validated bound as an exact SQL DECIMAL: rank arithmetic must not round (p99.9 of 1000 is rank 999)."""
    return f"CAST('{number:.10f}' AS DECIMAL(28, 10))"


def _sample_statistic(kind: str, lower: Any, upper: Any) -> str:
    """SQL over ``s``, a bucket's sorted samples, for a percentile or a trimmed statistic.

    Bounds come from ``parse_statistic`` (validated numbers, written as literals).
    """
    if kind == "p":
        # CloudWatch documents pNN as the value that NN% of the period's data lies
        # below, with p0.0..p100 and up to 10 decimals. It does not document an
        # interpolation, so we use the nearest-rank method: the smallest sample
        # such that at least NN% of samples are <= it, i.e. the ceil(NN/100 * n)-th
        # of the sorted samples (p0 = Minimum, p100 = Maximum). It always returns a
        # value that was actually published, as CloudWatch's percentiles do for
        # raw data.
        return f"s[CAST(greatest(1, ceil({_decimal(upper[0])} * len(s) / 100)) AS BIGINT)]"
    # "CloudWatch statistics definitions": TM/WM/TC/TS keep the samples between two
    # boundaries. Percentage bounds are ranks: TM(10%:90%) drops the lowest 10% and
    # the highest 10% of the samples, so the i-th smallest (1-based) of n is kept when
    # lo*n/100 < i <= hi*n/100 (tm90 keeps i <= 0.9n). Absolute bounds are values:
    # "TM(150:1000) calculates the average after removing all data points that are
    # less than or equal to 150, or higher than 1000", so lo < x <= hi; PR documents
    # the same, "exclusive on the lower bound and inclusive on the upper bound".
    keep = []
    for bound, op in ((lower, ">"), (upper, "<=")):
        if bound is None:
            continue
        number, is_percent = bound
        if is_percent:
            keep.append(f"i {op} {_decimal(number)} * len(s) / 100")
        else:
            keep.append(f"x {op} {number!r}")
    kept = f"list_filter(s, lambda x, i: {' AND '.join(keep)})"
    if kind == "TM":
        return f"list_avg({kept})"
    if kind == "TC":
        return f"CAST(len({kept}) AS DOUBLE)"
    if kind == "TS":
        return f"list_sum({kept})"
    if kind == "PR":
        # "the percentage of values that meet a fixed threshold": PR(:300) is the
        # share of samples <= 300, in percent.
        return f"100.0 * len({kept}) / len(s)"
    # WM: "values that are outside of the boundaries ... are considered to be equal
    # to the value at the edge of the appropriate boundary", then averaged over all
    # samples. The edges are the smallest and largest kept samples.
    return (
        f"(SELECT list_avg(list_transform(s, lambda x: least(greatest(x, list_min(k)), list_max(k))))"
        f" FROM (SELECT {kept} AS k))"
    )


def _metric_series(req: MetricStat, columns: _Columns | None) -> MetricSeries:
    if columns is None:
        return MetricSeries(label=req.name, unit=None, timestamps=[], values=[])
    buckets, values, units = columns
    return MetricSeries(label=req.name, unit=units[0] if len(units) == 1 else None,
                        timestamps=buckets, values=values)


def _check_datapoint(index: int, rec: Mapping[str, Any], clock: Callable[[], float]) -> dict:
    from whispersync.telemetry import (
        MAX_DIMENSION_KEY,
        MAX_DIMENSION_VALUE,
        MAX_DIMENSIONS,
        Unit,
    )

    def bad(reason: str) -> ValueError:
        return ValueError(f"datapoint {index}: {reason}")

    if not isinstance(rec, Mapping):
        raise bad("must be a mapping")
    for key in ("namespace", "name"):
        value = rec.get(key)
        if not isinstance(value, str) or not 1 <= len(value) <= 255:
            raise bad(f"{key} must be a string of 1-255 characters")
    value = rec.get("value")
    stats = rec.get("statistic_values")
    if (value is None) == (stats is None):
        raise bad("give exactly one of value and statistic_values")
    if stats is not None:
        if not isinstance(stats, Mapping) or set(stats) != set(_STATISTIC_SET):
            raise bad(f"statistic_values must hold exactly {', '.join(_STATISTIC_SET)}")
        for key in _STATISTIC_SET:
            _check_value(stats[key], f"statistic_values.{key}", bad)
        count, total, low, high = (float(stats[k]) for k in _STATISTIC_SET)
        if count <= 0 or low > high:
            raise bad("statistic_values need SampleCount > 0 and Minimum <= Maximum")
        stats = dict(zip(_STATISTIC_SET, (count, total, low, high)))
        value = total / count
    else:
        _check_value(value, "value", bad)
    unit = rec.get("unit") or "None"
    if unit not in Unit.ALL:
        raise bad(f"unit {unit!r} is not a CloudWatch standard unit")
    dimensions = dict(rec.get("dimensions") or {})
    if len(dimensions) > MAX_DIMENSIONS:
        raise bad(f"{len(dimensions)} dimensions; at most {MAX_DIMENSIONS}")
    for k, v in dimensions.items():
        if not isinstance(k, str) or not 1 <= len(k) <= MAX_DIMENSION_KEY:
            raise bad(f"dimension name {k!r} must be 1-{MAX_DIMENSION_KEY} characters")
        if not isinstance(v, str) or not 1 <= len(v) <= MAX_DIMENSION_VALUE:
            raise bad(f"dimension {k!r} value must be a string of 1-{MAX_DIMENSION_VALUE} characters")
    timestamp = rec.get("timestamp")
    if timestamp is None:
        timestamp = int(clock() * 1000)
    elif type(timestamp) not in (int, float) or timestamp < 0:
        raise bad(f"timestamp must be epoch milliseconds, got {timestamp!r}")
    # PutMetricData's MetricDatum.StorageResolution: "Valid values are 1 and 60"; 60
    # (standard) is the default and is not stored (a missing value reads as 60).
    resolution = rec.get("storage_resolution", 60)
    if type(resolution) is not int or resolution not in (1, 60):
        raise bad(f"storage_resolution must be 1 or 60, got {resolution!r}")
    return {
        "timestamp": int(timestamp),
        "namespace": rec["namespace"],
        "name": rec["name"],
        "unit": unit,
        "value": float(value),
        "dimensions": dimensions,
        **({"statistic_values": stats} if stats is not None else {}),
        **({"storage_resolution": 1} if resolution == 1 else {}),
    }


# PutMetricData's StatisticSet, in the order the CLI and the docs list it.
_STATISTIC_SET = ("SampleCount", "Sum", "Minimum", "Maximum")
# MetricDatum.Value (PutMetricData API reference): "CloudWatch rejects values that
# are either too small or too large. Values must be in the range of -2^360 to
# 2^360. In addition, special values (for example, NaN, +Infinity, -Infinity) are
# not supported." Earlier editions of the page give the small end as well: "in the
# range of 8.515920e-109 to 1.174271e+108 (Base 10) or 2e-360 to 2e360 (Base 2)",
# i.e. a non-zero magnitude below 2^-360 is refused. (Issue 9 says 2^-260; the
# docs say 2^-360, which we follow. Zero itself is a value.)
_MAX_MAGNITUDE = 2.0 ** 360
_MIN_MAGNITUDE = 2.0 ** -360


def _check_value(value: Any, what: str, bad: Callable[[str], ValueError]) -> None:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise bad(f"{what} must be a finite number, got {value!r}")
    if abs(value) > _MAX_MAGNITUDE or (value != 0 and abs(value) < _MIN_MAGNITUDE):
        raise bad(f"{what} {value!r} is outside CloudWatch's range: 0 or a magnitude from 2^-360 to 2^360")


def _where(clauses: list[str]) -> str:
    return "WHERE " + " AND ".join(clauses) if clauses else ""


def _conditions(*pairs: tuple[str, Any]) -> tuple[str, list[Any]]:
    """The WHERE clause of the conditions whose value is given (not None), and their parameters."""
    given = [(sql, value) for sql, value in pairs if value is not None]
    return _where([sql for sql, _ in given]), [value for _, value in given]


_dumps = orjson.dumps
_LINE = orjson.OPT_APPEND_NEWLINE


def _take(buffer: Any) -> Any:
    """The items (bytes, or list entries) in ``buffer`` now, removed from it; others may append meanwhile.

    Copying the first n and deleting the first n are each one C call: an append
    between them lands after the n-th item and stays for the next take.
    """
    n = len(buffer)
    if not n:
        return None
    taken = buffer[:n]
    del buffer[:n]
    return taken


def _dumps_line(record: Any) -> bytes:
    """One JSON line. OPT_NON_STR_KEYS slows every dict (~1.5x on a span) and only
    matters for a dict with non-string keys (metadata), so it is the fallback."""
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE, default=str)
    except TypeError:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS, default=str)


def _close_quietly(fh: IO[bytes]) -> None:
    try:
        fh.close()
    except OSError:
        pass


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class _FileLock:
    """Non-blocking exclusive ``flock``; ``with`` yields whether it was acquired."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

