"""PutMetricAlarm and PutCompositeAlarm request JSON → our alarm model.

The accepted shape is what ``aws cloudwatch put-metric-alarm --cli-input-json``
and ``put-composite-alarm --cli-input-json`` take, so users bring the alarms
they already have::

    {"AlarmName": "HighErrors", "Namespace": "WhisperSync/Worker", "MetricName": "Errors",
     "Dimensions": [{"Name": "FunctionName", "Value": "whispersync-worker"}],
     "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
     "Threshold": 5, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
     "TreatMissingData": "notBreaching", "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:critical"]}

A request with ``AlarmRule`` is a PutCompositeAlarm; its ``ActionsSuppressor`` (an
alarm name or ARN, kept as the name) needs ``ActionsSuppressorWaitPeriod`` and
``ActionsSuppressorExtensionPeriod`` (seconds, 0 or more): "WaitPeriod is required
only when ActionsSuppressor is specified" (PutCompositeAlarm). WhisperSync adds one
field, ``Priority`` (P1-P4; also read from a tag with Key ``Priority``; default P3).
Every problem raises ``AlarmInputError`` (an InputError) naming the field, e.g.
``Period: must be 10, 20, 30 or a multiple of 60 seconds, got 45``. Fields that
CloudWatch accepts but we cannot honour are refused by name rather than silently ignored.

An anomaly detection alarm has ``ThresholdMetricId`` naming an ``ANOMALY_DETECTION_BAND(m1, k)``
query of ``Metrics``, no ``Threshold``, and one of the operators LessThanLowerOrGreaterThanUpperThreshold,
LessThanLowerThreshold, GreaterThanUpperThreshold; the metric and the band both return data, as in
PutMetricAlarm's "Anomaly Detection Model Alarm" example
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from whispersync.errors import InputError
from whispersync.monitoring.alarms._checks import check_alarm
from whispersync.monitoring.alarms._errors import AlarmError
from whispersync.plan import (
    ANOMALY_COMPARISON_OPERATORS,
    COMPARISON_OPERATORS,
    PRIORITIES,
    TREAT_MISSING_DATA,
    Alarm,
    CompositeAlarm,
    MetricAlarm,
    MetricDataQuery,
    MetricStat,
    check_period,
    check_statistic,
)

__all__ = ["AlarmInputError", "parse_alarm_request", "parse_alarm_requests"]

_METRIC_FIELDS = {
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
    "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
    "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
    "EvaluateLowSampleCountPercentile", "Metrics", "Tags", "ThresholdMetricId", "Priority",
}
_COMPOSITE_FIELDS = {
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
    "AlarmRule", "Tags", "ActionsSuppressor", "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod",
    "Priority",
}
_UNSUPPORTED: dict[str, str] = {}
_SUPPRESSOR_PERIODS = ("ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod")
_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)$")
# Our model's field -> the request field, to name the request's field in errors.
_MODEL_TO_REQUEST = {
    "name": "AlarmName", "description": "AlarmDescription", "actions_enabled": "ActionsEnabled",
    "alarm_actions": "AlarmActions", "ok_actions": "OKActions", "insufficient_data_actions": "InsufficientDataActions",
    "namespace": "Namespace", "metric_name": "MetricName", "dimensions": "Dimensions", "statistic": "Statistic",
    "period": "Period", "unit": "Unit", "evaluation_periods": "EvaluationPeriods",
    "datapoints_to_alarm": "DatapointsToAlarm", "threshold": "Threshold", "comparison_operator": "ComparisonOperator",
    "treat_missing_data": "TreatMissingData",
    "evaluate_low_sample_count_percentile": "EvaluateLowSampleCountPercentile",
    "metrics": "Metrics", "threshold_metric_id": "ThresholdMetricId", "rule": "AlarmRule", "priority": "Priority",
    "tags": "Tags", "actions_suppressor": "ActionsSuppressor",
    "actions_suppressor_wait_period": "ActionsSuppressorWaitPeriod",
    "actions_suppressor_extension_period": "ActionsSuppressorExtensionPeriod",
}
_UNITS_HINT = "a CloudWatch standard unit such as Count, Seconds, Milliseconds, Bytes, Percent or None"


class AlarmInputError(InputError):
    """A request field is missing, unknown or invalid; ``field`` names it (``Metrics[1].Id``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_alarm_requests(payload: Any) -> list[Alarm]:
    """One request object, or a list of them (``[i]`` prefixes the field in errors)."""
    if isinstance(payload, list):
        out = []
        for i, item in enumerate(payload):
            try:
                out.append(parse_alarm_request(item))
            except AlarmInputError as exc:
                raise AlarmInputError(f"[{i}].{exc.field}", str(exc).split(": ", 1)[1]) from None
        if not out:
            raise AlarmInputError("request", "the list of alarms is empty")
        return out
    return [parse_alarm_request(payload)]


def parse_alarm_request(payload: Any) -> Alarm:
    """A PutMetricAlarm or PutCompositeAlarm request (a dict) → MetricAlarm or CompositeAlarm."""
    if not isinstance(payload, Mapping):
        raise AlarmInputError("request", "must be a JSON object with PutMetricAlarm or PutCompositeAlarm fields")
    is_composite = "AlarmRule" in payload
    allowed = _COMPOSITE_FIELDS if is_composite else _METRIC_FIELDS
    for key in payload:
        if key not in allowed:
            other = _METRIC_FIELDS if is_composite else _COMPOSITE_FIELDS
            hint = (f" ({'a composite alarm (it has AlarmRule)' if is_composite else 'a metric alarm'}"
                    " does not take it)") if key in other else ""
            raise AlarmInputError(key, f"unknown field{hint}; {'PutCompositeAlarm' if is_composite else 'PutMetricAlarm'}"
                                       f" accepts {', '.join(sorted(allowed - set(_UNSUPPORTED)))}")
        if key in _UNSUPPORTED and payload[key] not in (None, "", []):
            raise AlarmInputError(key, _UNSUPPORTED[key])
    common = {
        "name": _string(payload, "AlarmName", required=True),
        "description": _string(payload, "AlarmDescription") or "",
        "actions_enabled": _bool(payload, "ActionsEnabled", True),
        "alarm_actions": _actions(payload, "AlarmActions"),
        "ok_actions": _actions(payload, "OKActions"),
        "insufficient_data_actions": _actions(payload, "InsufficientDataActions"),
    }
    tags = _tags(payload)
    common["tags"] = tags
    common["priority"] = _priority(payload, tags)
    try:
        if is_composite:
            alarm: Alarm = CompositeAlarm(rule=_string(payload, "AlarmRule", required=True), **common,
                                          **_suppressor(payload))
        else:
            alarm = _metric_alarm(payload, common)
        check_alarm(alarm)  # the rule or math expression parses
        return alarm
    except (ValueError, AlarmError) as exc:
        # The plan model (ValueError, by design) and check_alarm say what is wrong; here
        # it is the client's request that is wrong, so it becomes AlarmInputError.
        field, _, message = str(exc).partition(": ")
        if field in _MODEL_TO_REQUEST and message:
            raise AlarmInputError(_MODEL_TO_REQUEST[field], message) from None
        raise AlarmInputError("request", str(exc)) from None


def _suppressor(payload: Mapping[str, Any]) -> dict[str, Any]:
    """ActionsSuppressor and its two periods; an empty ActionsSuppressor (as in a CLI skeleton) is none."""
    suppressor = _string(payload, "ActionsSuppressor") or None
    periods = {key: _int(payload, key, minimum=0) for key in _SUPPRESSOR_PERIODS}
    for key, value in periods.items():
        if suppressor is None and value is not None:
            raise AlarmInputError(key, "only applies with ActionsSuppressor; give one or leave this out")
        if suppressor is not None and value is None:
            raise AlarmInputError(key, "is required when ActionsSuppressor is given")
    return {"actions_suppressor": suppressor,
            "actions_suppressor_wait_period": periods["ActionsSuppressorWaitPeriod"],
            "actions_suppressor_extension_period": periods["ActionsSuppressorExtensionPeriod"]}


def _metric_alarm(payload: Mapping[str, Any], common: dict[str, Any]) -> MetricAlarm:
    fields: dict[str, Any] = dict(common)
    fields["evaluation_periods"] = _int(payload, "EvaluationPeriods", required=True, minimum=1)
    fields["datapoints_to_alarm"] = _int(payload, "DatapointsToAlarm", minimum=1)
    op = _string(payload, "ComparisonOperator", required=True)
    band_id = _string(payload, "ThresholdMetricId") or None
    if band_id is not None:
        if payload.get("Metrics") is None:
            raise AlarmInputError("ThresholdMetricId", "an anomaly detection alarm needs Metrics: the metric (m1)"
                                                       " and the band, ANOMALY_DETECTION_BAND(m1, 2), this names")
        # CloudWatch: "ComparisonOperators for ranges require ThresholdMetricId to be set", and the reverse.
        if op not in ANOMALY_COMPARISON_OPERATORS:
            raise AlarmInputError("ComparisonOperator", "an anomaly detection alarm (ThresholdMetricId) needs one of "
                                                        f"{', '.join(ANOMALY_COMPARISON_OPERATORS)}, got {op!r}")
        if payload.get("Threshold") is not None:
            raise AlarmInputError("Threshold", "an anomaly detection alarm (ThresholdMetricId) takes no Threshold;"
                                               " the band is the threshold")
        fields["threshold"] = None
        fields["threshold_metric_id"] = band_id
    else:
        if op not in COMPARISON_OPERATORS:
            extra = (" (anomaly detection operators need ThresholdMetricId)"
                     if op in ANOMALY_COMPARISON_OPERATORS else "")
            raise AlarmInputError("ComparisonOperator",
                                  f"must be one of {', '.join(COMPARISON_OPERATORS)}, got {op!r}{extra}")
        if payload.get("Threshold") is None:
            raise AlarmInputError("Threshold", "is required")
        fields["threshold"] = _number(payload, "Threshold")
    fields["comparison_operator"] = op
    treat = _string(payload, "TreatMissingData") or "missing"
    if treat not in TREAT_MISSING_DATA:
        raise AlarmInputError("TreatMissingData", f"must be one of {', '.join(TREAT_MISSING_DATA)}, got {treat!r}")
    fields["treat_missing_data"] = treat
    low = payload.get("EvaluateLowSampleCountPercentile")
    if low is not None and low not in ("evaluate", "ignore"):
        raise AlarmInputError("EvaluateLowSampleCountPercentile", f"must be evaluate or ignore, got {low!r}")
    if low is not None:
        fields["evaluate_low_sample_count_percentile"] = low
    if payload.get("Metrics") is not None:
        for key in ("Namespace", "MetricName", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit"):
            if payload.get(key) is not None:
                raise AlarmInputError(key, "cannot be combined with Metrics (a metric math alarm); "
                                           "put it inside each Metrics[].MetricStat instead")
        fields["metrics"] = _metrics(payload["Metrics"], band_id)
        return MetricAlarm(**fields)
    fields["namespace"] = _string(payload, "Namespace", required=True)
    fields["metric_name"] = _string(payload, "MetricName", required=True)
    fields["dimensions"] = _dimensions(payload.get("Dimensions"), "Dimensions")
    stat, ext = payload.get("Statistic"), payload.get("ExtendedStatistic")
    if (stat is None) == (ext is None):
        raise AlarmInputError("Statistic", "give exactly one of Statistic and ExtendedStatistic")
    if stat is not None:
        if stat not in _STATISTICS:
            raise AlarmInputError("Statistic", f"must be one of {', '.join(_STATISTICS)}, got {stat!r}"
                                               + (" (percentiles go in ExtendedStatistic)" if isinstance(stat, str)
                                                  and stat.startswith("p") else ""))
        fields["statistic"] = stat
    else:
        if not isinstance(ext, str) or not _PERCENTILE.match(ext):
            raise AlarmInputError("ExtendedStatistic", f"must be a percentile p0.0 to p100 such as p99 or p99.9, got {ext!r}")
        fields["statistic"] = ext
    fields["period"] = _int(payload, "Period", required=True, minimum=1)
    fields["unit"] = _string(payload, "Unit")
    if fields["unit"] is not None:
        from whispersync.telemetry import Unit

        if fields["unit"] not in Unit.ALL:
            raise AlarmInputError("Unit", f"must be {_UNITS_HINT}, got {fields['unit']!r}")
    return MetricAlarm(**fields)


def _metrics(raw: Any, band_id: str | None = None) -> tuple[MetricDataQuery, ...]:
    if not isinstance(raw, list) or not raw:
        raise AlarmInputError("Metrics", "must be a non-empty list of metric data queries")
    out = []
    allowed = {"Id", "MetricStat", "Expression", "Label", "ReturnData", "Period", "AccountId"}
    for i, q in enumerate(raw):
        where = f"Metrics[{i}]"
        if not isinstance(q, Mapping):
            raise AlarmInputError(where, "must be an object")
        for key in q:
            if key not in allowed:
                raise AlarmInputError(f"{where}.{key}", f"unknown field; a metric data query takes {', '.join(sorted(allowed))}")
        qid = q.get("Id")
        if not isinstance(qid, str) or not re.fullmatch(r"[a-z][a-zA-Z0-9_]{0,254}", qid):
            raise AlarmInputError(f"{where}.Id", f"must start with a lowercase letter and hold letters, digits, underscores; got {qid!r}")
        has_stat, has_expr = q.get("MetricStat") is not None, q.get("Expression") is not None
        if has_stat == has_expr:
            raise AlarmInputError(where, "needs exactly one of MetricStat and Expression")
        stat = None
        if has_stat:
            ms = q["MetricStat"]
            if not isinstance(ms, Mapping) or not isinstance(ms.get("Metric"), Mapping):
                raise AlarmInputError(f"{where}.MetricStat", "must be an object with Metric, Period and Stat")
            for key in ms:
                if key not in ("Metric", "Period", "Stat", "Unit"):
                    raise AlarmInputError(f"{where}.MetricStat.{key}", "unknown field; MetricStat takes Metric, Period, Stat, Unit")
            metric = ms["Metric"]
            for key in metric:
                if key not in ("Namespace", "MetricName", "Dimensions"):
                    raise AlarmInputError(f"{where}.MetricStat.Metric.{key}",
                                          "unknown field; Metric takes Namespace, MetricName, Dimensions")
            stat = MetricStat(
                namespace=_string(metric, "Namespace", required=True, where=f"{where}.MetricStat.Metric."),
                name=_string(metric, "MetricName", required=True, where=f"{where}.MetricStat.Metric."),
                dimensions=_dimensions(metric.get("Dimensions"), f"{where}.MetricStat.Metric.Dimensions"),
                statistic=_string(ms, "Stat", required=True, where=f"{where}.MetricStat."),
                period=_int(ms, "Period", required=True, minimum=1, where=f"{where}.MetricStat."),
                unit=_string(ms, "Unit", where=f"{where}.MetricStat."),
            )

            for check, key, value in ((check_statistic, "Stat", stat.statistic), (check_period, "Period", stat.period)):
                try:
                    check(value)
                except ValueError as exc:
                    raise AlarmInputError(f"{where}.MetricStat.{key}", str(exc)) from None
        return_data = q.get("ReturnData", True)
        if not isinstance(return_data, bool):
            raise AlarmInputError(f"{where}.ReturnData", "must be true or false")
        out.append(MetricDataQuery(
            id=qid, metric_stat=stat,
            expression=_string(q, "Expression", where=f"{where}."),
            label=_string(q, "Label", where=f"{where}."),
            return_data=return_data,
            period=_int(q, "Period", minimum=1, where=f"{where}."),
        ))
    if band_id is not None and band_id not in {q.id for q in out}:
        raise AlarmInputError("ThresholdMetricId", f"names no query of Metrics: {band_id!r} (it must be the Id of"
                                                   " the ANOMALY_DETECTION_BAND expression)")
    returned = [q.id for q in out if q.return_data and q.id != band_id]  # a band alarm returns its band too
    if len(returned) != 1:
        raise AlarmInputError("Metrics", f"exactly one query must have ReturnData true (the one the alarm watches); "
                                         f"got {len(returned)}{': ' + ', '.join(returned) if returned else ''}")
    return tuple(out)


# ---------------------------------------------------------------------- field helpers


def _string(obj: Mapping[str, Any], key: str, *, required: bool = False, where: str = "") -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise AlarmInputError(where + key, "is required")
        return None
    if not isinstance(value, str) or (required and not value):
        raise AlarmInputError(where + key, f"must be a {'non-empty ' if required else ''}string, got {value!r}")
    return value


def _int(obj: Mapping[str, Any], key: str, *, required: bool = False, minimum: int | None = None,
         where: str = "") -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise AlarmInputError(where + key, "is required")
        return None
    if type(value) is not int:
        raise AlarmInputError(where + key, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise AlarmInputError(where + key, f"must be at least {minimum}, got {value}")
    return value


def _number(obj: Mapping[str, Any], key: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AlarmInputError(key, f"must be a number, got {value!r}")
    return float(value)


def _bool(obj: Mapping[str, Any], key: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise AlarmInputError(key, f"must be true or false, got {value!r}")
    return value


def _actions(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise AlarmInputError(key, "must be a list of action ARNs or topic names")
    for i, action in enumerate(value):
        if not isinstance(action, str) or not action.strip():
            raise AlarmInputError(f"{key}[{i}]", f"must be a non-empty string, got {action!r}")
    if len(value) > 5:
        raise AlarmInputError(key, f"at most 5 actions, got {len(value)}")
    return tuple(value)


def _dimensions(raw: Any, field: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise AlarmInputError(field, "must be a list of {\"Name\": ..., \"Value\": ...}")
    if len(raw) > 30:
        raise AlarmInputError(field, f"at most 30 dimensions, got {len(raw)}")
    out: dict[str, str] = {}
    for i, d in enumerate(raw):
        if not isinstance(d, Mapping) or set(d) - {"Name", "Value"}:
            raise AlarmInputError(f"{field}[{i}]", "must be an object with exactly Name and Value")
        name, value = d.get("Name"), d.get("Value")
        if not isinstance(name, str) or not name:
            raise AlarmInputError(f"{field}[{i}].Name", f"must be a non-empty string, got {name!r}")
        if not isinstance(value, str) or not value:
            raise AlarmInputError(f"{field}[{i}].Value", f"must be a non-empty string, got {value!r}")
        if name in out:
            raise AlarmInputError(f"{field}[{i}].Name", f"dimension {name!r} is given twice")
        out[name] = value
    return out


def _tags(obj: Mapping[str, Any]) -> dict[str, str]:
    raw = obj.get("Tags")
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise AlarmInputError("Tags", "must be a list of {\"Key\": ..., \"Value\": ...}")
    out = {}
    for i, t in enumerate(raw):
        if not isinstance(t, Mapping) or set(t) - {"Key", "Value"} or not isinstance(t.get("Key"), str) \
                or not isinstance(t.get("Value"), str):
            raise AlarmInputError(f"Tags[{i}]", "must be an object with string Key and Value")
        out[t["Key"]] = t["Value"]
    return out


def _priority(obj: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    value = obj.get("Priority", tags.get("Priority", "P3"))
    if value not in PRIORITIES:
        raise AlarmInputError("Priority", f"must be one of {', '.join(PRIORITIES)}, got {value!r}")
    return value
