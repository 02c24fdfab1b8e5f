"""The collector: gauges nobody emits per memo, published every interval.

Queue depth and age (SQS's ApproximateNumberOf* metrics), the worker pool's
concurrency, memory and throttles, and the record store's operation counts.
CloudWatch gets these from AWS itself; locally we measure them here.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence

from whispersync import catalog

from whispersync.periodic import PeriodicTask
from whispersync.pipeline.queue import Queue
from whispersync.pipeline.records import SqliteRecordStore
from whispersync.pipeline.worker import WorkerPool
from whispersync.telemetry import Telemetry



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
        record = self.telemetry.metrics.record
        for queue in self.queues:
            counts = queue.counts()
            dims = catalog.queue_dimensions(queue.name)
            record(catalog.QUEUE_VISIBLE, counts.visible, dims)
            record(catalog.QUEUE_NOT_VISIBLE, counts.in_flight, dims)
            record(catalog.QUEUE_DELAYED, counts.delayed, dims)
            record(catalog.QUEUE_OLDEST_AGE, counts.oldest_age_seconds, dims)
        if self.pool is not None:
            record(catalog.WORKER_CONCURRENT_EXECUTIONS, self.pool.take_peak_concurrency())
            record(catalog.WORKER_THROTTLES, self.pool.take_throttles())
        record(catalog.WORKER_MEMORY_UTILIZATION, 100.0 * _rss_bytes() / self._memory_limit)
        if self.records is not None:
            ops = self.records.ops.take()
            record(catalog.STORE_READS, ops["reads"])
            record(catalog.STORE_WRITES, ops["writes"])
            record(catalog.STORE_USER_ERRORS, ops["user_errors"])
            record(catalog.STORE_SYSTEM_ERRORS, ops["system_errors"])
