"""The user-experience layer: each plan SLO's SLI, error budget, burn rates and Apdex, from the telemetry store.

For a latency SLO (``whispersync.plan.Slo``) and a window ending now:

* good = samples of the latency metric at most the threshold (CloudWatch's ``TC(:threshold)``, "exclusive
  on the lower bound and inclusive on the upper bound", https://docs.aws.amazon.com/AmazonCloudWatch/latest/
  monitoring/Statistics-definitions.html); done = its SampleCount; failed = the Sum of the failures metric;
  total = done + failed; bad = total - good; SLI = good / total.
* error budget over the SLO window: allowed = (1 - objective) x total bad events; remaining = allowed - bad,
  as a fraction 1 - bad / allowed (below 0 when overspent; 1 with no events).
* burn rate over a window = (1 - SLI) / (1 - objective): 1 spends the budget exactly over the SLO window
  (Google SRE workbook, "Alerting on SLOs", https://sre.google/workbook/alerting-on-slos/). A window
  without events burns 0, as the plan's burn-rate alarms count it.
* Apdex (https://www.apdex.org, "Apdex Technical Specification"): satisfied <= T, tolerating T < x <= 4T,
  frustrated beyond 4T; a failed memo is frustrated. Apdex = (satisfied + tolerating / 2) / total.

Windows here slide (they end at ``now_ms``); the alarms judge whole periods aligned to the period, as
CloudWatch alarms do, so a figure here and an alarm's datapoint may differ. Canaries' synthetic memos
publish neither metric, so they never count.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from whispersync.domain import iso_utc
from whispersync.monitoring.store import StatisticGroup, TelemetryStore, metric_key
from whispersync.plan import BURN_TIERS, Slo, slo_alarms, window_label

__all__ = ["BURN_WINDOWS", "Counts", "slo_report"]

# The burn-rate windows the plan's alarms use (short and long of each tier), shortest first: 5m, 30m, 1h, 6h.
BURN_WINDOWS = tuple(sorted({s for t in BURN_TIERS for s in (t.short_seconds, t.long_seconds)}))
_DAY_S = 86_400
_MINUTE_MS = 60_000
_DIGITS = 12  # figures are rounded to 12 decimals: 1 - 0.99 is 0.010000000000000009 in binary


@dataclass(frozen=True)
class Counts:
    """Events in one window: latency samples by class, and failed memos."""

    done: int = 0
    good: int = 0
    failed: int = 0
    satisfied: int = 0
    tolerating: int = 0

    @property
    def total(self) -> int:
        return self.done + self.failed

    @property
    def bad(self) -> int:
        return self.total - self.good

    @property
    def sli(self) -> float | None:
        return None if self.total == 0 else _round(self.good / self.total)

    @property
    def apdex(self) -> float | None:
        return None if self.total == 0 else _round((self.satisfied + self.tolerating / 2) / self.total)

    def burn_rate(self, objective: float) -> float:
        return 0.0 if self.total == 0 else _round(self.bad / self.total / _budget(objective))

    def to_dict(self) -> dict[str, Any]:
        return {"good": self.good, "done": self.done, "failed": self.failed, "total": self.total, "bad": self.bad,
                "sli": self.sli}

    def apdex_dict(self) -> dict[str, Any]:
        return {"satisfied": self.satisfied, "tolerating": self.tolerating,
                "frustrated": self.total - self.satisfied - self.tolerating, "total": self.total,
                "score": self.apdex}


def slo_report(store: TelemetryStore, slos: Sequence[Slo], *, now_ms: int, apdex_period: int = 3600,
               apdex_periods: int = 24) -> list[dict[str, Any]]:
    """Each SLO's figures at ``now_ms``: one read of the store for all of them.

    Windows end with the minute now running (so a memo done a second ago counts) and start that many
    whole minutes before. ``apdex_period`` seconds (a multiple of 60) and ``apdex_periods`` shape the
    Apdex series: that many periods aligned to the period, the last one the period now running.
    """
    if type(apdex_period) is not int or apdex_period <= 0 or apdex_period % 60:
        raise ValueError(f"apdex_period must be a positive multiple of 60 seconds, got {apdex_period!r}")
    if type(apdex_periods) is not int or not 1 <= apdex_periods <= 1000:
        raise ValueError(f"apdex_periods must be an integer from 1 to 1000, got {apdex_periods!r}")
    end = (now_ms // _MINUTE_MS + 1) * _MINUTE_MS
    apdex_start = (now_ms // (apdex_period * 1000) - apdex_periods + 1) * apdex_period * 1000
    # Per-minute counts of each kind of event, summed per window here: five statistics per SLO in one
    # statement, where a statistic per window would scan the store thirty times.
    groups: list[StatisticGroup] = []
    for slo in slos:
        start = min(end - slo.window_days * _DAY_S * 1000, apdex_start)
        groups += [StatisticGroup(frozenset({_metric(slo, kind)}), statistic, 60, start, end)
                   for kind, statistic in _statistics(slo).items()]
    found = iter(store.grouped_statistics(groups, units=False))
    reports = []
    for slo in slos:
        minutes = {kind: _Minutes(next(found).get(_metric(slo, kind), [])) for kind in _statistics(slo)}
        reports.append(_report(slo, minutes, now_ms, end, apdex_start, apdex_period))
    return reports


def _statistics(slo: Slo) -> dict[str, str]:
    """What is counted per minute: the CloudWatch statistic of each kind of event."""
    out = {"done": "SampleCount", "good": f"TC(:{_bound(slo.threshold_ms)})",
           "satisfied": f"TC(:{_bound(slo.apdex_t_ms)})",
           "tolerating": f"TC({_bound(slo.apdex_t_ms)}:{_bound(4 * slo.apdex_t_ms)})"}
    if slo.failures_metric_name:
        out["failed"] = "Sum"
    return out


def _metric(slo: Slo, kind: str) -> tuple[str, str, str]:
    if kind == "failed":
        return metric_key(slo.failures_namespace, slo.failures_metric_name, {})
    return metric_key(slo.namespace, slo.metric_name, slo.dimensions)


class _Minutes:
    """One statistic per minute, and its sum over any whole-minute range."""

    def __init__(self, rows: Sequence[tuple[int, float, Any]]) -> None:
        self.starts = [bucket for bucket, _, _ in rows]
        self.running = [0.0]
        for _, value, _ in rows:
            self.running.append(self.running[-1] + value)

    def total(self, start: int, end: int) -> int:
        lo, hi = bisect.bisect_left(self.starts, start), bisect.bisect_left(self.starts, end)
        return int(round(self.running[hi] - self.running[lo]))


def _counts(minutes: Mapping[str, _Minutes], start: int, end: int) -> Counts:
    return Counts(**{kind: m.total(start, end) for kind, m in minutes.items()})


def _report(slo: Slo, minutes: Mapping[str, _Minutes], now_ms: int, end: int, apdex_start: int,
            apdex_period: int) -> dict[str, Any]:
    window_ms = slo.window_days * _DAY_S * 1000
    window = _counts(minutes, end - window_ms, end)
    allowed = _round(_budget(slo.objective) * window.total)
    burn = {seconds: _counts(minutes, end - seconds * 1000, end) for seconds in BURN_WINDOWS}
    period_ms = apdex_period * 1000
    periods = [{"start": iso_utc(bucket / 1000), **_counts(minutes, bucket, bucket + period_ms).apdex_dict()}
               for bucket in range(apdex_start, now_ms + 1, period_ms)]
    return {
        "name": slo.name,
        "description": slo.description,
        "objective": slo.objective,
        "threshold_ms": slo.threshold_ms,
        "window_days": slo.window_days,
        "at": iso_utc(now_ms / 1000),
        "metric": {"namespace": slo.namespace, "name": slo.metric_name, "dimensions": dict(slo.dimensions)},
        "failures_metric": None if not slo.failures_metric_name else
        {"namespace": slo.failures_namespace, "name": slo.failures_metric_name, "dimensions": {}},
        "window": {"start": iso_utc((end - window_ms) / 1000), "end": iso_utc(end / 1000), **window.to_dict()},
        "error_budget": {
            "allowed_bad": allowed,
            "spent": window.bad,
            "remaining": _round(allowed - window.bad),
            "remaining_fraction": 1.0 if window.total == 0 else _round(1 - window.bad / allowed),
        },
        "burn_rates": [{"window": window_label(s), "seconds": s, **burn[s].to_dict(),
                        "burn_rate": burn[s].burn_rate(slo.objective)} for s in BURN_WINDOWS],
        "apdex": {
            "t_ms": slo.apdex_t_ms,
            "tolerating_ms": 4 * slo.apdex_t_ms,
            "last_hour": burn[3600].apdex_dict(),
            "window": window.apdex_dict(),
            "period_seconds": apdex_period,
            "periods": periods,
        },
        "alarms": [{"name": a.name, "kind": a.kind, "priority": a.priority,
                    **({"threshold": a.threshold, "period": a.period, "window": window_label(a.period)}
                       if a.kind == "metric" else {"rule": a.rule})}
                   for a in slo_alarms(slo)],
    }


def _budget(objective: float) -> float:
    return round(1 - objective, _DIGITS)


def _round(value: float) -> float:
    return round(value, _DIGITS)


def _bound(value: float) -> str:
    """A statistic bound as CloudWatch writes one: 10000, not 10000.0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
