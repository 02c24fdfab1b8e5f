"""SqliteRecordStore: the RecordStore contract, plus what is SQLite's own (WAL, counts, threads)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from contracts.record_store import RecordStoreContract, memo

from whispersync.domain import MemoStatus
from whispersync.errors import NotFound, RecordExists
from whispersync.pipeline.records import SqliteRecordStore


class TestSqliteRecordStore(RecordStoreContract):
    @pytest.fixture(autouse=True)
    def _adapter(self, tmp_path: Path):
        self.stores: list[SqliteRecordStore] = []
        self.path = tmp_path / "records.db"
        yield
        for store in self.stores:
            store.close()

    def make_store(self) -> SqliteRecordStore:
        store = SqliteRecordStore(self.path)
        self.stores.append(store)
        return store


@pytest.fixture
def store(tmp_path: Path):
    s = SqliteRecordStore(tmp_path / "records.db")
    yield s
    s.close()


def test_the_file_is_in_wal_mode_so_the_cli_can_read_while_up_writes(store):
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_records_outlive_the_store_object(tmp_path):
    first = SqliteRecordStore(tmp_path / "records.db")
    first.create(memo("m-1", title="kept"))
    first.close()
    second = SqliteRecordStore(tmp_path / "records.db")
    assert second.get("m-1").title == "kept"
    second.close()


def test_find_by_correlation_id(store):
    store.create(memo("m-1"))
    store.create(memo("m-2"))
    assert [m.id for m in store.find_by_correlation_id("c-m-2")] == ["m-2"]
    assert store.find_by_correlation_id("c-none") == []


def test_operation_counts_split_reads_writes_and_both_kinds_of_error(store):
    """The DynamoDB-style store metrics: a duplicate key is the caller's error, a broken table the system's."""
    store.ops.take()  # the schema set-up does not count
    store.create(memo("m-1"))
    store.get("m-1")
    store.list()
    with pytest.raises(NotFound):
        store.get("nope")
    with pytest.raises(RecordExists):
        store.create(memo("m-1"))
    store._conn().execute("DROP TABLE memos")
    with pytest.raises(sqlite3.OperationalError):
        store.get("m-1")
    assert store.ops.take() == {"reads": 3, "writes": 1, "user_errors": 1, "system_errors": 1}
    assert store.ops.take() == {"reads": 0, "writes": 0, "user_errors": 0, "system_errors": 0}


def test_threads_each_get_their_own_connection_and_all_writes_land(store):
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(25):
                store.create(memo(f"t{n}-{i}"))
                store.update(f"t{n}-{i}", status=MemoStatus.DONE)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_by_status()["done"] == 100


def test_close_closes_every_thread_s_connection_and_the_store_reopens_on_use(store):
    """close() at shutdown leaves no connection open, whichever thread opened it."""
    opened: list[sqlite3.Connection] = []
    worker = threading.Thread(target=lambda: opened.append(store._conn()))
    worker.start()
    worker.join()
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("SELECT 1")
    store.create(memo("after-close"))
    assert store.get("after-close").id == "after-close"


class TestFindByPrefix:
    """Memo ids are usable at any width, as git accepts short hashes."""

    def test_a_unique_prefix_finds_one_id(self, store):
        store.create(memo("abc123"))
        store.create(memo("abd456"))
        assert store.find_by_prefix("abc") == ["abc123"]
        assert store.find_by_prefix("abc123") == ["abc123"]

    def test_an_ambiguous_prefix_lists_the_candidates_sorted(self, store):
        for memo_id in ("ab2", "ab1", "zz"):
            store.create(memo(memo_id))
        assert store.find_by_prefix("ab") == ["ab1", "ab2"]
        assert store.find_by_prefix("ab", limit=1) == ["ab1"]

    def test_like_wildcards_in_a_prefix_are_literal(self, store):
        store.create(memo("a_b"))
        store.create(memo("axb"))
        assert store.find_by_prefix("a_") == ["a_b"]
        assert store.find_by_prefix("%") == []
        assert store.find_by_prefix("") == []


def test_to_dict_writes_iso_times_and_the_store_keeps_epoch_seconds(store):
    """docs/json.md: points in time are ISO 8601 UTC with milliseconds in JSON; the row stays a number."""
    store.create(memo("m-1", created_at=1_767_225_600.25, updated_at=1_767_225_601.0))
    got = store.get("m-1")
    assert got.created_at == 1_767_225_600.25
    assert (got.to_dict()["created_at"], got.to_dict()["updated_at"]) == ("2026-01-01T00:00:00.250Z",
                                                                          "2026-01-01T00:00:01.000Z")


@pytest.mark.parametrize("status", [None, MemoStatus.QUEUED])
def test_memos_created_in_the_same_instant_list_in_one_stable_order(store, status):
    """Newest first, then by id descending, so pages (limit) never shuffle between calls."""
    for memo_id in ("m-b", "m-d", "m-a", "m-c"):  # inserted out of id order, one timestamp
        store.create(memo(memo_id, created_at=1_000.0))
    store.create(memo("m-0", created_at=2_000.0))
    assert [m.id for m in store.list(status=status)] == ["m-0", "m-d", "m-c", "m-b", "m-a"]
    assert [m.id for m in store.list(status=status, limit=3)] == ["m-0", "m-d", "m-c"]
