"""CloudWatch's metric operations over the telemetry store the CLI uses.

Each function takes (runtime, params) — params as ``_protocol.decode`` validated
them against botocore's model (timestamps as aware datetimes) — and returns the
operation's output dict. PutMetricData writes with ``TelemetryStore.put_metrics``
(as ``whispersync metrics put``); GetMetricData and GetMetricStatistics read with
``monitoring.metrics.get_metric_data`` (as ``whispersync metrics get``);
ListMetrics reads ``TelemetryStore.list_metrics`` (as ``whispersync metrics list``).

Limits and rules are CloudWatch API Reference's (PutMetricData, GetMetricData,
GetMetricStatistics, ListMetrics pages).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.monitoring.metrics import get_metric_data as run_metric_data
from whispersync.plan import MetricDataQuery, MetricStat
from whispersync.web.aws._protocol import AwsError, combination, invalid, missing

# PutMetricData: "Each PutMetricData request is limited to 1 MB in size for HTTP POST requests. You can
# send a payload compressed by gzip. Each request is also limited to no more than 1000 different metrics."
# MetricDatum.Values: "The Values array can include as many as 150 unique values."
MAX_PUT_METRICS = 1000
MAX_VALUES = 150
MAX_DIMENSIONS = 30
# GetMetricData: up to 500 MetricDataQuery structures; MaxDatapoints defaults to 100,800.
MAX_QUERIES = 500
DEFAULT_MAX_DATAPOINTS = 100_800
# GetMetricStatistics: "The maximum number of data points returned from a single call is 1,440."
MAX_STATISTICS_DATAPOINTS = 1440
# ListMetrics: "Up to 500 results are returned for any one call."
LIST_PAGE = 500
RECENTLY_ACTIVE = timedelta(hours=3)  # RecentlyActive=PT3H
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


def epoch_ms(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _dimensions(items: list[dict] | None, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, item in enumerate(items or [], 1):
        if item["Name"] in out:
            raise invalid(f"{where}.Dimensions.member.{i}: the dimension {item['Name']!r} is given twice")
        out[item["Name"]] = item["Value"]
    return out


# ---------------------------------------------------------------------- PutMetricData


def put_metric_data(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    namespace = params["Namespace"]
    if namespace.startswith("AWS/"):
        raise invalid("The value AWS/ for parameter Namespace is invalid: namespaces starting with AWS/ are "
                      "reserved for AWS services.")
    data = params.get("MetricData")
    if params.get("EntityMetricData"):
        raise invalid("EntityMetricData is not supported here; send MetricData")
    if not data:
        raise missing("The parameter MetricData is required.")
    if len(data) > MAX_PUT_METRICS:
        raise invalid(f"The collection MetricData must not have a size greater than {MAX_PUT_METRICS}.")
    records: list[dict[str, Any]] = []
    origin: list[int] = []  # the MetricData index (from 1) of each record
    now_ms = int(time.time() * 1000)
    for index, datum in enumerate(data, 1):
        where = f"MetricData.member.{index}"
        for record in _records(namespace, datum, where, now_ms):
            records.append(record)
            origin.append(index)
    try:
        runtime.store.put_metrics(records)
    except ValueError as exc:  # the store's own check, naming the record it refused
        text = str(exc)
        head, _, reason = text.partition(": ")
        position = head.removeprefix("datapoint ")
        where = f"MetricData.member.{origin[int(position)]}" if position.isdigit() else "MetricData"
        raise invalid(f"{where}: {reason or text}") from None
    return {}


def _records(namespace: str, datum: dict[str, Any], where: str, now_ms: int) -> list[dict[str, Any]]:
    """One datum as the store's records: a value, a statistic set, or one record per value of Values."""
    kinds = [k for k in ("Value", "Values", "StatisticValues") if k in datum]
    if len(kinds) > 1:
        raise combination(f"{where}: give only one of Value, Values and StatisticValues, not {' and '.join(kinds)}")
    if not kinds:
        raise missing(f"{where}: one of Value, Values and StatisticValues is required")
    if "Counts" in datum and "Values" not in datum:
        raise combination(f"{where}: Counts is only given with Values")
    dimensions = _dimensions(datum.get("Dimensions"), where)
    if len(dimensions) > MAX_DIMENSIONS:
        raise invalid(f"{where}.Dimensions: at most {MAX_DIMENSIONS} dimensions")
    base: dict[str, Any] = {
        "namespace": namespace,
        "name": datum["MetricName"],
        "unit": datum.get("Unit", "None"),
        "dimensions": dimensions,
        "timestamp": epoch_ms(datum["Timestamp"]) if "Timestamp" in datum else now_ms,
    }
    resolution = datum.get("StorageResolution", 60)
    if resolution not in (1, 60):
        raise invalid(f"{where}.StorageResolution: valid values are 1 and 60, got {resolution}")
    if resolution == 1:
        base["storage_resolution"] = 1
    if "Value" in datum:
        return [{**base, "value": datum["Value"]}]
    if "StatisticValues" in datum:
        return [{**base, "statistic_values": dict(datum["StatisticValues"])}]
    values = datum["Values"]
    counts = datum.get("Counts")
    if len(values) > MAX_VALUES:
        raise invalid(f"{where}.Values: at most {MAX_VALUES} values, got {len(values)}")
    if counts is not None and len(counts) != len(values):
        raise invalid(f"{where}: Counts must have as many items as Values ({len(counts)} against {len(values)})")
    records = []
    for i, value in enumerate(values):
        count = 1.0 if counts is None else counts[i]
        if count <= 0:
            raise invalid(f"{where}.Counts.member.{i + 1}: a count must be positive")
        if count == 1:
            records.append({**base, "value": value})
        else:
            # A value seen `count` times is the statistic set of those samples: Sum, Average,
            # Minimum, Maximum and SampleCount are exact.
            records.append({**base, "statistic_values": {"SampleCount": count, "Sum": value * count,
                                                         "Minimum": value, "Maximum": value}})
    return records


