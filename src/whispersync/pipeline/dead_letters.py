"""Dead-lettered memos: what the dead-letter queue holds, and moving memos back for another try.

One place for `whispersync dlq list|redrive`, the API's /v1/dlq and the console's Redrive
buttons, so that all three move the same messages and leave the memo records alike, and for
the remediation rule that redrives transient failures automatically (`redrive_transient`).

What a dead-lettered message failed of travels with it, as message attributes (String
attributes, so the same holds on SQS, whose redrive policy moves the message itself, attributes
included). The worker marks a permanent failure ``failure=permanent`` when it dead-letters it at
once; a message the queue's redrive policy moved there ran out of receives on transient failures
and carries no mark. An automatic redrive marks the message ``autoRedrivenAt=<ISO time>``: when
the memo fails again and comes back, the mark says it had its one automatic try. Every redrive
removes ``failure``, since the failure it described is over. No record schema changes, and the
mark cannot drift from the message it describes.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from whispersync.domain import MemoStatus, iso_utc
from whispersync.errors import NotFound
from whispersync.pipeline.queue import MAX_ATTRIBUTES, Message, SqliteQueue, SqliteQueueBroker
from whispersync.pipeline.records import RecordStore

__all__ = ["AUTO_REDRIVEN_ATTRIBUTE", "FAILURE_ATTRIBUTE", "PERMANENT", "AutoRedriven", "Redriven", "entry",
           "marked_permanent", "memo_ids_in", "redrive", "redrive_transient"]

# Every message is read to map memos to messages; a DLQ this long is a problem of its own.
_WHOLE_QUEUE = 1_000_000
FAILURE_ATTRIBUTE = "failure"
PERMANENT = "permanent"
AUTO_REDRIVEN_ATTRIBUTE = "autoRedrivenAt"


@dataclass(frozen=True)
class Redriven:
    """What a redrive moved: how many messages, and the memos they carried (set back to queued)."""

    moved: int
    memo_ids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "memo_ids": self.memo_ids}


@dataclass(frozen=True)
class AutoRedriven:
    """What an automatic redrive did: the memos it moved, and why the others stayed."""

    moved: int
    memo_ids: list[str]
    permanent: list[str]          # memos that failed permanently: a retry cannot help
    already_redriven: list[str]   # memos that had their one automatic redrive
    over_limit: list[str]         # eligible, beyond this run's limit: the next run takes them

    def to_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "memo_ids": self.memo_ids, "permanent": self.permanent,
                "already_redriven": self.already_redriven, "over_limit": self.over_limit}


def marked_permanent(attributes: Mapping[str, str]) -> dict[str, str]:
    """A permanently failed message's attributes for the DLQ. SQS allows 10 attributes: a message
    that has them all goes unmarked, and so gets its one automatic redrive as a transient failure would."""
    marked = dict(attributes)
    if FAILURE_ATTRIBUTE in marked or len(marked) < MAX_ATTRIBUTES:
        marked[FAILURE_ATTRIBUTE] = PERMANENT
    return marked


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
    return _move(broker, dlq, queue, records, messages, {FAILURE_ATTRIBUTE: None})


def redrive_transient(broker: SqliteQueueBroker, *, dlq: SqliteQueue, queue: SqliteQueue, records: RecordStore,
                      limit: int, now: float | None = None) -> AutoRedriven:
    """Redrive, at most once per memo, the dead-lettered memos whose failure was transient (the first
    `limit` of them): not those marked permanent, not those an earlier automatic redrive already moved,
    not a message that names no memo (a malformed body is no transient failure)."""
    if limit < 0:
        raise ValueError("limit must be >= 0")
    eligible: list[Message] = []
    permanent: set[str] = set()
    already: set[str] = set()
    for message in dlq.peek(_WHOLE_QUEUE):
        memo_id = _memo_id(message)
        if memo_id is None:
            continue
        if message.attributes.get(FAILURE_ATTRIBUTE) == PERMANENT:
            permanent.add(memo_id)
        elif AUTO_REDRIVEN_ATTRIBUTE in message.attributes:
            already.add(memo_id)
        else:
            eligible.append(message)
    # A memo is redriven with all its messages or not at all: one memo id, one decision.
    chosen_memos = list(dict.fromkeys(_memo_id(m) for m in eligible))[:limit]
    chosen = [m for m in eligible if _memo_id(m) in set(chosen_memos)]
    marks = {FAILURE_ATTRIBUTE: None, AUTO_REDRIVEN_ATTRIBUTE: iso_utc(time.time() if now is None else now)}
    moved = _move(broker, dlq, queue, records, chosen, marks) if chosen else Redriven(0, [])
    over = sorted({_memo_id(m) for m in eligible} - set(chosen_memos))
    return AutoRedriven(moved=moved.moved, memo_ids=moved.memo_ids, permanent=sorted(permanent),
                        already_redriven=sorted(already), over_limit=over)


def _move(broker: SqliteQueueBroker, dlq: SqliteQueue, queue: SqliteQueue, records: RecordStore,
          messages: list[Message], attributes_patch: Mapping[str, str | None]) -> Redriven:
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
    moved = broker.redrive(dlq.name, destination=queue.name, message_ids=list(chosen),
                           attributes_patch=attributes_patch) if chosen else 0
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
