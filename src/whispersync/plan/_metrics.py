"""Metric identities as the plan names them: a statistic of one metric, and a
GetMetricData query (a statistic or a metric-math expression over other queries)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# CloudWatch's statistics ("CloudWatch statistics definitions", CloudWatch User
# Guide): the five simple ones; percentiles pNN with "up to 10 decimal places"
# (p99.9999999999 is not, p99.0000000001 is); IQM, which is TM(25%:75%); and the
# trimmed/windowed statistics TM (trimmed mean), WM (winsorized mean), TC (trimmed
# count), TS (trimmed sum) and PR (percentile rank). TM/WM/TC/TS take a short form
# with one upper percentage (``tm99``: drop the highest 1%) or a range ``TM(a:b)``
# whose bounds are percentages (``10%``, 0..100, up to 10 decimals) or absolute
# values (``TM(:0.5)``, ``TM(150:1000)``); either bound may be left out. PR takes
# absolute values only (``PR(:300)``, ``PR(100:2000)``). The docs write the short
# forms in lower case and the ranges in upper case; we accept either case.
SIMPLE_STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
_DECIMAL = r"\d{1,3}(?:\.\d{1,10})?"
_PERCENTILE = re.compile(rf"^p({_DECIMAL})$")
_SHORT_TRIMMED = re.compile(rf"^(tm|wm|tc|ts)({_DECIMAL})$", re.IGNORECASE)
_BOUND = r"(-?\d+(?:\.\d{1,10})?(?:[eE][-+]?\d+)?%?)?"
_RANGE = re.compile(rf"^(TM|WM|TC|TS|PR)\(\s*{_BOUND}\s*:\s*{_BOUND}\s*\)$", re.IGNORECASE)
_HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)


def check_period(period: Any) -> int:
    """Return ``period`` if CloudWatch accepts it, else raise ValueError."""
    if type(period) is not int or period <= 0 or (period not in _HIGH_RESOLUTION_PERIODS and period % 60):
        raise ValueError(f"period must be 1, 5, 10, 20, 30 or a multiple of 60 seconds, got {period!r}")
    return period


# A bound of a trimmed statistic: (value, is_percent), or None when left out.
Bound = tuple[float, bool] | None


def parse_statistic(statistic: Any) -> tuple[str, Bound, Bound]:
    """``(kind, lower, upper)`` of a statistic CloudWatch documents, else raise ValueError.

    ``kind`` is the simple statistic's name, ``"p"`` (``upper`` holds the
    percentile), or ``TM``/``WM``/``TC``/``TS``/``PR`` (IQM and the short forms
    are given as their ``X(a%:b%)`` equivalents).
    """
    if statistic in SIMPLE_STATISTICS:
        return statistic, None, None
    text = statistic if isinstance(statistic, str) else ""
    if text.upper() == "IQM":
        return "TM", (25.0, True), (75.0, True)
    m = _PERCENTILE.match(text)
    if m and float(m.group(1)) <= 100:
        return "p", None, (float(m.group(1)), True)
    m = _SHORT_TRIMMED.match(text)
    if m and float(m.group(2)) <= 100:
        return m.group(1).upper(), None, (float(m.group(2)), True)
    m = _RANGE.match(text)
    if m and (m.group(2) or m.group(3)):
        kind = m.group(1).upper()
        lower, upper = (_bound(b) for b in (m.group(2), m.group(3)))
        bounds = [b for b in (lower, upper) if b is not None]
        if kind == "PR" and any(pct for _, pct in bounds):
            raise ValueError(f"statistic {statistic!r}: PR takes absolute values, not percentages (PR(100:2000))")
        if any(pct and not 0 <= v <= 100 for v, pct in bounds):
            raise ValueError(f"statistic {statistic!r}: a percentage bound must be between 0% and 100%")
        if lower and upper and lower[1] == upper[1] and lower[0] > upper[0]:
            raise ValueError(f"statistic {statistic!r}: the lower bound is above the upper one")
        return kind, lower, upper
    raise ValueError(
        f"unknown statistic {statistic!r}; use Sum, Average, Minimum, Maximum, SampleCount,"
        " a percentile p0..p100 with up to 10 decimals (p99, p99.9), IQM, tm99/wm99/tc99/ts99,"
        " or TM/WM/TC/TS(a:b) with percentages or values, or PR(a:b) with values (TM(10%:90%), PR(:300))"
    )


def _bound(text: str | None) -> Bound:
    if not text:
        return None
    return (float(text[:-1]), True) if text.endswith("%") else (float(text), False)


def check_statistic(statistic: Any) -> str:
    """Return ``statistic`` if it is one we compute, else raise ValueError."""
    parse_statistic(statistic)
    return statistic


@dataclass(frozen=True)
class MetricStat:
    """One metric statistic: GetMetricData's MetricStat (and a metric alarm's subject)."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    statistic: str = "Sum"
    period: int = 60
    unit: str | None = None

    # ``(kind, lower, upper)`` of a statistic string (see ``parse_statistic``), for
    # the engines that compute it.
    parse_statistic = staticmethod(parse_statistic)


