"""DynamoRecordStore: the RecordStore contract under moto, and what DynamoDB adds (keys, queries, idempotency)."""

from __future__ import annotations

import pytest
from contracts.record_store import T0, RecordStoreContract, memo

from whispersync.domain import MemoStatus
from whispersync.errors import NotFound
from whispersync.pipeline.aws import dynamodb
from whispersync.pipeline.aws.dynamodb import (
    DynamoRecordStore,
    RecordExists,
    dynamodb_client,
    ensure_table,
)

from .conftest import REGION

TABLE = "whispersync-memos"


class TestDynamoRecordStore(RecordStoreContract):
    @pytest.fixture(autouse=True)
    def _adapter(self, aws) -> None:
        self.client = dynamodb_client(region=REGION)
        ensure_table(self.client, TABLE)

    def make_store(self) -> DynamoRecordStore:
        return DynamoRecordStore(self.client, TABLE)


@pytest.fixture
def store(aws) -> DynamoRecordStore:
    store = DynamoRecordStore(None, TABLE, region=REGION)  # builds its own client on first use
    ensure_table(store.client, TABLE)
    return store


class TestIdempotency:
    def test_a_memo_created_twice_is_written_once(self, store):
        """The second create of an id is refused by the condition, not applied: RecordExists, first kept."""
        store.create(memo("m-1", title="first"))
        with pytest.raises(RecordExists):
            store.create(memo("m-1", title="second", status=MemoStatus.DONE))
        got = store.get("m-1")
        assert (got.title, got.status) == ("first", MemoStatus.QUEUED)
        assert store.ops.take() == {"reads": 1, "writes": 1, "user_errors": 1, "system_errors": 0}

    def test_update_never_creates_a_record(self, store):
        with pytest.raises(NotFound):
            store.update("ghost", status=MemoStatus.DONE)
        with pytest.raises(NotFound):
            store.get("ghost")

    def test_a_memo_id_cannot_be_updated(self, store):
        store.create(memo("m-1"))
        with pytest.raises(ValueError):
            store.update("m-1", id="m-2")


class TestQueries:
    def test_find_by_prefix_lists_matching_ids_sorted_and_limited(self, store):
        for memo_id in ["abc1", "abd2", "abc3", "zzz", "ab%_"]:
            store.create(memo(memo_id))
        assert store.find_by_prefix("abc") == ["abc1", "abc3"]
        assert store.find_by_prefix("ab", limit=2) == ["ab%_", "abc1"]
        assert store.find_by_prefix("ab%") == ["ab%_"]
        assert store.find_by_prefix("") == []
        assert store.find_by_prefix("q") == []

    def test_list_follows_a_changed_status_and_a_changed_created_at(self, store):
        """The by_status index follows updates, so list(status=...) never shows a stale status."""
        store.create(memo("a", created_at=T0))
        store.create(memo("b", created_at=T0 + 1))
        store.update("a", status=MemoStatus.DONE, created_at=T0 + 5)
        assert [m.id for m in store.list(status=MemoStatus.QUEUED)] == ["b"]
        assert [m.id for m in store.list()] == ["a", "b"]

    def test_list_breaks_ties_on_created_at_by_id_descending(self, store):
        """Same order as the SQLite adapter (created_at DESC, id DESC)."""
        for memo_id, status in [("m-a", MemoStatus.DONE), ("m-c", MemoStatus.QUEUED), ("m-b", MemoStatus.FAILED)]:
            store.create(memo(memo_id, status=status, created_at=T0))
        assert [m.id for m in store.list()] == ["m-c", "m-b", "m-a"]

    def test_counts_and_lists_page_through_more_than_one_page(self, store, monkeypatch):
        """DynamoDB pages Query results; counting and the sweeper's list follow every page."""
        for i in range(30):
            store.create(memo(f"m-{i:02d}", created_at=T0 + i, updated_at=T0 + i))
        monkeypatch.setattr(dynamodb, "_PAGE", 7)  # several pages through the same code path
        assert store.queued_ids_before(T0 + 30) == [f"m-{i:02d}" for i in range(30)]
        assert store.count_by_status()["queued"] == 30
        assert len(store.list(limit=25)) == 25

    def test_the_table_has_the_keys_and_indexes_the_queries_use(self, store):
        """Every query names an index that exists, with the key it queries by."""
        table = store.client.describe_table(TableName=TABLE)["Table"]
        indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]]
                   for i in table["GlobalSecondaryIndexes"]}
        assert [k["AttributeName"] for k in table["KeySchema"]] == ["id"]
        assert indexes == {"by_status": ["status", "created"], "by_id": ["shard", "id"]}
