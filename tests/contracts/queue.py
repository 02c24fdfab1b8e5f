"""The Queue port's contract: Amazon SQS standard-queue semantics.

Visibility timeout, receive count and fresh receipt handles, delay, batches,
attributes, dead-lettering after maxReceiveCount, the Approximate* counts, peek
and purge: everything a worker relies on, through the port's methods only.

    class TestSqliteQueue(QueueContract):
        @pytest.fixture(autouse=True)
        def _adapter(self, tmp_path): ...      # build the broker, a steppable clock

        def make_queue(self, name="memos", *, visibility_timeout=30, redrive=None): ...
        def advance(self, seconds): ...        # move the adapter's clock forward
        def now(self): ...                     # the adapter's clock, epoch seconds

Time moves only through ``advance`` (whole seconds, as SQS counts them), except
for long polling, which waits in real time for a fraction of a second.
"""

from __future__ import annotations

import threading
import time

import pytest

from whispersync.errors import QueueError
from whispersync.pipeline.queue import (
    MAX_MESSAGE_BYTES,
    Queue,
    QueueCounts,
    RedrivePolicy,
)

EMPTY = QueueCounts(visible=0, in_flight=0, delayed=0, oldest_age_seconds=0)


class QueueContract:
    # -- hooks an adapter's test class provides --------------------------------

    def make_queue(self, name: str = "memos", *, visibility_timeout: float = 30,
                   redrive: RedrivePolicy | None = None) -> Queue:
        raise NotImplementedError

    def advance(self, seconds: float) -> None:
        raise NotImplementedError

    def now(self) -> float:
        raise NotImplementedError

    # -- the port ----------------------------------------------------------------

    def test_the_adapter_has_every_method_of_the_port(self):
        """typing.Protocol is not checked at runtime, so check the surface here."""
        queue = self.make_queue("memos")
        for name in ("send", "receive", "delete", "change_visibility", "counts", "peek", "purge"):
            assert callable(getattr(queue, name)), name
        assert queue.name == "memos"

    # -- send --------------------------------------------------------------------

    def test_send_delivers_the_body_and_attributes_under_the_returned_id(self):
        """What was sent is what is received, with its id and send time."""
        queue = self.make_queue()
        message_id = queue.send("hello", attributes={"correlationId": "c-1", "traceparent": "00-ab-cd-01"})
        [m] = queue.receive()
        assert m.message_id == message_id
        assert m.body == "hello"
        assert m.attributes == {"correlationId": "c-1", "traceparent": "00-ab-cd-01"}
        assert m.sent_at == self.now()
        assert m.first_received_at == self.now()

    def test_send_hides_a_delayed_message_until_its_delay_has_passed(self):
        """A delayed message counts as delayed and cannot be received before it is due."""
        queue = self.make_queue()
        queue.send("later", delay_seconds=60)
        assert queue.counts() == QueueCounts(visible=0, in_flight=0, delayed=1, oldest_age_seconds=0)
        assert queue.receive() == []
        self.advance(59)
        assert queue.receive() == []
        self.advance(1)
        assert [m.body for m in queue.receive()] == ["later"]

    @pytest.mark.parametrize("delay", [-1, 900.5])
    def test_send_rejects_a_delay_outside_0_to_900_seconds(self, delay):
        """A delay SQS would refuse is misuse of the API."""
        with pytest.raises(ValueError):
            self.make_queue().send("x", delay_seconds=delay)

    def test_send_accepts_256_kib_and_refuses_a_byte_more(self):
        """The size limit is 256 KiB of UTF-8, attributes included."""
        queue = self.make_queue()
        queue.send("a" * MAX_MESSAGE_BYTES)
        with pytest.raises(QueueError):
            queue.send("a" * (MAX_MESSAGE_BYTES + 1))
        with pytest.raises(QueueError):
            queue.send("a" * (MAX_MESSAGE_BYTES - 3), attributes={"k": "vvv"})
        with pytest.raises(QueueError):
            queue.send("é" * (MAX_MESSAGE_BYTES // 2 + 1))  # 2 bytes each
        assert queue.counts().visible == 1

    def test_send_refuses_more_than_ten_attributes(self):
        """SQS allows ten message attributes."""
        with pytest.raises(QueueError):
            self.make_queue().send("x", attributes={f"a{i}": "v" for i in range(11)})

    # -- receive -----------------------------------------------------------------

    def test_receive_takes_at_most_max_messages(self):
        """A batch holds up to max_messages, and the rest stay visible."""
        queue = self.make_queue()
        for i in range(15):
            queue.send(str(i))
        batch = queue.receive(10)
        assert len(batch) == 10
        assert len({m.message_id for m in batch}) == 10
        assert queue.counts().visible == 5

    @pytest.mark.parametrize("n", [0, 11])
    def test_receive_rejects_max_messages_outside_1_to_10(self, n):
        """max_messages is 1..10, as in ReceiveMessage."""
        with pytest.raises(ValueError):
            self.make_queue().receive(n)

    @pytest.mark.parametrize("kwargs", [{"visibility_timeout": -1}, {"visibility_timeout": 43_201},
                                        {"wait_seconds": 21}])
    def test_receive_rejects_timeouts_out_of_range(self, kwargs):
        """Visibility 0..43200 s and wait 0..20 s, as in ReceiveMessage."""
        with pytest.raises(ValueError):
            self.make_queue().receive(**kwargs)

    def test_receive_hides_a_message_until_the_visibility_timeout(self):
        """A received message is invisible for the queue's timeout, then comes back."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        assert len(queue.receive()) == 1
        self.advance(29)
        assert queue.receive() == []
        self.advance(1)
        assert len(queue.receive()) == 1

    def test_a_per_call_visibility_timeout_overrides_the_queue_default(self):
        """visibility_timeout on receive wins over the queue's."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        queue.receive(visibility_timeout=5)
        self.advance(5)
        assert len(queue.receive()) == 1

    def test_receive_counts_receives_and_issues_a_fresh_receipt_handle_each_time(self):
        """receive_count grows per receive; the handle changes; first_received_at stays."""
        queue = self.make_queue()
        queue.send("x")
        first = queue.receive(visibility_timeout=0)[0]
        self.advance(1)
        second = queue.receive()[0]
        assert (first.receive_count, second.receive_count) == (1, 2)
        assert first.receipt_handle != second.receipt_handle
        assert second.first_received_at == first.first_received_at == self.now() - 1

    def test_queues_do_not_see_each_others_messages(self):
        """Names separate queues."""
        self.make_queue("a").send("for a")
        assert self.make_queue("b").receive() == []
        assert [m.body for m in self.make_queue("a").receive()] == ["for a"]

    def test_a_long_poll_returns_as_soon_as_a_message_is_sent(self):
        """A waiting receiver is woken by the send, not by the wait's end."""
        queue = self.make_queue()
        timer = threading.Timer(0.2, queue.send, args=("wake",))
        timer.start()
        started = time.monotonic()
        messages = queue.receive(wait_seconds=5)
        timer.join()
        assert [m.body for m in messages] == ["wake"]
        assert time.monotonic() - started < 1.5

    def test_a_long_poll_returns_empty_when_the_wait_is_over(self):
        """Nothing arrives: it waits the full wait_seconds and returns []."""
        queue = self.make_queue()
        started = time.monotonic()
        assert queue.receive(wait_seconds=0.3) == []
        assert 0.3 <= time.monotonic() - started < 1.5

    # -- delete ------------------------------------------------------------------

    def test_delete_with_the_latest_receipt_handle_removes_the_message(self):
        """Deleted messages never come back."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        [m] = queue.receive()
        queue.delete(m.receipt_handle)
        self.advance(31)
        assert queue.receive() == []
        assert queue.counts() == EMPTY

    def test_a_stale_receipt_handle_does_not_delete_and_does_not_raise(self):
        """As SQS documents: an old handle 'succeeds, but the message might not be deleted'."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        old = queue.receive()[0]
        self.advance(30)
        new = queue.receive()[0]
        queue.delete(old.receipt_handle)
        assert queue.counts().in_flight == 1
        queue.delete(new.receipt_handle)
        assert queue.counts().in_flight == 0

    def test_the_latest_handle_still_deletes_after_the_timeout_expired(self):
        """Until someone receives it again, the handle is the latest one."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        [m] = queue.receive()
        self.advance(60)
        queue.delete(m.receipt_handle)
        assert queue.receive() == []

    def test_deleting_twice_is_harmless(self):
        """A worker's retried delete succeeds."""
        queue = self.make_queue()
        queue.send("x")
        [m] = queue.receive()
        queue.delete(m.receipt_handle)
        queue.delete(m.receipt_handle)
        assert queue.counts() == EMPTY

    @pytest.mark.parametrize("handle", ["", "nonsense", "12.short", "x.0123456789abcdef0123456789abcdef"])
    def test_delete_rejects_something_that_is_not_a_receipt_handle(self, handle):
        """Like SQS ReceiptHandleIsInvalid."""
        with pytest.raises(QueueError):
            self.make_queue().delete(handle)

    # -- change_visibility -------------------------------------------------------

    def test_change_visibility_extends_the_timeout_from_now(self):
        """The new timeout counts from the call, not from the receive."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        [m] = queue.receive()
        self.advance(20)
        queue.change_visibility(m.receipt_handle, 60)
        self.advance(59)
        assert queue.receive() == []
        self.advance(1)
        assert len(queue.receive()) == 1

    def test_change_visibility_shortens_the_timeout(self):
        """A shorter timeout brings the message back sooner."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        [m] = queue.receive()
        queue.change_visibility(m.receipt_handle, 5)
        self.advance(5)
        assert len(queue.receive()) == 1

    def test_change_visibility_to_zero_releases_the_message_now(self):
        """Visibility 0 makes it receivable immediately (a worker giving up on it)."""
        queue = self.make_queue()
        queue.send("x")
        [m] = queue.receive()
        queue.change_visibility(m.receipt_handle, 0)
        assert queue.counts().visible == 1
        assert queue.receive()[0].receive_count == 2

    def test_change_visibility_refuses_a_message_whose_timeout_has_expired(self):
        """Not in flight any more: SQS's MessageNotInflight."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        [m] = queue.receive()
        self.advance(30)
        with pytest.raises(QueueError, match="not in flight"):
            queue.change_visibility(m.receipt_handle, 10)

    def test_change_visibility_refuses_a_deleted_message_and_a_stale_handle(self):
        """Only the latest receiver may move the lease of a message in flight."""
        queue = self.make_queue(visibility_timeout=30)
        queue.send("x")
        old = queue.receive()[0]
        self.advance(30)
        new = queue.receive()[0]
        with pytest.raises(QueueError):
            queue.change_visibility(old.receipt_handle, 100)
        queue.delete(new.receipt_handle)
        with pytest.raises(QueueError):
            queue.change_visibility(new.receipt_handle, 100)

    def test_change_visibility_refuses_to_hide_a_message_beyond_12_hours_after_its_receive(self):
        """SQS rejects extending beyond the 12-hour maximum."""
        queue = self.make_queue()
        queue.send("x")
        [m] = queue.receive()
        self.advance(20)
        queue.change_visibility(m.receipt_handle, 43_200 - 20)
        with pytest.raises(QueueError, match="43200"):
            queue.change_visibility(m.receipt_handle, 43_200 - 19)
        with pytest.raises(ValueError):
            queue.change_visibility(m.receipt_handle, -1)

    # -- dead letters ------------------------------------------------------------

    def _source(self):
        return self.make_queue("memos", visibility_timeout=10, redrive=RedrivePolicy("memos-dlq", 2))

    def test_a_message_whose_receive_count_would_exceed_max_receive_count_moves_to_the_dlq(self):
        """Received maxReceiveCount times; the next receive moves it to the DLQ instead."""
        source = self._source()
        source.send("poison", attributes={"correlationId": "c-9"})
        for expected in (1, 2):
            assert source.receive()[0].receive_count == expected
            self.advance(10)
        assert source.receive() == []
        dlq = self.make_queue("memos-dlq")
        assert dlq.counts().visible == 1
        [m] = dlq.receive()
        assert (m.body, m.attributes) == ("poison", {"correlationId": "c-9"})
        assert source.counts() == EMPTY

    def test_healthy_messages_are_delivered_in_the_receive_that_dead_letters_the_head(self):
        """Dead-lettering the head of the queue does not starve the messages behind it."""
        source = self._source()
        source.send("poison")
        for _ in range(2):
            source.receive()
            self.advance(10)
        source.send("fine")
        assert [m.body for m in source.receive(10)] == ["fine"]
        assert self.make_queue("memos-dlq").counts().visible == 1

    def test_the_dlq_age_counts_from_when_the_message_was_moved(self):
        """ApproximateAgeOfOldestMessage of a DLQ is the time since the move, as SQS documents."""
        source = self._source()
        source.send("poison")
        for _ in range(2):
            source.receive()
            self.advance(10)
        source.receive()  # moves it
        self.advance(7)
        assert self.make_queue("memos-dlq").counts().oldest_age_seconds == 7

    # -- counts ------------------------------------------------------------------

    def test_counts_tell_visible_in_flight_and_delayed(self):
        """The three ApproximateNumberOfMessages* attributes."""
        queue = self.make_queue()
        for _ in range(3):
            queue.send("v")
        queue.send("d", delay_seconds=10)
        queue.receive(2)
        counts = queue.counts()
        assert (counts.visible, counts.in_flight, counts.delayed) == (1, 2, 1)

    def test_oldest_age_covers_visible_and_in_flight_messages_but_not_delayed(self):
        """Age of the oldest non-deleted message; delayed ones are not yet in play."""
        queue = self.make_queue()
        assert queue.counts().oldest_age_seconds == 0
        queue.send("d", delay_seconds=900)
        self.advance(100)
        assert queue.counts().oldest_age_seconds == 0
        queue.send("first")
        self.advance(5)
        queue.send("second")
        queue.receive()  # "first" is now in flight
        self.advance(2)
        assert queue.counts().oldest_age_seconds == 7

    def test_a_poison_pill_is_left_out_of_the_age(self):
        """SQS excludes a message received three times and not deleted from the age metric."""
        queue = self.make_queue()
        queue.send("poison")
        self.advance(10)
        queue.send("young")
        for _ in range(3):
            queue.receive(visibility_timeout=0)  # "poison" is the head each time
        self.advance(1)
        assert queue.counts().oldest_age_seconds == 1

    # -- peek and purge ----------------------------------------------------------

    def test_peek_lists_messages_in_any_state_without_receiving_them(self):
        """For `dlq list`: nothing changes, and there is no receipt handle."""
        queue = self.make_queue()
        queue.send("a", attributes={"correlationId": "c"})
        queue.send("b", delay_seconds=60)
        queue.receive()
        peeked = queue.peek()
        assert [(m.body, m.receive_count, m.receipt_handle) for m in peeked] == [("a", 1, ""), ("b", 0, "")]
        assert peeked[0].attributes == {"correlationId": "c"}
        assert queue.counts().in_flight == 1
        assert len(queue.peek(limit=1)) == 1

    def test_purge_deletes_every_message_including_those_in_flight(self):
        """Like PurgeQueue; other queues are untouched."""
        queue = self.make_queue("memos")
        self.make_queue("other").send("keep")
        for _ in range(3):
            queue.send("x")
        queue.receive()
        assert queue.purge() == 3
        assert queue.counts() == EMPTY
        assert self.make_queue("other").counts().visible == 1

    # -- concurrency -------------------------------------------------------------

    def test_threads_sharing_a_queue_handle_each_message_once(self):
        """send + receive + delete from many threads: each message handled exactly once."""
        queue = self.make_queue(visibility_timeout=30)
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
        assert queue.counts() == EMPTY
