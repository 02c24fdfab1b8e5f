"""The audit trail: who changed what, when, from where, and how it ended, for every state-changing
API call, console form and CLI command. Append-only, in the home's monitoring database (table
``audit_trail``), so `whispersync audit` in one process reads what `whispersync up` wrote in another.

    trail = AuditTrail(settings.monitoring_db)
    trail.record(source="cli", action="alarms put", identity=local_identity(), parameters={...})
    trail.entries(since_ms=..., action_prefix="alarms", limit=50)   # newest first

A record follows CloudTrail's (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/
cloudtrail-event-reference-record-contents.html) in our names: ``occurred_at`` (eventTime), ``action``
(eventName), ``source`` (eventSource: api, console, aws-api, cli), ``identity`` (userIdentity: a token
id, never the token), ``source_address`` (sourceIPAddress), ``parameters`` (requestParameters: a small
summary, secrets masked by the telemetry redaction, bounded), ``result``/``status``/``error``
(errorCode/errorMessage), ``event_id`` (eventID) and ``correlation_id``.

Recording never breaks the action it records: ``record`` logs and counts a failed write
(``failures``) and returns None; it never raises.
"""

from __future__ import annotations

import getpass
import hashlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from whispersync import sqlite_db
from whispersync.domain import iso_utc
from whispersync.telemetry import redact

__all__ = ["ANONYMOUS", "AuditTrail", "UNAUTHENTICATED", "local_identity", "summarize", "token_id"]

ANONYMOUS = "anonymous"  # no token configured: the server listens on loopback and asks no one who they are
UNAUTHENTICATED = "unauthenticated"  # a token is configured and the request did not carry it
OK, ERROR = "ok", "error"
MAX_VALUE_CHARS = 200
MAX_LIST_ITEMS = 20
MAX_PARAMETERS_BYTES = 2048
MAX_ERROR_CHARS = 300

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_trail (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    identity TEXT NOT NULL,
    source_address TEXT,
    parameters TEXT NOT NULL,
    result TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    correlation_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_trail_by_time ON audit_trail (at_ms);
CREATE TRIGGER IF NOT EXISTS audit_trail_no_update BEFORE UPDATE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_trail_no_delete BEFORE DELETE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
_COLUMNS = ("id", "event_id", "at_ms", "source", "action", "identity", "source_address", "parameters", "result",
            "status", "error", "correlation_id")


def token_id(token: str) -> str:
    """A short, stable name for a token that does not reveal it: the first 12 hex digits of its SHA-256."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def local_identity() -> str:
    """Whoever runs the CLI on this machine: the OS user."""
    try:
        return f"local-user:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name for this uid (some containers)
        return "local-user:unknown"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        kept = [_bounded(v) for v in items[:MAX_LIST_ITEMS]]
        return kept + ([f"… {len(items) - MAX_LIST_ITEMS} more"] if len(items) > MAX_LIST_ITEMS else [])
    if isinstance(value, Mapping):
        return f"<object with {len(value)} keys>"  # a summary names things; it does not copy bodies
    return _cut(str(value), MAX_VALUE_CHARS)


def summarize(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a record keeps of a call's parameters: secrets masked (the telemetry redaction, by key and by
    value shape), each value cut to ``MAX_VALUE_CHARS``, lists to ``MAX_LIST_ITEMS``, nested objects to a
    count, and the whole to ``MAX_PARAMETERS_BYTES`` (the last keys dropped, and said so)."""
    if not parameters:
        return {}
    # Redacted whole, then cut: a cut could leave half a secret that no longer looks like one.
    summary = {_cut(str(key), 80): _bounded(value) for key, value in redact(dict(parameters)).items()}
    if len(orjson.dumps(summary)) <= MAX_PARAMETERS_BYTES:
        return summary
    kept: dict[str, Any] = {}
    room = MAX_PARAMETERS_BYTES - 64  # for the note saying so
    for key, value in summary.items():
        room -= len(orjson.dumps({key: value}))
        if room < 0:
            break
        kept[key] = value
    kept["…"] = "parameters cut to fit the record"
    return kept


class AuditTrail:
    """The trail in one SQLite file: ``record`` appends (triggers refuse UPDATE and DELETE), ``entries`` reads.

    Opening it touches nothing: the first ``record`` creates the table; a ``read_only`` trail never writes.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False, log: Any = None,
                 clock: Any = time.time) -> None:
        self.path = Path(path)
        self._read_only = read_only
        self._log = log
        self._clock = clock
        self._connections = None if read_only else sqlite_db.ThreadConnections(self.path, timeout=5,
                                                                              setup=_create_schema)
        self._lock = threading.Lock()
        self.failures = 0  # writes that failed: each also logged
        self.last_error: str | None = None

    def record(self, *, source: str, action: str, identity: str, parameters: Mapping[str, Any] | None = None,
               source_address: str | None = None, status: int | None = None, ok: bool = True,
               error: str | None = None, correlation_id: str | None = None) -> str | None:
        """Append one record; its event id, or None when it could not be written (logged and counted)."""
        event_id = uuid.uuid4().hex
        try:
            if self._connections is None:
                raise sqlite3.OperationalError("the audit trail is open read-only")
            message = None if error is None else _cut(redact(str(error)), MAX_ERROR_CHARS)
            row = (event_id, int(self._clock() * 1000), source, _cut(action, 200), _cut(identity, 120),
                   None if source_address is None else _cut(source_address, 100),
                   orjson.dumps(summarize(parameters)).decode(), OK if ok else ERROR, status, message,
                   None if correlation_id is None else _cut(correlation_id, 200))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connections.get().execute(
                f"INSERT INTO audit_trail ({', '.join(_COLUMNS[1:])}) VALUES ({', '.join('?' * (len(_COLUMNS) - 1))})",
                row)
        except Exception as exc:  # noqa: BLE001 - the action already happened; losing its record must not undo it
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            if self._log is not None:
                try:
                    self._log.warning("Audit record not written", audit_action=action, error_type=type(exc).__name__,
                                      error=str(exc))
                except Exception:  # noqa: BLE001 - a broken logger is no reason to fail either
                    pass
            return None
        return event_id

    def entries(self, *, since_ms: int | None = None, action_prefix: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
        """Records newest first, ``occurred_at`` in ISO UTC; none when the trail was never written."""
        where, args = [], []
        if since_ms is not None:
            where.append("at_ms >= ?")
            args.append(since_ms)
        if action_prefix:
            # substr, not LIKE: an action may hold % or _, which LIKE would read as wildcards.
            where.append("substr(action, 1, ?) = ?")
            args += [len(action_prefix), action_prefix]
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM audit_trail {'WHERE ' + ' AND '.join(where) if where else ''}"
               " ORDER BY id DESC LIMIT ?")
        if self._connections is not None:
            con = self._connections.get()
        elif self.path.exists():
            con = sqlite_db.connect(self.path, read_only=True)
        else:
            return []
        try:
            rows = con.execute(sql, (*args, limit)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            if self._connections is None:
                con.close()
        out = []
        for row in rows:
            item = dict(zip(_COLUMNS, row))
            item["parameters"] = orjson.loads(item["parameters"])
            # docs/json.md: a point in time is ISO 8601 UTC under a key ending in _at.
            out.append({"id": item.pop("id"), "occurred_at": iso_utc(item.pop("at_ms") / 1000), **item})
        return out

    def close(self) -> None:
        if self._connections is not None:
            self._connections.close()


def _create_schema(con: sqlite3.Connection) -> None:
    con.executescript(_SCHEMA)
