"""The RecordStore port on Amazon DynamoDB: one item per memo.

The table (`ensure_table` makes it for tests; the CDK stack owns it in a deployment):

    table      partition key  id (S)
    by_status  GSI: partition status (S), sort created (S) = "<created_at, 20.6f>#<id>"; projects ALL
    by_id      GSI: partition shard (S) = "memo" on every item, sort id (S); projects keys only

How each method reads, and why that is acceptable:

- `get`, `create`, `update`: one item by key. `create` is a conditional put
  (`attribute_not_exists(id)`): a memo processed twice is written once, and the
  second create raises `RecordExists`. `update` is conditional on the item
  existing (else NotFound) and never creates one.
- `list(status=…)`: a Query on by_status, newest first (created sort key descending,
  the id breaking ties as the local adapter does). `list()` of every status queries
  the four statuses and merges: four Queries of at most `limit` items, never a Scan.
- `find_by_prefix`: a Query on by_id with `begins_with(id, prefix)`, sorted by id.
  by_id has one partition key for the whole table, so it takes about 1,000 memo
  writes per second (DynamoDB's per-partition write limit): far above memo rates.
- `queued_ids_before`: a Query of the `queued` partition of by_status, oldest
  first, with a filter on updated_at: it reads every queued memo, which is the
  backlog the sweeper is there for (small, or the queue alarms are already firing).
- `count_by_status`: four `Select=COUNT` Queries on by_status. They read every
  item of each status (paged, 1 MB per page), so the cost grows with the table;
  the collector that calls it runs only in `whispersync up`, and on AWS the
  counts come from CloudWatch. No Scan anywhere.

A status has four values, so by_status has four partition keys: every write
touches one of them. DynamoDB's per-partition limit (1,000 writes/s) is far
above what voice memos arrive at.

Numbers are stored as DynamoDB Numbers from `repr(float)`, which round-trips
exactly; `routing` and `result` as JSON strings, as the SQLite adapter stores
them. A field set to None is removed from the item and reads back as None.
"""

from __future__ import annotations

import heapq
from decimal import Decimal
from typing import Any

import orjson

from whispersync.domain import Memo, MemoStatus
from whispersync.errors import NotFound, RecordExists, WhisperSyncError
from whispersync.pipeline.records import StoreOpCounts

__all__ = ["DynamoRecordStore", "RecordExists", "dynamodb_client", "ensure_table"]

_FIELDS = (
    "id", "key", "correlation_id", "trace_id", "status", "created_at", "updated_at",
    "agent", "title", "recorded_at", "source", "routing", "result", "error", "attempts",
)
_JSON_FIELDS = {"routing", "result"}
_NUMBER_FIELDS = {"created_at", "updated_at", "attempts"}
_BY_STATUS = "by_status"
_BY_ID = "by_id"
_SHARD = "memo"  # the one partition key of by_id
_PAGE = 1000  # items a Query of ids asks for per page (DynamoDB caps a page at 1 MB anyway)


