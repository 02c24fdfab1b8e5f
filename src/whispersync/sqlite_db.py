"""How WhisperSync opens its SQLite files: one place for the connection settings.

Ground floor: imports nothing of ours, so ``pipeline`` (queue, records) and
``monitoring`` (alarm store, notification outbox) may both use it.

Every writable connection is in autocommit mode (``isolation_level=None``: a
multi-statement operation says ``BEGIN IMMEDIATE`` itself), in WAL mode so a
reader in another process (the CLI) never blocks the writer (``whispersync up``),
with ``synchronous=NORMAL``: in WAL mode a committed transaction survives a
process crash (kill -9); only an OS crash or power cut may lose the last commits.
``timeout`` is SQLite's busy timeout: how long a writer waits for the lock before
"database is locked".
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

__all__ = ["ThreadConnections", "connect"]


def connect(path: Path | str, *, timeout: float = 30.0, read_only: bool = False) -> sqlite3.Connection:
    """Open *path*: autocommit, WAL, ``synchronous=NORMAL``; or read-only, changing nothing.

    A read-only connection never creates the file (a missing file is an
    ``sqlite3.OperationalError``) and sets no pragma that would write.
    """
    if read_only:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)
    # check_same_thread=False only so a close() in another thread may close it;
    # each connection is still used by one thread at a time (see ThreadConnections).
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class _Held:
    """A thread's connection, held by that thread's ``threading.local`` only: when the thread ends
    (the anyio and uvicorn thread pools retire idle threads), the holder goes and its finalizer
    closes the connection. Holding connections strongly in a list leaked one per thread ever seen."""

    __slots__ = ("conn", "pid", "generation", "__weakref__")

    def __init__(self, conn: sqlite3.Connection, pid: int, generation: int) -> None:
        self.conn, self.pid, self.generation = conn, pid, generation


def _close_in(pid: int, conn: sqlite3.Connection) -> None:
    if pid == os.getpid():  # a forked child must not close its parent's connections
        conn.close()


class ThreadConnections:
    """A connection per thread to one file (sqlite3 connections must not be shared by concurrent threads).

    After ``fork()`` the child opens its own: SQLite's locks are per process, so
    using the parent's connection would corrupt the lock state. A thread's connection
    is closed when the thread ends; ``close()`` closes every connection still open in
    this process, and a later ``get()`` opens a fresh one.
    """

    def __init__(self, path: Path | str, *, timeout: float = 30.0,
                 setup: Callable[[sqlite3.Connection], None] | None = None) -> None:
        self.path = Path(path)
        self._timeout = timeout
        self._setup = setup
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[weakref.ref[_Held]] = []
        self._generation = 0  # bumped by close(), so threads drop connections it closed

    def get(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is not None and held.pid == os.getpid() and held.generation == self._generation:
            return held.conn
        conn = connect(self.path, timeout=self._timeout)
        if self._setup is not None:
            self._setup(conn)
        with self._lock:
            held = _Held(conn, os.getpid(), self._generation)
            weakref.finalize(held, _close_in, held.pid, conn)
            self._opened = [ref for ref in self._opened if ref() is not None]
            self._opened.append(weakref.ref(held))
            self._local.held = held
        return conn

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            opened, self._opened = self._opened, []
        for ref in opened:
            held = ref()
            if held is not None:
                _close_in(held.pid, held.conn)
