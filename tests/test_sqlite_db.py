"""The one SQLite connection helper: the settings every store relies on."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from whispersync import sqlite_db
from whispersync.sqlite_db import ThreadConnections


def test_a_connection_is_autocommit_wal_normal_sync_with_the_busy_timeout(tmp_path: Path):
    conn = sqlite_db.connect(tmp_path / "a.db", timeout=12)
    assert conn.isolation_level is None
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 12_000
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    assert not conn.in_transaction  # committed without being asked: autocommit
    conn.close()


def test_a_read_only_connection_reads_and_cannot_write(tmp_path: Path):
    writer = sqlite_db.connect(tmp_path / "a.db")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = sqlite_db.connect(tmp_path / "a.db", timeout=10, read_only=True)
    assert reader.execute("SELECT x FROM t").fetchall() == [(1,)]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("INSERT INTO t VALUES (2)")
    reader.close()
    writer.close()


def test_a_read_only_connection_never_creates_the_file(tmp_path: Path):
    with pytest.raises(sqlite3.OperationalError):
        sqlite_db.connect(tmp_path / "missing.db", read_only=True)
    assert not (tmp_path / "missing.db").exists()


def test_a_path_with_uri_characters_opens_read_only_as_the_same_file(tmp_path: Path):
    path = tmp_path / "a dir?#%" / "q.db"
    path.parent.mkdir()
    sqlite_db.connect(path).execute("CREATE TABLE t (x)")
    reader = sqlite_db.connect(path, read_only=True)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    reader.close()


class TestThreadConnections:
    def test_one_connection_per_thread_reused_within_the_thread(self, tmp_path: Path):
        connections = sqlite_db.ThreadConnections(tmp_path / "a.db")
        mine = connections.get()
        assert connections.get() is mine
        theirs: list[sqlite3.Connection] = []
        t = threading.Thread(target=lambda: theirs.append(connections.get()))
        t.start()
        t.join()
        assert theirs[0] is not mine
        connections.close()

    def test_setup_runs_on_each_new_connection(self, tmp_path: Path):
        connections = sqlite_db.ThreadConnections(tmp_path / "a.db", setup=lambda c: setattr(c, "row_factory",
                                                                                             sqlite3.Row))
        assert connections.get().row_factory is sqlite3.Row
        connections.close()

    def test_close_closes_them_all_and_a_later_get_opens_a_fresh_one(self, tmp_path: Path):
        connections = sqlite_db.ThreadConnections(tmp_path / "a.db")
        mine = connections.get()
        theirs: list[sqlite3.Connection] = []
        t = threading.Thread(target=lambda: theirs.append(connections.get()))
        t.start()
        t.join()
        connections.close()
        for conn in (mine, theirs[0]):
            with pytest.raises(sqlite3.ProgrammingError):
                conn.execute("SELECT 1")
        fresh = connections.get()
        assert fresh is not mine
        assert fresh.execute("SELECT 1").fetchone() == (1,)
        connections.close()

    def test_a_forked_child_opens_its_own_connection(self, tmp_path: Path):
        """SQLite's locks are per process: a child must not use its parent's connection."""
        connections = sqlite_db.ThreadConnections(tmp_path / "a.db")
        parent = connections.get()
        parent.execute("CREATE TABLE t (x)")
        read, write = os.pipe()

        def child() -> None:
            code = 1
            try:
                conn = connections.get()
                conn.execute("INSERT INTO t VALUES (1)")
                os.write(write, b"new" if conn is not parent else b"same")
                code = 0
            finally:
                os._exit(code)

        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join(10)
        assert process.exitcode == 0
        assert os.read(read, 10) == b"new"
        assert parent.execute("SELECT x FROM t").fetchall() == [(1,)]
        connections.close()


def _open_descriptors_to(path) -> int:
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") in names
        except OSError:
            pass
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
def test_a_threads_connection_is_closed_when_the_thread_ends(tmp_path) -> None:
    """Thread pools retire idle threads and start new ones: each new thread's connection must not
    outlive it (a running `up` leaked two descriptors per retired thread per database)."""
    path = tmp_path / "db.sqlite3"
    connections = ThreadConnections(path)
    connections.get().execute("CREATE TABLE t (x)")
    before = _open_descriptors_to(path)

    def use() -> None:
        connections.get().execute("INSERT INTO t VALUES (1)")

    for _ in range(30):
        thread = threading.Thread(target=use)
        thread.start()
        thread.join()
    gc.collect()
    assert _open_descriptors_to(path) <= before + 2  # the last thread may not be torn down yet: not 30 more
    assert connections.get().execute("SELECT count(*) FROM t").fetchone() == (30,)
    connections.close()
