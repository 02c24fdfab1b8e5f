"""CloudWatch Logs' log groups and log streams over the telemetry store.

The events themselves live in the telemetry store like every other log line: a
record with ``@timestamp`` (epoch ms), ``@message`` (the line as sent), ``@ingestionTime``,
``log_group`` (Insights' ``@log``) and ``log_stream`` (``@logStream``), and the fields
CloudWatch would discover in the line (a JSON line's keys …), as `logs import` stores
CloudWatch events. So Logs Insights, `whispersync logs query` and the metric filters
(which run on the store's writer thread) see them as they see any log line.

What the store cannot hold is a group or a stream without events, a group's
retention setting and creation times: :class:`LogGroupStore` keeps those in SQLite
(``settings.monitoring_db``, beside the metric filters; tables prefixed ``log_``).
A group or stream that only has events in the store (written by `logs import`, by
the pipeline) exists too: :func:`discovered_streams` finds those, and callers merge.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from whispersync import sqlite_db
from whispersync.monitoring.logs._import import _event_record
from whispersync.telemetry import redact

if TYPE_CHECKING:
    from whispersync.monitoring.store import TelemetryStore

__all__ = ["LogEvent", "LogGroupStore", "LogStreamStats", "discovered_streams", "read_log_events",
           "write_log_events"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    retention_days INTEGER
);
CREATE TABLE IF NOT EXISTS log_streams (
    log_group TEXT NOT NULL,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (log_group, name)
);
"""


class LogGroupStore:
    """The log groups and streams created through the API, and each group's retention.

    Opening it touches nothing: the file is opened by the first call that needs it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._connections = sqlite_db.ThreadConnections(self.path, timeout=30, setup=self._setup)

    def _setup(self, con: sqlite3.Connection) -> None:
        con.executescript(_SCHEMA)

    def _con(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()

    def create_group(self, name: str, now_ms: int) -> bool:
        """Create a log group; False when one of that name exists already."""
        with self._con() as con:
            return con.execute("INSERT OR IGNORE INTO log_groups (name, created_ms) VALUES (?, ?)",
                               (name, now_ms)).rowcount > 0

    def create_stream(self, group: str, name: str, now_ms: int) -> bool:
        """Create a log stream in ``group``; False when the group has one of that name already."""
        with self._con() as con:
            return con.execute("INSERT OR IGNORE INTO log_streams (log_group, name, created_ms) VALUES (?, ?, ?)",
                               (group, name, now_ms)).rowcount > 0

    def set_retention(self, group: str, days: int | None, now_ms: int) -> None:
        """Set (None: clear) a group's retention, creating the group's row when it only had events."""
        with self._con() as con:
            con.execute("INSERT INTO log_groups (name, created_ms, retention_days) VALUES (?, ?, ?)"
                        " ON CONFLICT (name) DO UPDATE SET retention_days = excluded.retention_days",
                        (group, now_ms, days))

    def groups(self) -> dict[str, tuple[int, int | None]]:
        """Every created group: name → (creation ms, retention days or None)."""
        rows = self._con().execute("SELECT name, created_ms, retention_days FROM log_groups").fetchall()
        return {name: (created, days) for name, created, days in rows}

    def streams(self, group: str) -> dict[str, int]:
        """The created streams of ``group``: name → creation ms."""
        rows = self._con().execute("SELECT name, created_ms FROM log_streams WHERE log_group = ?",
                                   (group,)).fetchall()
        return dict(rows)


@dataclass(frozen=True)
class LogStreamStats:
    """What the telemetry store holds of one stream: DescribeLogStreams' event times and size."""

    first_event_ms: int
    last_event_ms: int
    last_ingestion_ms: int | None
    stored_bytes: int


@dataclass(frozen=True)
class LogEvent:
    """One stored event as GetLogEvents and FilterLogEvents give it back."""

    log_stream: str | None
    timestamp_ms: int
    message: str
    ingestion_ms: int
    event_id: str
    record: dict[str, Any]  # the stored record, for filter patterns


