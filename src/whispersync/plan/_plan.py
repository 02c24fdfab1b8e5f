"""The whole plan: what is watched, where alerts go, and the slots for §5–§10.

A plan is built from layers: the built-in plan, then a user's plan file (Python or
TOML); an item of a later layer replaces the earlier one of the same name, and the
plan remembers which layer each item came from (``whispersync plan show``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from whispersync.plan._alarms import PRIORITIES, Alarm
from whispersync.plan._metrics import MetricFilter
from whispersync.plan._routing import CHANNELS, TOPICS
from whispersync.plan._slots import Baseline, CostModel, Dashboard, HealthCheck, RedriveRule, RemediationRule, Slo

BUILT_IN = "built-in"
# The named sections: their items are merged by name across layers.
NAMED_SECTIONS = ("alarms", "metric_filters", "dashboards", "health_checks", "remediation", "redrive_rules",
                  "baselines", "slos")


@dataclass(frozen=True)
class Plan:
    alarms: tuple[Alarm, ...] = ()
    metric_filters: tuple[MetricFilter, ...] = ()
    # Priority -> channels; empty in a user's layer that leaves routing alone.
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dashboards: tuple[Dashboard, ...] = ()
    health_checks: tuple[HealthCheck, ...] = ()
    remediation: tuple[RemediationRule, ...] = ()
    redrive_rules: tuple[RedriveRule, ...] = ()
    cost: CostModel | None = None
    baselines: tuple[Baseline, ...] = ()
    slos: tuple[Slo, ...] = ()
    # "alarms:SystemDown" -> "built-in" or the plan file it came from.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for section in NAMED_SECTIONS:
            items = getattr(self, section)
            if isinstance(items, list):
                object.__setattr__(self, section, tuple(items))
            names = [item.name for item in getattr(self, section)]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{section}: names must be unique; repeated: {', '.join(duplicates)}")
        unknown = set(self.routes) - set(PRIORITIES)
        if unknown:
            raise ValueError(f"routes: unknown priorities {sorted(unknown)}; known: {list(PRIORITIES)}")
        for priority, channels in self.routes.items():
            missing = [c for c in channels if c not in CHANNELS]
            if missing:
                raise ValueError(f"routes.{priority}: unknown channel(s) {missing}; known: {list(CHANNELS)}")

    @property
    def topics(self) -> Mapping[str, str]:
        return TOPICS

    def source_of(self, section: str, name: str) -> str:
        return self.sources.get(f"{section}:{name}", BUILT_IN)

    def layered(self, other: Plan, source: str) -> Plan:
        """This plan with `other`'s items added or replacing same-named ones, marked as from `source`."""
        changes: dict[str, Any] = {}
        sources = dict(self.sources)
        for section in NAMED_SECTIONS:
            merged = {item.name: item for item in getattr(self, section)}
            for item in getattr(other, section):
                merged[item.name] = item
                sources[f"{section}:{item.name}"] = source
            changes[section] = tuple(merged.values())
        if other.routes:
            changes["routes"] = {**self.routes, **other.routes}
            sources["routes"] = source
        if other.cost is not None:
            changes["cost"] = other.cost
            sources["cost"] = source
        return replace(self, **changes, sources=sources)

    def to_dict(self) -> dict[str, Any]:
        """Every item with its source: the shape of `whispersync plan show --json`."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            if f.name in NAMED_SECTIONS:
                out[f.name] = [{**_as_dict(item), "source": self.source_of(f.name, item.name)} for item in value]
            elif f.name == "routes":
                out["routes"] = {p: list(c) for p, c in value.items()}
                out["routes_source"] = self.sources.get("routes", BUILT_IN)
            elif f.name == "cost":
                out["cost"] = None if value is None else {**_as_dict(value), "source": self.sources.get("cost", BUILT_IN)}
        out["topics"] = dict(TOPICS)
        return out


def _as_dict(item: Any) -> dict[str, Any]:
    if hasattr(item, "to_dict"):
        return item.to_dict()
    out = {}
    for f in fields(item):
        value = getattr(item, f.name)
        if isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, tuple):
            value = [dict(v) if isinstance(v, Mapping) else v for v in value]
        out[f.name] = value
    return out
