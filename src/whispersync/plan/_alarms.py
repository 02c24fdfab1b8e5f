"""Alarms as the plan declares them: metric alarms and composite alarms (PutMetricAlarm,
PutCompositeAlarm), with every check that needs no engine.

The engine (``whispersync.monitoring``) evaluates them and checks what only it can
parse: metric-math expressions and composite rules (``plan validate`` runs both).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union

from whispersync.plan._metrics import MetricDataQuery, MetricStat, check_period, check_statistic

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
# PutMetricAlarm's static-threshold operators.
COMPARISON_OPERATORS = (
    "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
)
# PutMetricAlarm's operators for an alarm on an anomaly detection band (ThresholdMetricId):
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
ANOMALY_COMPARISON_OPERATORS = (
    "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold",
)
TREAT_MISSING_DATA = ("missing", "notBreaching", "breaching", "ignore")
# §4 Alert Hierarchy: priority -> what it asks of people.
PRIORITIES: Mapping[str, str] = {
    "P1": "Immediate response required",
    "P2": "Response within 1 hour",
    "P3": "Response within 4 hours",
    "P4": "Next business day",
}

# PutMetricAlarm / PutCompositeAlarm limits.
_MAX_NAME = 255
_MAX_DESCRIPTION = 1024
_MAX_ACTIONS = 5
_MAX_DIMENSIONS = 30
_MAX_MATH_METRICS = 10
_MAX_RULE = 10_240
_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S
_ACTION_FIELDS = ("alarm_actions", "ok_actions", "insufficient_data_actions")
# PutCompositeAlarm's ActionsSuppressor: an alarm name or alarm ARN of at most 1600
# characters (the AlarmArn shape); the periods are the API's 32-bit integers.
_MAX_SUPPRESSOR = 1600
_MAX_SUPPRESSOR_PERIOD = 2**31 - 1
_ALARM_ARN = re.compile(r"^arn:aws[\w-]*:cloudwatch:[^:]*:[^:]*:alarm:(.+)$")


def _check(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{field_name}: {message}")


def _check_common(alarm: Any) -> None:
    name = alarm.name
    _check(isinstance(name, str) and 0 < len(name) <= _MAX_NAME, "name", f"must be 1-{_MAX_NAME} characters")
    _check(name.isascii(), "name", "alarm names must contain only ASCII characters")
    _check(name == name.strip(), "name", "must not start or end with whitespace")
    _check(alarm.priority in PRIORITIES, "priority", f"must be one of {', '.join(PRIORITIES)}, got {alarm.priority!r}")
    _check(isinstance(alarm.description, str) and len(alarm.description) <= _MAX_DESCRIPTION,
           "description", f"must be a string of at most {_MAX_DESCRIPTION} characters")
    _check(isinstance(alarm.actions_enabled, bool), "actions_enabled", "must be true or false")
    for fname in _ACTION_FIELDS:
        actions = getattr(alarm, fname)
        _check(isinstance(actions, tuple) and all(isinstance(a, str) and a for a in actions),
               fname, "must be a list of non-empty strings")
        _check(len(actions) <= _MAX_ACTIONS, fname, f"at most {_MAX_ACTIONS} actions, got {len(actions)}")
    _check(isinstance(alarm.tags, Mapping) and all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in alarm.tags.items()),
           "tags", "must map names to string values")


def _tuples(alarm: Any, names: tuple[str, ...]) -> None:
    """Lists (from TOML or JSON) become tuples, so alarms stay hashable and immutable."""
    for fname in names:
        value = getattr(alarm, fname)
        if isinstance(value, list):
            object.__setattr__(alarm, fname, tuple(value))


@dataclass(frozen=True)
class MetricAlarm:
    """A metric alarm: a statistic of one metric (or a metric-math expression) against a threshold.

    Either ``namespace`` + ``metric_name`` (+ ``dimensions``, ``statistic`` — Sum,
    Average, Minimum, Maximum, SampleCount or a percentile such as p99 —,
    ``period`` in seconds, ``unit``), or ``metrics``: GetMetricData queries with
    exactly one ``return_data=True``, whose result is compared.
    """

    name: str
    threshold: float | None  # None for an anomaly detection alarm (threshold_metric_id)
    evaluation_periods: int
    comparison_operator: str = "GreaterThanOrEqualToThreshold"
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    statistic: str | None = "Sum"
    period: int = 60
    unit: str | None = None
    metrics: tuple[MetricDataQuery, ...] = ()
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    # PutMetricAlarm's EvaluateLowSampleCountPercentile: "evaluate" (the default when
    # None) or "ignore", which keeps the state while a percentile has too few samples.
    evaluate_low_sample_count_percentile: str | None = None
    priority: str = "P3"
    description: str = ""
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    actions_enabled: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    # PutMetricAlarm's ThresholdMetricId: the id of the ANOMALY_DETECTION_BAND query of ``metrics``
    # that is the threshold; then ``threshold`` is None and the operator one of ANOMALY_COMPARISON_OPERATORS.
    threshold_metric_id: str | None = None

    kind = "metric"

    def __post_init__(self) -> None:
        _tuples(self, (*_ACTION_FIELDS, "metrics"))
        _check_common(self)
        if self.threshold_metric_id is not None:
            self._check_band()
        else:
            _check(isinstance(self.threshold, (int, float)) and not isinstance(self.threshold, bool)
                   and math.isfinite(self.threshold), "threshold", f"must be a finite number, got {self.threshold!r}")
            _check(self.comparison_operator in COMPARISON_OPERATORS, "comparison_operator",
                   f"must be one of {', '.join(COMPARISON_OPERATORS)}, got {self.comparison_operator!r}"
                   + (" (an anomaly detection operator needs threshold_metric_id)"
                      if self.comparison_operator in ANOMALY_COMPARISON_OPERATORS else ""))
        _check(type(self.evaluation_periods) is int and self.evaluation_periods >= 1,
               "evaluation_periods", f"must be an integer >= 1, got {self.evaluation_periods!r}")
        m = self.datapoints_to_alarm
        _check(m is None or (type(m) is int and 1 <= m <= self.evaluation_periods), "datapoints_to_alarm",
               f"must be an integer from 1 to evaluation_periods ({self.evaluation_periods}), got {m!r}")
        _check(self.treat_missing_data in TREAT_MISSING_DATA, "treat_missing_data",
               f"must be one of {', '.join(TREAT_MISSING_DATA)}, got {self.treat_missing_data!r}")
        _check(self.evaluate_low_sample_count_percentile in (None, "evaluate", "ignore"),
               "evaluate_low_sample_count_percentile",
               f"must be evaluate or ignore, got {self.evaluate_low_sample_count_percentile!r}")
        if self.metrics:
            _check(self.namespace is None and self.metric_name is None, "metrics",
                   "give either metrics (metric math) or namespace and metric_name, not both")
            _check(all(isinstance(q, MetricDataQuery) for q in self.metrics), "metrics",
                   "must be MetricDataQuery objects")
            # A band alarm returns the band too, as CloudWatch's examples do: one other query is compared.
            returned = [q for q in self.metrics if q.return_data and q.id != self.threshold_metric_id]
            _check(len(returned) == 1, "metrics", f"exactly one query must have return_data true, got {len(returned)}")
            stats = [q.metric_stat for q in self.metrics if q.metric_stat is not None]
            _check(0 < len(stats) <= _MAX_MATH_METRICS, "metrics",
                   f"an alarm's math expression uses 1 to {_MAX_MATH_METRICS} metrics, got {len(stats)}")
            periods = {s.period for s in stats}
            _check(len(periods) == 1, "metrics", "every metric of a math alarm must use the same period")
            object.__setattr__(self, "period", periods.pop())
            object.__setattr__(self, "statistic", None)
        else:
            _check(isinstance(self.namespace, str) and self.namespace, "namespace", "is required")
            _check(isinstance(self.metric_name, str) and self.metric_name, "metric_name", "is required")
            _check(isinstance(self.dimensions, Mapping) and len(self.dimensions) <= _MAX_DIMENSIONS
                   and all(isinstance(k, str) and isinstance(v, str) for k, v in self.dimensions.items()),
                   "dimensions", f"must map names to string values, at most {_MAX_DIMENSIONS}")
            try:
                check_statistic(self.statistic)
            except ValueError as exc:
                raise ValueError(f"statistic: {exc}") from None
        try:
            check_period(self.period)
        except ValueError as exc:
            raise ValueError(f"period: {exc}") from None
        span = self.period * self.evaluation_periods
        limit = _DAY_S if self.period < 3600 else _WEEK_S
        _check(span <= limit, "evaluation_periods",
               f"period x evaluation_periods is {span} s; CloudWatch allows at most {limit} s"
               f" ({'one day for periods under an hour' if limit == _DAY_S else 'seven days'})")

    def _check_band(self) -> None:
        """An anomaly detection alarm: ``threshold_metric_id`` names an ANOMALY_DETECTION_BAND query."""
        tid = self.threshold_metric_id
        _check(isinstance(tid, str) and tid, "threshold_metric_id", "must be the id of a query in metrics")
        _check(self.threshold is None, "threshold",
               "an anomaly detection alarm (threshold_metric_id) takes no threshold; the band is the threshold")
        _check(self.comparison_operator in ANOMALY_COMPARISON_OPERATORS, "comparison_operator",
               f"an anomaly detection alarm needs one of {', '.join(ANOMALY_COMPARISON_OPERATORS)},"
               f" got {self.comparison_operator!r}")
        _check(bool(self.metrics), "threshold_metric_id",
               "needs metrics: the watched metric and an ANOMALY_DETECTION_BAND(m1, k) expression")
        band = next((q for q in self.metrics if isinstance(q, MetricDataQuery) and q.id == tid), None)
        _check(band is not None, "threshold_metric_id", f"names no query of metrics: {tid!r}")
        _check(band.expression is not None and "ANOMALY_DETECTION_BAND" in band.expression.upper(),  # type: ignore[union-attr]
               "threshold_metric_id", f"query {tid!r} must be an ANOMALY_DETECTION_BAND(...) expression")

    @property
    def band_query(self) -> MetricDataQuery | None:
        """The ANOMALY_DETECTION_BAND query of an anomaly detection alarm, else None."""
        return next((q for q in self.metrics if q.id == self.threshold_metric_id), None) \
            if self.threshold_metric_id else None

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def request(self) -> MetricStat:
        return MetricStat(self.namespace or "", self.metric_name or "", dict(self.dimensions),
                          self.statistic or "Sum", self.period, self.unit)

    def to_dict(self) -> dict[str, Any]:
        data = _common_dict(self, threshold=None if self.threshold is None else float(self.threshold),
                            comparison_operator=self.comparison_operator,
                            evaluation_periods=self.evaluation_periods,
                            datapoints_to_alarm=self.datapoints_to_alarm,
                            treat_missing_data=self.treat_missing_data, period=self.period)
        if self.evaluate_low_sample_count_percentile is not None:
            # Only when set, so plans and stored alarms without it keep their shape.
            data["evaluate_low_sample_count_percentile"] = self.evaluate_low_sample_count_percentile
        if self.threshold_metric_id is not None:
            data["threshold_metric_id"] = self.threshold_metric_id
        if self.metrics:
            data["metrics"] = [q.to_dict() for q in self.metrics]
        else:
            data.update(namespace=self.namespace, metric_name=self.metric_name, dimensions=dict(self.dimensions),
                        statistic=self.statistic, unit=self.unit)
        return data


@dataclass(frozen=True)
class CompositeAlarm:
    """An alarm whose state is a rule over other alarms' states (PutCompositeAlarm).

    ``actions_suppressor`` names another alarm (an alarm ARN is accepted and kept as
    the name) whose ALARM state holds this alarm's actions back; with it come
    ``actions_suppressor_wait_period`` and ``actions_suppressor_extension_period``
    in seconds, both required then ("WaitPeriod is required only when
    ActionsSuppressor is specified", PutCompositeAlarm). The engine applies them.
    """

    name: str
    rule: str
    priority: str = "P3"
    description: str = ""
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    actions_enabled: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    actions_suppressor: str | None = None
    actions_suppressor_wait_period: int | None = None
    actions_suppressor_extension_period: int | None = None

    kind = "composite"

    def __post_init__(self) -> None:
        _tuples(self, _ACTION_FIELDS)
        _check_common(self)
        _check(isinstance(self.rule, str) and 0 < len(self.rule) <= _MAX_RULE, "rule",
               f"must be 1-{_MAX_RULE} characters")
        self._check_suppressor()

    def _check_suppressor(self) -> None:
        suppressor = self.actions_suppressor
        periods = ("actions_suppressor_wait_period", "actions_suppressor_extension_period")
        if suppressor is None:
            for fname in periods:
                _check(getattr(self, fname) is None, fname, "only applies with actions_suppressor; give one or"
                                                            " leave this out")
            return
        _check(isinstance(suppressor, str) and 0 < len(suppressor) <= _MAX_SUPPRESSOR, "actions_suppressor",
               f"must be an alarm name or alarm ARN of 1-{_MAX_SUPPRESSOR} characters")
        arn = _ALARM_ARN.match(suppressor)
        if arn:
            suppressor = arn.group(1)
            object.__setattr__(self, "actions_suppressor", suppressor)
        _check(not suppressor.startswith("arn:"), "actions_suppressor",
               "must be an alarm name or an alarm ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME),"
               f" got {suppressor!r}")
        _check(len(suppressor) <= _MAX_NAME and suppressor.isascii() and suppressor == suppressor.strip(),
               "actions_suppressor", f"must name an alarm (1-{_MAX_NAME} ASCII characters), got {suppressor!r}")
        _check(suppressor != self.name, "actions_suppressor", f"alarm {self.name!r} cannot suppress its own actions")
        for fname in periods:
            value = getattr(self, fname)
            _check(value is not None, fname, "is required when actions_suppressor is given")
            _check(type(value) is int and 0 <= value <= _MAX_SUPPRESSOR_PERIOD, fname,
                   f"must be a whole number of seconds from 0 to {_MAX_SUPPRESSOR_PERIOD}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return _common_dict(self, rule=self.rule, actions_suppressor=self.actions_suppressor,
                            actions_suppressor_wait_period=self.actions_suppressor_wait_period,
                            actions_suppressor_extension_period=self.actions_suppressor_extension_period)


Alarm = Union[MetricAlarm, CompositeAlarm]


def _common_dict(alarm: Alarm, **specific: Any) -> dict[str, Any]:
    """What every alarm's ``to_dict`` holds, with its kind's own fields after the priority."""
    return {
        "kind": alarm.kind, "name": alarm.name, "description": alarm.description, "priority": alarm.priority,
        **specific,
        "alarm_actions": list(alarm.alarm_actions), "ok_actions": list(alarm.ok_actions),
        "insufficient_data_actions": list(alarm.insufficient_data_actions),
        "actions_enabled": alarm.actions_enabled, "tags": dict(alarm.tags),
    }


def alarm_from_dict(data: Mapping[str, Any]) -> Alarm:
    """The inverse of ``to_dict``: what the alarm store keeps, and a TOML plan's ``[[alarms]]``."""
    data = dict(data)
    kind = data.pop("kind", "composite" if "rule" in data else "metric")
    for fname in _ACTION_FIELDS:
        data[fname] = tuple(data.get(fname) or ())
    if kind == "composite":
        return CompositeAlarm(**data)
    if kind != "metric":
        raise ValueError(f"kind: must be metric or composite, got {kind!r}")
    if "metrics" in data:
        raw = data.pop("metrics")
        if not isinstance(raw, (list, tuple)) or not all(isinstance(q, Mapping) for q in raw):
            raise ValueError("metrics: must be a list of queries")
        try:
            data["metrics"] = tuple(MetricDataQuery.from_dict(q) for q in raw)
        except KeyError as exc:
            raise ValueError(f"metrics: a query needs {exc.args[0]!r}") from None
    if data.get("threshold_metric_id") is not None:
        data.setdefault("threshold", None)  # a TOML plan cannot write null: a band alarm leaves it out
    return MetricAlarm(**data)


def with_changes(alarm: Alarm, **changes: Any) -> Alarm:
    """A copy of ``alarm`` with some fields changed (validated again)."""
    return replace(alarm, **changes)
