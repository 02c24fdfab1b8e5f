"""The durable queue: Amazon SQS semantics (standard queue) on one SQLite file in WAL mode.

`Queue` is the port; `SqliteQueueBroker.queue()` builds the local adapter, an SQS
adapter comes later. Where SQS documents a behaviour, SQS is the specification:
visibility timeout, receive count, fresh receipt handle per receive, delay,
dead-letter redrive after maxReceiveCount, the Approximate* attributes and
StartMessageMoveTask-style redrive from a DLQ.

Every state lives in the `messages` table, so a process killed with -9 loses
nothing: a message it had received is in flight until its visibility timeout
and then reappears, exactly as on SQS. A message's state is derived from two
columns, never stored separately, so there is nothing to keep in sync:

    visible_at <= now                         visible   (ApproximateNumberOfMessages)
    visible_at >  now and receive_count > 0   in flight (ApproximateNumberOfMessagesNotVisible)
    visible_at >  now and receive_count = 0   delayed   (ApproximateNumberOfMessagesDelayed)

(A delay applies only before the first receive, and change_visibility needs a
message in flight, so a never-received message can only be hidden by its delay.)
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

from whispersync import sqlite_db
from whispersync.errors import QueueError

__all__ = [
    "Message",
    "Queue",
    "QueueCounts",
    "RedrivePolicy",
    "SqliteQueue",
    "SqliteQueueBroker",
]

# SQS limits (Amazon SQS quotas, ReceiveMessage / SendMessage API reference).
MAX_MESSAGE_BYTES = 256 * 1024  # body + attribute names and values
MAX_ATTRIBUTES = 10
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_TIMEOUT = 43_200  # 12 hours, counted from the receive
MAX_WAIT_SECONDS = 20
MAX_RECEIVE_BATCH = 10
MAX_RECEIVE_COUNT_LIMIT = 1000  # redrive policy maxReceiveCount is 1..1000
# "After a message is received three times (or more) and not processed ... the
# age of such a message isn't included [in ApproximateAgeOfOldestMessage] until it
# is consumed successfully" (SQS developer guide, available CloudWatch metrics).
POISON_PILL_RECEIVES = 3

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")  # SQS queue-name rule (standard queues)
# Cross-process long polling: another process's send cannot notify our
# Condition, so a waiting receiver re-checks the table this often (seconds).
_POLL_INTERVAL = 0.05
_BUSY_TIMEOUT = 10.0  # seconds a writer waits for the lock before "database is locked"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq               INTEGER PRIMARY KEY,
    queue             TEXT    NOT NULL,
    message_id        TEXT    NOT NULL,
    body              TEXT    NOT NULL,
    attributes        TEXT    NOT NULL,   -- JSON object of str -> str
    sent_at           REAL    NOT NULL,
    enqueued_at       REAL    NOT NULL,   -- entered *this* queue: send, dead-letter or redrive
    visible_at        REAL    NOT NULL,
    receive_count     INTEGER NOT NULL DEFAULT 0,
    base_receives     INTEGER NOT NULL DEFAULT 0,  -- receive_count when it entered this queue
    first_received_at REAL,
    received_at       REAL,               -- latest receive; bounds change_visibility to 12 h
    receipt           TEXT,               -- token of the latest receive
    source_queue      TEXT                -- set while dead-lettered: where redrive sends it back
);
CREATE INDEX IF NOT EXISTS messages_queue_visible_at ON messages (queue, visible_at);
"""

_RETURNED = "seq, message_id, body, attributes, receipt, receive_count, sent_at, first_received_at"


@dataclass(frozen=True, slots=True)
class Message:
    """One received (or peeked) message."""

    message_id: str
    body: str
    attributes: dict[str, str]  # message attributes (String type): correlationId, traceparent...
    receipt_handle: str  # new on every receive; "" from peek()
    receive_count: int  # ApproximateReceiveCount after this receive
    sent_at: float  # epoch seconds
    first_received_at: float | None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """SQS's approximate queue attributes (exact here)."""

    visible: int  # ApproximateNumberOfMessages
    in_flight: int  # ApproximateNumberOfMessagesNotVisible
    delayed: int  # ApproximateNumberOfMessagesDelayed
    oldest_age_seconds: float  # ApproximateAgeOfOldestMessage (0 when empty)


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    """Move a message to `dead_letter_queue` once it was received `max_receive_count` times.

    The move happens on the receive that would deliver it once more (SQS: when
    ReceiveCount exceeds maxReceiveCount). The message keeps its id, body,
    attributes, sent_at and receive count, and remembers its source queue for
    `SqliteQueueBroker.redrive()`.
    """

    dead_letter_queue: str
    max_receive_count: int

    def __post_init__(self) -> None:
        _check_queue_name(self.dead_letter_queue)
        if not 1 <= self.max_receive_count <= MAX_RECEIVE_COUNT_LIMIT:
            raise ValueError(f"max_receive_count must be 1..{MAX_RECEIVE_COUNT_LIMIT}")


