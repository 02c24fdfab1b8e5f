"""The SQLite queue honours SQS standard-queue semantics, across threads and processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from whispersync.errors import QueueError
from whispersync.pipeline.queue import (
    MAX_MESSAGE_BYTES,
    Queue,
    QueueCounts,
    RedrivePolicy,
    SqliteQueueBroker,
)


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


@pytest.fixture
def broker(db: Path, clock: FakeClock):
    b = SqliteQueueBroker(db, clock=clock)
    yield b
    b.close()


@pytest.fixture
def queue(broker: SqliteQueueBroker):
    return broker.queue("memos", visibility_timeout=30)


class TestSend:
    def test_it_delivers_the_body_and_attributes_under_the_returned_id(self, queue, clock):
        """What was sent is what is received, with its id and send time."""
        message_id = queue.send("hello", attributes={"correlationId": "c-1", "traceparent": "00-ab-cd-01"})
        [m] = queue.receive()
        assert m.message_id == message_id
        assert m.body == "hello"
        assert m.attributes == {"correlationId": "c-1", "traceparent": "00-ab-cd-01"}
        assert m.sent_at == clock.now
        assert m.first_received_at == clock.now

    def test_it_hides_a_delayed_message_until_its_delay_has_passed(self, queue, clock):
        """A delayed message counts as delayed and cannot be received before it is due."""
        queue.send("later", delay_seconds=60)
        assert queue.counts() == QueueCounts(visible=0, in_flight=0, delayed=1, oldest_age_seconds=0)
        assert queue.receive() == []
        clock.advance(59.9)
        assert queue.receive() == []
        clock.advance(0.1)
        assert [m.body for m in queue.receive()] == ["later"]

    @pytest.mark.parametrize("delay", [-1, 900.5])
    def test_it_rejects_a_delay_outside_0_to_900_seconds(self, queue, delay):
        """A delay SQS would refuse is misuse of the API."""
        with pytest.raises(ValueError):
            queue.send("x", delay_seconds=delay)

    def test_it_accepts_256_kib_and_refuses_a_byte_more(self, queue):
        """The size limit is 256 KiB of UTF-8, attributes included."""
        queue.send("a" * MAX_MESSAGE_BYTES)
        with pytest.raises(QueueError):
            queue.send("a" * (MAX_MESSAGE_BYTES + 1))
        with pytest.raises(QueueError):
            queue.send("a" * (MAX_MESSAGE_BYTES - 3), attributes={"k": "vvv"})
        with pytest.raises(QueueError):
            queue.send("é" * (MAX_MESSAGE_BYTES // 2 + 1))  # 2 bytes each
        assert queue.counts().visible == 1

    def test_it_refuses_more_than_ten_attributes(self, queue):
        """SQS allows ten message attributes."""
        with pytest.raises(QueueError):
            queue.send("x", attributes={f"a{i}": "v" for i in range(11)})


class TestReceive:
    def test_it_receives_at_most_max_messages(self, queue):
        """A batch holds up to max_messages, and the rest stay visible."""
        for i in range(15):
            queue.send(str(i))
        batch = queue.receive(10)
        assert len(batch) == 10
        assert len({m.message_id for m in batch}) == 10
        assert queue.counts().visible == 5

    @pytest.mark.parametrize("n", [0, 11])
    def test_it_rejects_max_messages_outside_1_to_10(self, queue, n):
        """max_messages is 1..10, as in ReceiveMessage."""
        with pytest.raises(ValueError):
            queue.receive(n)

    @pytest.mark.parametrize("kwargs", [{"visibility_timeout": -1}, {"visibility_timeout": 43_201}, {"wait_seconds": 21}])
    def test_it_rejects_timeouts_out_of_range(self, queue, kwargs):
        """Visibility 0..43200 s and wait 0..20 s, as in ReceiveMessage."""
        with pytest.raises(ValueError):
            queue.receive(**kwargs)

    def test_it_hides_a_received_message_until_the_visibility_timeout(self, queue, clock):
        """A received message is invisible for the queue's timeout, then comes back."""
        queue.send("x")
        assert len(queue.receive()) == 1
        clock.advance(29.9)
        assert queue.receive() == []
        clock.advance(0.1)
        assert len(queue.receive()) == 1

    def test_a_per_call_visibility_timeout_overrides_the_queue_default(self, queue, clock):
        """visibility_timeout on receive wins over the queue's."""
        queue.send("x")
        queue.receive(visibility_timeout=5)
        clock.advance(5)
        assert len(queue.receive()) == 1

    def test_it_counts_receives_and_issues_a_fresh_receipt_handle_each_time(self, queue, clock):
        """receive_count grows per receive; the handle changes; first_received_at stays."""
        queue.send("x")
        first = queue.receive(visibility_timeout=0)[0]
        clock.advance(1)
        second = queue.receive()[0]
        assert (first.receive_count, second.receive_count) == (1, 2)
        assert first.receipt_handle != second.receipt_handle
        assert second.first_received_at == first.first_received_at == clock.now - 1

    def test_queues_in_one_file_do_not_see_each_others_messages(self, broker):
        """Names separate queues."""
        broker.queue("a").send("for a")
        assert broker.queue("b").receive() == []
        assert [m.body for m in broker.queue("a").receive()] == ["for a"]

    def test_a_long_poll_returns_as_soon_as_a_message_is_sent_in_this_process(self, queue):
        """A waiting receiver is woken by the send, not by its poll interval or the wait's end."""
        threading.Timer(0.2, queue.send, args=("wake",)).start()
        started = time.monotonic()
        messages = queue.receive(wait_seconds=5)
        assert [m.body for m in messages] == ["wake"]
        assert time.monotonic() - started < 1.5

    def test_a_long_poll_sees_a_message_sent_through_another_broker(self, db, queue, clock):
        """Another broker on the same file in this process wakes the waiter too."""
        other = SqliteQueueBroker(db, clock=clock)
        try:
            threading.Timer(0.2, lambda: other.queue("memos").send("from afar")).start()
            started = time.monotonic()
            messages = queue.receive(wait_seconds=5)
            assert [m.body for m in messages] == ["from afar"]
            assert time.monotonic() - started < 1.5
        finally:
            time.sleep(0.01)
            other.close()

    def test_a_long_poll_sees_a_message_sent_by_another_process(self, db):
        """Across processes nobody can notify us: the receiver polls the file."""
        broker = SqliteQueueBroker(db)
        queue = broker.queue("memos")
        process = multiprocessing.get_context("fork").Process(target=_send_later, args=(db, 0.2))
        started = time.monotonic()
        process.start()
        messages = queue.receive(wait_seconds=5)
        process.join(5)
        broker.close()
        assert [m.body for m in messages] == ["from another process"]
        assert 0.2 <= time.monotonic() - started < 1.5

    def test_a_long_poll_returns_empty_when_the_wait_is_over(self, queue):
        """Nothing arrives: it waits the full wait_seconds and returns []."""
        started = time.monotonic()
        assert queue.receive(wait_seconds=0.3) == []
        assert 0.3 <= time.monotonic() - started < 1.5


