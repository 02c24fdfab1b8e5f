"""The SQLite queue honours SQS standard-queue semantics, across threads and processes.

The port's semantics are the shared contract (tests/contracts/queue.py), run here by
TestSqliteQueue; this file adds what is particular to SQLite: several brokers on one
file, other processes, StartMessageMoveTask-style redrive, WAL and kill -9.
"""

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
from contracts.queue import QueueContract

from whispersync.errors import QueueError
from whispersync.pipeline.queue import RedrivePolicy, SqliteQueueBroker


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


class TestSqliteQueue(QueueContract):
    @pytest.fixture(autouse=True)
    def _adapter(self, broker: SqliteQueueBroker, clock: FakeClock) -> None:
        self.broker, self.clock = broker, clock

    def make_queue(self, name="memos", *, visibility_timeout=30, redrive=None):
        return self.broker.queue(name, visibility_timeout=visibility_timeout, redrive=redrive)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock.now


class TestLongPollAcrossBrokers:
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


class TestRedrive:
    @pytest.fixture
    def source(self, broker):
        return broker.queue("memos", visibility_timeout=10, redrive=RedrivePolicy("memos-dlq", 2))

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

    def test_redrive_moves_only_the_chosen_messages(self, broker):
        """message_ids picks which messages move; an id not in the DLQ is skipped."""
        dlq = broker.queue("dlq")
        ids = [dlq.send(str(i)) for i in range(3)]
        assert broker.redrive("dlq", destination="retry", message_ids=[ids[2], ids[0], "no-such-id"]) == 2
        assert sorted(m.body for m in broker.queue("retry").receive(10)) == ["0", "2"]
        assert [m.message_id for m in dlq.peek()] == [ids[1]]
        assert broker.redrive("dlq", destination="retry", message_ids=[]) == 0

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
        # Each takes a first batch, then both drain at once: on a busy machine one process
        # could otherwise take all 400 before the other starts, and nothing would be tested.
        first_batch = ctx.Barrier(2, timeout=15)
        workers = [ctx.Process(target=_receive_all, args=(db, tmp_path / f"got-{i}.json", first_batch))
                   for i in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(20)
            assert w.exitcode == 0
        got = [json.loads((tmp_path / f"got-{i}.json").read_text()) for i in range(2)]
        assert all(got), "both processes should have received some messages"
        assert len(got[0]) + len(got[1]) == len(sent)
        assert set(got[0]) | set(got[1]) == sent
        broker.close()


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


def _receive_all(db: Path, out: Path, first_batch) -> None:
    code = 1
    try:
        queue = SqliteQueueBroker(db).queue("memos", visibility_timeout=300)
        got: list[str] = [m.message_id for m in queue.receive(3)]
        first_batch.wait()
        while batch := queue.receive(3):
            got.extend(m.message_id for m in batch)  # never deleted: a double delivery would show
        out.write_text(json.dumps(got))
        code = 0
    finally:
        os._exit(code)
