"""What only the engine can check in a plan: its expressions and how its alarms refer
to each other. The model (``whispersync.plan``) checks everything else.

    problems = check_plan(plan)   # [] when the engine can run it
"""

from __future__ import annotations

from whispersync.errors import InputError
from whispersync.monitoring.alarms import AlarmError, check_alarm, check_references
from whispersync.monitoring.dashboards import parse_body
from whispersync.monitoring.logs import check_metric_filter, parse_pattern
from whispersync.plan import Plan

__all__ = ["check_plan"]


def check_plan(plan: Plan) -> list[str]:
    """Every problem the engine finds in `plan`, each with its path; [] when it can run it."""
    problems: list[str] = []
    for alarm in plan.alarms:
        try:
            check_alarm(alarm)
        except AlarmError as exc:
            problems.append(f"alarms.{alarm.name}.{exc}")
    if not problems:
        try:
            check_references(plan.alarms)
        except AlarmError as exc:
            problems.append(f"alarms.{exc}")
    for metric_filter in plan.metric_filters:
        try:
            if metric_filter.log_group is not None:
                # A filter of one log group is CloudWatch's kind: the same checks as `filters put`.
                check_metric_filter(metric_filter)
            else:
                parse_pattern(metric_filter.pattern)
        except InputError as exc:
            where = "" if metric_filter.log_group is not None else "pattern: "
            problems.append(f"metric_filters.{metric_filter.name}.{where}{exc}")
    for dashboard in plan.dashboards:
        # PutDashboard's errors (a bad widget, a metric array it cannot read); warnings are not problems.
        _, messages = parse_body(dashboard.body(), name=dashboard.name)
        problems += [f"dashboards.{dashboard.name}{m.data_path.replace('/', '.')}: {m.message}"
                     for m in messages if m.level == "error"]
    return problems