# ---------------------------------------------------------------------- GetMetricData


def _query(raw: dict[str, Any], where: str) -> MetricDataQuery:
    if ("MetricStat" in raw) == ("Expression" in raw):
        raise combination(f"{where}: give exactly one of MetricStat and Expression")
    stat = None
    if "MetricStat" in raw:
        ms = raw["MetricStat"]
        metric = ms["Metric"]
        for key in ("Namespace", "MetricName"):
            if key not in metric:
                raise missing(f"{where}.MetricStat.Metric.{key} is required")
        stat = MetricStat(metric["Namespace"], metric["MetricName"],
                          _dimensions(metric.get("Dimensions"), f"{where}.MetricStat.Metric"),
                          ms["Stat"], ms["Period"], ms.get("Unit"))
    return MetricDataQuery(raw["Id"], stat, expression=raw.get("Expression"), label=raw.get("Label"),
                           return_data=raw.get("ReturnData", True), period=raw.get("Period"))


def _token(fingerprint: str, offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"f": fingerprint, "o": offset})).decode()


def _offset(token: str | None, fingerprint: str, error: Callable[[str], AwsError]) -> int:
    """Where the page a NextToken names starts; a token from another request is refused."""
    if token is None:
        return 0
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        if doc["f"] == fingerprint and type(doc["o"]) is int and doc["o"] >= 0:
            return doc["o"]
    except (ValueError, TypeError, KeyError):
        pass
    raise error("The NextToken is invalid: pass the one the previous page returned, with the same request.")


