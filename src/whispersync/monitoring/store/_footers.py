"""Facts read from a Parquet file's footer (its columns, its ``ts`` range), once per file.

Our Parquet files are written once and replaced only by a rename, so what a footer
says holds while the file's identity (inode, size, mtime) is unchanged. One
in-memory DuckDB connection reads every footer, under one lock. ``FileFacts`` keeps
other facts a file's contents decide (its distinct metrics, the events a query's
range holds of it) by the same identity.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")

_MAX_ENTRIES = 10_000  # a server's 30 days hold far fewer files; this only bounds a leak
_lock = threading.Lock()
_db: duckdb.DuckDBPyConnection | None = None
# (read, path) -> ((inode, size, mtime ns), what read returned)
_facts: dict[tuple[Callable[..., Any], str], tuple[tuple[int, int, int], Any]] = {}


def footer_fact(path: str, read: Callable[[duckdb.DuckDBPyConnection, str], T], unreadable: T) -> T:
    """``read(connection, path)`` for this file, read once while the file is unchanged.

    A file that is gone or that DuckDB cannot read gives ``unreadable``, not cached:
    the query over it then fails (``duckdb.IOException``) and its caller lists the
    files again.
    """
    global _db
    try:
        st = os.stat(path)
    except OSError:
        return unreadable
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _lock:
        hit = _facts.get((read, path))
        if hit is not None and hit[0] == identity:
            return hit[1]
        if _db is None:
            _db = duckdb.connect(":memory:")
        try:
            value = read(_db, path)
        except duckdb.Error:
            return unreadable
        if len(_facts) > _MAX_ENTRIES:
            _facts.clear()
        _facts[(read, path)] = (identity, value)
        return value


class FileFacts:
    """Values computed from a file's contents, kept while its identity (inode, size, mtime) holds.

    ``get(path, key, compute)`` returns the value ``compute()`` gave for (path, key) while the
    file is unchanged, and computes it again (outside the lock: two threads may both compute
    a value once) when the file is new or rewritten. A file gone raises FileNotFoundError:
    its caller lists the files again.
    """

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._values: dict[tuple[str, Any], tuple[tuple[int, int, int], Any]] = {}

    def get(self, path: str, key: Any, compute: Callable[[], T]) -> T:
        st = os.stat(path)
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._values.get((path, key))
        if hit is not None and hit[0] == identity:
            return hit[1]
        value = compute()
        with self._lock:
            if len(self._values) >= self._max:
                self._values.clear()  # bounds a leak; a server's files are far fewer
            self._values[(path, key)] = (identity, value)
        return value


def forget() -> None:
    """Drop every fact read so far, as a new process starts (benchmarks time cold reads so)."""
    with _lock:
        _facts.clear()
