"""The monitoring plan as a pure, typed model: what is watched (§1–§10), and how.

The local engine runs it, ``deploy/aws`` compiles it, exporters render it; none of
them needs the others to read it. This package imports no store, DuckDB, engine or
pipeline (a test imports it with DuckDB blocked)::

    from whispersync.plan import effective_plan
    plan = effective_plan("my-plan.toml")      # the built-in plan with the file's items layered on
    [a.name for a in plan.alarms]

Users change monitoring in one file, Python or TOML (``whispersync plan validate FILE``).
"""

from __future__ import annotations

from pathlib import Path

from whispersync.plan._alarms import (
    ALARM,
    ANOMALY_COMPARISON_OPERATORS,
    COMPARISON_OPERATORS,
    INSUFFICIENT_DATA,
    OK,
    PRIORITIES,
    STATES,
    TREAT_MISSING_DATA,
    Alarm,
    CompositeAlarm,
    MetricAlarm,
    alarm_from_dict,
)
from whispersync.plan._default import DEFAULT_PLAN
from whispersync.plan._files import MAX_PLAN_BYTES, PlanError, load_plan_file, plan_from_toml
from whispersync.plan._metrics import MetricDataQuery, MetricFilter, MetricStat, check_period, check_statistic
from whispersync.plan._plan import BUILT_IN, Plan
from whispersync.plan._routing import CHANNELS, ROUTES, TOPICS, topic_actions
from whispersync.plan._slo import (
    BURN_TIERS,
    BurnTier,
    burn_rate_expression,
    slo_alarms,
    window_label,
    with_slo_alarms,
)
from whispersync.plan._slots import Baseline, CostModel, Dashboard, HealthCheck, RedriveRule, RemediationRule, Slo

__all__ = [
    "ALARM",
    "ANOMALY_COMPARISON_OPERATORS",
    "BUILT_IN",
    "BURN_TIERS",
    "CHANNELS",
    "COMPARISON_OPERATORS",
    "DEFAULT_PLAN",
    "INSUFFICIENT_DATA",
    "MAX_PLAN_BYTES",
    "OK",
    "PRIORITIES",
    "ROUTES",
    "STATES",
    "TOPICS",
    "TREAT_MISSING_DATA",
    "Alarm",
    "Baseline",
    "BurnTier",
    "CompositeAlarm",
    "CostModel",
    "Dashboard",
    "HealthCheck",
    "MetricAlarm",
    "MetricDataQuery",
    "MetricFilter",
    "MetricStat",
    "Plan",
    "PlanError",
    "RedriveRule",
    "RemediationRule",
    "Slo",
    "alarm_from_dict",
    "burn_rate_expression",
    "check_period",
    "check_statistic",
    "effective_plan",
    "load_plan_file",
    "plan_from_toml",
    "slo_alarms",
    "topic_actions",
    "window_label",
    "with_slo_alarms",
]


def effective_plan(plan_file: Path | str | None = None) -> Plan:
    """The built-in plan, with a user's plan file layered on when given."""
    if plan_file is None:
        return DEFAULT_PLAN
    # Burn-rate alarms again: a plan file may change the built-in SLO or add its own.
    return with_slo_alarms(DEFAULT_PLAN.layered(load_plan_file(plan_file), str(plan_file)))
