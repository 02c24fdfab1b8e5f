"""What only the engine can check in a plan: its expressions and how its alarms refer
to each other. The model (``whispersync.plan``) checks everything else.

    problems = check_plan(plan)   # [] when the engine can run it
"""

from __future__ import annotations

from functools import lru_cache

from whispersync.errors import InputError
from whispersync.monitoring import composite
from whispersync.monitoring.filters import parse_pattern
from whispersync.monitoring.metric_query import validate_queries
from whispersync.plan import Alarm, CompositeAlarm, Plan

__all__ = ["check_alarm", "check_plan", "check_references", "rule_of"]


@lru_cache(maxsize=4096)
def rule_of(rule: str) -> composite.Rule:
    """A composite alarm's parsed rule (parsed once per distinct rule text)."""
    return composite.parse(rule)


def check_alarm(alarm: Alarm) -> None:
    """ValueError when an alarm's rule or metric-math expression does not parse."""
    if isinstance(alarm, CompositeAlarm):
        try:
            references = rule_of(alarm.rule).references
        except (ValueError, TypeError) as exc:
            raise ValueError(f"rule: {exc}") from None
        if alarm.name in references:
            raise ValueError(f"rule: composite alarm {alarm.name!r} refers to itself")
    elif alarm.metrics:
        # Parsing the request up front turns a bad expression into an error now, not at 3 a.m.
        try:
            validate_queries(alarm.metrics)
        except ValueError as exc:
            raise ValueError(f"metrics: {exc}") from None


def check_references(alarms) -> None:
    """ValueError when a composite names an alarm that does not exist, or composites form a cycle."""
    by_name = {a.name: a for a in alarms}
    rules = {}
    for alarm in by_name.values():
        if isinstance(alarm, CompositeAlarm):
            references = rule_of(alarm.rule).references
            unknown = sorted(references - set(by_name))
            if unknown:
                raise ValueError(f"rule: composite alarm {alarm.name!r} refers to unknown alarm(s) {', '.join(unknown)}")
            rules[alarm.name] = references
    composite.check_cycles(rules)


def check_plan(plan: Plan) -> list[str]:
    """Every problem the engine finds in `plan`, each with its path; [] when it can run it."""
    problems: list[str] = []
    for alarm in plan.alarms:
        try:
            check_alarm(alarm)
        except ValueError as exc:
            problems.append(f"alarms.{alarm.name}.{exc}")
    if not problems:
        try:
            check_references(plan.alarms)
        except ValueError as exc:
            problems.append(f"alarms.{exc}")
    for metric_filter in plan.metric_filters:
        try:
            parse_pattern(metric_filter.pattern)
        except (ValueError, InputError) as exc:
            problems.append(f"metric_filters.{metric_filter.name}.pattern: {exc}")
    return problems
