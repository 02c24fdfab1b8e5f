"""Dashboards users bring: CloudWatch bodies imported with `whispersync dashboards import`.

A stored dashboard is CloudWatch's kind: a name (PutDashboard's DashboardName) and a
body, kept as the canonical body JSON (``render_body`` of the parsed body), so what is
exported is what was imported. It lives in SQLite (``settings.monitoring_db``, beside
the alarm and metric-filter stores; the table is ``dashboards``), in WAL mode, so an
import in one process is seen by a running server in another. A stored dashboard
with the name of one in the plan replaces it, as PutDashboard replaces a whole body.

(It sits beside the dashboards package, not in it, only because that package's public
names are another change's; moving it in is a matter of one re-export.)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from whispersync import sqlite_db
from whispersync.monitoring.dashboards._parse import parse_body
from whispersync.monitoring.dashboards._render import render_body

__all__ = ["DashboardStore", "StoredDashboard"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboards (
    name TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredDashboard:
    name: str
    body: Mapping[str, Any]  # the canonical CloudWatch body
    created_ms: int
    updated_ms: int  # PutDashboard's LastModified


class DashboardStore:
    """The stored dashboards. Opening it touches nothing: the file is opened (and its table
    created) by the first call that needs it."""

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

    def stored(self) -> list[StoredDashboard]:
        """Every stored dashboard, by name."""
        rows = self._con().execute("SELECT name, body, created_ms, updated_ms FROM dashboards ORDER BY name").fetchall()
        return [StoredDashboard(name, orjson.loads(body), created, updated) for name, body, created, updated in rows]

    def get(self, name: str) -> StoredDashboard | None:
        row = self._con().execute("SELECT name, body, created_ms, updated_ms FROM dashboards WHERE name = ?",
                                  (name,)).fetchone()
        return None if row is None else StoredDashboard(row[0], orjson.loads(row[1]), row[2], row[3])

    def put(self, name: str, body: Any, *, dry_run: bool = False, now_ms: int | None = None) -> str:
        """Create or replace a dashboard: ``created``, ``updated`` or ``unchanged``.

        The body is checked as PutDashboard checks it (errors raise DashboardBodyError,
        nothing is stored) and kept in its canonical form. With ``dry_run`` nothing is
        stored: the status says what would have happened.
        """
        parsed, _ = parse_body(body, name=name, strict=True)
        canonical = orjson.dumps(render_body(parsed), option=orjson.OPT_SORT_KEYS)
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT body FROM dashboards WHERE name = ?", (name,)).fetchone()
            if row is None:
                con.execute("INSERT INTO dashboards VALUES (?, ?, ?, ?)", (name, canonical, now_ms, now_ms))
                status = "created"
            elif bytes(row[0]) == canonical:
                status = "unchanged"
            else:
                con.execute("UPDATE dashboards SET body = ?, updated_ms = ? WHERE name = ?", (canonical, now_ms, name))
                status = "updated"
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("ROLLBACK" if dry_run else "COMMIT")
        return status

    def delete(self, name: str) -> bool:
        """Delete one stored dashboard; False when there was none."""
        return self._con().execute("DELETE FROM dashboards WHERE name = ?", (name,)).rowcount > 0
