"""The burn-rate alarms a plan derives from each SLO: the Google SRE workbook's multiwindow,
multi-burn-rate alerts (https://sre.google/workbook/alerting-on-slos/, "6: Multiwindow,
Multi-Burn-Rate Alerts"), as CloudWatch alarms.

The workbook's table, for a budget over 30 days: 2 % of the budget spent in 1 hour is a burn rate of
14.4 (long window 1 h, short window 5 m, page); 5 % in 6 hours is 6 (6 h and 30 m, page); 10 % in
3 days is 1 (3 d and 6 h, ticket; not derived here). The short window, 1/12 of the long one, lets the
alert reset soon after the burn stops. Here the fast pair pages at P1 and the slow pair at P2. Over our 28-day
window the same rates spend 14.4/672 = 2.1 % of the budget in an hour and 36/672 = 5.4 % in 6 hours.

For each window a metric-math alarm computes the burn rate of its last complete period:

    burn = bad / total / (1 - objective), computed as bad x (1 / (1 - objective)) / total
    good = TC(:threshold) of the latency metric   (samples <= threshold; CloudWatch's trimmed count with an
           absolute upper bound is inclusive: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
           Statistics-definitions.html)
    total = SampleCount of the latency metric + Sum of the failures metric;  bad = total - good

and a composite alarm per pair is ALARM(long) AND ALARM(short), with the actions. FILL(..., 0) gives a
period without memos a burn of 0: no memos spend no budget, and the alarm then judges the latest
period rather than an older one with data (with fewer than N real datapoints in its evaluation range
CloudWatch evaluates whichever it has). Unlike the workbook's sliding windows, a CloudWatch alarm
judges whole periods, aligned to the period: the 1 h window is the last complete clock hour, so a
fast burn is seen when that hour ends.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from whispersync.plan._alarms import Alarm, CompositeAlarm, MetricAlarm
from whispersync.plan._metrics import MetricDataQuery, MetricStat
from whispersync.plan._plan import BUILT_IN, Plan
from whispersync.plan._routing import topic_actions
from whispersync.plan._slots import Slo

__all__ = ["BURN_TIERS", "BurnTier", "burn_rate_expression", "slo_alarms", "window_label", "with_slo_alarms"]


@dataclass(frozen=True)
class BurnTier:
    """One row of the workbook's table: a burn rate over a long and a short window (seconds)."""

    name: str
    burn_rate: float
    long_seconds: int
    short_seconds: int
    priority: str


BURN_TIERS = (
    BurnTier("Fast", 14.4, 3600, 300, "P1"),
    BurnTier("Slow", 6.0, 21600, 1800, "P2"),
)


def window_label(seconds: int) -> str:
    """``300`` -> ``5m``, ``3600`` -> ``1h``: how the workbook names its windows."""
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


def burn_rate_expression(slo: Slo) -> str:
    """The metric-math expression of the burn rate over ids ``good``, ``done`` and (with a failures metric)
    ``failed``; a period without events is 0."""
    total = "(done + failed)" if slo.failures_metric_name else "done"
    # bad x (1 / budget) / total, with 1 / budget as a short decimal (100 for 0.99): counts times an integer
    # over a count divide exactly where dividing by 0.01 would not (6 bad of 100 is 6, not 5.999999999999999,
    # so a burn rate equal to the threshold does not fire).
    scale = f"{1 / (1 - slo.objective):.10g}"
    return f"FILL(({total} - good) * {scale} / {total}, 0)"


def _number(value: float) -> str:
    """A bound as CloudWatch writes one: 10000, not 10000.0 or 1e+04."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _queries(slo: Slo, period: int) -> tuple[MetricDataQuery, ...]:
    dims = dict(slo.dimensions)
    good = f"TC(:{_number(slo.threshold_ms)})"
    queries = [
        MetricDataQuery("good", MetricStat(slo.namespace, slo.metric_name, dims, good, period), return_data=False),
        MetricDataQuery("done", MetricStat(slo.namespace, slo.metric_name, dims, "SampleCount", period),
                        return_data=False),
    ]
    if slo.failures_metric_name:
        queries.append(MetricDataQuery("failed", MetricStat(slo.failures_namespace or "", slo.failures_metric_name,
                                                            {}, "Sum", period), return_data=False))
    queries.append(MetricDataQuery("burn", expression=burn_rate_expression(slo),
                                   label=f"Burn rate over {window_label(period)}", return_data=True))
    return tuple(queries)


def _window_alarm(slo: Slo, tier: BurnTier, seconds: int) -> MetricAlarm:
    # No actions of its own: the tier's composite alarm notifies, when both windows burn.
    return MetricAlarm(
        name=f"SloBurn{window_label(seconds)}-{slo.name}",
        description=f"SLO {slo.name}: error budget burn rate over the last {window_label(seconds)}"
                    f" above {tier.burn_rate:g}x (one half of {tier.name.lower()} burn)",
        metrics=_queries(slo, seconds), period=seconds, evaluation_periods=1,
        threshold=tier.burn_rate, comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching", priority=tier.priority,
    )


def slo_alarms(slo: Slo) -> tuple[Alarm, ...]:
    """The SLO's burn-rate alarms: per tier, one metric-math alarm per window and the composite that acts."""
    out: list[Alarm] = []
    for tier in BURN_TIERS:
        long_alarm = _window_alarm(slo, tier, tier.long_seconds)
        short_alarm = _window_alarm(slo, tier, tier.short_seconds)
        out += [long_alarm, short_alarm, CompositeAlarm(
            name=f"Slo{tier.name}Burn-{slo.name}",
            description=f"SLO {slo.name} ({slo.objective:.6g} of memos within {slo.threshold_ms:g} ms over"
                        f" {slo.window_days} days): the error budget burns {tier.burn_rate:g}x too fast over both"
                        f" {window_label(tier.long_seconds)} and {window_label(tier.short_seconds)}",
            rule=f"ALARM({long_alarm.name}) AND ALARM({short_alarm.name})",
            priority=tier.priority,
            alarm_actions=topic_actions(tier.priority), ok_actions=topic_actions(tier.priority),
        )]
    return tuple(out)


def with_slo_alarms(plan: Plan) -> Plan:
    """``plan`` with every SLO's burn-rate alarms, from the layer the SLO came from.

    A derived alarm replaces the one of the same name derived before (a plan file that changes the SLO
    changes its alarms); an alarm of that name a plan file declares itself wins, so it can be tuned.
    """
    alarms = {a.name: a for a in plan.alarms}
    sources = dict(plan.sources)
    for slo in plan.slos:
        slo_source = plan.source_of("slos", slo.name)
        for alarm in slo_alarms(slo):
            key = f"alarms:{alarm.name}"
            if alarm.name in alarms and sources.get(key, BUILT_IN) != BUILT_IN:
                continue  # declared in a plan file
            alarms[alarm.name] = alarm
            if slo_source != BUILT_IN:
                sources[key] = slo_source
    return replace(plan, alarms=tuple(alarms.values()), sources=sources)