class Queue(Protocol):
    """The queue port: SQS standard-queue semantics, at-least-once delivery."""

    name: str

    def send(
        self, body: str, *, attributes: Mapping[str, str] | None = None, delay_seconds: float = 0
    ) -> str: ...

    def receive(
        self, max_messages: int = 1, *, visibility_timeout: float | None = None, wait_seconds: float = 0
    ) -> list[Message]: ...

    def delete(self, receipt_handle: str) -> None: ...

    def change_visibility(self, receipt_handle: str, visibility_timeout: float) -> None: ...

    def counts(self) -> QueueCounts: ...

    def peek(self, limit: int = 100) -> list[Message]: ...

    def purge(self) -> int: ...


class _Arrivals:
    """Wakes this process's long pollers of one database file when a message may have become receivable.

    A generation counter avoids lost wake-ups: a receiver only sleeps if nothing
    happened since its last look at the table.
    """

    def __init__(self) -> None:
        self.generation = 0
        self.condition = threading.Condition()

    def notify(self) -> None:
        with self.condition:
            self.generation += 1
            self.condition.notify_all()

    def wait(self, seen_generation: int, timeout: float) -> None:
        with self.condition:
            if self.generation == seen_generation:
                self.condition.wait(timeout)


# One per database file, shared by every broker on it in this process, so a
# second broker (a reopened one, the CLI inside `up`) still wakes waiters at once.
_arrivals_by_path: weakref.WeakValueDictionary[str, _Arrivals] = weakref.WeakValueDictionary()
_arrivals_lock = threading.Lock()


def _arrivals_for(path: Path) -> _Arrivals:
    key = str(path.resolve())
    with _arrivals_lock:
        arrivals = _arrivals_by_path.get(key)
        if arrivals is None:
            arrivals = _arrivals_by_path[key] = _Arrivals()
        return arrivals