class TestDelete:
    def test_it_deletes_with_the_latest_receipt_handle(self, queue, clock):
        """Deleted messages never come back."""
        queue.send("x")
        [m] = queue.receive()
        queue.delete(m.receipt_handle)
        clock.advance(31)
        assert queue.receive() == []
        assert queue.counts() == QueueCounts(0, 0, 0, 0)

    def test_a_stale_receipt_handle_does_not_delete_and_does_not_raise(self, queue, clock):
        """As SQS documents: an old handle 'succeeds, but the message might not be deleted'."""
        queue.send("x")
        old = queue.receive()[0]
        clock.advance(30)
        new = queue.receive()[0]
        queue.delete(old.receipt_handle)
        assert queue.counts().in_flight == 1
        queue.delete(new.receipt_handle)
        assert queue.counts().in_flight == 0

    def test_the_latest_handle_still_deletes_after_the_timeout_expired(self, queue, clock):
        """Until someone receives it again, the handle is the latest one."""
        queue.send("x")
        [m] = queue.receive()
        clock.advance(60)
        queue.delete(m.receipt_handle)
        assert queue.receive() == []

    def test_deleting_twice_is_harmless(self, queue):
        """A worker's retried delete succeeds."""
        queue.send("x")
        [m] = queue.receive()
        queue.delete(m.receipt_handle)
        queue.delete(m.receipt_handle)

    @pytest.mark.parametrize("handle", ["", "nonsense", "12.short", "x.0123456789abcdef0123456789abcdef"])
    def test_it_rejects_something_that_is_not_a_receipt_handle(self, queue, handle):
        """Like SQS ReceiptHandleIsInvalid."""
        with pytest.raises(QueueError):
            queue.delete(handle)


