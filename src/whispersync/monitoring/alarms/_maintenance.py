"""Maintenance windows: a span of time in which alarms keep evaluating but take no actions.

    windows = MaintenanceWindows(settings.monitoring_db)
    windows.start(1800, "upgrading the disk", now_ms=...)   # `whispersync maintenance start --for 30m`
    windows.active(now_ms)                                   # the window in force, or None
    windows.end(now_ms)                                      # `whispersync maintenance end`

A window lives in the monitoring database (table ``alarm_maintenance``, next to the alarm
states) so `up`, the CLI and the console see the same one. While one is active the alarm
engine still records every state change, and writes each action it holds back into the
history ("Did not execute action ...") instead of running it; nothing is replayed when the
window ends, as CloudWatch drops the actions a suppression held (a later state change acts
as usual). At most one window is active at a time: a second `start` is refused, so `end`
always means one window.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from whispersync import sqlite_db
from whispersync.domain import iso_utc

from whispersync.monitoring.alarms._errors import AlarmError

__all__ = ["MaintenanceWindows"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_maintenance (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    ended_ms INTEGER
);
"""
REASON_MAX = 500
# A window is for planned work; a week is already long enough to forget one is on.
LONGEST_SECONDS = 7 * 86_400


class MaintenanceWindows:
    """The maintenance windows in one SQLite file; ``connections`` shares an open store's (then its close() closes)."""

    def __init__(self, path: Path, *, connections: sqlite_db.ThreadConnections | None = None) -> None:
        self.path = Path(path)
        self._own = connections is None
        if connections is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connections = sqlite_db.ThreadConnections(self.path, timeout=30)
        self._connections = connections
        self._con().executescript(_SCHEMA)

    def _con(self) -> sqlite3.Connection:
        return self._connections.get()

    def close(self) -> None:
        if self._own:
            self._connections.close()

    def start(self, seconds: float, reason: str, *, now_ms: int) -> dict[str, Any]:
        """Open a window of ``seconds`` from ``now_ms``; AlarmError when one is active or the input is bad."""
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason:
            raise AlarmError("a maintenance window needs a reason (--reason TEXT)")
        if len(reason) > REASON_MAX:
            raise AlarmError(f"the reason is {len(reason)} characters long; at most {REASON_MAX}")
        if not 0 < seconds <= LONGEST_SECONDS:
            raise AlarmError(f"a maintenance window lasts more than 0 s and at most {LONGEST_SECONDS // 86_400} days")
        con = self._con()
        con.execute("BEGIN IMMEDIATE")  # check and insert in one step: two `start`s must not both win
        try:
            current = self._active(con, now_ms)
            if current is not None:
                raise AlarmError(f"maintenance window {current['id']} ({current['reason']!r}) is active until "
                                 f"{current['ends_at']}; end it first (`whispersync maintenance end`)")
            cur = con.execute("INSERT INTO alarm_maintenance (reason, start_ms, end_ms) VALUES (?, ?, ?)",
                              (reason, now_ms, now_ms + int(seconds * 1000)))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return self._get(cur.lastrowid, now_ms)

    def end(self, *, now_ms: int) -> dict[str, Any] | None:
        """End the active window now; None when there is none."""
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            current = self._active(con, now_ms)
            if current is not None:
                con.execute("UPDATE alarm_maintenance SET ended_ms = ? WHERE id = ?", (now_ms, current["id"]))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return None if current is None else self._get(current["id"], now_ms)

    def active(self, now_ms: int) -> dict[str, Any] | None:
        """The window in force at ``now_ms`` (started, not yet over, not ended), or None."""
        return self._active(self._con(), now_ms)

    def list(self, now_ms: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """Every window, newest first, each saying whether it is active at ``now_ms``."""
        rows = self._con().execute(f"SELECT {_COLUMNS} FROM alarm_maintenance ORDER BY id DESC LIMIT ?",
                                   (limit,)).fetchall()
        return [_window(row, now_ms) for row in rows]

    def _active(self, con: sqlite3.Connection, now_ms: int) -> dict[str, Any] | None:
        row = con.execute(f"SELECT {_COLUMNS} FROM alarm_maintenance WHERE start_ms <= ? AND end_ms > ?"
                          " AND (ended_ms IS NULL OR ended_ms > ?) ORDER BY id DESC LIMIT 1",
                          (now_ms, now_ms, now_ms)).fetchone()
        return None if row is None else _window(row, now_ms)

    def _get(self, window_id: int, now_ms: int) -> dict[str, Any]:
        row = self._con().execute(f"SELECT {_COLUMNS} FROM alarm_maintenance WHERE id = ?", (window_id,)).fetchone()
        return _window(row, now_ms)


_COLUMNS = "id, reason, start_ms, end_ms, ended_ms"


def _window(row: tuple, now_ms: int) -> dict[str, Any]:
    """One window as the CLI's --json and GET /v1/maintenance show it."""
    window_id, reason, start_ms, end_ms, ended_ms = row
    over_ms = end_ms if ended_ms is None else min(end_ms, ended_ms)
    return {"id": window_id, "reason": reason, "started_at": iso_utc(start_ms / 1000),
            "ends_at": iso_utc(end_ms / 1000),
            "ended_at": iso_utc(ended_ms / 1000) if ended_ms is not None else None,  # ended by `maintenance end`
            "active": start_ms <= now_ms < over_ms}
