"""The RecordStore port's contract: one record per memo, read back as written.

    class TestSqliteRecordStore(RecordStoreContract):
        @pytest.fixture(autouse=True)
        def _adapter(self, tmp_path): ...

        def make_store(self): ...   # an empty store
"""

from __future__ import annotations

import pytest

from whispersync.domain import Memo, MemoStatus
from whispersync.errors import NotFound
from whispersync.pipeline.records import RecordStore

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def memo(memo_id: str = "m-1", *, status: MemoStatus = MemoStatus.QUEUED, created_at: float = T0,
         updated_at: float | None = None, **fields) -> Memo:
    return Memo(id=memo_id, key=f"transcripts/work/{memo_id}.txt", correlation_id=f"c-{memo_id}",
                trace_id="1-5759e988-bd862e3fe1be46a994272793", status=status, created_at=created_at,
                updated_at=created_at if updated_at is None else updated_at, **fields)


class RecordStoreContract:
    def make_store(self) -> RecordStore:
        raise NotImplementedError

    def test_the_adapter_has_every_method_of_the_port(self):
        store = self.make_store()
        for name in ("create", "get", "update", "list", "queued_ids_before", "count_by_status", "delete"):
            assert callable(getattr(store, name)), name

    def test_get_returns_the_memo_as_created_every_field_included(self):
        store = self.make_store()
        full = memo("m-1", agent="work", title="Standup", recorded_at="2026-01-01T09:00:00+01:00",
                    source="cli", routing={"agent": "work", "confidence": 0.9, "reasons": ["standup"]},
                    result={"paths": ["outputs/work/a.json"], "summary": "é ✓"}, error="earlier failure",
                    attempts=2)
        store.create(full)
        assert store.get("m-1") == full
        minimal = memo("m-2")
        store.create(minimal)
        assert store.get("m-2") == minimal

    def test_get_of_an_unknown_id_is_not_found(self):
        with pytest.raises(NotFound):
            self.make_store().get("nope")

    def test_creating_an_existing_id_fails_and_keeps_the_first_record(self):
        """A record is created once; a second create must not overwrite it silently."""
        store = self.make_store()
        store.create(memo("m-1", title="first"))
        with pytest.raises(Exception):  # each backend has its own conflict error
            store.create(memo("m-1", title="second"))
        assert store.get("m-1").title == "first"

    def test_update_changes_only_the_given_fields(self):
        store = self.make_store()
        store.create(memo("m-1", title="Standup"))
        store.update("m-1", status=MemoStatus.DONE, result={"summary": "ok"}, attempts=1, updated_at=T0 + 5)
        got = store.get("m-1")
        assert (got.status, got.result, got.attempts, got.updated_at) == (MemoStatus.DONE, {"summary": "ok"}, 1,
                                                                          T0 + 5)
        assert (got.title, got.created_at, got.key) == ("Standup", T0, "transcripts/work/m-1.txt")

    def test_update_can_clear_a_field(self):
        store = self.make_store()
        store.create(memo("m-1", error="boom", routing={"agent": "work"}))
        store.update("m-1", error=None, routing=None)
        got = store.get("m-1")
        assert (got.error, got.routing) == (None, None)

    def test_update_of_an_unknown_id_is_not_found(self):
        with pytest.raises(NotFound):
            self.make_store().update("nope", status=MemoStatus.DONE)

    def test_update_of_an_unknown_field_is_refused_and_changes_nothing(self):
        store = self.make_store()
        store.create(memo("m-1"))
        with pytest.raises(ValueError):
            store.update("m-1", status=MemoStatus.DONE, colour="blue")
        assert store.get("m-1").status is MemoStatus.QUEUED

    def test_list_is_newest_first_filtered_by_status_and_limited(self):
        store = self.make_store()
        for i, status in enumerate([MemoStatus.QUEUED, MemoStatus.DONE, MemoStatus.QUEUED, MemoStatus.FAILED]):
            store.create(memo(f"m-{i}", status=status, created_at=T0 + i))
        assert [m.id for m in store.list()] == ["m-3", "m-2", "m-1", "m-0"]
        assert [m.id for m in store.list(status=MemoStatus.QUEUED)] == ["m-2", "m-0"]
        assert [m.id for m in store.list(limit=2)] == ["m-3", "m-2"]
        assert store.list(status=MemoStatus.PROCESSING) == []

    def test_queued_ids_before_lists_queued_memos_untouched_since_the_cutoff_oldest_first(self):
        """What the sweeper needs: queued, and not updated at or after the cutoff."""
        store = self.make_store()
        store.create(memo("late", created_at=T0 + 1, updated_at=T0 + 2))
        store.create(memo("early", created_at=T0, updated_at=T0 + 3))
        store.create(memo("fresh", created_at=T0 + 2, updated_at=T0 + 10))
        store.create(memo("done", status=MemoStatus.DONE, created_at=T0))
        assert store.queued_ids_before(T0 + 10) == ["early", "late"]
        assert store.queued_ids_before(T0 + 3) == ["late"]
        assert store.queued_ids_before(T0) == []

    def test_count_by_status_names_every_status_even_at_zero(self):
        store = self.make_store()
        assert store.count_by_status() == {s.value: 0 for s in MemoStatus}
        store.create(memo("a"))
        store.create(memo("b"))
        store.create(memo("c", status=MemoStatus.DONE))
        assert store.count_by_status() == {"queued": 2, "processing": 0, "done": 1, "failed": 0}

    def test_delete_removes_that_memo_only_and_says_whether_there_was_one(self):
        """What the end-to-end canary needs to leave nothing behind; a second delete is not an error."""
        store = self.make_store()
        store.create(memo("gone", status=MemoStatus.DONE))
        store.create(memo("kept"))
        assert store.delete("gone") is True
        with pytest.raises(NotFound):
            store.get("gone")
        assert store.get("kept").id == "kept"
        assert store.count_by_status() == {"queued": 1, "processing": 0, "done": 0, "failed": 0}
        assert store.find_by_prefix("gone") == []
        assert store.delete("gone") is False
