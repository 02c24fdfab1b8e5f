"""RecordStore port and its local adapter: one row per memo in SQLite (WAL).

The CLI reads this file while `whispersync up` writes it; WAL lets readers and the
one writer proceed together. Operation counts feed the store metrics (seed §1,
the DynamoDB table's reads, writes, user errors and system errors).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import orjson

from whispersync import sqlite_db
from whispersync.domain import Memo, MemoStatus
from whispersync.errors import NotFound, RecordExists

_COLUMNS = (
    "id", "key", "correlation_id", "trace_id", "status", "created_at", "updated_at",
    "agent", "title", "recorded_at", "source", "routing", "result", "error", "attempts",
)
_JSON_COLUMNS = {"routing", "result"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memos (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    agent TEXT,
    title TEXT,
    recorded_at TEXT,
    source TEXT NOT NULL,
    routing TEXT,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS memos_status ON memos (status, created_at);
CREATE INDEX IF NOT EXISTS memos_correlation ON memos (correlation_id);
"""


class RecordStore(Protocol):
    def create(self, memo: Memo) -> None: ...
    def get(self, memo_id: str) -> Memo: ...
    def find_by_prefix(self, prefix: str, limit: int = 10) -> list[str]: ...
    def update(self, memo_id: str, **fields: Any) -> None: ...
    def list(self, *, status: MemoStatus | None = None, limit: int = 100) -> list[Memo]: ...
    def queued_ids_before(self, cutoff: float) -> list[str]: ...
    def count_by_status(self) -> dict[str, int]: ...
    def delete(self, memo_id: str) -> bool: ...


class StoreOpCounts:
    """Counts of store operations since the last `take()`; the collector publishes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"reads": 0, "writes": 0, "user_errors": 0, "system_errors": 0}

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, dict.fromkeys(self._counts, 0)
        return counts


class SqliteRecordStore:
    """Memo records in SQLite; a connection per thread, safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ops = StoreOpCounts()
        self._connections = sqlite_db.ThreadConnections(path, timeout=30, setup=_rows_by_name)
        self._conn().executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def _execute(self, kind: str, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            cursor = self._conn().execute(sql, tuple(params))
        except sqlite3.IntegrityError:
            self.ops.add("user_errors")
            raise
        except sqlite3.Error:
            self.ops.add("system_errors")
            raise
        self.ops.add(kind)
        return cursor

    def create(self, memo: Memo) -> None:
        # The stored row keeps epoch seconds; to_dict() is the JSON shape (ISO times).
        values = [_encode(c, getattr(memo, c)) for c in _COLUMNS]
        try:
            self._execute(
                "writes",
                f"INSERT INTO memos ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                values,
            )
        except sqlite3.IntegrityError:  # the primary key: never overwrite, as DynamoDB's conditional put
            raise RecordExists(f"memo {memo.id!r} exists") from None

    def get(self, memo_id: str) -> Memo:
        row = self._execute("reads", "SELECT * FROM memos WHERE id = ?", (memo_id,)).fetchone()
        if row is None:
            raise NotFound(f"no memo with id {memo_id!r}")
        return _decode(row)

    def find_by_prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids starting with ``prefix`` (at most ``limit``, sorted), as git resolves a short hash.

        One id means the prefix is unique; more means it is ambiguous (list them to the user).
        """
        if not prefix:
            return []
        # A range on the primary key, not LIKE: '%' and '_' in a prefix are literal.
        rows = self._execute("reads", "SELECT id FROM memos WHERE id >= ? AND substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
                             (prefix, len(prefix), prefix, limit))
        return [memo_id for (memo_id,) in rows]

    def find_by_correlation_id(self, correlation_id: str) -> list[Memo]:
        rows = self._execute("reads", "SELECT * FROM memos WHERE correlation_id = ?", (correlation_id,))
        return [_decode(r) for r in rows]

    def update(self, memo_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_COLUMNS) - {"id"}
        if unknown:
            raise ValueError(f"unknown memo fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        values = [_encode(name, value) for name, value in fields.items()]
        cursor = self._execute("writes", f"UPDATE memos SET {assignments} WHERE id = ?", [*values, memo_id])
        if cursor.rowcount == 0:
            raise NotFound(f"no memo with id {memo_id!r}")

    def list(self, *, status: MemoStatus | None = None, limit: int = 100) -> list[Memo]:
        """Newest first; the id breaks ties so memos created in the same instant keep one order across pages."""
        if status is None:
            rows = self._execute("reads", "SELECT * FROM memos ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))
        else:
            rows = self._execute(
                "reads",
                "SELECT * FROM memos WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                (MemoStatus(status).value, limit),
            )
        return [_decode(r) for r in rows]

    def queued_ids_before(self, cutoff: float) -> list[str]:
        """Ids of the memos still `queued` and untouched since before `cutoff` (epoch seconds), oldest first.

        Ids only: under a backlog this is every waiting memo, and the sweeper needs
        the full record of just the few that have no message.
        """
        rows = self._execute(
            "reads",
            "SELECT id FROM memos WHERE status = ? AND updated_at < ? ORDER BY created_at",
            (MemoStatus.QUEUED.value, cutoff),
        )
        return [memo_id for (memo_id,) in rows]

    def count_by_status(self) -> dict[str, int]:
        rows = self._execute("reads", "SELECT status, count(*) FROM memos GROUP BY status")
        counts = {s.value: 0 for s in MemoStatus}
        counts.update({status: n for status, n in rows})
        return counts

    def delete(self, memo_id: str) -> bool:
        """Remove the memo's record; False when there was none (deleting twice is not an error, as DeleteItem).

        Only for what must leave no trace (the end-to-end canary's synthetic memo): a real memo's record is
        its history."""
        return self._execute("writes", "DELETE FROM memos WHERE id = ?", (memo_id,)).rowcount > 0

    def close(self) -> None:
        self._connections.close()


def _rows_by_name(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row


def _encode(column: str, value: Any) -> Any:
    if isinstance(value, MemoStatus):
        return value.value
    if column in _JSON_COLUMNS and value is not None:
        return orjson.dumps(value).decode()
    return value


def _decode(row: sqlite3.Row) -> Memo:
    data = dict(row)
    for column in _JSON_COLUMNS:
        if data[column] is not None:
            data[column] = orjson.loads(data[column])
    data["status"] = MemoStatus(data["status"])
    return Memo(**data)
