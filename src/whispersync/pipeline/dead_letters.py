"""Dead-lettered memos: what the dead-letter queue holds, and moving memos back for another try.

One place for `whispersync dlq list|redrive`, the API's /v1/dlq and the console's Redrive
buttons, so that all three move the same messages and leave the memo records alike.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson

from whispersync.domain import MemoStatus, iso_utc
from whispersync.errors import NotFound
from whispersync.pipeline.queue import Message, SqliteQueue, SqliteQueueBroker
from whispersync.pipeline.records import RecordStore

# Every message is read to map memos to messages; a DLQ this long is a problem of its own.
_WHOLE_QUEUE = 1_000_000


@dataclass(frozen=True)
class Redriven:
    """What a redrive moved: how many messages, and the memos they carried (set back to queued)."""

    moved: int
    memo_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "memo_ids": self.memo_ids}


def entry(message: Message, records: RecordStore) -> dict[str, Any]:
    """A dead-lettered message as `dlq list --json` and GET /v1/dlq show it, with its memo's last
    error when the body names a memo."""
    body = _body(message)
    found = {"message_id": message.message_id, "body": body, "attributes": message.attributes,
             "receive_count": message.receive_count, "sent_at": iso_utc(message.sent_at)}
    try:
        memo = records.get(body["memo_id"])
        found.update(memo_id=memo.id, error=memo.error, correlation_id=memo.correlation_id)
    except (NotFound, KeyError, TypeError):
        pass
    return found


def memo_ids_in(dlq: SqliteQueue) -> set[str]:
    """The ids of the memos whose messages are in the dead-letter queue."""
    return {memo_id for memo_id in map(_memo_id, dlq.peek(_WHOLE_QUEUE)) if memo_id is not None}


def redrive(broker: SqliteQueueBroker, *, dlq: SqliteQueue, queue: SqliteQueue, records: RecordStore,
            memo_ids: Collection[str] | None = None, limit: int | None = None) -> Redriven:
    """Move dead-lettered messages back to `queue`: every one, the first `limit`, or those of `memo_ids`
    (ids not in the DLQ are skipped, so a second click on a Redrive button is no error).

    The memos go back to QUEUED *before* their messages move: a worker may take a moved message
    at once, and its PROCESSING and DONE must not be overwritten by a late QUEUED. A memo whose
    message stays (in flight, being inspected) gets its former status back. A DONE memo keeps
    DONE: the worker acknowledges its message without running the agent again.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0")
    messages = dlq.peek(_WHOLE_QUEUE)
    if memo_ids is not None:
        wanted = set(memo_ids)
        messages = [m for m in messages if _memo_id(m) in wanted]
    if limit is not None:
        messages = messages[:limit]
    chosen = {m.message_id: _memo_id(m) for m in messages}
    before: dict[str, MemoStatus] = {}
    now = time.time()
    for memo_id in set(chosen.values()) - {None}:
        try:
            status = records.get(memo_id).status
        except NotFound:
            continue
        if status is not MemoStatus.DONE:
            before[memo_id] = status
            records.update(memo_id, status=MemoStatus.QUEUED, updated_at=now)
    moved = broker.redrive(dlq.name, destination=queue.name, message_ids=list(chosen)) if chosen else 0
    left = {m.message_id for m in dlq.peek(_WHOLE_QUEUE)}
    moved_memos = {memo_id for message_id, memo_id in chosen.items() if message_id not in left and memo_id}
    for memo_id, status in before.items():
        if memo_id not in moved_memos:
            records.update(memo_id, status=status)
    return Redriven(moved=moved, memo_ids=sorted(moved_memos))


def _body(message: Message) -> Any:
    try:
        return orjson.loads(message.body)
    except orjson.JSONDecodeError:  # a malformed message the worker dead-lettered
        return message.body


def _memo_id(message: Message) -> str | None:
    body = _body(message)
    memo_id = body.get("memo_id") if isinstance(body, dict) else None
    return memo_id if isinstance(memo_id, str) else None
