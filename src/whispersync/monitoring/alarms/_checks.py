"""What only the engine can check in an alarm: its composite rule or metric-math
expression, and how composite alarms refer to each other (rules and actions suppressors)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from whispersync.monitoring.alarms import _composite as composite
from whispersync.monitoring.alarms._errors import AlarmError
from whispersync.monitoring.metrics import MetricQueryError, validate_queries
from whispersync.plan import Alarm, CompositeAlarm

__all__ = ["check_alarm", "check_references", "rule_of", "users_of"]


@lru_cache(maxsize=4096)
def rule_of(rule: str) -> composite.Rule:
    """A composite alarm's parsed rule (parsed once per distinct rule text)."""
    return composite.parse(rule)


def check_alarm(alarm: Alarm) -> None:
    """ValueError when an alarm's rule or metric-math expression does not parse."""
    if isinstance(alarm, CompositeAlarm):
        try:
            references = rule_of(alarm.rule).references
        except (composite.RuleSyntaxError, TypeError) as exc:
            raise AlarmError(f"rule: {exc}") from None
        if alarm.name in references:
            raise AlarmError(f"rule: composite alarm {alarm.name!r} refers to itself")
    elif alarm.metrics:
        # Parsing the request up front turns a bad expression into an error now, not at 3 a.m.
        try:
            validate_queries(alarm.metrics)
        except MetricQueryError as exc:
            raise AlarmError(f"metrics: {exc}") from None


def check_references(alarms: Iterable[Alarm]) -> None:
    """ValueError when a composite names an alarm (in its rule or as its actions suppressor)
    that does not exist, or composites form a cycle."""
    by_name = {a.name: a for a in alarms}
    rules = {}
    for alarm in by_name.values():
        if isinstance(alarm, CompositeAlarm):
            references = rule_of(alarm.rule).references
            unknown = sorted(references - set(by_name))
            if unknown:
                raise AlarmError(f"rule: composite alarm {alarm.name!r} refers to unknown alarm(s) {', '.join(unknown)}")
            if alarm.actions_suppressor is not None and alarm.actions_suppressor not in by_name:
                # PutCompositeAlarm: the suppressor is "an AlarmName or [...] ARN from an existing alarm".
                raise AlarmError(f"actions_suppressor: composite alarm {alarm.name!r} names unknown alarm "
                                 f"{alarm.actions_suppressor!r} as its actions suppressor")
            rules[alarm.name] = references
    composite.check_cycles(rules)


def users_of(name: str, alarms: Iterable[Alarm]) -> list[str]:
    """The composite alarms that use alarm ``name`` in their rule or as their actions suppressor, sorted."""
    return sorted(a.name for a in alarms if isinstance(a, CompositeAlarm)
                  and (name in rule_of(a.rule).references or a.actions_suppressor == name))
