"""Alarms at rest: user-defined alarms, the current states and the state history.

One SQLite file (``settings.monitoring_db``, shared with the notification outbox;
our tables are prefixed ``alarm_``) in WAL mode, so ``whispersync up`` evaluating
each minute and a CLI command in another process can both write. Each call opens
its own short transaction; a connection per thread.

History items follow DescribeAlarmHistory: ``type`` is ``StateUpdate``,
``Action`` or ``ConfigurationUpdate``, with a ``summary`` and JSON ``data``.

A composite alarm whose actions its actions suppressor holds back has a
*suppression* row: what holds them (``WaitPeriod``, ``ExtensionPeriod`` or
``Alarm``, as DescribeAlarms' ActionsSuppressedBy), until when, and which
transition's actions are owed. It is kept here, not in memory, so a restart
neither forgets a pending period nor sends what it suppressed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from whispersync import sqlite_db
from whispersync.plan import Alarm, alarm_from_dict

from whispersync.monitoring.alarms._detectors import AnomalyDetectorStore
from whispersync.monitoring.alarms._maintenance import MaintenanceWindows

__all__ = ["AlarmStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_definitions (
    name TEXT PRIMARY KEY,
    definition BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_state (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    reason_data BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    type TEXT NOT NULL,
    summary TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_history_by_name ON alarm_history (name, id);
CREATE TABLE IF NOT EXISTS alarm_suppression (
    name TEXT PRIMARY KEY,
    suppressor TEXT NOT NULL,
    suppressed_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    previous TEXT NOT NULL,
    state TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    until_ms INTEGER
);
"""
_SUPPRESSION_COLUMNS = ("name", "suppressor", "suppressed_by", "reason", "previous", "state", "since_ms", "until_ms")
# CloudWatch keeps alarm history for two weeks.
HISTORY_RETENTION_MS = 14 * 86_400_000


class AlarmStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = sqlite_db.ThreadConnections(self.path, timeout=30)
        self._con().executescript(_SCHEMA)
        # Maintenance windows share the file and the connections: the engine checks them before each action.
        self.maintenance = MaintenanceWindows(self.path, connections=self._connections)
        # Anomaly detectors too: an alarm on a band finds (or creates) its detector's configuration here.
        self.detectors = AnomalyDetectorStore(self.path, connections=self._connections)

    def _con(self) -> sqlite3.Connection:
        return self._connections.get()

    def _tx(self):
        store = self

        class _Tx:
            def __enter__(self) -> sqlite3.Connection:
                self.con = store._con()
                self.con.execute("BEGIN IMMEDIATE")
                return self.con

            def __exit__(self, exc_type, *_: object) -> None:
                self.con.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    def close(self) -> None:
        self._connections.close()

    # -- definitions (alarms put by users)

    def put(self, alarm: Alarm, *, now_ms: int | None = None) -> bool:
        """Create or replace a stored alarm; True when it replaced one."""
        return self.put_all([alarm], now_ms=now_ms)[0]

    def put_all(self, alarms: Sequence[Alarm], *, now_ms: int | None = None) -> list[bool]:
        """Create or replace every alarm in one transaction (all or none); for each, True when it replaced one."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        replaced = []
        with self._tx() as con:
            for alarm in alarms:
                definition = orjson.dumps(alarm.to_dict())
                existed = con.execute("SELECT 1 FROM alarm_definitions WHERE name = ?", (alarm.name,)).fetchone()
                con.execute("INSERT OR REPLACE INTO alarm_definitions VALUES (?, ?, ?)",
                            (alarm.name, definition, now_ms))
                self._history(con, alarm.name, "ConfigurationUpdate",
                              f"Alarm \"{alarm.name}\" {'updated' if existed else 'created'}",
                              {"type": "Update" if existed else "Create", "definition": alarm.to_dict()}, now_ms)
                replaced.append(existed is not None)
        return replaced

    def delete(self, name: str, *, now_ms: int | None = None) -> bool:
        """Delete a stored alarm, its state, suppression and history; False when there was none."""
        with self._tx() as con:
            cur = con.execute("DELETE FROM alarm_definitions WHERE name = ?", (name,))
            con.execute("DELETE FROM alarm_state WHERE name = ?", (name,))
            con.execute("DELETE FROM alarm_suppression WHERE name = ?", (name,))
            con.execute("DELETE FROM alarm_history WHERE name = ?", (name,))
            return cur.rowcount > 0

    def forget(self, name: str) -> None:
        """Drop the state, suppression and history of an alarm that no longer exists."""
        with self._tx() as con:
            con.execute("DELETE FROM alarm_state WHERE name = ?", (name,))
            con.execute("DELETE FROM alarm_suppression WHERE name = ?", (name,))
            con.execute("DELETE FROM alarm_history WHERE name = ?", (name,))

    def definitions(self) -> list[Alarm]:
        rows = self._con().execute("SELECT definition FROM alarm_definitions ORDER BY name").fetchall()
        return [alarm_from_dict(orjson.loads(d)) for (d,) in rows]

    # -- state

    def states(self) -> dict[str, dict[str, Any]]:
        rows = self._con().execute("SELECT name, state, reason, reason_data, updated_ms FROM alarm_state").fetchall()
        return {name: {"state": state, "reason": reason, "reason_data": orjson.loads(data), "updated_ms": updated}
                for name, state, reason, data, updated in rows}

    def set_state(self, name: str, state: str, reason: str, reason_data: Mapping[str, Any], at_ms: int, *,
                  previous: str | None) -> None:
        """Store the state; with ``previous`` it is a transition and goes into the history."""
        with self._tx() as con:
            con.execute("INSERT OR REPLACE INTO alarm_state VALUES (?, ?, ?, ?, ?)",
                        (name, state, reason, orjson.dumps(dict(reason_data)), at_ms))
            if previous is not None:
                self._history(con, name, "StateUpdate", f"Alarm updated from {previous} to {state}",
                              {"version": "1.0", "oldState": {"stateValue": previous},
                               "newState": {"stateValue": state, "stateReason": reason,
                                            "stateReasonData": dict(reason_data)}}, at_ms)

    # -- action suppression (composite alarms with an actions suppressor)

    def suppressions(self) -> dict[str, dict[str, Any]]:
        """Every composite alarm's pending suppression by name: ``suppressor``, ``suppressed_by``
        (WaitPeriod, ExtensionPeriod or Alarm), ``reason``, the owed transition ``previous`` ->
        ``state``, ``since_ms`` and ``until_ms`` (the end of a period; None for Alarm)."""
        rows = self._con().execute(f"SELECT {', '.join(_SUPPRESSION_COLUMNS)} FROM alarm_suppression").fetchall()
        return {row[0]: dict(zip(_SUPPRESSION_COLUMNS, row)) for row in rows}

    def set_suppression(self, name: str, *, suppressor: str, suppressed_by: str, reason: str, previous: str,
                        state: str, since_ms: int, until_ms: int | None) -> None:
        """Create or replace the suppression of composite alarm ``name``."""
        with self._tx() as con:
            con.execute(f"INSERT OR REPLACE INTO alarm_suppression ({', '.join(_SUPPRESSION_COLUMNS)})"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (name, suppressor, suppressed_by, reason, previous, state, since_ms, until_ms))

    def clear_suppression(self, name: str) -> None:
        with self._tx() as con:
            con.execute("DELETE FROM alarm_suppression WHERE name = ?", (name,))

    def add_history(self, name: str, type_: str, summary: str, data: Mapping[str, Any], at_ms: int) -> None:
        with self._tx() as con:
            self._history(con, name, type_, summary, data, at_ms)

    @staticmethod
    def _history(con: sqlite3.Connection, name: str, type_: str, summary: str, data: Mapping[str, Any],
                 at_ms: int) -> None:
        con.execute("INSERT INTO alarm_history (name, ts_ms, type, summary, data) VALUES (?, ?, ?, ?, ?)",
                    (name, at_ms, type_, summary, orjson.dumps(dict(data), default=str)))

    def history(self, name: str, *, limit: int = 100, type_: str | None = None) -> list[dict[str, Any]]:
        """Newest first, like DescribeAlarmHistory."""
        sql = "SELECT id, ts_ms, type, summary, data FROM alarm_history WHERE name = ?"
        params: list[Any] = [name]
        if type_ is not None:
            sql += " AND type = ?"
            params.append(type_)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [{"name": name, "timestamp_ms": ts, "type": t, "summary": s, "data": orjson.loads(d)}
                for _, ts, t, s, d in self._con().execute(sql, params).fetchall()]

    def prune_history(self, now_ms: int | None = None) -> int:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._tx() as con:
            return con.execute("DELETE FROM alarm_history WHERE ts_ms < ?",
                               (now_ms - HISTORY_RETENTION_MS,)).rowcount
