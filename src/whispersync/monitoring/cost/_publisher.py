"""Publishes `WhisperSync/Cost` `EstimatedCostUSD`: the list-price cost of the memos metered each period.

Each run meters the memos whose first span started in ``[cursor, now - settle)`` and records
their direct cost per service (canary memos are overhead, left out). ``settle`` gives a memo
time to finish (its worker spans to land) before it is priced; a delivery that comes later
than that (a retry after a long backoff) is not priced again. Sum the metric over a period
for that period's estimated cost.

Like TranscriptsProcessed, it goes out with {AgentType, Service} and the roll-ups CloudWatch
cannot compute ({Service}, {AgentType}, no dimension): CostPerMemo by AgentType is then metric
math, SUM(EstimatedCostUSD{AgentType}) / SUM(TranscriptsProcessed{AgentType}), as the plan's
Cost dashboard draws it. An agent with no memos in the period records nothing.

`MonthToDateCostUSD` is the calendar month's (UTC) total so far, a level that starts again each
month, as AWS/Billing's EstimatedCharges is ("estimated charges ... for the month so far",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/monitor_estimated_charges_with_cloudwatch.html):
the first run of a month (or of a process) reads the month's earlier totals back from the store.
With ``budgets`` (the plan's, ``_budget_alerts.py``), each run then evaluates them on that total.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol

from whispersync import catalog
from whispersync.domain import Memo
from whispersync.monitoring.cost._budget_alerts import BudgetAlerts
from whispersync.monitoring.cost._estimate import list_price
from whispersync.monitoring.cost._ledger import meter_memos
from whispersync.monitoring.cost._prices import PriceTable
from whispersync.monitoring.cost._units import Usage
from whispersync.periodic import PeriodicTask
from whispersync.telemetry import Telemetry

__all__ = ["CostPublisher"]


class _Spans(Protocol):
    def spans(self, *, start_ms: int | None = None, end_ms: int | None = None, limit: int = 10000) -> list[dict]: ...

    def metric_statistics(self, namespace: str, name: str, *, dimensions, statistic: str, period: int,
                          start_ms: int, end_ms: int, origin_ms: int | None = None) -> Any: ...


class CostPublisher:
    """Meters and publishes each period; ``publish()`` runs once (what the schedule calls)."""

    def __init__(self, store: _Spans, find_memo: Callable[[str], Memo | None], telemetry: Telemetry,
                 table: PriceTable, *, memory_mb: int, elevenlabs_usd_per_1k_characters: float = 0.0,
                 interval: float = 300.0, settle: float = 300.0, clock: Callable[[], float] = time.time,
                 budgets: BudgetAlerts | None = None) -> None:
        self.store = store
        self.find_memo = find_memo
        self.telemetry = telemetry
        self.table = table
        self.memory_mb = memory_mb
        self.rate = elevenlabs_usd_per_1k_characters
        self.settle = settle
        self.clock = clock
        self.budgets = budgets
        self.cursor = clock() - settle  # memos from before the publisher started are `whispersync cost`'s
        self._month_start: float | None = None
        self._month_total = 0.0
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
        by_agent: dict[str, Usage] = {}
        for memo in memos:
            by_agent[memo.agent] = by_agent.get(memo.agent, Usage()) + memo.usage
        by_service = self._price(sum(by_agent.values(), Usage()))
        record = self.telemetry.metrics.record
        for agent, usage in sorted(by_agent.items()):
            priced = self._price(usage)
            for service, usd in priced.items():
                record(catalog.ESTIMATED_COST, usd, {"AgentType": agent, "Service": service})
            record(catalog.ESTIMATED_COST, sum(priced.values()), {"AgentType": agent})
        for service, usd in by_service.items():  # zeros too: a quiet period costs nothing, it is not missing
            record(catalog.ESTIMATED_COST, usd, {"Service": service})
        total = sum(by_service.values())
        self._add_to_month(total)
        record(catalog.ESTIMATED_COST, total, {})
        record(catalog.MONTH_TO_DATE_COST, self._month_total)
        self.cursor = until
        out: dict[str, Any] = {"memos": len(memos), "by_service": by_service}
        if self.budgets is not None:
            out["budgets"] = self.budgets.check(self._month_total, self.clock())
        return out

    def _add_to_month(self, total: float) -> None:
        now = self.clock()
        start = datetime.fromtimestamp(now, tz=timezone.utc).replace(day=1, hour=0, minute=0, second=0,
                                                                      microsecond=0).timestamp()
        if start != self._month_start:
            # Before this run's total is recorded: what earlier runs (this process or a previous one) recorded.
            stored = self.store.metric_statistics(catalog.COST, catalog.ESTIMATED_COST.name, dimensions={},
                                                  statistic="Sum", period=31 * 86400,  # one bucket: the month
                                                  start_ms=int(start * 1000), end_ms=int(now * 1000) + 1,
                                                  origin_ms=int(start * 1000))
            self._month_start, self._month_total = start, float(sum(stored.values))
        self._month_total += total

    def _price(self, usage: Usage) -> dict[str, float]:
        return list_price(usage, self.table, memory_mb=self.memory_mb, elevenlabs_usd_per_1k_characters=self.rate)