class SqliteQueueBroker:
    """Many named queues in one SQLite file (WAL). Safe across threads and processes.

    Each thread gets its own connection (sqlite3 connections must not be shared
    by concurrent threads); each operation is one short transaction. Waiting
    receivers in this process are woken by a Condition when a message arrives;
    receivers in other processes poll every 50 ms.

        broker = SqliteQueueBroker(home / "queue.db")
        memos = broker.queue("memos", redrive=RedrivePolicy("memos-dlq", 3))
        memos.send('{"key": "..."}', attributes={"correlationId": cid})
        for m in memos.receive(10, wait_seconds=20):
            handle(m)
            memos.delete(m.receipt_handle)
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._connections = sqlite_db.ThreadConnections(self.path, timeout=_BUSY_TIMEOUT)
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._arrivals = _arrivals_for(self.path)
        self._conn().executescript(_SCHEMA)

    # -- public -------------------------------------------------------------

    def queue(
        self, name: str, *, visibility_timeout: float = 30, redrive: RedrivePolicy | None = None
    ) -> SqliteQueue:
        """A handle on queue `name` (created implicitly; queues cost nothing until used)."""
        _check_queue_name(name)
        _check_visibility_timeout(visibility_timeout)
        if redrive is not None and redrive.dead_letter_queue == name:
            raise ValueError("a queue cannot be its own dead-letter queue")
        return SqliteQueue(self, name, visibility_timeout=visibility_timeout, redrive=redrive)

    def redrive(
        self, dead_letter_queue: str, *, destination: str | None = None, limit: int | None = None,
        message_ids: Collection[str] | None = None, attributes_patch: Mapping[str, str | None] | None = None,
    ) -> int:
        """Move messages out of a DLQ, like SQS StartMessageMoveTask; returns how many moved.

        Without `destination` each message goes back to the queue it was
        dead-lettered from; a message that never came from another queue (sent
        straight to the DLQ) has nowhere to go and stays. Only visible messages
        move: one being inspected (in flight) waits, as a move task would skip it.
        Moved messages start afresh: receive count 0, visible now. With
        `message_ids` only those messages move (SQS has no such filter; the
        console redrives one memo at a time); ids not in the DLQ are skipped.
        `attributes_patch` changes the moved messages' attributes as a JSON Merge
        Patch (RFC 7396: a None value removes that attribute); SQS's move task
        cannot, so on SQS this is a receive, a send with the attributes, a delete.
        """
        _check_queue_name(dead_letter_queue)
        if destination is not None:
            _check_queue_name(destination)
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        if isinstance(message_ids, str):
            raise TypeError("message_ids is a collection of ids, not one id")
        now = self._clock()
        sql = """
            UPDATE messages
               SET queue = COALESCE(:destination, source_queue), source_queue = NULL,
                   receive_count = 0, base_receives = 0, first_received_at = NULL,
                   received_at = NULL, receipt = NULL, enqueued_at = :now, visible_at = :now,
                   attributes = CASE WHEN :patch IS NULL THEN attributes ELSE json_patch(attributes, :patch) END
             WHERE seq IN (SELECT seq FROM messages
                            WHERE queue = :dlq AND visible_at <= :now
                              AND (:destination IS NOT NULL OR source_queue IS NOT NULL)
                              AND (:ids IS NULL OR message_id IN (SELECT value FROM json_each(:ids)))
                            ORDER BY seq LIMIT :limit)
        """
        params = {
            "destination": destination,
            "now": now,
            "dlq": dead_letter_queue,
            "limit": -1 if limit is None else limit,
            "ids": None if message_ids is None else orjson.dumps(list(message_ids)).decode(),
            "patch": None if attributes_patch is None else orjson.dumps(dict(attributes_patch)).decode(),
        }
        moved = self._conn().execute(sql, params).rowcount
        if moved:
            self._notify()
        return moved

    def close(self) -> None:
        """Close every connection this broker opened; the file stays as it is."""
        self._closed = True
        self._connections.close()
        self._arrivals.notify()  # let long pollers notice

    # -- internals ----------------------------------------------------------

    def _now(self) -> float:
        return self._clock()

    def _conn(self) -> sqlite3.Connection:
        # A connection per thread, and per process after fork() (see ThreadConnections).
        if self._closed:
            raise QueueError(f"queue broker on {self.path} is closed")
        return self._connections.get()

    def _notify(self) -> None:
        self._arrivals.notify()


class SqliteQueue:
    """One named queue in a `SqliteQueueBroker`; implements `Queue`."""

    def __init__(
        self,
        broker: SqliteQueueBroker,
        name: str,
        *,
        visibility_timeout: float,
        redrive: RedrivePolicy | None,
    ) -> None:
        self.name = name
        self.visibility_timeout = visibility_timeout
        self.redrive = redrive
        self._broker = broker

    def __repr__(self) -> str:
        return f"SqliteQueue({self.name!r}, path={str(self._broker.path)!r})"

    def send(
        self, body: str, *, attributes: Mapping[str, str] | None = None, delay_seconds: float = 0
    ) -> str:
        """Enqueue `body`; it becomes receivable after `delay_seconds` (0..900). Returns the message id."""
        if not isinstance(body, str):
            raise TypeError("body must be str")
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be 0..{MAX_DELAY_SECONDS}")
        attrs = dict(attributes or {})
        if len(attrs) > MAX_ATTRIBUTES:
            raise QueueError(f"a message may carry at most {MAX_ATTRIBUTES} attributes")
        size = len(body.encode())
        for key, value in attrs.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("message attribute names and values must be str")
            size += len(key.encode()) + len(value.encode())
        if size > MAX_MESSAGE_BYTES:
            raise QueueError(f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES} (256 KiB)")
        message_id = str(uuid.uuid4())
        now = self._broker._now()
        self._broker._conn().execute(
            "INSERT INTO messages (queue, message_id, body, attributes, sent_at, enqueued_at, visible_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.name, message_id, body, orjson.dumps(attrs).decode(), now, now, now + delay_seconds),
        )
        if not delay_seconds:
            self._broker._notify()
        return message_id

    def receive(
        self, max_messages: int = 1, *, visibility_timeout: float | None = None, wait_seconds: float = 0
    ) -> list[Message]:
        """Receive up to `max_messages` (1..10) visible messages and hide them for the visibility timeout.

        With `wait_seconds` (0..20) this is SQS long polling: it returns as soon
        as at least one message is available, or empty when the wait is over.
        """
        if not 1 <= max_messages <= MAX_RECEIVE_BATCH:
            raise ValueError(f"max_messages must be 1..{MAX_RECEIVE_BATCH}")
        if visibility_timeout is None:
            visibility_timeout = self.visibility_timeout
        _check_visibility_timeout(visibility_timeout)
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError(f"wait_seconds must be 0..{MAX_WAIT_SECONDS}")
        broker = self._broker
        deadline = time.monotonic() + wait_seconds
        while True:
            generation = broker._arrivals.generation
            messages = self._receive_once(max_messages, visibility_timeout)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return messages
            broker._arrivals.wait(generation, min(remaining, _POLL_INTERVAL))

    def delete(self, receipt_handle: str) -> None:
        """Delete the message last received with `receipt_handle`.

        A stale handle (from an earlier receive of a message received again since)
        does not delete the message and does not raise, as SQS documents for
        DeleteMessage: "If you use an old ReceiptHandle, the request will succeed,
        but the message might not be deleted." Deleting an already deleted
        message succeeds too, so a worker's retry is harmless. Only a handle that
        is not a receipt handle at all raises QueueError (SQS ReceiptHandleIsInvalid).
        """
        seq, token = _parse_receipt(receipt_handle)
        self._broker._conn().execute(
            "DELETE FROM messages WHERE seq = ? AND queue = ? AND receipt = ?", (seq, self.name, token)
        )

    def change_visibility(self, receipt_handle: str, visibility_timeout: float) -> None:
        """Hide an in-flight message for `visibility_timeout` seconds from now (0 releases it now).

        Raises QueueError when the message is not in flight under this handle:
        deleted, already visible again (SQS MessageNotInflight), or received again
        since (a stale handle: extending it would extend someone else's lease), or
        when the new timeout would end more than 12 hours after the receive (SQS
        rejects extending "beyond the maximum").
        """
        _check_visibility_timeout(visibility_timeout)
        seq, token = _parse_receipt(receipt_handle)
        now = self._broker._now()
        conn = self._broker._conn()
        row = conn.execute(
            "UPDATE messages SET visible_at = :until"
            " WHERE seq = :seq AND queue = :queue AND receipt = :token AND visible_at > :now"
            "   AND :until <= received_at + :max"
            " RETURNING seq",
            {
                "until": now + visibility_timeout,
                "seq": seq,
                "queue": self.name,
                "token": token,
                "now": now,
                "max": MAX_VISIBILITY_TIMEOUT,
            },
        ).fetchone()
        if row is not None:
            if visibility_timeout == 0:
                self._broker._notify()
            return
        # Failure path only: find out why, for an error message worth reading.
        current = conn.execute(
            "SELECT receipt, visible_at, received_at FROM messages WHERE seq = ? AND queue = ?",
            (seq, self.name),
        ).fetchone()
        if current is None or current[0] != token:
            raise QueueError("message is not in flight under this receipt handle (deleted or received again)")
        if current[1] <= now:
            raise QueueError("message is not in flight (its visibility timeout has expired)")
        raise QueueError(
            f"visibility timeout may not end more than {MAX_VISIBILITY_TIMEOUT} s after the receive"
        )

    def counts(self) -> QueueCounts:
        """SQS's ApproximateNumberOfMessages{,NotVisible,Delayed} and ApproximateAgeOfOldestMessage.

        The age is over messages in the queue, visible or in flight, not delayed;
        it counts from when the message entered this queue (for a DLQ: when it was
        moved there, as SQS documents) and leaves out poison pills, messages
        received POISON_PILL_RECEIVES times here and still not deleted.
        """
        now = self._broker._now()
        row = self._broker._conn().execute(
            """
            SELECT COALESCE(SUM(visible_at <= :now), 0),
                   COALESCE(SUM(visible_at > :now AND receive_count > 0), 0),
                   COALESCE(SUM(visible_at > :now AND receive_count = 0), 0),
                   MIN(CASE WHEN (visible_at <= :now OR receive_count > 0)
                             AND receive_count - base_receives < :poison
                            THEN enqueued_at END)
              FROM messages WHERE queue = :queue
            """,
            {"now": now, "queue": self.name, "poison": POISON_PILL_RECEIVES},
        ).fetchone()
        oldest = row[3]
        age = max(0.0, now - oldest) if oldest is not None else 0.0
        return QueueCounts(visible=row[0], in_flight=row[1], delayed=row[2], oldest_age_seconds=age)

    def peek(self, limit: int = 100) -> list[Message]:
        """List messages in any state without receiving them (for `dlq list`); receipt_handle is ""."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        rows = self._broker._conn().execute(
            f"SELECT {_RETURNED} FROM messages WHERE queue = ? ORDER BY seq LIMIT ?", (self.name, limit)
        )
        return [_message(row, receipt_handle="") for row in rows]

    def purge(self) -> int:
        """Delete every message in the queue, in flight or not (like PurgeQueue); returns how many."""
        return self._broker._conn().execute("DELETE FROM messages WHERE queue = ?", (self.name,)).rowcount

    # -- internals ----------------------------------------------------------

    def _receive_once(self, max_messages: int, visibility_timeout: float) -> list[Message]:
        now = self._broker._now()
        conn = self._broker._conn()
        head = """SELECT seq FROM messages WHERE queue = :queue AND visible_at <= :now
                  ORDER BY visible_at, seq LIMIT :n"""
        params = {"queue": self.name, "now": now, "n": max_messages}
        # BEGIN IMMEDIATE takes the write lock before reading, so two processes
        # can never select the same visible rows and both hand them out.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self.redrive is not None:
                # SQS moves a message to the DLQ when its ReceiveCount exceeds
                # maxReceiveCount, i.e. instead of delivering it once more. Only
                # messages this receive would deliver (the head) are checked, so
                # a long backlog is not scanned; repeat until the head is clean.
                move = f"""
                    UPDATE messages
                       SET queue = :dlq, source_queue = :queue, enqueued_at = :now, visible_at = :now,
                           base_receives = receive_count, receipt = NULL
                     WHERE seq IN ({head}) AND receive_count >= :max_receives
                """
                move_params = {
                    **params,
                    "dlq": self.redrive.dead_letter_queue,
                    "max_receives": self.redrive.max_receive_count,
                }
                while conn.execute(move, move_params).rowcount:
                    pass
            rows = conn.execute(
                f"""
                UPDATE messages
                   SET visible_at = :until, receive_count = receive_count + 1,
                       first_received_at = COALESCE(first_received_at, :now), received_at = :now,
                       receipt = lower(hex(randomblob(16)))
                 WHERE seq IN ({head})
                RETURNING {_RETURNED}
                """,
                {**params, "until": now + visibility_timeout},
            ).fetchall()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        rows.sort(key=lambda row: row[0])
        return [_message(row, receipt_handle=f"{row[0]}.{row[4]}") for row in rows]


def _message(row: tuple, *, receipt_handle: str) -> Message:
    seq, message_id, body, attributes, _receipt, receive_count, sent_at, first_received_at = row
    return Message(
        message_id=message_id,
        body=body,
        attributes=orjson.loads(attributes),
        receipt_handle=receipt_handle,
        receive_count=receive_count,
        sent_at=sent_at,
        first_received_at=first_received_at,
    )


def _parse_receipt(receipt_handle: str) -> tuple[int, str]:
    """A receipt handle is "<row seq>.<random token of that receive>"."""
    seq, dot, token = receipt_handle.partition(".")
    if not dot or not seq.isdigit() or len(token) != 32:
        raise QueueError(f"not a receipt handle: {receipt_handle!r}")
    return int(seq), token


def _check_queue_name(name: str) -> None:
    if not isinstance(name, str) or not _QUEUE_NAME.match(name):
        raise ValueError(f"queue names are 1-80 characters of A-Z a-z 0-9 - _; got {name!r}")


def _check_visibility_timeout(seconds: float) -> None:
    if not 0 <= seconds <= MAX_VISIBILITY_TIMEOUT:
        raise ValueError(f"visibility_timeout must be 0..{MAX_VISIBILITY_TIMEOUT} seconds")
