"""CloudWatch's anomaly detector operations over the alarm engine's detector store.

PutAnomalyDetector, DescribeAnomalyDetectors and DeleteAnomalyDetector as the API Reference
describes them (API_PutAnomalyDetector.html, API_DescribeAnomalyDetectors.html,
API_DeleteAnomalyDetector.html under https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/):
a detector is a metric and stat, given as ``SingleMetricAnomalyDetector`` or with the deprecated
top-level ``Namespace``/``MetricName``/``Dimensions``/``Stat``, or a ``MetricMathAnomalyDetector``
(never both); ``Configuration`` holds up to 10 ``ExcludedTimeRanges`` and a ``MetricTimezone``.
DescribeAnomalyDetectors lists single-metric detectors unless ``AnomalyDetectorTypes`` names
METRIC_MATH, with ``StateValue`` computed from the data the model trains on. Deleting a detector
that does not exist is ``ResourceNotFoundException``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from whispersync.app import Runtime
from whispersync.monitoring.alarms import AnomalyDetector, detector_state
from whispersync.plan import MetricDataQuery, MetricStat
from whispersync.web.aws._alarm_ops import _engine
from whispersync.web.aws._metrics_ops import _fingerprint, _offset, _token, epoch_ms
from whispersync.web.aws._protocol import AwsError, combination, invalid

_TOP_LEVEL = ("Namespace", "MetricName", "Dimensions", "Stat")
_TYPES = ("SINGLE_METRIC", "METRIC_MATH")


def _dimensions(items: list[dict] | None) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in items or []}


def _queries(raw: list[dict]) -> tuple[MetricDataQuery, ...]:
    out = []
    for q in raw:
        stat = None
        if q.get("MetricStat"):
            ms = q["MetricStat"]
            metric = ms.get("Metric") or {}
            stat = MetricStat(metric.get("Namespace", ""), metric.get("MetricName", ""),
                              _dimensions(metric.get("Dimensions")), ms.get("Stat", ""), ms.get("Period", 0),
                              ms.get("Unit"))
        out.append(MetricDataQuery(q.get("Id", ""), metric_stat=stat, expression=q.get("Expression"),
                                   label=q.get("Label"), return_data=q.get("ReturnData", True),
                                   period=q.get("Period")))
    return tuple(out)


def _detector(params: dict[str, Any], *, with_configuration: bool) -> AnomalyDetector:
    single, math = params.get("SingleMetricAnomalyDetector"), params.get("MetricMathAnomalyDetector")
    top = {k: params[k] for k in _TOP_LEVEL if params.get(k) is not None}
    if sum(bool(x) for x in (single, math, top)) != 1:
        raise combination("give exactly one of SingleMetricAnomalyDetector, MetricMathAnomalyDetector or the"
                          " top-level Namespace, MetricName, Dimensions and Stat")
    config = params.get("Configuration") or {} if with_configuration else {}
    ranges = tuple((epoch_ms(r["StartTime"]), epoch_ms(r["EndTime"])) for r in config.get("ExcludedTimeRanges") or [])
    common = {"timezone": config.get("MetricTimezone") or "UTC", "excluded": ranges}
    try:
        if math:
            return AnomalyDetector(metrics=_queries(math.get("MetricDataQueries") or []), **common)
        fields = single or top
        return AnomalyDetector(namespace=fields.get("Namespace"), metric_name=fields.get("MetricName"),
                               dimensions=_dimensions(fields.get("Dimensions")), stat=fields.get("Stat"), **common)
    except ValueError as exc:
        raise invalid(str(exc)) from None


def _wire(detector: AnomalyDetector, state: str) -> dict[str, Any]:
    config: dict[str, Any] = {"ExcludedTimeRanges": [
        {"StartTime": datetime.fromtimestamp(s / 1000, UTC), "EndTime": datetime.fromtimestamp(e / 1000, UTC)}
        for s, e in detector.excluded], "MetricTimezone": detector.timezone}
    out: dict[str, Any] = {"Configuration": config, "StateValue": state}
    if detector.metrics:
        queries = []
        for q in detector.metrics:
            item: dict[str, Any] = {"Id": q.id, "ReturnData": q.return_data}
            if q.metric_stat is not None:
                s = q.metric_stat
                item["MetricStat"] = {"Metric": {"Namespace": s.namespace, "MetricName": s.name, "Dimensions": [
                    {"Name": k, "Value": v} for k, v in s.dimensions.items()]}, "Period": s.period, "Stat": s.statistic}
            if q.expression is not None:
                item["Expression"] = q.expression
            if q.label is not None:
                item["Label"] = q.label
            queries.append(item)
        out["MetricMathAnomalyDetector"] = {"MetricDataQueries": queries}
        return out
    single = {"Namespace": detector.namespace, "MetricName": detector.metric_name,
              "Dimensions": [{"Name": k, "Value": v} for k, v in detector.dimensions.items()], "Stat": detector.stat}
    # The deprecated top-level members too, as CloudWatch still fills them in for single-metric detectors.
    out.update(single)
    out["SingleMetricAnomalyDetector"] = dict(single)
    return out


def put_anomaly_detector(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(runtime)
    engine.alarm_store.detectors.put(_detector(params, with_configuration=True))
    return {}


def describe_anomaly_detectors(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(runtime)
    size = params.get("MaxResults", 100)
    if not 1 <= size <= 100:
        raise invalid(f"The value {size} for parameter MaxResults is not between 1 and 100.")
    kinds = params.get("AnomalyDetectorTypes") or ["SINGLE_METRIC"]
    unknown = [k for k in kinds if k not in _TYPES]
    if unknown:
        raise invalid(f"AnomalyDetectorTypes: must be SINGLE_METRIC or METRIC_MATH, got {', '.join(unknown)}")
    found = engine.alarm_store.detectors.list(namespace=params.get("Namespace"), metric_name=params.get("MetricName"),
                                              dimensions=_dimensions(params.get("Dimensions")), kinds=kinds)
    fingerprint = _fingerprint({k: v for k, v in params.items() if k != "MaxResults"})
    offset = _offset(params.get("NextToken"), fingerprint, lambda m: AwsError("InvalidNextToken", m))
    page = found[offset:offset + size]
    now_ms = int(time.time() * 1000)
    out: dict[str, Any] = {"AnomalyDetectors": [_wire(d, detector_state(engine.store, d, now_ms)) for d in page]}
    if offset + size < len(found):
        out["NextToken"] = _token(fingerprint, offset + size)
    return out


def delete_anomaly_detector(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(runtime)
    if not engine.alarm_store.detectors.delete(_detector(params, with_configuration=False)):
        # DeleteAnomalyDetector's error is ResourceNotFoundException (DeleteAlarms' is ResourceNotFound).
        raise AwsError("ResourceNotFoundException", "No anomaly detector found for the metric and stat given.",
                       status=404)
    return {}


OPERATIONS: dict[str, Callable[[Runtime, dict[str, Any]], dict[str, Any]]] = {
    "PutAnomalyDetector": put_anomaly_detector,
    "DescribeAnomalyDetectors": describe_anomaly_detectors,
    "DeleteAnomalyDetector": delete_anomaly_detector,
}
