"""The collector publishes the gauges nobody emits per memo: queues, worker pool, memory, store ops."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from whispersync import catalog
from whispersync.pipeline.collector import Collector
from whispersync.pipeline.queue import SqliteQueueBroker
from whispersync.pipeline.records import SqliteRecordStore
from whispersync.pipeline.worker import WorkerPool
from whispersync.telemetry.testing import capture_telemetry


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cap():
    with capture_telemetry() as captured:
        yield captured


@pytest.fixture
def broker(tmp_path: Path):
    clock = Clock()
    b = SqliteQueueBroker(tmp_path / "queue.db", clock=clock)
    b.clock = clock
    yield b
    b.close()


def _values(cap, metric, **dimensions) -> list[float]:
    cap.telemetry.flush()
    return cap.metric_values(metric.namespace, metric.name, **dimensions)


def test_it_publishes_each_queue_s_counts_under_its_name(cap, broker):
    """SQS's ApproximateNumberOf* metrics, one series per QueueName."""
    queue, dlq = broker.queue(catalog.QUEUE), broker.queue(catalog.DEAD_LETTER_QUEUE)
    for _ in range(3):
        queue.send("v")
    queue.send("d", delay_seconds=60)
    queue.receive()
    broker.clock.now += 12
    dlq.send("dead")
    Collector(cap.telemetry, queues=[queue, dlq]).collect()
    main = {"QueueName": catalog.QUEUE}
    assert _values(cap, catalog.QUEUE_VISIBLE, **main) == [2]
    assert _values(cap, catalog.QUEUE_NOT_VISIBLE, **main) == [1]
    assert _values(cap, catalog.QUEUE_DELAYED, **main) == [1]
    assert _values(cap, catalog.QUEUE_OLDEST_AGE, **main) == [12]
    assert _values(cap, catalog.QUEUE_VISIBLE, QueueName=catalog.DEAD_LETTER_QUEUE) == [1]
    assert _values(cap, catalog.QUEUE_OLDEST_AGE, QueueName=catalog.DEAD_LETTER_QUEUE) == [0]


def test_it_publishes_the_store_operations_since_the_last_collection(cap, broker, tmp_path):
    """Reads and writes are counted between two collections, then start again from zero."""
    from contracts.record_store import memo

    records = SqliteRecordStore(tmp_path / "records.db")
    records.ops.take()
    records.create(memo("m-1"))
    records.get("m-1")
    records.get("m-1")
    collector = Collector(cap.telemetry, queues=[], records=records)
    collector.collect()
    collector.collect()
    assert _values(cap, catalog.STORE_READS) == [2, 0]
    assert _values(cap, catalog.STORE_WRITES) == [1, 0]
    assert _values(cap, catalog.STORE_USER_ERRORS) == [0, 0]
    assert _values(cap, catalog.STORE_SYSTEM_ERRORS) == [0, 0]
    records.close()


def test_it_publishes_the_pool_s_peak_concurrency_and_throttles(cap, runtime):
    """The peak since the last collection (Lambda's ConcurrentExecutions) and the throttles, then reset."""
    pool = WorkerPool(runtime.processor, concurrency=2)
    pool.max_in_flight, pool.throttles = 2, 3
    collector = Collector(cap.telemetry, queues=[], pool=pool)
    collector.collect()
    collector.collect()
    assert _values(cap, catalog.WORKER_CONCURRENT_EXECUTIONS) == [2, 0]
    assert _values(cap, catalog.WORKER_THROTTLES) == [3, 0]


def test_memory_utilization_is_a_plausible_percentage_and_no_pool_means_no_pool_metrics(cap):
    Collector(cap.telemetry, queues=[]).collect()
    [percent] = _values(cap, catalog.WORKER_MEMORY_UTILIZATION)
    assert 0 < percent < 100
    assert _values(cap, catalog.WORKER_CONCURRENT_EXECUTIONS) == []
    assert _values(cap, catalog.STORE_READS) == []


def test_started_it_collects_every_interval_until_stopped(cap, broker):
    collector = Collector(cap.telemetry, queues=[broker.queue(catalog.QUEUE)], interval=0.05)
    collector.start()
    try:
        deadline = time.monotonic() + 5
        while len(_values(cap, catalog.QUEUE_VISIBLE)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        collector.stop()
    count = len(_values(cap, catalog.QUEUE_VISIBLE))
    assert count >= 2
    time.sleep(0.2)
    assert len(_values(cap, catalog.QUEUE_VISIBLE)) == count
