"""What only the engine can check in a plan: its expressions and how its alarms refer
to each other. The model (``whispersync.plan``) checks everything else.

    problems = check_plan(plan)   # [] when the engine can run it
"""

from __future__ import annotations

from whispersync.errors import InputError
from whispersync.monitoring.alarms import AlarmError, check_alarm, check_references
from whispersync.monitoring.logs import parse_pattern
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
            parse_pattern(metric_filter.pattern)
        except InputError as exc:
            problems.append(f"metric_filters.{metric_filter.name}.pattern: {exc}")
    return problems