@dataclass(frozen=True)
class MetricDataQuery:
    """One query of a request: a metric statistic or an expression over other ids.

    ``period`` (seconds) matters only for an expression: it sets the time grid of
    ``FILL``, ``TIME_SERIES`` and the time functions; by default it is the
    smallest period among the request's metrics (60 when there is none).
    """

    id: str
    metric_stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "return_data": self.return_data}
        if self.metric_stat is not None:
            s = self.metric_stat
            out["metric_stat"] = {"namespace": s.namespace, "name": s.name, "dimensions": dict(s.dimensions),
                                  "stat": s.statistic, "period": s.period, "unit": s.unit}
        if self.expression is not None:
            out["expression"] = self.expression
        if self.label is not None:
            out["label"] = self.label
        if self.period is not None:
            out["period"] = self.period
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricDataQuery:
        ms = data.get("metric_stat")
        stat = None
        if ms is not None:
            stat = MetricStat(ms["namespace"], ms["name"], dict(ms.get("dimensions") or {}),
                              ms.get("stat", "Sum"), ms.get("period", 60), ms.get("unit"))
        return cls(data["id"], metric_stat=stat, expression=data.get("expression"), label=data.get("label"),
                   return_data=data.get("return_data", True), period=data.get("period"))


@dataclass(frozen=True)
class MetricFilter:
    """A CloudWatch metric filter: a pattern over log events and one metric transformation.

    ``value`` is a constant ("1") or a field of the pattern: ``$.path`` for JSON
    patterns, ``$name`` for space-delimited ones. ``dimensions`` map a dimension
    name to such a field (at most three). ``default_value`` is reported, as
    CloudWatch documents, for a batch of ingested events of which none matched;
    CloudWatch does not allow it together with dimensions. The pattern's syntax is
    checked by the engine that runs it (``whispersync plan validate`` does both).

    ``log_group`` scopes the filter as CloudWatch does (a filter belongs to one log
    group, PutMetricFilter's ``logGroupName``): it sees only log events of that group.
    ``None`` applies it to every log event, WhisperSync's own lines included.
    """

    name: str
    pattern: str
    namespace: str
    metric_name: str
    value: str = "1"
    unit: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    default_value: float | None = None
    log_group: str | None = None

    def __post_init__(self) -> None:
        for fname in ("name", "namespace", "metric_name"):
            if not isinstance(getattr(self, fname), str) or not getattr(self, fname):
                raise ValueError(f"{fname}: is required")
        if self.log_group is not None and (not isinstance(self.log_group, str)
                                           or not _LOG_GROUP_NAME.fullmatch(self.log_group)):
            raise ValueError(f"log_group: {self.log_group!r} is not a log group name"
                             " (1 to 512 of A-Z a-z 0-9 . - _ / #)")
        if not isinstance(self.pattern, str):
            raise ValueError("pattern: must be a string")
        if not isinstance(self.dimensions, Mapping):
            raise ValueError("dimensions: must map a dimension name to a $field")
        if self.dimensions and self.default_value is not None:
            raise ValueError("default_value: cannot be used with dimensions")
        if len(self.dimensions) > 3:
            raise ValueError(f"dimensions: at most 3, got {len(self.dimensions)}")
        if not isinstance(self.value, str) or not self.value.startswith("$") and _as_number(self.value) is None:
            raise ValueError(f"value: {self.value!r} is neither a number nor a $field")
        for dim, source in self.dimensions.items():
            if not isinstance(dim, str) or not isinstance(source, str) or not source.startswith("$"):
                raise ValueError(f"dimensions: {dim!r} must come from a $field, got {source!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pattern": self.pattern, "namespace": self.namespace,
                "metric_name": self.metric_name, "value": self.value, "unit": self.unit,
                "dimensions": dict(self.dimensions), "default_value": self.default_value,
                "log_group": self.log_group}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricFilter:
        """The filter ``to_dict`` described (a dict without ``log_group`` applies to every group)."""
        return cls(name=data["name"], pattern=data["pattern"], namespace=data["namespace"],
                   metric_name=data["metric_name"], value=data.get("value", "1"), unit=data.get("unit"),
                   dimensions=dict(data.get("dimensions") or {}), default_value=data.get("default_value"),
                   log_group=data.get("log_group"))


# PutMetricFilter's logGroupName: 1 to 512 characters of [.-_/#A-Za-z0-9] (CloudWatch Logs API Reference).
_LOG_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _as_number(text: str) -> float | None:
    """A number as filter patterns write one ("1", "-2.5", "1e3"); nan, inf and "1_000" are not."""
    return float(text) if _NUMBER.fullmatch(text.strip()) else None