class TestChangeVisibility:
    def test_it_extends_the_visibility_timeout_from_now(self, queue, clock):
        """The new timeout counts from the call, not from the receive."""
        queue.send("x")
        [m] = queue.receive()
        clock.advance(20)
        queue.change_visibility(m.receipt_handle, 60)
        clock.advance(59)
        assert queue.receive() == []
        clock.advance(1)
        assert len(queue.receive()) == 1

    def test_it_shortens_the_visibility_timeout(self, queue, clock):
        """A shorter timeout brings the message back sooner."""
        queue.send("x")
        [m] = queue.receive()
        queue.change_visibility(m.receipt_handle, 5)
        clock.advance(5)
        assert len(queue.receive()) == 1

    def test_zero_releases_the_message_now(self, queue):
        """Visibility 0 makes it receivable immediately (a worker giving up on it)."""
        queue.send("x")
        [m] = queue.receive()
        queue.change_visibility(m.receipt_handle, 0)
        assert queue.counts().visible == 1
        assert queue.receive()[0].receive_count == 2

    def test_it_refuses_a_message_whose_timeout_has_expired(self, queue, clock):
        """Not in flight any more: SQS's MessageNotInflight."""
        queue.send("x")
        [m] = queue.receive()
        clock.advance(30)
        with pytest.raises(QueueError, match="not in flight"):
            queue.change_visibility(m.receipt_handle, 10)

    def test_it_refuses_a_deleted_message_and_a_stale_handle(self, queue, clock):
        """Only the latest receiver may move the lease of a message in flight."""
        queue.send("x")
        old = queue.receive()[0]
        clock.advance(30)
        new = queue.receive()[0]
        with pytest.raises(QueueError):
            queue.change_visibility(old.receipt_handle, 100)
        queue.delete(new.receipt_handle)
        with pytest.raises(QueueError):
            queue.change_visibility(new.receipt_handle, 100)

    def test_it_refuses_to_hide_a_message_beyond_12_hours_after_its_receive(self, queue, clock):
        """SQS rejects extending beyond the 12-hour maximum."""
        queue.send("x")
        [m] = queue.receive()
        clock.advance(20)
        queue.change_visibility(m.receipt_handle, 43_200 - 20)
        with pytest.raises(QueueError, match="43200"):
            queue.change_visibility(m.receipt_handle, 43_200 - 19)
        with pytest.raises(ValueError):
            queue.change_visibility(m.receipt_handle, -1)