def _fingerprint(params: dict[str, Any]) -> str:
    """The request without its paging fields: a NextToken is only good for the request it came from."""
    rest = {k: v for k, v in params.items() if k not in ("NextToken", "MaxDatapoints")}
    return hashlib.sha256(orjson.dumps(rest, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def get_metric_data(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    raw_queries = params["MetricDataQueries"]
    if not raw_queries:
        raise missing("The parameter MetricDataQueries must hold at least one query.")
    if len(raw_queries) > MAX_QUERIES:
        raise invalid(f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    queries = [_query(q, f"MetricDataQueries.member.{i}") for i, q in enumerate(raw_queries, 1)]
    max_points = params.get("MaxDatapoints", DEFAULT_MAX_DATAPOINTS)
    if max_points < 1:
        raise invalid("MaxDatapoints must be at least 1")
    fingerprint = _fingerprint(params)
    offset = _offset(params.get("NextToken"), fingerprint, lambda m: AwsError("InvalidNextToken", m))
    try:
        results = run_metric_data(runtime.store, queries, start_ms=epoch_ms(params["StartTime"]),
                                  end_ms=epoch_ms(params["EndTime"]),
                                  scan_by=params.get("ScanBy", "TimestampDescending"),
                                  timeout=runtime.settings.request_timeout)
    except InputError as exc:  # MetricQueryError, MetricMathError, QueryTimeout: the caller's request
        raise invalid(str(exc)) from None
    # The datapoints of every result, one after the other, paged MaxDatapoints at a time.
    page_end = offset + max_points
    answers, position = [], 0
    for result in results:
        first, last = max(offset - position, 0), max(min(page_end - position, len(result.values)), 0)
        more = position + len(result.values) > page_end
        answers.append({
            "Id": result.id,
            "Label": result.label,
            "Timestamps": [datetime.fromtimestamp(t / 1000, UTC) for t in result.timestamps[first:last]],
            "Values": result.values[first:last],
            "StatusCode": "PartialData" if more else "Complete",
            "Messages": [{"Code": "Info", "Value": m} for m in result.messages],
        })
        position += len(result.values)
    output: dict[str, Any] = {"MetricDataResults": answers, "Messages": []}
    if position > page_end:
        output["NextToken"] = _token(fingerprint, page_end)
    return output


# ---------------------------------------------------------------------- GetMetricStatistics


def get_metric_statistics(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    statistics = params.get("Statistics")
    extended = params.get("ExtendedStatistics")
    # "When calling GetMetricStatistics, you must specify either Statistics or ExtendedStatistics, but not both."
    if statistics and extended:
        raise combination("specify either Statistics or ExtendedStatistics, but not both")
    if not statistics and not extended:
        raise missing("The parameter Statistics or ExtendedStatistics is required.")
    for name in statistics or []:
        if name not in _STATISTICS:
            raise invalid(f"The value {name} for parameter Statistics is not one of {', '.join(_STATISTICS)}")
    start_ms, end_ms, period = epoch_ms(params["StartTime"]), epoch_ms(params["EndTime"]), params["Period"]
    if end_ms <= start_ms:
        raise invalid("The parameter StartTime must be less than the parameter EndTime.")
    if (end_ms - start_ms) / (period * 1000) > MAX_STATISTICS_DATAPOINTS:
        raise combination(f"You have requested up to {(end_ms - start_ms) // (period * 1000)} datapoints, which "
                          f"exceeds the limit of {MAX_STATISTICS_DATAPOINTS}. You may reduce the datapoints "
                          "requested by increasing Period, or decreasing the time range.")
    dimensions = _dimensions(params.get("Dimensions"), "")
    wanted = list(statistics or extended)
    queries = [MetricDataQuery(f"s{i}", MetricStat(params["Namespace"], params["MetricName"], dimensions, stat,
                                                   period, params.get("Unit")))
               for i, stat in enumerate(wanted)]
    try:
        results = run_metric_data(runtime.store, queries, start_ms=start_ms, end_ms=end_ms,
                                  scan_by="TimestampAscending", timeout=runtime.settings.request_timeout)
    except InputError as exc:
        raise invalid(str(exc)) from None
    points: dict[int, dict[str, Any]] = {}
    for stat, result in zip(wanted, results):
        for ts, value in zip(result.timestamps, result.values):
            point = points.setdefault(ts, {"Timestamp": datetime.fromtimestamp(ts / 1000, UTC),
                                           "Unit": params.get("Unit") or result.unit or "None"})
            if statistics:
                point[stat] = value
            else:
                point.setdefault("ExtendedStatistics", {})[stat] = value
    return {"Label": params["MetricName"], "Datapoints": [points[ts] for ts in sorted(points)]}


# ---------------------------------------------------------------------- ListMetrics


def list_metrics(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    filters = params.get("Dimensions") or []
    rows = runtime.store.list_metrics(namespace=params.get("Namespace"), name=params.get("MetricName"))
    rows = [r for r in rows if all(f["Name"] in r["dimensions"] and f.get("Value", r["dimensions"][f["Name"]])
                                   == r["dimensions"][f["Name"]] for f in filters)]
    if params.get("RecentlyActive") == "PT3H":
        rows = _recently_active(runtime, rows)
    fingerprint = _fingerprint(params)
    offset = _offset(params.get("NextToken"), fingerprint, invalid)
    page = rows[offset:offset + LIST_PAGE]
    output: dict[str, Any] = {"Metrics": [
        {"Namespace": r["namespace"], "MetricName": r["name"],
         "Dimensions": [{"Name": k, "Value": v} for k, v in r["dimensions"].items()]} for r in page]}
    if offset + LIST_PAGE < len(rows):
        output["NextToken"] = _token(fingerprint, offset + LIST_PAGE)
    return output


def _recently_active(runtime: Runtime, rows: list[dict]) -> list[dict]:
    """The metrics with a datapoint in the past three hours (RecentlyActive=PT3H), in one store query."""
    if not rows:
        return rows
    now_ms = int(time.time() * 1000)
    window = int(RECENTLY_ACTIVE.total_seconds())
    start_ms = now_ms - window * 1000
    series = runtime.store.metric_statistics_batch(
        [MetricStat(r["namespace"], r["name"], r["dimensions"], "SampleCount", window) for r in rows],
        start_ms=start_ms, end_ms=now_ms + 1, origin_ms=start_ms, timeout=runtime.settings.request_timeout)
    return [r for r, s in zip(rows, series) if s.values]


OPERATIONS: dict[str, Callable[[Runtime, dict[str, Any]], dict[str, Any]]] = {
    "PutMetricData": put_metric_data,
    "GetMetricData": get_metric_data,
    "GetMetricStatistics": get_metric_statistics,
    "ListMetrics": list_metrics,
}
