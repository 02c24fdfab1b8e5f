"""Run a compiled query on the telemetry store and shape the result like GetQueryResults.

A query costs one DuckDB statement: its rows carry recordsMatched and the events
scanned as their last two columns. It reads only the Parquet files whose footer
shows events in the time range (``TelemetryStore.live_source_sql``), and a query
text seen before (a dashboard's, refreshed) is not parsed and compiled again: plans
are cached with the time range as SQL parameters.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from whispersync.errors import InputError
from whispersync.monitoring.logs.insights._compiler import EDGES, CompiledQuery, compile_plan, compile_query
from whispersync.monitoring.logs.insights._errors import InsightsQueryError
from whispersync.monitoring.logs.insights._parser import parse_query
from whispersync.monitoring.store import DEFAULT_QUERY_TIMEOUT, FileFacts, close_to_files, run_with_deadline

if TYPE_CHECKING:
    from whispersync.monitoring.store import TelemetryStore

DEFAULT_RANGE_MS = 3_600_000  # no time range given: the last hour
# One database per store directory: it may read files only there (see _database).
_DATABASES: dict[str, duckdb.DuckDBPyConnection] = {}
_MAX_DATABASES = 8
_DATABASE_LOCK = threading.Lock()
MAX_LOG_GROUPS = 50  # StartQuery: "You can include up to 50 log groups."
PLAN_CACHE_SIZE = 256  # distinct (query, log groups) kept compiled: every widget of many dashboards


class _PlanCache:
    """Compiled plans by (query text, log groups), the least recently used dropped first.

    Thread-safe: the web server runs queries on many threads. A query that does not
    compile raises every time and is not kept.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._plans: collections.OrderedDict[tuple, CompiledQuery] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: str, log_groups: Sequence[str] | None) -> CompiledQuery:
        key = (query, None if log_groups is None else tuple(log_groups))
        with self._lock:
            plan = self._plans.get(key)
            if plan is not None:
                self._plans.move_to_end(key)
                self.hits += 1
                return plan
            self.misses += 1
        # Outside the lock: two threads may compile the same text at once, which is harmless.
        plan = compile_plan(parse_query(query), log_groups)
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return plan


_PLANS = _PlanCache(PLAN_CACHE_SIZE)


