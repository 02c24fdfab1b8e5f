"""Typed slots for what the plan declares next (§5–§10). The engine parts that run
them arrive with their own issues; the model is here so that every consumer (the
local engine, the CDK app, the exporters) reads one shape from day one."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from whispersync import catalog


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


# A canary's schedule, as CloudWatch Synthetics writes it (CanaryScheduleInput, https://docs.aws.amazon.com/
# AmazonSynthetics/latest/APIReference/API_CanaryScheduleInput.html): rate(number unit), unit minute, minutes
# or hour ("hours" is accepted too), between rate(1 minute) and rate(1 hour).
_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours)\s*\)")
CHECK_KINDS = ("dependencies", "end-to-end", "http")


def rate_seconds(expression: str) -> int:
    """The interval of a ``rate(...)`` schedule, in seconds; ValueError says what is wrong."""
    text = expression.strip() if isinstance(expression, str) else ""
    if text.startswith("cron("):
        raise ValueError(f"schedule: cron expressions are not supported yet; use rate(N minutes), got {text[:60]!r}")
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"schedule: must be rate(number unit) with unit minute, minutes or hour, got {expression!r}")
    seconds = int(match.group(1)) * (3600 if match.group(2).startswith("hour") else 60)
    if seconds == 0:
        raise ValueError(f"schedule: run-once canaries (rate(0 ...)) are not supported, got {text!r}")
    if not 60 <= seconds <= 3600:
        raise ValueError(f"schedule: must lie between rate(1 minute) and rate(1 hour), got {text!r}")
    return seconds


@dataclass(frozen=True)
class HealthCheck:
    """A synthetic check (§6), a canary with CloudWatch Synthetics' semantics.

    `kind` is what it runs: ``dependencies`` (probe the blob store, queue, record store and
    telemetry store), ``end-to-end`` (a synthetic memo through ingest, queue, worker and agent, then
    removed) or ``http`` (GET `url`; no outbound traffic unless a user lists one). The
    timeout is Synthetics' RunConfig.TimeoutInSeconds (3 to 840, at most the interval); `retries`
    its RetryConfig.MaxRetries (0 to 2); `retention_days` how long runs are kept.
    """

    name: str
    schedule: str = "rate(5 minutes)"
    timeout_seconds: int = 60
    steps: tuple[str, ...] = ()
    kind: str = "http"
    retries: int = 0
    url: str | None = None
    retention_days: int = 31

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[a-z0-9_-]{1,255}", self.name):
            raise ValueError(f"name: must be 1 to 255 lower-case letters, digits, - or _, got {self.name!r}")
        interval = rate_seconds(self.schedule)
        if type(self.timeout_seconds) is not int or not 3 <= self.timeout_seconds <= 840:
            raise ValueError("timeout_seconds: must be an integer from 3 to 840")
        if self.timeout_seconds > interval:
            raise ValueError(f"timeout_seconds: must not exceed the schedule's interval ({interval} s)")
        if self.kind not in CHECK_KINDS:
            raise ValueError(f"kind: must be one of {', '.join(CHECK_KINDS)}, got {self.kind!r}")
        if type(self.retries) is not int or not 0 <= self.retries <= 2:
            raise ValueError("retries: must be an integer from 0 to 2")
        if type(self.retention_days) is not int or not 1 <= self.retention_days <= 455:
            raise ValueError("retention_days: must be an integer from 1 to 455")
        if self.kind == "http" and not (isinstance(self.url, str) and self.url.startswith(("http://", "https://"))):
            raise ValueError(f"url: an http check needs an http:// or https:// URL, got {self.url!r}")
        if self.kind != "http" and self.url is not None:
            raise ValueError(f"url: only an http check has one (this one is {self.kind})")
        if isinstance(self.steps, list):
            object.__setattr__(self, "steps", tuple(self.steps))

    @property
    def interval_seconds(self) -> int:
        return rate_seconds(self.schedule)


@dataclass(frozen=True)
class RemediationRule:
    """§8: an alarm that, while in ALARM, moves a target (worker count) toward a bound.

    One knob, one meaning (monitoring/remediation.py's PoolScaler applies them):

    - ``alarm``: the alarm whose ALARM state calls the ``action`` and whose OK state lets the pool shrink.
    - ``action``: the alarm action that runs it (``remediation:scale_up``).
    - ``minimum`` / ``maximum``: the bounds of every target the rule sets (workers); scale-up doubles
      the current size up to ``maximum``; scale-down goes back to the pool's configured size
      (``up --workers``), never below ``minimum``.
    - ``cooldown_seconds``: after an action (scale-up, or scale-down) on the pool, the same action is
      suppressed for this long; an alarm flapping inside it yields one action.
    - ``stabilization_seconds``: scale-down uses the highest recommendation made over this window
      (Kubernetes HPA's scale-down stabilization window); it never delays a scale-up.
    - ``max_actions_per_hour``: actions allowed in any rolling hour; beyond it the rule stops acting
      and escalates once at P1.
    - ``dry_run``: decide and record (result ``dry_run``), never resize.
    """

    name: str
    alarm: str
    action: str
    minimum: int = 1
    maximum: int = 16
    cooldown_seconds: int = 300
    stabilization_seconds: int = 300
    max_actions_per_hour: int = 6
    dry_run: bool = False

    def __post_init__(self) -> None:
        for fname in ("name", "alarm", "action"):
            if not isinstance(getattr(self, fname), str) or not getattr(self, fname):
                raise ValueError(f"{fname}: is required")
        if not (type(self.minimum) is int and type(self.maximum) is int and 1 <= self.minimum <= self.maximum):
            raise ValueError("maximum: must be an integer >= minimum >= 1")
        for fname in ("cooldown_seconds", "stabilization_seconds"):
            if type(getattr(self, fname)) is not int or getattr(self, fname) < 0:
                raise ValueError(f"{fname}: must be an integer >= 0")
        if type(self.max_actions_per_hour) is not int or self.max_actions_per_hour < 1:
            raise ValueError("max_actions_per_hour: must be an integer >= 1")
        if type(self.dry_run) is not bool:
            raise ValueError("dry_run: must be true or false")


@dataclass(frozen=True)
class RedriveRule:
    """§8: while ``alarm`` (the DLQ's) is in ALARM, move the dead-lettered memos whose failure was
    transient back to the queue, each at most once automatically (pipeline/dead_letters.py says how a
    message records that). A permanent failure stays; so does a memo that fails again after its
    automatic redrive. monitoring/remediation.py's TransientRedriver applies it.

    - ``alarm`` / ``action``: the alarm (DLQMessages) and the action (``remediation:redrive_transient``)
      that runs it; an enabled rule adds the action to the alarm's ALARM actions.
    - ``enabled``: off by default (a redrive retries work a person may want to look at first): the
      alarm then only tells people. ``whispersync up --demo`` turns it on for its run.
    - ``max_per_run``: at most this many memos per redrive; the rest wait for the next run.
    - ``cooldown_seconds``: after a redrive that moved memos, the next waits this long.
    """

    name: str
    alarm: str
    action: str = "remediation:redrive_transient"
    enabled: bool = False
    max_per_run: int = 100
    cooldown_seconds: int = 300

    def __post_init__(self) -> None:
        for fname in ("name", "alarm", "action"):
            if not isinstance(getattr(self, fname), str) or not getattr(self, fname):
                raise ValueError(f"{fname}: is required")
        if type(self.enabled) is not bool:
            raise ValueError("enabled: must be true or false")
        if type(self.max_per_run) is not int or not 1 <= self.max_per_run <= 10_000:
            raise ValueError("max_per_run: must be an integer from 1 to 10000")
        if type(self.cooldown_seconds) is not int or self.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds: must be an integer >= 0")


# AWS Budgets' vocabulary (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/
# API_budgets_Notification.html); monitoring/cost evaluates them.
BUDGET_NOTIFICATION_TYPES = ("ACTUAL", "FORECASTED")
BUDGET_THRESHOLD_TYPES = ("PERCENTAGE", "ABSOLUTE_VALUE")
BUDGET_COMPARISON_OPERATORS = ("GREATER_THAN", "LESS_THAN", "EQUAL_TO")
_BUDGET_NAME = re.compile(r"[^:\\]{1,100}")  # BudgetName: 1 to 100 characters, no ':' or '\\'
_MAX_BUDGET_NOTIFICATIONS = 10  # "A budget can have up to ten notifications."


@dataclass(frozen=True)
class BudgetNotificationSpec:
    """One notification of a budget: `threshold` is a percentage of the limit or an amount in USD."""

    notification_type: str
    threshold: float
    threshold_type: str = "PERCENTAGE"
    comparison_operator: str = "GREATER_THAN"

    def __post_init__(self) -> None:
        for fname, allowed in (("notification_type", BUDGET_NOTIFICATION_TYPES),
                               ("threshold_type", BUDGET_THRESHOLD_TYPES),
                               ("comparison_operator", BUDGET_COMPARISON_OPERATORS)):
            if getattr(self, fname) not in allowed:
                raise ValueError(f"{fname}: must be one of {', '.join(allowed)}, got {getattr(self, fname)!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not (
                0 <= self.threshold <= 15e12):  # the API's valid range
            raise ValueError(f"threshold: must be a number from 0 to 15000000000000, got {self.threshold!r}")


@dataclass(frozen=True)
class CostBudget:
    """§7: a monthly cost budget (AWS Budgets' COST budget, TimeUnit MONTHLY) on the estimated spend."""

    name: str
    limit_usd: float
    notifications: tuple[BudgetNotificationSpec, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _BUDGET_NAME.fullmatch(self.name):
            raise ValueError(f"name: must be 1 to 100 characters without ':' or '\\', got {self.name!r}")
        if isinstance(self.limit_usd, bool) or not isinstance(self.limit_usd, (int, float)) or self.limit_usd <= 0:
            raise ValueError(f"limit_usd: must be an amount > 0 (USD), got {self.limit_usd!r}")
        if not isinstance(self.notifications, (list, tuple)):
            raise ValueError("notifications: must be a list of tables")
        if len(self.notifications) > _MAX_BUDGET_NOTIFICATIONS:
            raise ValueError(f"notifications: a budget can have up to {_MAX_BUDGET_NOTIFICATIONS}, "
                             f"got {len(self.notifications)}")
        object.__setattr__(self, "notifications", tuple(
            _built(BudgetNotificationSpec, item, f"notifications[{i}]") for i, item in enumerate(self.notifications)))


@dataclass(frozen=True)
class CostModel:
    """§7: unit prices, by item (e.g. "lambda_gb_second"), in `currency`; the user's monthly `budgets`
    (none built in: a limit is the user's to set)."""

    prices: Mapping[str, float] = field(default_factory=dict)
    currency: str = "USD"
    budgets: tuple[CostBudget, ...] = ()

    def __post_init__(self) -> None:
        for item, price in self.prices.items():
            if not isinstance(price, (int, float)) or isinstance(price, bool) or price < 0:
                raise ValueError(f"prices.{item}: must be a number >= 0")
        if not isinstance(self.budgets, (list, tuple)):
            raise ValueError("budgets: must be a list of tables ([[cost.budgets]])")
        budgets = tuple(_built(CostBudget, item, f"budgets[{i}]") for i, item in enumerate(self.budgets))
        names = [b.name for b in budgets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"budgets: names must be unique; repeated: {', '.join(repeated)}")
        object.__setattr__(self, "budgets", budgets)

    def to_dict(self) -> dict[str, Any]:
        return {"prices": dict(self.prices), "currency": self.currency,
                "budgets": [{"name": b.name, "limit_usd": b.limit_usd,
                             "notifications": [dict(vars(n)) for n in b.notifications]} for b in self.budgets]}


def _built(cls: type, item: Any, where: str) -> Any:
    """`item` as a `cls` (a table from TOML, or one already built); errors name the item's path."""
    if isinstance(item, cls):
        return item
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: must be a table")
    allowed = set(cls.__dataclass_fields__)
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(sorted(allowed))}")
    try:
        return cls(**item)
    except TypeError as exc:  # a required field left out
        missing = re.findall(r"'(\w+)'", str(exc))
        raise ValueError(f"{where}.{missing[0] if missing else ''}: is required") from None
    except ValueError as exc:
        raise ValueError(f"{where}.{exc}") from None


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
        # The name is the Baseline dimension's value of the published WhisperSync/Baselines metrics.
        if len(self.name) > 255:
            raise ValueError("name: must be at most 255 characters")
        from whispersync.plan._metrics import check_statistic

        try:
            check_statistic(self.statistic)
        except ValueError as exc:
            raise ValueError(f"statistic: {exc}") from None
        if not isinstance(self.dimensions, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.dimensions.items()):
            raise ValueError("dimensions: must be a table of strings")


@dataclass(frozen=True)
class Slo:
    """A latency service-level objective (the user-experience layer): `objective` of memos done within
    `threshold_ms` over a rolling `window_days`.

    A good event is a sample of the latency metric (``namespace``/``metric_name``/``dimensions``, by
    default the worker's MemoLatency, acceptance to DONE, real memos only) at most `threshold_ms`; a bad
    one is a slower sample or a count of the failures metric (MemosFailed: memos that ended FAILED).
    `apdex_t_ms` is Apdex's T: satisfied <= T, tolerating <= 4T, frustrated beyond or failed.
    The plan derives multi-window burn-rate alarms from each SLO (``plan/_slo.py``).
    """

    name: str
    threshold_ms: float = 10_000
    objective: float = 0.99
    window_days: int = 28
    apdex_t_ms: float = 2_500
    namespace: str = catalog.MEMO_LATENCY.namespace
    metric_name: str = catalog.MEMO_LATENCY.name
    dimensions: Mapping[str, str] = field(default_factory=dict)
    # Counted as bad events (Sum per period); None when only latency counts.
    failures_namespace: str | None = catalog.MEMOS_FAILED.namespace
    failures_metric_name: str | None = catalog.MEMOS_FAILED.name
    description: str = ""

    def __post_init__(self) -> None:
        # The name is part of the derived alarms' names (SloFastBurn-<name>).
        if not isinstance(self.name, str) or not _SLO_NAME.fullmatch(self.name):
            raise ValueError(f"name: must be 1 to 200 letters, digits, ., - or _, got {self.name!r}")
        for fname in ("threshold_ms", "apdex_t_ms"):
            value = getattr(self, fname)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 2**53:
                raise ValueError(f"{fname}: must be a number of milliseconds > 0, got {value!r}")
        if isinstance(self.objective, bool) or not (isinstance(self.objective, (int, float))
                                                    and 0 < self.objective < 1):
            raise ValueError(f"objective: must be between 0 and 1 (0.99 for 99 %), got {self.objective!r}")
        if type(self.window_days) is not int or not 1 <= self.window_days <= 90:
            raise ValueError(f"window_days: must be an integer from 1 to 90, got {self.window_days!r}")
        for fname in ("namespace", "metric_name"):
            if not isinstance(getattr(self, fname), str) or not getattr(self, fname):
                raise ValueError(f"{fname}: is required")
        if not isinstance(self.dimensions, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.dimensions.items()):
            raise ValueError("dimensions: must map names to string values")
        if (self.failures_namespace is None) != (self.failures_metric_name is None):
            raise ValueError("failures_metric_name: give both failures_namespace and failures_metric_name, or neither")
        for fname in ("failures_namespace", "failures_metric_name"):
            value = getattr(self, fname)
            if value is not None and not (isinstance(value, str) and value):
                raise ValueError(f"{fname}: must be a non-empty string")
        if not isinstance(self.description, str):
            raise ValueError("description: must be a string")


_SLO_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")
