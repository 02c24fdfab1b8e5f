"""The notification outbox: one SQLite row per (notification, channel), every attempt kept.

It lives in ``settings.monitoring_db`` next to the alarms (tables ``notify_*``),
in WAL mode so the CLI can list deliveries while ``whispersync up`` writes them.
A row is written before anything is sent, so a crash loses nothing: a row whose
delivery was interrupted is claimed again when its lease runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whispersync import sqlite_db

__all__ = ["DELIVERY_STATUSES", "Outbox", "OutboxRow"]

#: pending: waiting for its next attempt; delivered: a channel accepted it;
#: failed: permanent error or gave up (kept, re-queued by ``retry``);
#: skipped: the channel is not configured or does not take this state change.
DELIVERY_STATUSES = ("pending", "delivered", "failed", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_deliveries (
    id TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,              -- scheme://host only, never a secret
    alarm_name TEXT NOT NULL,
    priority TEXT NOT NULL,
    old_state TEXT NOT NULL,
    new_state TEXT NOT NULL,
    message TEXT NOT NULL,             -- AlarmNotification.to_dict() as JSON
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    queued_at REAL NOT NULL,           -- start of the give-up window; reset by retry
    next_attempt_at REAL,              -- due time while pending (or lease end while in flight)
    updated_at REAL NOT NULL,
    delivered_at REAL,
    last_error TEXT,
    UNIQUE (notification_id, channel)
);
CREATE INDEX IF NOT EXISTS notify_deliveries_due ON notify_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS notify_deliveries_created ON notify_deliveries (created_at);
CREATE TABLE IF NOT EXISTS notify_attempts (
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    outcome TEXT NOT NULL,             -- delivered | retry | failed
    http_status INTEGER,
    error TEXT,
    duration_ms REAL,
    PRIMARY KEY (delivery_id, attempt)
);
"""


@dataclass(frozen=True)
class OutboxRow:
    id: str
    notification_id: str
    topic: str
    channel: str
    kind: str
    target: str
    alarm_name: str
    priority: str
    old_state: str
    new_state: str
    message: str
    status: str
    attempts: int
    created_at: float
    queued_at: float
    next_attempt_at: float | None
    updated_at: float
    delivered_at: float | None
    last_error: str | None


_COLUMNS = [f for f in OutboxRow.__dataclass_fields__]


class Outbox:
    """Durable delivery rows; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite_db.connect(path, timeout=30)
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, rows: Iterable[OutboxRow]) -> None:
        """Insert rows; a row whose (notification, channel) exists already is ignored (dedup)."""
        rows = list(rows)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT OR IGNORE INTO notify_deliveries ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                    [tuple(getattr(r, c) for c in _COLUMNS) for r in rows],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def ids_for(self, notification_id: str, channels: Sequence[str]) -> list[str]:
        with self._lock:
            found = dict(self._db.execute(
                "SELECT channel, id FROM notify_deliveries WHERE notification_id = ?", (notification_id,)))
        return [found[c] for c in channels if c in found]

    def claim_due(self, now: float, lease: float, limit: int = 500) -> list[OutboxRow]:
        """Pending rows due at *now*, leased for *lease* seconds so no other process takes them."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = [OutboxRow(*r) for r in self._db.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM notify_deliveries "
                    "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                    (now, limit))]
                self._db.executemany("UPDATE notify_deliveries SET next_attempt_at = ? WHERE id = ?",
                                     [(now + lease, r.id) for r in rows])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return rows

    def record_attempt(self, row: OutboxRow, *, at: float, outcome: str, http_status: int | None,
                       error: str | None, duration_ms: float, status: str,
                       next_attempt_at: float | None) -> None:
        attempt = row.attempts + 1
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO notify_attempts VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row.id, attempt, at, outcome, http_status, error, round(duration_ms, 3)))
                self._db.execute(
                    "UPDATE notify_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, updated_at = ?, "
                    "delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, last_error = ? "
                    "WHERE id = ?",
                    (status, attempt, next_attempt_at, at, status, at, error, row.id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def postpone(self, delivery_id: str, until: float, *, now: float) -> None:
        """Make a claimed pending row due at *until* without counting an attempt (its channel said wait)."""
        with self._lock:
            self._db.execute("UPDATE notify_deliveries SET next_attempt_at = ?, updated_at = ? "
                             "WHERE id = ? AND status = 'pending'", (until, now, delivery_id))

    def requeue(self, now: float, ids: Sequence[str] | None = None) -> int:
        """Failed rows (all, or those in *ids*) back to pending, due now, with a fresh give-up window."""
        sql = ("UPDATE notify_deliveries SET status = 'pending', next_attempt_at = ?, queued_at = ?, "
               "updated_at = ? WHERE status = 'failed'")
        params: list[Any] = [now, now, now]
        if ids is not None:
            if not ids:
                return 0
            sql += f" AND id IN ({', '.join('?' for _ in ids)})"
            params += list(ids)
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def rows(self, *, status: str | None = None, limit: int = 100,
             ids: Sequence[str] | None = None) -> list[tuple[OutboxRow, list[dict[str, Any]]]]:
        """Rows, newest first, each with its attempts in order."""
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if ids is not None:
            where.append(f"id IN ({', '.join('?' for _ in ids)})" if ids else "0")
            params += list(ids)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM notify_deliveries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = [OutboxRow(*r) for r in self._db.execute(sql, params)]
            attempts: dict[str, list[dict[str, Any]]] = {r.id: [] for r in rows}
            if rows:
                for delivery_id, attempt, at, outcome, http_status, error, duration_ms in self._db.execute(
                        "SELECT delivery_id, attempt, at, outcome, http_status, error, duration_ms "
                        f"FROM notify_attempts WHERE delivery_id IN ({', '.join('?' for _ in rows)}) "
                        "ORDER BY delivery_id, attempt", [r.id for r in rows]):
                    attempts[delivery_id].append({"attempt": attempt, "time": at, "outcome": outcome,
                                                  "http_status": http_status, "error": error,
                                                  "duration_ms": duration_ms})
        return [(r, attempts[r.id]) for r in rows]