def run_query(
    store: TelemetryStore,
    query: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    now_ms: int | None = None,
    timeout: float | None = DEFAULT_QUERY_TIMEOUT,
    log_groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run a Logs Insights ``query`` over ``store``'s logs with ``start_ms <= @timestamp <= end_ms``.

    Returns ``{"columns": [...], "rows": [[...]], "statistics": {"recordsMatched",
    "recordsScanned", "bytesScanned"}}``; timestamps are ``YYYY-MM-DD HH:MM:SS.mmm``
    UTC. Without a range, the last hour. Raises ``InsightsQueryError`` for a bad
    query, ``QueryTimeout`` when it runs past ``timeout`` seconds.

    ``log_groups`` (StartQuery's logGroupNames, up to 50) reads only the events of
    those groups (``@log``), as a ``SOURCE`` in the query does; None reads every
    group. A query may not have both: StartQuery takes either. A group without
    events is no error: the answer is empty. recordsScanned and bytesScanned count
    the events of the groups read.

    A query DuckDB cannot run is an InsightsQueryError whose message is ours;
    DuckDB's own text is in its ``detail`` (for the server log, not the client).
    """
    if log_groups is not None:
        if isinstance(log_groups, str) or not all(isinstance(g, str) for g in log_groups):
            raise TypeError("log_groups must be a sequence of log group names")
        if not log_groups or not all(log_groups):
            raise InputError("name at least one log group, and no empty names")
        if len(log_groups) > MAX_LOG_GROUPS:
            raise InputError(f"a query reads at most {MAX_LOG_GROUPS} log groups, as StartQuery does")
    if end_ms is None:
        end_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if start_ms is None:
        start_ms = end_ms - DEFAULT_RANGE_MS
    if start_ms > end_ms:
        raise InsightsQueryError("the start of the time range is after its end")
    compiled = _PLANS.get(query, log_groups)
    params = {"start_ms": int(start_ms), "end_ms": int(end_ms)}
    store.flush()  # a process reads its own writes
    deadline = None if timeout is None else time.monotonic() + timeout
    for attempt in range(2):
        # The logs view's SELECT, over the files live now that may hold events of the
        # range, in place of the view: no catalog to share between threads, so every
        # query can run on its own cursor. NOT MATERIALIZED: a materialized one would
        # be copied whole first. EDGES: the files not wholly inside the range, whose
        # events scanned come in the same statement (the others' are kept per file).
        inside, partly, jsonl = store.live_files_in("logs", start_ms, end_ms)
        edges = store.source_sql("logs", partly, jsonl)
        prefix = (f"WITH logs AS NOT MATERIALIZED ({store.source_sql('logs', inside + partly, jsonl)}), "
                  f"{EDGES} AS NOT MATERIALIZED ({edges}) ")
        cursor = _database(store.root).cursor()
        try:
            try:
                rows = run_with_deadline(cursor, prefix + compiled.sql, params, timeout=_left(deadline))
                if rows:
                    scanned, scanned_bytes = rows[0][-1]["records"], rows[0][-1]["bytes"]
                elif partly or jsonl:
                    # No row to carry the edges' statistics (nothing matched): a statement of their own.
                    ((scanned, scanned_bytes),) = run_with_deadline(
                        cursor, f"WITH logs AS NOT MATERIALIZED ({edges}) {compiled.statistics_sql}",
                        _used(params, compiled.statistics_sql), timeout=_left(deadline))
                else:
                    scanned = scanned_bytes = 0
                records, size = inside_statistics(store, cursor, compiled.statistics_sql, params, inside, deadline)
                scanned, scanned_bytes = int(scanned) + records, int(scanned_bytes) + size
            except (duckdb.IOException, duckdb.InterruptException, FileNotFoundError):
                raise
            except duckdb.Error as exc:
                # Our SQL is well-formed; what fails at run time is the user's regex or
                # types. DuckDB's text names its internals: the client gets ours.
                error = InsightsQueryError(f"the query could not be run: {_category(exc)}", query, 0)
                error.detail = _first_line(exc)
                raise error from exc
            break
        except (duckdb.IOException, FileNotFoundError):
            # A compactor replaced a file between our listing and DuckDB opening it: list again.
            if attempt:
                raise
        finally:
            cursor.close()
    kinds = [c.kind for c in compiled.columns]
    matched = 0
    out_rows = []
    for row in rows:  # ..., __matched, __scanned
        matched = row[-2] or 0
        out_rows.append([_value(v, k) for v, k in zip(row[:-2], kinds, strict=True)])
    return {
        "columns": [c.name for c in compiled.columns],
        "rows": out_rows,
        "statistics": {
            "recordsMatched": int(matched),
            "recordsScanned": int(scanned),
            "bytesScanned": int(scanned_bytes),
        },
    }


# recordsScanned and bytesScanned of one Parquet file wholly inside a query's range, by
# path and statistics SQL, while the file is unchanged. Any range that holds the
# whole file gives the same numbers, so a dashboard's repeated query, or a range moved on
# by a minute, counts again only the files at its edges and the open segments, in the same
# statement as the query. The seed queries over 1 M events, one file wholly inside their
# hour, had spent ~5 ms of ~50 counting it again (issue 15).
_SCANNED = FileFacts(4096)


def inside_statistics(store: TelemetryStore, cursor: duckdb.DuckDBPyConnection, statistics_sql: str,
                      params: dict[str, int], inside: Sequence[str], deadline: float | None) -> tuple[int, int]:
    """(records, bytes) scanned of the Parquet files wholly *inside* the range, each counted once per identity.
    A file gone raises FileNotFoundError: the caller lists the files again."""
    used = _used(params, statistics_sql)

    def count(path: str) -> tuple[int, int]:
        sql = f"WITH logs AS NOT MATERIALIZED ({store.source_sql('logs', [path], [])}) {statistics_sql}"
        ((n, b),) = run_with_deadline(cursor, sql, used, timeout=_left(deadline))
        return int(n), int(b)

    records = size = 0
    for path in inside:
        n, b = _SCANNED.get(path, statistics_sql, lambda path=path: count(path))
        records += n
        size += b
    return records, size


def _database(root: Path) -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per store directory; queries use cursors on it.

    A fresh database per query costs more than many queries: its buffer pool starts
    cold and its memory is faulted in again (measured: 2-3x a warm query on 1 M events).
    It may read files only under the store's directory, which is why it is per store.
    """
    key = str(Path(root).absolute())
    with _DATABASE_LOCK:
        db = _DATABASES.get(key)
        if db is None:
            if len(_DATABASES) >= _MAX_DATABASES:
                # Tests make many stores; a server has one. Cursors still open keep theirs alive.
                _DATABASES.pop(next(iter(_DATABASES)))
            db = duckdb.connect(":memory:")
            db.execute("SET GLOBAL TimeZone = 'UTC'")
            close_to_files(db, Path(key))
            _DATABASES[key] = db
        return db


def _used(params: dict[str, int], sql: str) -> dict[str, int]:
    """The parameters ``sql`` names: DuckDB refuses values for parameters a statement lacks."""
    return {name: value for name, value in params.items() if f"${name}" in sql}


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


# DuckDB's error classes, in words a client can act on.
_CATEGORIES = (
    (duckdb.ConversionException, "a value could not be converted to the type an operation needs"),
    (duckdb.OutOfRangeException, "a value is out of range"),
    (duckdb.InvalidInputException, "a regular expression or an argument is not valid"),
    (duckdb.OutOfMemoryException, "it needs more memory than is available; narrow the time range"),
    (duckdb.PermissionException, "it asks for something queries may not do"),
)


def _category(exc: duckdb.Error) -> str:
    for kind, words in _CATEGORIES:
        if isinstance(exc, kind):
            return words
    # Anything else (a binder or parser error) is SQL we built wrongly, not the user's doing.
    return "WhisperSync built SQL its engine refused, a bug in WhisperSync rather than in the query"


def check_query(query: str, log_groups: Sequence[str] | None = None) -> None:
    """Raise InsightsQueryError unless ``query`` compiles; its plan is kept for ``run_query``.

    For StartQuery, which refuses a malformed query at once and runs it later.
    """
    _PLANS.get(query, log_groups)


def explain(query: str, start_ms: int, end_ms: int, log_groups: Sequence[str] | None = None) -> str:
    """The SQL a query compiles to (for debugging and benchmarks)."""
    return compile_query(parse_query(query), start_ms, end_ms, log_groups).sql


def format_timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_timestamp(value)
    if kind in ("json", "struct") and isinstance(value, str):  # JSON text: a map or list comes out decoded
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