def write_log_events(store: TelemetryStore, group: str, stream: str, events: Sequence[tuple[int, str]],
                     ingestion_ms: int) -> None:
    """Store PutLogEvents' ``(timestamp ms, message)`` events (already checked) in ``group``/``stream``.

    They go through the store's writer like any log line, so the metric filters see
    them at its next flush; secrets are masked first, as for every line stored.
    """
    for timestamp_ms, message in events:
        record, _ = _event_record({"timestamp": timestamp_ms, "message": message, "logStreamName": stream},
                                  group, "")
        record["@ingestionTime"] = ingestion_ms
        store.emit("logs", redact(record))
    store.flush()


def read_log_events(store: TelemetryStore, group: str, *, streams: Sequence[str] | None = None,
                    stream_prefix: str | None = None, start_ms: int | None = None,
                    end_ms: int | None = None) -> list[LogEvent]:
    """The events of ``group`` (of the given streams, or streams named with the prefix), oldest first;
    ``start_ms`` inclusive and ``end_ms`` exclusive, as GetLogEvents and FilterLogEvents read them."""
    clauses, params = ["log_group = ?"], [group]
    if streams is not None:
        clauses.append(f"log_stream IN ({', '.join('?' for _ in streams)})")
        params += list(streams)
    if stream_prefix is not None:
        clauses.append("starts_with(log_stream, ?)")
        params.append(stream_prefix)
    if start_ms is not None:
        clauses.append("ts >= epoch_ms(CAST(? AS BIGINT))")
        params.append(start_ms)
    if end_ms is not None:
        clauses.append("ts < epoch_ms(CAST(? AS BIGINT))")
        params.append(end_ms)
    sql = f"SELECT raw, epoch_ms(ts) FROM logs WHERE {' AND '.join(clauses)} ORDER BY ts, raw"
    return [_event(raw, ts) for raw, ts in _query(store, sql, params)]


def discovered_streams(store: TelemetryStore, group: str | None = None) -> dict[tuple[str, str | None], LogStreamStats]:
    """Every (log group, log stream) the telemetry store holds events of (of one ``group``), with their
    times and size. It reads every event's group and stream: ask the LogGroupStore first where it can answer."""
    where, params = ("log_group = ?", [group]) if group is not None else ("log_group IS NOT NULL", [])
    sql = ("SELECT log_group, log_stream, min(epoch_ms(ts)), max(epoch_ms(ts)),"
           " max(try_cast(json_extract_string(raw, '$.\"@ingestionTime\"') AS BIGINT)), sum(bytes)"
           f" FROM logs WHERE {where} AND ts IS NOT NULL GROUP BY 1, 2")
    return {(g, stream): LogStreamStats(first, last, ingested, int(size or 0))
            for g, stream, first, last, ingested, size in _query(store, sql, params)}


def _event(raw: str, ts: int) -> LogEvent:
    record = orjson.loads(raw)
    message = record.get("@message")
    if not isinstance(message, str):
        message = raw  # a line of our own, or an imported JSON line: the line is the message
    ingestion = record.get("@ingestionTime")
    ingestion = ingestion if isinstance(ingestion, int) and not isinstance(ingestion, bool) else ts
    # Stable across reads, so a client can tell events apart (CloudWatch: "The ID of the event").
    event_id = str(int.from_bytes(hashlib.blake2b(raw.encode(), digest_size=16).digest(), "big"))
    stream = record.get("log_stream")
    return LogEvent(stream if isinstance(stream, str) else None, ts, message, ingestion, event_id, record)


def _query(store: TelemetryStore, sql: str, params: list[Any]) -> list[tuple]:
    store.flush()  # a process reads its own writes
    for attempt in range(2):
        con = store.connect()
        try:
            return con.execute(sql, params).fetchall()
        except duckdb.IOException:
            # A compactor replaced a file between the listing and the read: list again.
            if attempt:
                raise
        finally:
            con.close()
    raise AssertionError("unreachable")