class TestDeadLetters:
    @pytest.fixture
    def source(self, broker):
        return broker.queue("memos", visibility_timeout=10, redrive=RedrivePolicy("memos-dlq", 2))

    def test_it_moves_a_message_whose_receive_count_would_exceed_max_receive_count(self, broker, source, clock):
        """Received maxReceiveCount times; the next receive moves it to the DLQ instead."""
        source.send("poison", attributes={"correlationId": "c-9"})
        for expected in (1, 2):
            assert source.receive()[0].receive_count == expected
            clock.advance(10)
        assert source.receive() == []
        dlq = broker.queue("memos-dlq")
        assert dlq.counts().visible == 1
        [m] = dlq.receive()
        assert (m.body, m.attributes) == ("poison", {"correlationId": "c-9"})
        assert source.counts() == QueueCounts(0, 0, 0, 0)

    def test_healthy_messages_are_delivered_in_the_same_receive(self, broker, source, clock):
        """Dead-lettering the head of the queue does not starve the messages behind it."""
        source.send("poison")
        for _ in range(2):
            source.receive()
            clock.advance(10)
        source.send("fine")
        assert [m.body for m in source.receive(10)] == ["fine"]
        assert broker.queue("memos-dlq").counts().visible == 1

    def test_the_dlq_age_counts_from_when_the_message_was_moved(self, broker, source, clock):
        """ApproximateAgeOfOldestMessage of a DLQ is the time since the move, as SQS documents."""
        source.send("poison")
        for _ in range(2):
            source.receive()
            clock.advance(10)
        source.receive()  # moves it
        clock.advance(7)
        assert broker.queue("memos-dlq").counts().oldest_age_seconds == 7

    def test_redrive_moves_messages_back_to_their_source_with_receive_count_reset(self, broker, source, clock):
        """Like StartMessageMoveTask without a destination."""
        source.send("poison", attributes={"k": "v"})
        for _ in range(3):
            source.receive()
            clock.advance(10)
        assert broker.redrive("memos-dlq") == 1
        assert broker.queue("memos-dlq").counts().visible == 0
        [m] = source.receive()
        assert (m.body, m.attributes, m.receive_count) == ("poison", {"k": "v"}, 1)

    def test_redrive_to_a_destination_honours_the_limit(self, broker):
        """A destination overrides the source; limit caps how many move."""
        dlq = broker.queue("dlq")
        for i in range(3):
            dlq.send(str(i))  # sent straight to the DLQ: no source queue
        assert broker.redrive("dlq") == 0  # nowhere to go back to
        assert broker.redrive("dlq", destination="retry", limit=2) == 2
        assert [m.body for m in broker.queue("retry").receive(10)] == ["0", "1"]
        assert dlq.counts().visible == 1

    def test_redrive_leaves_messages_in_flight_in_the_dlq(self, broker):
        """A message someone is inspecting is not moved under them."""
        dlq = broker.queue("dlq")
        dlq.send("x")
        dlq.receive()
        assert broker.redrive("dlq", destination="retry") == 0

    @pytest.mark.parametrize("count", [0, 1001])
    def test_a_redrive_policy_needs_max_receive_count_1_to_1000(self, count):
        """maxReceiveCount is 1..1000 on SQS."""
        with pytest.raises(ValueError):
            RedrivePolicy("dlq", count)

    def test_a_queue_cannot_be_its_own_dlq(self, broker):
        with pytest.raises(ValueError):
            broker.queue("memos", redrive=RedrivePolicy("memos", 3))


class TestCounts:
    def test_it_counts_visible_in_flight_and_delayed(self, queue):
        """The three ApproximateNumberOfMessages* attributes."""
        for _ in range(3):
            queue.send("v")
        queue.send("d", delay_seconds=10)
        queue.receive(2)
        counts = queue.counts()
        assert (counts.visible, counts.in_flight, counts.delayed) == (1, 2, 1)

    def test_oldest_age_covers_visible_and_in_flight_messages_but_not_delayed(self, queue, clock):
        """Age of the oldest non-deleted message; delayed ones are not yet in play."""
        assert queue.counts().oldest_age_seconds == 0
        queue.send("d", delay_seconds=900)
        clock.advance(100)
        assert queue.counts().oldest_age_seconds == 0
        queue.send("first")
        clock.advance(5)
        queue.send("second")
        queue.receive()  # "first" is now in flight
        clock.advance(2)
        assert queue.counts().oldest_age_seconds == 7

    def test_a_poison_pill_is_left_out_of_the_age(self, queue, clock):
        """SQS excludes a message received three times and not deleted from the age metric."""
        queue.send("poison")
        clock.advance(10)
        queue.send("young")
        for _ in range(3):
            queue.receive(visibility_timeout=0)  # "poison" is the head each time
        clock.advance(1)
        assert queue.counts().oldest_age_seconds == 1


class TestPeekAndPurge:
    def test_peek_lists_messages_in_any_state_without_receiving_them(self, queue):
        """For `dlq list`: nothing changes, and there is no receipt handle."""
        queue.send("a", attributes={"correlationId": "c"})
        queue.send("b", delay_seconds=60)
        queue.receive()
        peeked = queue.peek()
        assert [(m.body, m.receive_count, m.receipt_handle) for m in peeked] == [("a", 1, ""), ("b", 0, "")]
        assert peeked[0].attributes == {"correlationId": "c"}
        assert queue.counts().in_flight == 1
        assert len(queue.peek(limit=1)) == 1

    def test_purge_deletes_every_message_including_those_in_flight(self, broker, queue):
        """Like PurgeQueue; other queues are untouched."""
        broker.queue("other").send("keep")
        for _ in range(3):
            queue.send("x")
        queue.receive()
        assert queue.purge() == 3
        assert queue.counts() == QueueCounts(0, 0, 0, 0)
        assert broker.queue("other").counts().visible == 1


