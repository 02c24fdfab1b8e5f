"""Publishes `WhisperSync/Cost` `EstimatedCostUSD` per Service: the list-price cost of the memos metered each period.

Each run meters the memos whose first span started in ``[cursor, now - settle)`` and records
their direct cost per service (canary memos are overhead, left out). ``settle`` gives a memo
time to finish (its worker spans to land) before it is priced; a delivery that comes later
than that (a retry after a long backoff) is not priced again. Sum the metric over a period
for that period's estimated cost; CostPerMemo is metric math over it and TranscriptsProcessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from whispersync import catalog
from whispersync.domain import Memo
from whispersync.monitoring.cost._estimate import list_price
from whispersync.monitoring.cost._ledger import meter_memos
from whispersync.monitoring.cost._prices import PriceTable
from whispersync.monitoring.cost._units import Usage
from whispersync.periodic import PeriodicTask
from whispersync.telemetry import Telemetry

__all__ = ["CostPublisher"]


class _Spans(Protocol):
    def spans(self, *, start_ms: int | None = None, end_ms: int | None = None, limit: int = 10000) -> list[dict]: ...


class CostPublisher:
    """Meters and publishes each period; ``publish()`` runs once (what the schedule calls)."""

    def __init__(self, store: _Spans, find_memo: Callable[[str], Memo | None], telemetry: Telemetry,
                 table: PriceTable, *, memory_mb: int, elevenlabs_usd_per_1k_characters: float = 0.0,
                 interval: float = 300.0, settle: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.find_memo = find_memo
        self.telemetry = telemetry
        self.table = table
        self.memory_mb = memory_mb
        self.rate = elevenlabs_usd_per_1k_characters
        self.settle = settle
        self.clock = clock
        self.cursor = clock() - settle  # memos from before the publisher started are `whispersync cost`'s
        self._task = PeriodicTask("cost-publisher", interval, self.publish, telemetry.logger("whispersync.cost"))

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def publish(self) -> dict[str, Any]:
        """Meter the memos that settled since the last run and record their cost; returns what was recorded."""
        until = self.clock() - self.settle
        if until <= self.cursor:
            return {"memos": 0, "by_service": {}}
        # A memo's later spans (its worker) start after its first; fetch up to now so they are all there.
        spans = self.store.spans(start_ms=int(self.cursor * 1000), end_ms=int(self.clock() * 1000), limit=5_000_000)
        memo_ids = {(s.get("annotations") or {}).get("memo_id") for s in spans} - {None}
        records = {memo_id: memo for memo_id in memo_ids if (memo := self.find_memo(memo_id)) is not None}
        memos = [m for m in meter_memos(spans, records, self.table)
                 if self.cursor <= m.started_at < until and not m.synthetic]
        usage = sum((m.usage for m in memos), Usage())
        by_service = list_price(usage, self.table, memory_mb=self.memory_mb,
                                elevenlabs_usd_per_1k_characters=self.rate)
        for service, usd in by_service.items():
            self.telemetry.metrics.record(catalog.ESTIMATED_COST, usd, {"Service": service})
        self.cursor = until
        return {"memos": len(memos), "by_service": by_service}
