"""Canary runs, kept in the home's monitoring database (table ``canary_runs``), so `checks history`
in one process sees the runs of `whispersync up` in another. Runs older than the retention are pruned."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from whispersync import sqlite_db

__all__ = ["CANARY_FAILURE", "EXECUTION_FAILURE", "FAILED", "PASSED", "CanaryRun", "SyntheticsStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS canary_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    canary TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    state TEXT NOT NULL,
    failure_code TEXT,
    reason TEXT,
    attempts INTEGER NOT NULL,
    steps BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS canary_runs_by_name ON canary_runs (canary, started_ms);
"""

PASSED, FAILED = "PASSED", "FAILED"
CANARY_FAILURE, EXECUTION_FAILURE = "CANARY_FAILURE", "EXECUTION_FAILURE"


@dataclass(frozen=True)
class CanaryRun:
    """One run, as Synthetics' CanaryRunStatus has it: a state, and when FAILED a failure code
    (CANARY_FAILURE: the target failed; EXECUTION_FAILURE: the checker itself failed) and a
    bounded reason (timeout, connect, status, assertion, dependency:<name>, execution)."""

    canary: str
    started_ms: int
    duration_ms: float
    state: str
    failure_code: str | None = None
    reason: str | None = None
    attempts: int = 1
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"canary": self.canary, "started_ms": self.started_ms, "duration_ms": round(self.duration_ms, 2),
                "state": self.state, "failure_code": self.failure_code, "reason": self.reason,
                "attempts": self.attempts, "steps": self.steps}


class SyntheticsStore:
    """The recorded runs. Opening it touches nothing: the first call opens the file."""

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

    def record(self, run: CanaryRun) -> None:
        self._con().execute(
            "INSERT INTO canary_runs (canary, started_ms, duration_ms, state, failure_code, reason, attempts, steps)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run.canary, run.started_ms, run.duration_ms, run.state, run.failure_code, run.reason, run.attempts,
             orjson.dumps(run.steps)))

    def history(self, canary: str, limit: int = 100) -> list[CanaryRun]:
        """The canary's runs, newest first."""
        rows = self._con().execute(
            "SELECT canary, started_ms, duration_ms, state, failure_code, reason, attempts, steps FROM canary_runs"
            " WHERE canary = ? ORDER BY started_ms DESC, id DESC LIMIT ?", (canary, limit)).fetchall()
        return [CanaryRun(*row[:7], steps=orjson.loads(row[7])) for row in rows]

    def prune(self, *, older_than_ms: int) -> int:
        """Delete runs started before ``older_than_ms``; how many went."""
        return self._con().execute("DELETE FROM canary_runs WHERE started_ms < ?", (older_than_ms,)).rowcount