class TestDurability:
    def test_it_keeps_the_file_in_wal_mode(self, broker, db):
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_an_in_flight_message_survives_the_connection_being_dropped(self, db, clock):
        """A receiver that disappears mid-flight loses nothing: the message comes back after its timeout."""
        first = SqliteQueueBroker(db, clock=clock)
        first.queue("memos").send("x", attributes={"k": "v"})
        [m] = first.queue("memos").receive(visibility_timeout=30)
        first.close()

        reopened = SqliteQueueBroker(db, clock=clock)
        queue = reopened.queue("memos")
        assert queue.counts().in_flight == 1
        assert queue.receive() == []
        clock.advance(30)
        [again] = queue.receive()
        assert (again.message_id, again.attributes, again.receive_count) == (m.message_id, {"k": "v"}, 2)
        reopened.close()

    def test_a_process_killed_with_sigkill_loses_nothing(self, db):
        """kill -9 after sends and receives: every message is still there, in flight ones reappear."""
        process = multiprocessing.get_context("fork").Process(target=_send_receive_then_die, args=(db,))
        process.start()
        process.join(10)
        assert process.exitcode == -signal.SIGKILL

        later = SqliteQueueBroker(db, clock=lambda: time.time() + 61)
        try:
            current = SqliteQueueBroker(db)
            now = current.queue("memos").counts()
            current.close()
            assert (now.visible, now.in_flight) == (45, 5)
            queue = later.queue("memos")
            bodies = {m.body for _ in range(5) for m in queue.receive(10)}
            assert bodies == {str(i) for i in range(50)}
        finally:
            later.close()

    def test_closed_broker_refuses_operations(self, broker, queue):
        broker.close()
        with pytest.raises(QueueError):
            queue.send("x")


class TestConcurrency:
    def test_two_processes_never_receive_the_same_message(self, db, tmp_path):
        """BEGIN IMMEDIATE serialises receives: each message goes to exactly one process."""
        broker = SqliteQueueBroker(db)
        queue = broker.queue("memos")
        sent = {queue.send(str(i)) for i in range(400)}
        ctx = multiprocessing.get_context("fork")
        start = ctx.Event()
        workers = [ctx.Process(target=_receive_all, args=(db, tmp_path / f"got-{i}.json", start)) for i in range(2)]
        for w in workers:
            w.start()
        start.set()
        for w in workers:
            w.join(20)
            assert w.exitcode == 0
        got = [json.loads((tmp_path / f"got-{i}.json").read_text()) for i in range(2)]
        assert all(got), "both processes should have received some messages"
        assert len(got[0]) + len(got[1]) == len(sent)
        assert set(got[0]) | set(got[1]) == sent
        broker.close()

    def test_threads_sharing_a_broker_process_each_message_once(self, queue):
        """send + receive + delete from many threads: each message handled exactly once."""
        for i in range(200):
            queue.send(str(i))
        seen: list[str] = []
        lock = threading.Lock()

        def work() -> None:
            while batch := queue.receive(10):
                for m in batch:
                    queue.delete(m.receipt_handle)
                with lock:
                    seen.extend(m.body for m in batch)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(seen, key=int) == [str(i) for i in range(200)]
        assert queue.counts() == QueueCounts(0, 0, 0, 0)


def test_sqlite_queue_has_every_method_of_the_queue_port(queue):
    """The adapter implements the whole port (typing.Protocol is not checked at runtime)."""
    for name in ("send", "receive", "delete", "change_visibility", "counts", "peek", "purge"):
        assert callable(getattr(queue, name)), name
    port: Queue = queue
    assert port.name == "memos"


# -- run in child processes (fork) ----------------------------------------------------


def _send_receive_then_die(db: Path) -> None:
    queue = SqliteQueueBroker(db).queue("memos", visibility_timeout=60)
    for i in range(50):
        queue.send(str(i))
    queue.receive(5)
    os.kill(os.getpid(), signal.SIGKILL)


def _send_later(db: Path, seconds: float) -> None:
    try:
        time.sleep(seconds)
        SqliteQueueBroker(db).queue("memos").send("from another process")
    finally:
        os._exit(0)


def _receive_all(db: Path, out: Path, start) -> None:
    code = 1
    try:
        start.wait(5)
        queue = SqliteQueueBroker(db).queue("memos", visibility_timeout=300)
        got: list[str] = []
        while batch := queue.receive(3):
            got.extend(m.message_id for m in batch)  # never deleted: a double delivery would show
        out.write_text(json.dumps(got))
        code = 0
    finally:
        os._exit(code)
