"""The collector: gauges nobody emits per memo, published every interval.

Queue depth and age (SQS's ApproximateNumberOf* metrics), the worker pool's
concurrency, memory and throttles, and the record store's operation counts.
CloudWatch gets these from AWS itself; locally we measure them here.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence

from whispersync.pipeline.ingest import QUEUE_NAMESPACE
from whispersync.pipeline.periodic import PeriodicTask
from whispersync.pipeline.queue import Queue
from whispersync.pipeline.records import SqliteRecordStore
from whispersync.pipeline.worker import WORKER_DIMS, WORKER_NAMESPACE, WorkerPool
from whispersync.telemetry import Telemetry

STORE_NAMESPACE = "WhisperSync/Store"
_TABLE_DIMS = {"TableName": "memos"}


def _memory_limit_bytes() -> int:
    """The process's memory budget: its cgroup limit, else the machine's RAM."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = open(path).read().strip()
            if value.isdigit() and int(value) < 1 << 60:
                return int(value)
        except OSError:
            continue
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Collector:
    def __init__(
        self,
        telemetry: Telemetry,
        *,
        queues: Sequence[Queue],
        pool: WorkerPool | None = None,
        records: SqliteRecordStore | None = None,
        interval: float = 60.0,
    ) -> None:
        self.telemetry = telemetry
        self.queues = queues
        self.pool = pool
        self.records = records
        self.interval = interval
        self._memory_limit = _memory_limit_bytes()
        self._task = PeriodicTask("collector", interval, self.collect, telemetry.logger("whispersync.collector"))

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def collect(self) -> None:
        put = self.telemetry.metrics.put
        for queue in self.queues:
            counts = queue.counts()
            dims = {"QueueName": queue.name}
            put(QUEUE_NAMESPACE, "ApproximateNumberOfMessagesVisible", counts.visible, unit="Count", dimensions=dims)
            put(QUEUE_NAMESPACE, "ApproximateNumberOfMessagesNotVisible", counts.in_flight, unit="Count", dimensions=dims)
            put(QUEUE_NAMESPACE, "ApproximateNumberOfMessagesDelayed", counts.delayed, unit="Count", dimensions=dims)
            put(QUEUE_NAMESPACE, "ApproximateAgeOfOldestMessage", counts.oldest_age_seconds, unit="Seconds", dimensions=dims)
        if self.pool is not None:
            put(WORKER_NAMESPACE, "ConcurrentExecutions", self.pool.take_peak_concurrency(), unit="Count",
                dimensions=WORKER_DIMS)
            put(WORKER_NAMESPACE, "Throttles", self.pool.take_throttles(), unit="Count", dimensions=WORKER_DIMS)
        put(WORKER_NAMESPACE, "MemoryUtilization", 100.0 * _rss_bytes() / self._memory_limit, unit="Percent",
            dimensions=WORKER_DIMS)
        if self.records is not None:
            ops = self.records.ops.take()
            put(STORE_NAMESPACE, "ConsumedReadCapacityUnits", ops["reads"], unit="Count", dimensions=_TABLE_DIMS)
            put(STORE_NAMESPACE, "ConsumedWriteCapacityUnits", ops["writes"], unit="Count", dimensions=_TABLE_DIMS)
            put(STORE_NAMESPACE, "UserErrors", ops["user_errors"], unit="Count", dimensions=_TABLE_DIMS)
            put(STORE_NAMESPACE, "SystemErrors", ops["system_errors"], unit="Count", dimensions=_TABLE_DIMS)