def dynamodb_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 DynamoDB client; boto3 is imported here, on first use, never by `import whispersync`."""
    import boto3

    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)


def ensure_table(client: Any, name: str) -> None:
    """Create the memo table with its two GSIs (on-demand billing) if it does not exist, and wait for it."""
    try:
        client.describe_table(TableName=name)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    string = "S"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": string},
            {"AttributeName": "status", "AttributeType": string},
            {"AttributeName": "created", "AttributeType": string},
            {"AttributeName": "shard", "AttributeType": string},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": _BY_STATUS,
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                              {"AttributeName": "created", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": _BY_ID,
                "KeySchema": [{"AttributeName": "shard", "KeyType": "HASH"},
                              {"AttributeName": "id", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    client.get_waiter("table_exists").wait(TableName=name)


class DynamoRecordStore:
    """Memo records in one DynamoDB table; implements `RecordStore` (see the module docstring)."""

    def __init__(
        self, client: Any | None, table: str, *, region: str | None = None, endpoint_url: str | None = None
    ) -> None:
        self.table = table
        self.ops = StoreOpCounts()
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url

    def __repr__(self) -> str:
        return f"DynamoRecordStore({self.table!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client(region=self._region, endpoint_url=self._endpoint_url)
        return self._client

    # -- the port -------------------------------------------------------------

    def create(self, memo: Memo) -> None:
        item = {name: _encode(name, getattr(memo, name)) for name in _FIELDS}
        item = {name: value for name, value in item.items() if value is not None}
        item["created"] = {"S": _created_key(memo.created_at, memo.id)}
        item["shard"] = {"S": _SHARD}
        self._call("writes", self.client.put_item, TableName=self.table, Item=item,
                   ConditionExpression="attribute_not_exists(#id)", ExpressionAttributeNames={"#id": "id"},
                   missing=RecordExists(f"memo {memo.id!r} exists"))

    def get(self, memo_id: str) -> Memo:
        answer = self._call("reads", self.client.get_item, TableName=self.table, Key=_key(memo_id),
                            ConsistentRead=True)
        if "Item" not in answer:
            raise NotFound(f"no memo with id {memo_id!r}")
        return _decode(answer["Item"])

    def find_by_prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids starting with ``prefix`` (at most ``limit``, sorted), as git resolves a short hash."""
        if not prefix:
            return []
        answer = self._call(
            "reads", self.client.query, TableName=self.table, IndexName=_BY_ID,
            KeyConditionExpression="#shard = :shard AND begins_with(#id, :prefix)",
            ExpressionAttributeNames={"#shard": "shard", "#id": "id"},
            ExpressionAttributeValues={":shard": {"S": _SHARD}, ":prefix": {"S": prefix}},
            Limit=limit,
        )
        return [item["id"]["S"] for item in answer.get("Items", [])]

    def update(self, memo_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown memo fields: {sorted(unknown)}")
        if "id" in fields:
            raise ValueError("a memo's id cannot change")
        if not fields:
            self.get(memo_id)  # nothing to write; still NotFound for an unknown id
            return
        names: dict[str, str] = {"#id": "id"}
        values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        for i, (name, value) in enumerate(fields.items()):
            names[f"#f{i}"] = name
            encoded = _encode(name, value)
            if encoded is None:
                removes.append(f"#f{i}")
            else:
                values[f":v{i}"] = encoded
                sets.append(f"#f{i} = :v{i}")
        if "created_at" in fields:
            # The by_status sort key follows created_at, so list() stays in order.
            names["#created"] = "created"
            values[":created"] = {"S": _created_key(fields["created_at"], memo_id)}
            sets.append("#created = :created")
        expression = " ".join(part for part in (
            "SET " + ", ".join(sets) if sets else "",
            "REMOVE " + ", ".join(removes) if removes else "",
        ) if part)
        request: dict[str, Any] = {"ExpressionAttributeNames": names}
        if values:
            request["ExpressionAttributeValues"] = values
        self._call("writes", self.client.update_item, TableName=self.table, Key=_key(memo_id),
                   UpdateExpression=expression, ConditionExpression="attribute_exists(#id)",
                   missing=NotFound(f"no memo with id {memo_id!r}"), **request)

    def delete(self, memo_id: str) -> bool:
        """Remove the memo's item; False when there was none. DeleteItem succeeds on a missing key, and
        ReturnValues=ALL_OLD returns ``Attributes`` only when an item was deleted
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteItem.html)."""
        answer = self._call("writes", self.client.delete_item, TableName=self.table, Key=_key(memo_id),
                            ReturnValues="ALL_OLD")
        return bool(answer.get("Attributes"))

    def list(self, *, status: MemoStatus | None = None, limit: int = 100) -> list[Memo]:
        """Newest first; the id breaks ties, as the local adapter orders them."""
        if limit < 1:
            return []
        statuses = list(MemoStatus) if status is None else [MemoStatus(status)]
        per_status = [self._query_status(s, limit=limit, newest_first=True) for s in statuses]
        # Each list is already newest first by its sort key; merge them on that key.
        merged = heapq.merge(*per_status, key=lambda item: item["created"]["S"], reverse=True)
        return [_decode(item) for _, item in zip(range(limit), merged, strict=False)]

    def queued_ids_before(self, cutoff: float) -> list[str]:
        """Ids of memos still `queued` and untouched since before `cutoff` (epoch seconds), oldest first."""
        items = self._query_status(
            MemoStatus.QUEUED, limit=None, newest_first=False,
            FilterExpression="#updated_at < :cutoff",
            ExpressionAttributeNames={"#updated_at": "updated_at", "#id": "id"},
            ExpressionAttributeValues={":cutoff": _number(cutoff)},
            ProjectionExpression="#id",
        )
        return [item["id"]["S"] for item in items]

    def count_by_status(self) -> dict[str, int]:
        counts = {}
        for status in MemoStatus:
            total, start = 0, None
            while True:
                page = self._call("reads", self.client.query, **self._status_query(status, start, Select="COUNT"))
                total += page["Count"]
                start = page.get("LastEvaluatedKey")
                if start is None:
                    break
            counts[status.value] = total
        return counts

    # -- internals --------------------------------------------------------------

    def _status_query(self, status: MemoStatus, start: Any, **extra: Any) -> dict[str, Any]:
        values = {":status": {"S": status.value}, **extra.pop("ExpressionAttributeValues", {})}
        names = {"#status": "status", **extra.pop("ExpressionAttributeNames", {})}
        request = {
            "TableName": self.table,
            "IndexName": _BY_STATUS,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            **extra,
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        return request

    def _query_status(self, status: MemoStatus, *, limit: int | None, newest_first: bool,
                      **extra: Any) -> list[dict[str, Any]]:
        """Items of one status in created order, up to `limit` (all when None), following pages."""
        items: list[dict[str, Any]] = []
        start = None
        while limit is None or len(items) < limit:
            page_size = _PAGE if limit is None else limit - len(items)
            request = self._status_query(status, start, ScanIndexForward=not newest_first, Limit=page_size,
                                         **dict(extra))
            page = self._call("reads", self.client.query, **request)
            items += page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if start is None:
                break
        return items

    def _call(self, kind: str, operation: Any, *, missing: Exception | None = None, **request: Any) -> Any:
        """One DynamoDB call, counted in `ops`; a failed condition raises `missing`."""
        try:
            answer = operation(**request)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code == "ConditionalCheckFailedException" and missing is not None:
                self.ops.add("user_errors")
                raise missing from None
            self.ops.add("system_errors")
            raise WhisperSyncError(f"DynamoDB {code or type(exc).__name__} on table {self.table}") from exc
        self.ops.add(kind)
        return answer


def _key(memo_id: str) -> dict[str, Any]:
    return {"id": {"S": memo_id}}


def _created_key(created_at: float, memo_id: str) -> str:
    # Fixed width so the string order is the time order (epoch seconds < 10**13).
    return f"{created_at:020.6f}#{memo_id}"


def _number(value: float) -> dict[str, str]:
    return {"N": str(value) if isinstance(value, int) else repr(float(value))}


def _encode(name: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, MemoStatus):
        return {"S": value.value}
    if name in _JSON_FIELDS:
        return {"S": orjson.dumps(value).decode()}
    if name in _NUMBER_FIELDS:
        return _number(value)
    return {"S": str(value)}


def _decode(item: dict[str, Any]) -> Memo:
    data: dict[str, Any] = {}
    for name in _FIELDS:
        raw = item.get(name)
        if raw is None:
            continue
        if name in _NUMBER_FIELDS:
            number = Decimal(raw["N"])
            data[name] = int(number) if name == "attempts" else float(number)
        elif name in _JSON_FIELDS:
            data[name] = orjson.loads(raw["S"])
        else:
            data[name] = raw["S"]
    data["status"] = MemoStatus(data["status"])
    return Memo(**data)
