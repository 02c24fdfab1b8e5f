"""Typed slots for what the plan declares next (§5–§10). The engine parts that run
them arrive with their own issues; the model is here so that every consumer (the
local engine, the CDK app, the exporters) reads one shape from day one."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


# PutDashboard's DashboardName: "can contain only alphanumerics, dash (-), and underscore (_)", up to 255.
DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
PERIOD_OVERRIDES = ("auto", "inherit")


@dataclass(frozen=True)
class Dashboard:
    """A CloudWatch dashboard (§5, §7, §9): its name and the fields of its body.

    `widgets` are CloudWatch's own widget objects (``{"type": "metric", "x": 0, "y": 0,
    "width": 12, "height": 6, "properties": {...}}``), so a body exported from the
    console or written by the CDK can be pasted in as it is; the monitoring package's
    dashboard engine checks them (the plan package cannot import it). `description` is
    ours, not part of the body. https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/
    CloudWatch-Dashboard-Body-Structure.html
    """

    name: str
    widgets: tuple[Mapping[str, Any], ...] = ()
    start: str = "-PT3H"
    end: str | None = None
    period_override: str = "auto"
    variables: tuple[Mapping[str, Any], ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not DASHBOARD_NAME.fullmatch(self.name):
            raise ValueError(f"name: must be 1 to 255 letters, digits, - or _, got {self.name!r}")
        for fname in ("widgets", "variables"):
            items = getattr(self, fname)
            if not isinstance(items, (list, tuple)):
                raise ValueError(f"{fname}: must be a list of tables")
            for i, item in enumerate(items):
                if not isinstance(item, Mapping):
                    raise ValueError(f"{fname}[{i}]: must be a table")
            object.__setattr__(self, fname, tuple(items))
        if not isinstance(self.start, str) or not self.start:
            raise ValueError(f"start: must be a duration such as -PT3H or an ISO 8601 time, got {self.start!r}")
        if self.end is not None and not (isinstance(self.end, str) and self.end):
            raise ValueError(f"end: must be an ISO 8601 time, got {self.end!r}")
        if self.period_override not in PERIOD_OVERRIDES:
            raise ValueError(f"period_override: must be one of {', '.join(PERIOD_OVERRIDES)},"
                             f" got {self.period_override!r}")
        if not isinstance(self.description, str):
            raise ValueError("description: must be a string")

    def body(self) -> dict[str, Any]:
        """The CloudWatch dashboard body (what PutDashboard's DashboardBody holds, before JSON-encoding)."""
        body: dict[str, Any] = {"widgets": [dict(w) for w in self.widgets], "start": self.start}
        if self.end is not None:
            body["end"] = self.end
        body["periodOverride"] = self.period_override
        if self.variables:
            body["variables"] = [dict(v) for v in self.variables]
        return body

    @classmethod
    def from_body(cls, name: str, body: Mapping[str, Any], *, description: str = "") -> Dashboard:
        """The dashboard of a CloudWatch body; absent fields take CloudWatch's defaults."""
        return cls(name=name, widgets=tuple(body.get("widgets") or ()), start=body.get("start") or "-PT3H",
                   end=body.get("end"), period_override=body.get("periodOverride") or "auto",
                   variables=tuple(body.get("variables") or ()), description=description)


@dataclass(frozen=True)
class HealthCheck:
    """A synthetic check (§6) with CloudWatch Synthetics' schedule expressions."""

    name: str
    schedule: str = "rate(5 minutes)"
    timeout_seconds: int = 60
    steps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("name: is required")
        if not (isinstance(self.schedule, str) and self.schedule.startswith(("rate(", "cron("))):
            raise ValueError(f"schedule: must be rate(...) or cron(...), got {self.schedule!r}")
        if type(self.timeout_seconds) is not int or not 3 <= self.timeout_seconds <= 840:
            raise ValueError("timeout_seconds: must be an integer from 3 to 840")
        if isinstance(self.steps, list):
            object.__setattr__(self, "steps", tuple(self.steps))


@dataclass(frozen=True)
class RemediationRule:
    """§8: an alarm that, while in ALARM, moves a target (worker count) toward a bound."""

    name: str
    alarm: str
    action: str
    minimum: int = 1
    maximum: int = 16
    cooldown_seconds: int = 300
    stabilization_seconds: int = 300

    def __post_init__(self) -> None:
        for fname in ("name", "alarm", "action"):
            if not isinstance(getattr(self, fname), str) or not getattr(self, fname):
                raise ValueError(f"{fname}: is required")
        if not (type(self.minimum) is int and type(self.maximum) is int and 1 <= self.minimum <= self.maximum):
            raise ValueError("maximum: must be an integer >= minimum >= 1")
        for fname in ("cooldown_seconds", "stabilization_seconds"):
            if type(getattr(self, fname)) is not int or getattr(self, fname) < 0:
                raise ValueError(f"{fname}: must be an integer >= 0")


@dataclass(frozen=True)
class CostModel:
    """§7: unit prices, by item (e.g. "lambda_gb_second"), in `currency`."""

    prices: Mapping[str, float] = field(default_factory=dict)
    currency: str = "USD"

    def __post_init__(self) -> None:
        for item, price in self.prices.items():
            if not isinstance(price, (int, float)) or isinstance(price, bool) or price < 0:
                raise ValueError(f"prices.{item}: must be a number >= 0")


@dataclass(frozen=True)
class Baseline:
    """§10: a daily baseline of one metric statistic over `window_days` days."""

    name: str
    namespace: str
    metric_name: str
    statistic: str = "Average"
    window_days: int = 7
    dimensions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fname in ("name", "namespace", "metric_name"):
            if not isinstance(getattr(self, fname), str) or not getattr(self, fname):
                raise ValueError(f"{fname}: is required")
        if type(self.window_days) is not int or not 1 <= self.window_days <= 14:
            raise ValueError("window_days: must be an integer from 1 to 14")


@dataclass(frozen=True)
class Slo:
    """A service-level objective: `objective` (e.g. 0.99) of good events over `window_days`."""

    name: str
    good: str
    total: str
    objective: float = 0.99
    window_days: int = 28

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("name: is required")
        if not (isinstance(self.objective, (int, float)) and 0 < self.objective < 1):
            raise ValueError("objective: must be between 0 and 1")
