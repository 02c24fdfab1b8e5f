"""CloudWatch Logs' API (AWS JSON 1.1, ``X-Amz-Target: Logs_20140328.{Operation}``) over WhisperSync's store.

``handle_logs(runtime, operation, params)`` runs one operation on a decoded JSON
body and returns the answer's dict, or raises :class:`AwsError` with the code the
CloudWatch Logs API Reference documents for the case. Requests are checked against
botocore's ``logs`` model first (``_logs_model``).

Everything lands where the CLI looks: events in the telemetry store (so
`whispersync logs query` and the metric filters see them), metric filters in the
same MetricFilterStore as `whispersync filters put`, groups and streams in
``LogGroupStore`` beside it. A group or stream that only has events in the store
(written by `logs import` or the pipeline) exists for these operations too.

Pagination tokens are positions in the answer's list, so a page may shift when
events arrive between calls; GetLogEvents' tokens are ``f/N`` and ``b/N`` as the
service's own, and at the end of the stream the token passed in comes back
("If you have reached the end of the stream, it returns the same token you passed in").
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.monitoring.logs import (
    FilterPatternError,
    LogGroupStore,
    MetricFilterInputError,
    MetricFilterStore,
    discovered_streams,
    metric_filter_from_request,
    metric_filter_to_cloudwatch,
    parse_pattern,
    read_log_events,
    test_metric_filter,
    write_log_events,
)
from whispersync.monitoring.logs.insights import InsightsQueryError, check_query, run_query
from whispersync.web.aws._logs_model import TARGET_PREFIX, operation_model, validate
from whispersync.web.aws._protocol import AwsError

__all__ = ["OPERATIONS", "TARGET_PREFIX", "handle_logs"]

REGION = "us-east-1"
ACCOUNT = "000000000000"  # local emulators' account id: ARNs need one
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
# PutLogEvents (CloudWatch Logs API Reference): "The maximum batch size is 1,048,576 bytes. This size is
# calculated as the sum of all event messages in UTF-8, plus 26 bytes for each log event."; events "more
# than 2 hours in the future" or "older than 14 days or preceding the log group's retention period are
# rejected while processing remaining valid events"; the valid events may not span more than 24 hours.
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
TOO_NEW_MS = 2 * _HOUR_MS
TOO_OLD_MS = 14 * _DAY_MS
MAX_SPAN_MS = _DAY_MS
# PutRetentionPolicy: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
# 1096, 1827, 2192, 2557, 2922, 3288, and 3653." (the model leaves Days unconstrained)
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
_DEFAULT_EVENTS = 10_000  # GetLogEvents and FilterLogEvents: "up to 10,000 log events"
_DEFAULT_DESCRIBE = 50
_DEFAULT_QUERY_ROWS = 10_000  # StartQuery: "If you omit this parameter, the default of 10,000 is used."
_KEPT_QUERIES = 1000  # finished queries whose results stay retrievable (CloudWatch keeps them 7 days)

Operation = Callable[[Runtime, dict], dict]


def handle_logs(runtime: Runtime, operation: str, params: Any) -> dict:
    """Run CloudWatch Logs ``operation`` (its name without ``Logs_20140328.``) on ``params``."""
    if operation not in OPERATIONS:
        operation_model(operation)  # an unknown name: UnknownOperationException
        raise AwsError("UnknownOperationException", f"WhisperSync does not serve CloudWatch Logs' {operation}")
    checked = validate(operation_model(operation), params)
    try:
        return OPERATIONS[operation](runtime, checked)
    except MetricFilterInputError as exc:
        raise AwsError("InvalidParameterException", str(exc)) from None
    except InputError as exc:
        raise AwsError("InvalidParameterException", str(exc)) from None


# --------------------------------------------------------------------------- stores

_STORES: dict[str, tuple[LogGroupStore, MetricFilterStore]] = {}
_STORES_LOCK = threading.Lock()


def _stores(runtime: Runtime) -> tuple[LogGroupStore, MetricFilterStore]:
    """The group and filter stores of the runtime's home; opened once per process (they are cheap to keep)."""
    key = str(runtime.settings.monitoring_db)
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = (LogGroupStore(key), MetricFilterStore(key))
        return _STORES[key]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _groups(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """Every log group, created or holding events: name → {created, retention, stored_bytes}."""
    created = _stores(runtime)[0].groups()
    out: dict[str, dict[str, Any]] = {}
    for (group, _), stats in discovered_streams(runtime.store).items():
        entry = out.setdefault(group, {"created": stats.first_event_ms, "retention": None, "bytes": 0})
        entry["created"] = min(entry["created"], stats.first_event_ms)
        entry["bytes"] += stats.stored_bytes
    for name, (created_ms, retention) in created.items():
        entry = out.setdefault(name, {"bytes": 0})
        entry.update(created=created_ms, retention=retention)
    return out


def _require_group(runtime: Runtime, name: str) -> None:
    if name in _stores(runtime)[0].groups():
        return
    if not discovered_streams(runtime.store, name):
        raise AwsError("ResourceNotFoundException", "The specified log group does not exist.")


def _require_stream(runtime: Runtime, group: str, stream: str) -> None:
    if stream in _stores(runtime)[0].streams(group):
        return
    if (group, stream) not in discovered_streams(runtime.store, group):
        _require_group(runtime, group)
        raise AwsError("ResourceNotFoundException", "The specified log stream does not exist.")


def _group_name(params: dict) -> str:
    """logGroupName, or logGroupIdentifier (a name or an ARN): the operations that take either need one."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name is not None and identifier is not None:
        raise AwsError("InvalidParameterException", "give logGroupName or logGroupIdentifier, not both")
    if identifier is not None:
        return _name_of_identifier(identifier)
    if name is None:
        raise AwsError("InvalidParameterException", "either logGroupName or logGroupIdentifier is required")
    return name


def _name_of_identifier(identifier: str) -> str:
    if not identifier.startswith("arn:"):
        return identifier
    _, marker, rest = identifier.partition(":log-group:")
    name = rest.removesuffix(":*")
    if not marker or not name:
        raise AwsError("InvalidParameterException", f"{identifier[:200]!r} is not a log group ARN")
    return name


def _group_arn(name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


# --------------------------------------------------------------------------- pagination


def _offset(token: str | None, prefix: str) -> int:
    if token is None:
        return 0
    head, _, number = token.partition("/")
    if head != prefix or not number.isdigit() or len(number) > 12:
        raise AwsError("InvalidParameterException", "The specified nextToken is not valid.")
    return int(number)


def _page(items: list, params: dict, default_limit: int, prefix: str) -> tuple[list, str | None]:
    start = _offset(params.get("nextToken"), prefix)
    end = start + params.get("limit", default_limit)
    return items[start:end], (f"{prefix}/{end}" if end < len(items) else None)


# --------------------------------------------------------------------------- groups and streams


def create_log_group(runtime: Runtime, params: dict) -> dict:
    name = params["logGroupName"]
    if params.get("kmsKeyId"):
        raise AwsError("InvalidParameterException", "kmsKeyId: WhisperSync does not encrypt log groups with KMS keys")
    exists = bool(discovered_streams(runtime.store, name))
    if exists or not _stores(runtime)[0].create_group(name, _now_ms()):
        raise AwsError("ResourceAlreadyExistsException", "The specified log group already exists")
    return {}


def create_log_stream(runtime: Runtime, params: dict) -> dict:
    group, name = params["logGroupName"], params["logStreamName"]
    _require_group(runtime, group)
    exists = (group, name) in discovered_streams(runtime.store, group)
    if exists or not _stores(runtime)[0].create_stream(group, name, _now_ms()):
        raise AwsError("ResourceAlreadyExistsException", "The specified log stream already exists")
    return {}


def describe_log_groups(runtime: Runtime, params: dict) -> dict:
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    if prefix is not None and pattern is not None:
        raise AwsError("InvalidParameterException", "logGroupNamePrefix and logGroupNamePattern are mutually"
                                                    " exclusive")
    wanted = params.get("logGroupIdentifiers")
    groups = _groups(runtime)
    counts = {name: 0 for name in groups}
    for stored in _stores(runtime)[1].stored():
        if stored.spec.log_group in counts:
            counts[stored.spec.log_group] += 1
    names = sorted(groups)
    if prefix is not None:
        names = [n for n in names if n.startswith(prefix)]
    if pattern:  # "a case-insensitive substring search"
        names = [n for n in names if pattern.lower() in n.lower()]
    if wanted is not None:
        keep = {_name_of_identifier(w) for w in wanted}
        names = [n for n in names if n in keep]
    page, token = _page(names, params, _DEFAULT_DESCRIBE, "g")
    items = []
    for name in page:
        entry = groups[name]
        item = {"logGroupName": name, "creationTime": entry["created"], "metricFilterCount": counts[name],
                "arn": _group_arn(name) + ":*", "logGroupArn": _group_arn(name), "storedBytes": entry["bytes"],
                "logGroupClass": "STANDARD"}
        if entry["retention"] is not None:
            item["retentionInDays"] = entry["retention"]
        items.append(item)
    return {"logGroups": items, **({"nextToken": token} if token else {})}


def describe_log_streams(runtime: Runtime, params: dict) -> dict:
    group = _group_name(params)
    order = params.get("orderBy", "LogStreamName")
    prefix = params.get("logStreamNamePrefix")
    if order == "LastEventTime" and prefix is not None:
        # DescribeLogStreams: "If you order the results by event time, you cannot specify the
        # logStreamNamePrefix parameter."
        raise AwsError("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
    _require_group(runtime, group)
    created = _stores(runtime)[0].streams(group)
    stats = {stream: s for (_, stream), s in discovered_streams(runtime.store, group).items() if stream}
    streams = []
    for name in set(created) | set(stats):
        if prefix is not None and not name.startswith(prefix):
            continue
        item: dict[str, Any] = {"logStreamName": name, "arn": f"{_group_arn(group)}:log-stream:{name}",
                                "storedBytes": 0}
        s = stats.get(name)
        item["creationTime"] = created.get(name, s.first_event_ms if s else 0)
        if s is not None:
            item.update(firstEventTimestamp=s.first_event_ms, lastEventTimestamp=s.last_event_ms,
                        lastIngestionTime=s.last_ingestion_ms or s.last_event_ms)
        streams.append(item)
    if order == "LastEventTime":
        streams.sort(key=lambda i: (i.get("lastEventTimestamp", 0), i["logStreamName"]))
    else:
        streams.sort(key=lambda i: i["logStreamName"])
    if params.get("descending"):
        streams.reverse()
    page, token = _page(streams, params, _DEFAULT_DESCRIBE, "s")
    return {"logStreams": page, **({"nextToken": token} if token else {})}


def put_retention_policy(runtime: Runtime, params: dict) -> dict:
    group, days = params["logGroupName"], params["retentionInDays"]
    if days not in RETENTION_DAYS:
        raise AwsError("InvalidParameterException",
                       f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy"
                       f" constraint: Member must satisfy enum value set: {list(RETENTION_DAYS)}")
    _require_group(runtime, group)
    _stores(runtime)[0].set_retention(group, days, _now_ms())
    return {}


# --------------------------------------------------------------------------- events


def put_log_events(runtime: Runtime, params: dict) -> dict:
    group, stream = params["logGroupName"], params["logStreamName"]
    events = [(e["timestamp"], e["message"]) for e in params["logEvents"]]
    if any(later < earlier for (earlier, _), (later, _) in zip(events, events[1:])):
        raise AwsError("InvalidParameterException",
                       "Log events in a single PutLogEvents request must be in chronological order.")
    size = sum(len(message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD for _, message in events)
    if size > MAX_BATCH_BYTES:
        raise AwsError("InvalidParameterException",
                       f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    _require_stream(runtime, group, stream)
    now = _now_ms()
    retention = _stores(runtime)[0].groups().get(group, (0, None))[1]
    rejected: dict[str, int] = {}
    valid = []
    for index, (ts, message) in enumerate(events):
        if ts > now + TOO_NEW_MS:
            rejected.setdefault("tooNewLogEventStartIndex", index)
        elif ts < now - TOO_OLD_MS:
            rejected["tooOldLogEventEndIndex"] = index
        elif retention is not None and ts < now - retention * _DAY_MS:
            rejected["expiredLogEventEndIndex"] = index
        else:
            valid.append((ts, message))
    if valid and valid[-1][0] - valid[0][0] > MAX_SPAN_MS:
        raise AwsError("InvalidParameterException",
                       "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
    if valid:
        write_log_events(runtime.store, group, stream, valid, now)
    # Sequence tokens are ignored now ("PutLogEvents actions are always accepted"); older clients still
    # read one, so one is given.
    answer: dict[str, Any] = {"nextSequenceToken": uuid.uuid4().hex}
    if rejected:
        answer["rejectedLogEventsInfo"] = rejected
    return answer


def get_log_events(runtime: Runtime, params: dict) -> dict:
    group, stream = _group_name(params), params["logStreamName"]
    _require_stream(runtime, group, stream)
    events = read_log_events(runtime.store, group, streams=[stream], start_ms=params.get("startTime"),
                             end_ms=params.get("endTime"))
    limit = params.get("limit", _DEFAULT_EVENTS)
    token = params.get("nextToken")
    total = len(events)
    if token is None:
        start = 0 if params.get("startFromHead") else max(0, total - limit)
        end = min(total, start + limit)
    elif token.startswith("f/"):
        start = min(_offset(token, "f"), total)
        end = min(total, start + limit)
    else:
        end = min(_offset(token, "b"), total)
        start = max(0, end - limit)
    page = [{"timestamp": e.timestamp_ms, "message": e.message, "ingestionTime": e.ingestion_ms}
            for e in events[start:end]]
    return {"events": page, "nextForwardToken": f"f/{end}", "nextBackwardToken": f"b/{start}"}


def filter_log_events(runtime: Runtime, params: dict) -> dict:
    group = _group_name(params)
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise AwsError("InvalidParameterException",
                       "logStreamNames and logStreamNamePrefix are mutually exclusive")
    try:
        pattern = parse_pattern(params.get("filterPattern", ""))
    except FilterPatternError as exc:
        raise AwsError("InvalidParameterException", f"Invalid filter pattern: {exc}") from None
    _require_group(runtime, group)
    end = params.get("endTime")
    # FilterLogEvents' endTime: "Events with a timestamp later than this time are not returned": inclusive.
    events = read_log_events(runtime.store, group, streams=names, stream_prefix=prefix,
                             start_ms=params.get("startTime"), end_ms=None if end is None else end + 1)
    matched = [e for e in events if pattern.match_record(e.record) is not None]
    page, token = _page(matched, params, _DEFAULT_EVENTS, "e")
    out = [{"logStreamName": e.log_stream or "", "timestamp": e.timestamp_ms, "message": e.message,
            "ingestionTime": e.ingestion_ms, "eventId": e.event_id} for e in page]
    return {"events": out, **({"nextToken": token} if token else {})}


# --------------------------------------------------------------------------- Logs Insights


class _Query:
    def __init__(self, future: Future) -> None:
        self.future = future
        self.cancelled = False


_QUERIES: OrderedDict[str, _Query] = OrderedDict()
_QUERIES_LOCK = threading.Lock()
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="whispersync-logs-query")


def start_query(runtime: Runtime, params: dict) -> dict:
    if params.get("queryLanguage", "CWLI") != "CWLI":
        raise AwsError("InvalidParameterException", "queryLanguage: WhisperSync runs Logs Insights queries (CWLI)"
                                                    " only")
    given = [name for name in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if name in params]
    if len(given) > 1:
        raise AwsError("InvalidParameterException", "give exactly one of logGroupName, logGroupNames and"
                                                    " logGroupIdentifiers")
    groups: list[str] | None = None
    if "logGroupName" in params:
        groups = [params["logGroupName"]]
    elif given:
        groups = [_name_of_identifier(g) for g in params[given[0]]]
    start_ms, end_ms = params["startTime"] * 1000, params["endTime"] * 1000 + 999  # endTime's second is read
    if start_ms > end_ms:
        raise AwsError("InvalidParameterException", "startTime must not be after endTime")
    text, limit = params["queryString"], params.get("limit", _DEFAULT_QUERY_ROWS)
    try:
        check_query(text, groups)  # a query that does not parse is refused now, not later (and stays compiled)
    except InsightsQueryError as exc:
        raise AwsError("MalformedQueryException", str(exc)) from None
    for name in groups or ():
        _require_group(runtime, name)

    def run() -> dict:
        result = run_query(runtime.store, text, start_ms=start_ms, end_ms=end_ms, log_groups=groups,
                           timeout=runtime.settings.request_timeout)
        result["rows"] = result["rows"][:limit]
        return result

    query_id = str(uuid.uuid4())
    with _QUERIES_LOCK:
        _QUERIES[query_id] = _Query(_EXECUTOR.submit(run))
        while len(_QUERIES) > _KEPT_QUERIES:
            _QUERIES.popitem(last=False)
    return {"queryId": query_id}


def _query(query_id: str) -> _Query:
    with _QUERIES_LOCK:
        query = _QUERIES.get(query_id)
    if query is None:
        raise AwsError("ResourceNotFoundException", f"Query {query_id[:100]} does not exist")
    return query


def get_query_results(runtime: Runtime, params: dict) -> dict:
    query = _query(params["queryId"])
    empty = {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}
    if query.cancelled:
        return {"queryLanguage": "CWLI", "status": "Cancelled", "results": [], "statistics": empty}
    if not query.future.done():
        return {"queryLanguage": "CWLI", "status": "Running", "results": [], "statistics": empty}
    error = query.future.exception()
    if error is not None:
        return {"queryLanguage": "CWLI", "status": "Failed", "results": [], "statistics": empty}
    result = query.future.result()
    columns = result["columns"]
    rows = [[{"field": c, "value": _text(v)} for c, v in zip(columns, row) if v is not None]
            for row in result["rows"]]
    statistics = {k: float(v) for k, v in result["statistics"].items()}
    return {"queryLanguage": "CWLI", "status": "Complete", "results": rows, "statistics": statistics}


def stop_query(runtime: Runtime, params: dict) -> dict:
    query = _query(params["queryId"])
    if query.cancelled or query.future.done():
        # StopQuery: "If the query has already ended, returns an error indicating that the specified
        # query is not running."
        raise AwsError("InvalidParameterException", "The specified query is not running.")
    query.future.cancel()  # one already running finishes, but its answer is never shown
    query.cancelled = True
    return {"success": True}


def _text(value: Any) -> str:
    """A result value as GetQueryResults gives it: always a string, a whole number without ".0"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------- metric filters


def put_metric_filter(runtime: Runtime, params: dict) -> dict:
    spec = metric_filter_from_request(params)
    _require_group(runtime, spec.log_group or "")
    outcome = _stores(runtime)[1].put(spec)
    if outcome.status == "skipped":
        reason = outcome.reason or "the filter was not stored"
        code = "LimitExceededException" if "allows" in reason and "per log group" in reason \
            else "InvalidParameterException"
        raise AwsError(code, reason)
    return {}


def describe_metric_filters(runtime: Runtime, params: dict) -> dict:
    group, prefix = params.get("logGroupName"), params.get("filterNamePrefix")
    name, namespace = params.get("metricName"), params.get("metricNamespace")
    if prefix is not None and group is None:
        raise AwsError("InvalidParameterException", "filterNamePrefix requires logGroupName")
    if (name is None) != (namespace is None):
        # DescribeMetricFilters: "If you are using this parameter [metricName], you must also
        # specify the metricNamespace parameter", and the other way round.
        raise AwsError("InvalidParameterException", "metricName and metricNamespace go together")
    if group is not None:
        _require_group(runtime, group)
    stored = _stores(runtime)[1].stored(group)
    kept = [s for s in stored
            if (prefix is None or s.spec.name.startswith(prefix))
            and (name is None or (s.spec.metric_name == name and s.spec.namespace == namespace))]
    page, token = _page(kept, params, _DEFAULT_DESCRIBE, "m")
    items = [metric_filter_to_cloudwatch(s.spec, s.created_ms) for s in page]
    return {"metricFilters": items, **({"nextToken": token} if token else {})}


def delete_metric_filter(runtime: Runtime, params: dict) -> dict:
    if not _stores(runtime)[1].delete(params["logGroupName"], params["filterName"]):
        raise AwsError("ResourceNotFoundException", "The specified metric filter does not exist.")
    return {}


def test_metric_filter_operation(runtime: Runtime, params: dict) -> dict:
    try:
        return test_metric_filter(params["filterPattern"], params["logEventMessages"])
    except FilterPatternError as exc:
        raise AwsError("InvalidParameterException", f"Invalid metric filter pattern: {exc}") from None


OPERATIONS: dict[str, Operation] = {
    "CreateLogGroup": create_log_group,
    "CreateLogStream": create_log_stream,
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "PutRetentionPolicy": put_retention_policy,
    "PutLogEvents": put_log_events,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "StartQuery": start_query,
    "GetQueryResults": get_query_results,
    "StopQuery": stop_query,
    "PutMetricFilter": put_metric_filter,
    "DescribeMetricFilters": describe_metric_filters,
    "DeleteMetricFilter": delete_metric_filter,
    "TestMetricFilter": test_metric_filter_operation,
}
