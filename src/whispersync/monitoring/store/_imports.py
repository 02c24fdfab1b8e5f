"""Which imported events a store already holds, so importing a file twice stores each event once.

`logs import` and `metrics import` key every event (see monitoring/logs/_import.py
for the keys) and record the keys here, in ``<store root>/imports.sqlite``, one
indexed table: checking a batch of keys is one query, never a scan of the logs.

A key is recorded only after its events are flushed to the store: a crash between
the two means the next import stores those events again (a duplicate), never that
an event is lost. Keys recorded longer ago than the store's retention are dropped
when a ledger is opened: retention drops partitions by the day they were written,
so those events are gone (or about to go) and may be imported again.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from whispersync import sqlite_db

__all__ = ["ImportLedger", "content_key"]

_FILE = "imports.sqlite"
_BATCH = 500  # keys per IN (...) query: under SQLite's bound-parameter limit


def content_key(kind: str, item: Any, occurrence: Counter[str], scope: str = "") -> str:
    """``<kind>:line:<hash>:<n>``, the key of an event without an id of its own.

    The hash is of the item's content (keys sorted, so formatting does not matter)
    and ``scope`` (e.g. the log group it is filed under); ``n`` counts the identical
    items before it in the same file (``occurrence``, updated here), so two identical
    lines are two events and a file that grew imports only what is new.
    """
    payload = scope.encode() + b"\0" + orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(payload).hexdigest()[:32]
    occurrence[digest] += 1
    return f"{kind}:line:{digest}:{occurrence[digest]}"


class ImportLedger:
    """The keys of the events imported into one telemetry store (open with `TelemetryStore.root`)."""

    def __init__(self, root: Path, *, retention_days: int | None = None) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        self._conn = sqlite_db.connect(Path(root) / _FILE)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS imported (key TEXT PRIMARY KEY, imported_ms INTEGER NOT NULL)"
            " WITHOUT ROWID"
        )
        if retention_days is not None:
            cutoff = int((time.time() - retention_days * 86400) * 1000)
            self._conn.execute("DELETE FROM imported WHERE imported_ms < ?", (cutoff,))

    def known(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` already imported."""
        keys = list(dict.fromkeys(keys))
        found: set[str] = set()
        for i in range(0, len(keys), _BATCH):
            batch = keys[i:i + _BATCH]
            rows = self._conn.execute(
                f"SELECT key FROM imported WHERE key IN ({', '.join('?' * len(batch))})", batch
            )
            found.update(key for (key,) in rows)
        return found

    def add(self, keys: Iterable[str]) -> None:
        """Record ``keys`` as imported (after their events are flushed to the store)."""
        now = int(time.time() * 1000)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany("INSERT OR IGNORE INTO imported VALUES (?, ?)", [(key, now) for key in keys])
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ImportLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
