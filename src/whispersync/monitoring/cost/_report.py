"""The cost report: direct cost per memo, overhead apart, and the monthly view with the free tier.

Everything in it is an estimate at list price and says which price table it used. Direct
cost is what real memos used; overhead is what runs whether or not a memo arrives (the
canary's synthetic memos, CloudWatch alarms, dashboards and custom metrics), reported on
its own line and never folded into a memo's cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from whispersync.monitoring.cost._estimate import SERVICES, cloudwatch_overhead, list_price, monthly_cost
from whispersync.domain import Memo
from whispersync.monitoring.cost._ledger import MemoUsage, meter_memos
from whispersync.monitoring.cost._prices import PriceTable
from whispersync.monitoring.cost._units import Usage

__all__ = ["GROUPINGS", "cost_report", "memo_cost"]

GROUPINGS = ("agent", "service", "day")
NOT_METERED = (
    "empty SQS receives (idle polling): the local queue does not count them",
    "S3 storage (GB-month) and data transfer",
    "CloudWatch Logs ingestion and storage, metric API calls",
)


def cost_report(
    memos: Sequence[MemoUsage], table: PriceTable, *, memory_mb: int, elevenlabs_usd_per_1k_characters: float,
    start: float, end: float, by: str | None = None, alarms: int = 0, dashboards: int = 0, custom_metrics: int = 0,
) -> dict[str, Any]:
    """The report of ``memos`` (metered for the window ``start``..``end``, epoch seconds) as one JSON-able dict."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    rate = elevenlabs_usd_per_1k_characters

    def price(usage: Usage) -> dict[str, float]:
        return list_price(usage, table, memory_mb=memory_mb, elevenlabs_usd_per_1k_characters=rate)

    direct = [m for m in memos if not m.synthetic]
    canary = [m for m in memos if m.synthetic]
    direct_usage = sum((m.usage for m in direct), Usage())
    by_service = price(direct_usage)
    direct_total = sum(by_service.values())
    canary_total = sum(sum(price(m.usage).values()) for m in canary)
    cloudwatch = cloudwatch_overhead(table, alarms=alarms, dashboards=dashboards, custom_metrics=custom_metrics,
                                     hours=(end - start) / 3600)
    report: dict[str, Any] = {
        "estimate": True,
        "label": f"Estimate: what this would cost on AWS at {table.label()}",
        "price_table": table.to_dict(),
        "configuration": {"lambda_memory_mb": memory_mb, "elevenlabs_usd_per_1k_characters": rate},
        "window": {"start": _iso(start), "end": _iso(end)},
        "memos": len(direct),
        "direct": {
            "total_usd": direct_total,
            "per_memo_usd": direct_total / len(direct) if direct else None,
            "by_service": by_service,
            "units": direct_usage.to_dict(),
        },
        "overhead": {
            "total_usd": canary_total + sum(cloudwatch.values()),
            "canary_memos": len(canary),
            "canary_usd": canary_total,
            "cloudwatch": {**cloudwatch, "alarms_counted": alarms, "dashboards_counted": dashboards,
                           "custom_metrics_counted": custom_metrics},
            "not_metered": list(NOT_METERED),
        },
        "monthly": _monthly(memos, table, memory_mb, rate),
    }
    if by is not None:
        report["by"] = by
        report["groups"] = _groups(direct, by, price, by_service)
    return report


def memo_cost(spans: Iterable[Mapping[str, Any]], memo: Memo, table: PriceTable, *, memory_mb: int,
              elevenlabs_usd_per_1k_characters: float = 0.0) -> dict[str, Any] | None:
    """One memo's estimate at list price, from its spans and record; None while none of its spans is stored."""
    metered = [m for m in meter_memos(spans, {memo.id: memo}, table) if m.memo_id == memo.id]
    if not metered:
        return None
    by_service = list_price(metered[0].usage, table, memory_mb=memory_mb,
                            elevenlabs_usd_per_1k_characters=elevenlabs_usd_per_1k_characters)
    return {"estimate": True, "label": f"Estimate at {table.label()}", "total_usd": sum(by_service.values()),
            "by_service": by_service, "deliveries": metered[0].deliveries, "synthetic": metered[0].synthetic,
            "notes": list(metered[0].notes)}


def _monthly(memos: Sequence[MemoUsage], table: PriceTable, memory_mb: int, rate: float) -> list[dict[str, Any]]:
    """Per calendar month (UTC) of the window: every memo's usage (canaries too: the free tier is the
    account's), at list price and with that month's free tier."""
    months: dict[str, Usage] = {}
    for memo in memos:
        key = datetime.fromtimestamp(memo.started_at, tz=timezone.utc).strftime("%Y-%m")
        months[key] = months.get(key, Usage()) + memo.usage
    rows = []
    for month, usage in sorted(months.items()):
        listed = list_price(usage, table, memory_mb=memory_mb, elevenlabs_usd_per_1k_characters=rate)
        free = monthly_cost(usage, table, memory_mb=memory_mb, elevenlabs_usd_per_1k_characters=rate)
        rows.append({"month": month, "list_price_usd": sum(listed.values()),
                     "with_free_tier_usd": sum(free.values()), "with_free_tier_by_service": free})
    return rows


def _groups(direct: Sequence[MemoUsage], by: str, price, by_service: dict[str, float]) -> list[dict[str, Any]]:
    if by == "service":
        return [{"key": service, "total_usd": by_service[service]} for service in SERVICES]
    grouped: dict[str, list[MemoUsage]] = {}
    for memo in direct:
        day = datetime.fromtimestamp(memo.started_at, tz=timezone.utc).date().isoformat()
        key = memo.agent if by == "agent" else day
        grouped.setdefault(key, []).append(memo)
    rows = []
    for key, members in sorted(grouped.items()):
        total = sum(sum(price(m.usage).values()) for m in members)
        rows.append({"key": key, "memos": len(members), "total_usd": total, "per_memo_usd": total / len(members)})
    return rows


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")
