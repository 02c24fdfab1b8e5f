"""GetMetricData, locally: metric statistics and metric math over query ids.

    results = get_metric_data(store, [
        MetricDataQuery("errors", MetricStat("AWS/Lambda", "Errors", {"FunctionName": "f"}, "Sum", 60),
                        return_data=False),
        MetricDataQuery("invocations", MetricStat("AWS/Lambda", "Invocations", {"FunctionName": "f"}, "Sum", 60),
                        return_data=False),
        MetricDataQuery("rate", expression="errors/invocations*100", label="Error %"),
    ], start_ms=..., end_ms=...)

Semantics follow CloudWatch's GetMetricData documentation:

* ``start_ms`` is inclusive and rounded down as CloudWatch rounds StartTime: to a
  multiple of the period for periods under a minute, else to the minute (start
  less than 15 days ago), to 5 minutes (15-63 days) or to the hour (older).
  Datapoints are at the rounded start plus multiples of the period; ``end_ms`` is
  exclusive.
* Results come in request order, one per query with ``return_data`` (an
  expression yielding an array of series gives one result per series, same id).
* ``scan_by`` defaults to ``TimestampDescending``, as GetMetricData's does.
* Ids start with a lowercase letter and hold letters, digits and underscores.

Errors in the request (unknown id, bad syntax, cycle, a bad period or statistic)
raise ``MetricQueryError`` (an InputError) before anything is queried; an expression
that cannot be computed (a scalar result, ``SORT()`` of a scalar) raises it too.
"""

from __future__ import annotations

import bisect
import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from whispersync.monitoring.metrics import _math as metric_math
from whispersync.monitoring.metrics._anomaly import AnomalySettings, anomaly_band, history_start
from whispersync.monitoring.metrics._errors import MetricQueryError
from whispersync.monitoring.metrics._math import Series
from whispersync.monitoring.store import DEFAULT_QUERY_TIMEOUT, TelemetryStore
from whispersync.monitoring.times import InvalidTime, parse_time
from whispersync.plan import MetricDataQuery, MetricStat, check_period, check_statistic

__all__ = [
    "MetricDataResult",
    "get_metric_data",
    "iso8601",
    "parse_request",
    "round_start",
    "validate_queries",
]

_ID = re.compile(r"^[a-z][a-zA-Z0-9_]{0,254}$")
_MINUTE_MS = 60_000
_DAY_MS = 86_400_000
SCAN_ORDERS = ("TimestampDescending", "TimestampAscending")


@dataclass
class MetricDataResult:
    """GetMetricData's MetricDataResult; ``timestamps`` in epoch milliseconds."""

    id: str
    label: str
    timestamps: list[int]
    values: list[float]
    status_code: str = "Complete"
    unit: str | None = None
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``/v1/metrics/query`` and ``metrics get --json``: ISO 8601 UTC timestamps."""
        return {
            "id": self.id,
            "label": self.label,
            "timestamps": [iso8601(t) for t in self.timestamps],
            "values": self.values,
            "status": self.status_code,
            "unit": self.unit,
        }

    def to_aws(self) -> dict[str, Any]:
        """GetMetricData's own field names."""
        return {
            "Id": self.id,
            "Label": self.label,
            "Timestamps": [iso8601(t) for t in self.timestamps],
            "Values": self.values,
            "StatusCode": self.status_code,
            "Messages": [{"Code": "Info", "Value": m} for m in self.messages],
        }


# The series of one answer share their timestamps (a graph of 62 agents over 7 days: 62 x 672
# points, 672 distinct times), and strftime costs ~3 us: formatting each distinct time once
# took the JSON of such an answer from ~140 ms to a few (benchmarks/console.py).
@functools.lru_cache(maxsize=16_384)
def iso8601(epoch_ms: int) -> str:
    when = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    if epoch_ms % 1000:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def round_start(start_ms: int, period: int, now_ms: int) -> int:
    """Round StartTime down the way CloudWatch documents for GetMetricData."""
    if period < 60:
        step = period * 1000
    else:
        age = now_ms - start_ms
        step = _MINUTE_MS if age < 15 * _DAY_MS else 5 * _MINUTE_MS if age < 63 * _DAY_MS else 60 * _MINUTE_MS
    return start_ms // step * step


def get_metric_data(
    store: TelemetryStore,
    queries: Sequence[MetricDataQuery],
    *,
    start_ms: int,
    end_ms: int,
    scan_by: str = "TimestampDescending",
    now_ms: int | None = None,
    timeout: float | None = DEFAULT_QUERY_TIMEOUT,
    anomaly_settings: Mapping[str, AnomalySettings] | None = None,
) -> list[MetricDataResult]:
    """Run a GetMetricData-like request against ``store``; see the module docstring.

    The statistics query and the math together get ``timeout`` seconds; past it
    they are interrupted and QueryTimeout (a client error) is raised.
    ``anomaly_settings`` maps the id an ``ANOMALY_DETECTION_BAND`` is drawn for to its
    detector's timezone and excluded ranges (default: UTC, none).
    """
    if scan_by not in SCAN_ORDERS:
        raise MetricQueryError(f"scan_by must be one of {', '.join(SCAN_ORDERS)}, got {scan_by!r}")
    if not isinstance(start_ms, int) or not isinstance(end_ms, int):
        raise MetricQueryError("start_ms and end_ms must be epoch milliseconds (int)")
    if end_ms <= start_ms:
        raise MetricQueryError("the end time must be after the start time")
    if not queries:
        raise MetricQueryError("a request needs at least one query")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    deadline = None if timeout is None else time.monotonic() + timeout
    plan = _Plan(queries)
    needed = plan.needed(queries)
    # A band trains on the weeks before the query range: then every metric is fetched from
    # there (one batch, as without a band) and its query-range series is the tail of that.
    has_band = any(_calls(plan.parsed[qid], "ANOMALY_DETECTION_BAND") for qid in needed if qid in plan.parsed)

    metric_queries = [q for q in queries if q.metric_stat is not None]
    origins = {q.id: round_start(start_ms, q.metric_stat.period, now_ms) for q in metric_queries}  # type: ignore[union-attr]
    # (Not for high-resolution metrics, which a band refuses: 14 days of 1-second buckets is 1.2 M.)
    fetch_from = {q.id: history_start(origins[q.id], q.metric_stat.period)  # type: ignore[union-attr]
                  if has_band and q.metric_stat.period >= 60 else origins[q.id]  # type: ignore[union-attr]
                  for q in metric_queries}
    # One snapshot for every metric; grouped by origin because it is per call.
    fetched: dict[str, Series] = {}
    history: dict[str, metric_math.Value] = {}  # from fetch_from: what a band trains on
    units: dict[str, str | None] = {}
    notes: dict[str, list[str]] = {}  # the store's word on a series (units left out)
    for origin in sorted(set(fetch_from.values())):
        group = [q for q in metric_queries if fetch_from[q.id] == origin]
        series = store.metric_statistics_batch(
            [q.metric_stat for q in group], start_ms=origin, end_ms=end_ms, origin_ms=origin,  # type: ignore[misc]
            timeout=None if deadline is None else deadline - time.monotonic(),
        )
        for q, s in zip(group, series):
            full = Series(s.timestamps, s.values, q.label or s.label)
            history[q.id] = full
            fetched[q.id] = _since(full, origins[q.id]) if has_band else full
            units[q.id] = s.unit
            notes[q.id] = list(s.messages)

    default_period = min((q.metric_stat.period for q in metric_queries), default=60)  # type: ignore[union-attr]
    values: dict[str, metric_math.Value] = dict(fetched)

    def period_of(qid: str) -> int:
        query = plan.by_id[qid]
        if query.metric_stat is not None:
            return query.metric_stat.period
        return query.period if query.period is not None else default_period  # checked by _Plan

    def context(resolver: Any, grid: range, band: Any) -> metric_math.Context:
        return metric_math.Context(
            resolve=resolver,
            metric_ids=[q.id for q in metric_queries],
            periods={q.id: q.metric_stat.period for q in metric_queries},  # type: ignore[union-attr]
            grid=grid,
            deadline=deadline,
            band=band,
        )

    def resolve(qid: str) -> metric_math.Value:
        if qid not in values:
            period = period_of(qid)
            origin = round_start(start_ms, period, now_ms)
            values[qid] = metric_math.evaluate(
                plan.parsed[qid], context(resolve, range(origin, end_ms, period * 1000), band))
        return values[qid]

    def resolve_history(qid: str) -> metric_math.Value:
        """``qid`` over the training weeks and the query range (no band inside a band)."""
        if qid not in history:
            period = period_of(qid)
            origin = history_start(round_start(start_ms, period, now_ms), period)
            history[qid] = metric_math.evaluate(
                plan.parsed[qid], context(resolve_history, range(origin, end_ms, period * 1000), None))
        return history[qid]

    bands: dict[tuple[str, float], list[Series]] = {}

    def band(qid: str, k: float) -> list[Series]:
        if (qid, k) not in bands:
            period = period_of(qid)
            if period < 60:
                # Our limit: 14 days of sub-minute buckets is up to 1.2 M points to train on in Python.
                # (CloudWatch's metric-math anomaly detection also lists high-resolution inputs as unsupported:
                # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html)
                raise MetricQueryError(f"ANOMALY_DETECTION_BAND({qid}) needs a period of at least 60 seconds,"
                                       f" {qid!r} has {period}")
            series = resolve_history(qid)
            if not isinstance(series, Series):
                raise MetricQueryError(f"ANOMALY_DETECTION_BAND({qid}) needs {qid!r} to be one time series")
            stat = plan.by_id[qid].metric_stat
            origin = round_start(start_ms, period, now_ms)
            upper, lower = anomaly_band(
                series, range(origin, end_ms, period * 1000), period=period, k=k,
                settings=(anomaly_settings or {}).get(qid, AnomalySettings()),
                unit=units.get(qid), statistic=None if stat is None else stat.statistic, deadline=deadline,
            )
            bands[(qid, k)] = [upper, lower]
        return bands[(qid, k)]

    # Expressions in dependency order, so resolving one never recurses into a long
    # chain of others (e2 = e1 + 1, e3 = e2 + 1, ...: up to 500 queries).
    for qid in plan.order:
        if qid in needed:
            resolve(qid)

    results: list[MetricDataResult] = []
    for q in queries:
        if not q.return_data:
            continue
        value = resolve(q.id)
        if isinstance(value, float):
            raise MetricQueryError(
                f"expression {q.id!r} ({q.expression}) evaluates to a scalar; the result of an"
                " expression must be a time series or an array of time series (try TIME_SERIES(...))"
            )
        if isinstance(value, Series):
            label = q.label if q.label is not None else value.label if q.metric_stat else q.id
            results.append(_result(q.id, label, value, units.get(q.id), scan_by, notes.get(q.id, [])))
        else:
            for s in value:
                label = f"{q.label} {s.label}".strip() if q.label else s.label
                results.append(_result(q.id, label, s, None, scan_by))
    return results


def _calls(node: metric_math.Node, function: str) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.kind == "call" and n.value == function:
            return True
        stack.extend(n.args)
    return False


def _since(s: Series, start_ms: int) -> Series:
    first = bisect.bisect_left(s.timestamps, start_ms)
    return Series(s.timestamps[first:], s.values[first:], s.label)


def _result(qid: str, label: str, s: Series, unit: str | None, scan_by: str,
            messages: list[str] | None = None) -> MetricDataResult:
    ts, vs = list(s.timestamps), list(s.values)
    if scan_by == "TimestampDescending":
        ts.reverse()
        vs.reverse()
    return MetricDataResult(qid, label, ts, vs, unit=unit, messages=list(messages or []))


def validate_queries(queries: Sequence[MetricDataQuery]) -> None:
    """Raise MetricQueryError, with the message ``get_metric_data`` would give, if ``queries`` is not a valid request.

    Checks ids (well-formed, unique), that each query has exactly one of a metric
    stat and an expression, periods and statistics, expression syntax, references
    to known ids and the absence of cycles; nothing is queried.
    """
    _Plan(queries)


class _Plan:
    """Validated queries: unique well-formed ids, parsed expressions, known references, no cycles."""

    def __init__(self, queries: Sequence[MetricDataQuery]) -> None:
        self.by_id: dict[str, MetricDataQuery] = {}
        self.parsed: dict[str, metric_math.Node] = {}
        for q in queries:
            if not isinstance(q.id, str) or not _ID.match(q.id):
                raise MetricQueryError(
                    f"query id {q.id!r} must start with a lowercase letter and hold only letters,"
                    " digits and underscores"
                )
            if q.id in self.by_id:
                raise MetricQueryError(f"query id {q.id!r} is used twice")
            if (q.metric_stat is None) == (q.expression is None):
                raise MetricQueryError(f"query {q.id!r} needs exactly one of a metric stat and an expression")
            if q.metric_stat is not None:
                _model_check(check_period, q.metric_stat.period)
                _model_check(check_statistic, q.metric_stat.statistic)
            else:
                if q.period is not None:
                    _model_check(check_period, q.period)
                try:
                    self.parsed[q.id] = metric_math.parse(q.expression)  # type: ignore[arg-type]
                except metric_math.MetricMathError as exc:
                    raise MetricQueryError(f"query {q.id!r}: {exc}") from None
            self.by_id[q.id] = q
        for qid, node in self.parsed.items():
            for ref in sorted(metric_math.references(node)):
                if ref not in self.by_id:
                    raise MetricQueryError(f"expression {qid!r} refers to unknown id {ref!r}")
        self._check_cycles()

    def _check_cycles(self) -> None:
        """Find cycles, and set ``order``: every expression after those it refers to.

        A depth-first walk with its own stack: a chain of 500 expressions must not
        take 500 Python frames.
        """
        done: set[str] = set()
        self.order: list[str] = []
        for root in self.parsed:
            if root in done:
                continue
            path: list[str] = []
            stack: list[tuple[str, list[str]]] = [(root, self._refs(root))]
            path.append(root)
            while stack:
                qid, refs = stack[-1]
                while refs and refs[-1] in done:
                    refs.pop()
                if not refs:
                    stack.pop()
                    path.pop()
                    done.add(qid)
                    self.order.append(qid)
                    continue
                ref = refs.pop()
                if ref in path:
                    cycle = " -> ".join([*path[path.index(ref):], ref])
                    raise MetricQueryError(f"expressions refer to each other in a cycle: {cycle}")
                if ref not in self.parsed:
                    done.add(ref)  # a metric: nothing to walk
                    continue
                path.append(ref)
                stack.append((ref, self._refs(ref)))

    def _refs(self, qid: str) -> list[str]:
        """The ids ``qid`` refers to, last first (popped from the end: visited in order)."""
        return sorted(metric_math.references(self.parsed[qid]), reverse=True)

    def needed(self, queries: Sequence[MetricDataQuery]) -> set[str]:
        """The ids whose values the returned queries need (themselves included)."""
        out: set[str] = set()
        stack = [q.id for q in queries if q.return_data]
        while stack:
            qid = stack.pop()
            if qid not in out:
                out.add(qid)
                if qid in self.parsed:
                    stack.extend(metric_math.references(self.parsed[qid]))
        return out


# ---------------------------------------------------------------------- JSON requests


def parse_request(payload: Any) -> tuple[list[MetricDataQuery], int, int, str, bool]:
    """Parse a JSON request body: ours or GetMetricData's field names.

    Ours: ``{"queries": [{"id", "metric_stat": {"namespace", "name", "dimensions",
    "stat", "period", "unit"?} | "expression", "label"?, "return_data"?, "period"?}],
    "start", "end", "scan_by"?}``; times ISO 8601 or epoch milliseconds.
    GetMetricData's: ``MetricDataQueries`` with ``Id``, ``MetricStat.Metric.Namespace``
    ... and ``StartTime``/``EndTime`` as ISO 8601 or epoch *seconds* (AWS JSON).
    Returns (queries, start_ms, end_ms, scan_by, aws_shape).
    """
    if not isinstance(payload, Mapping):
        raise MetricQueryError("the request must be a JSON object")
    aws = "MetricDataQueries" in payload
    if aws:
        raw_queries = payload.get("MetricDataQueries")
        start = _required(payload, "StartTime")
        end = _required(payload, "EndTime")
        start_ms = _time(start, numbers_in_seconds=True)
        end_ms = _time(end, numbers_in_seconds=True)
        scan_by = payload.get("ScanBy", "TimestampDescending")
    else:
        raw_queries = payload.get("queries")
        start_ms = _time(_required(payload, "start"))
        end_ms = _time(_required(payload, "end"))
        # Our shape follows docs/json.md's one rule for series: oldest first unless asked.
        scan_by = payload.get("scan_by", "TimestampAscending")
    if not isinstance(raw_queries, list) or not raw_queries:
        raise MetricQueryError(f"{'MetricDataQueries' if aws else 'queries'} must be a non-empty list")
    queries = [_aws_query(q, i) if aws else _query(q, i) for i, q in enumerate(raw_queries)]
    return queries, start_ms, end_ms, scan_by, aws


def _model_check(check: Any, value: Any) -> Any:
    """A plan-model check (it raises ValueError, by design) on a caller's value: their fault."""
    try:
        return check(value)
    except ValueError as exc:
        raise MetricQueryError(str(exc)) from None


def _time(value: Any, *, numbers_in_seconds: bool = False) -> int:
    try:
        return parse_time(value, numbers_in_seconds=numbers_in_seconds)
    except InvalidTime as exc:  # a GetMetricData request's error, as every other one in it
        raise MetricQueryError(str(exc)) from None


def _required(obj: Mapping, key: str, where: str = "request") -> Any:
    if key not in obj or obj[key] is None:
        raise MetricQueryError(f"{where}: {key!r} is required")
    return obj[key]


def _dimensions(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = []
        for d in raw:
            if not isinstance(d, Mapping):
                raise MetricQueryError(f"{where}: each dimension must be an object with a name and a value")
            items.append((d.get("name", d.get("Name")), d.get("value", d.get("Value"))))
    else:
        raise MetricQueryError(f"{where}: dimensions must be an object or a list of {{name, value}}")
    out = {}
    for k, v in items:
        if not isinstance(k, str) or not isinstance(v, str):
            raise MetricQueryError(f"{where}: dimension names and values must be strings")
        out[k] = v
    return out


def _period(raw: Any, where: str) -> int:
    if type(raw) is not int:
        raise MetricQueryError(f"{where}: period must be an integer number of seconds, got {raw!r}")
    return raw


def _unit(raw: Any, where: str) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise MetricQueryError(f"{where}: unit must be a string (a CloudWatch unit such as Count), got {raw!r}")
    return raw


def _return_data(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise MetricQueryError(f"{where}: return_data must be true or false")
    return raw


def _query(raw: Any, index: int) -> MetricDataQuery:
    where = f"queries[{index}]"
    if not isinstance(raw, Mapping):
        raise MetricQueryError(f"{where} must be an object")
    unknown = set(raw) - {"id", "metric_stat", "expression", "label", "return_data", "period"}
    if unknown:
        raise MetricQueryError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    stat = None
    if raw.get("metric_stat") is not None:
        ms = raw["metric_stat"]
        if not isinstance(ms, Mapping):
            raise MetricQueryError(f"{where}.metric_stat must be an object")
        stat = MetricStat(
            namespace=_str(_required(ms, "namespace", where + ".metric_stat"), where),
            name=_str(_required(ms, "name", where + ".metric_stat"), where),
            dimensions=_dimensions(ms.get("dimensions"), where),
            statistic=_str(ms.get("stat", "Sum"), where),
            period=_period(ms.get("period", 60), where),
            unit=_unit(ms.get("unit"), where),
        )
    return MetricDataQuery(
        id=raw.get("id"),  # type: ignore[arg-type]
        metric_stat=stat,
        expression=_opt_str(raw.get("expression"), where),
        label=_opt_str(raw.get("label"), where),
        return_data=_return_data(raw.get("return_data", True), where),
        period=None if raw.get("period") is None else _period(raw["period"], where),
    )


def _aws_query(raw: Any, index: int) -> MetricDataQuery:
    where = f"MetricDataQueries[{index}]"
    if not isinstance(raw, Mapping):
        raise MetricQueryError(f"{where} must be an object")
    stat = None
    if raw.get("MetricStat") is not None:
        ms = raw["MetricStat"]
        if not isinstance(ms, Mapping) or not isinstance(ms.get("Metric"), Mapping):
            raise MetricQueryError(f"{where}.MetricStat must be an object with a Metric")
        metric = ms["Metric"]
        stat = MetricStat(
            namespace=_str(_required(metric, "Namespace", where), where),
            name=_str(_required(metric, "MetricName", where), where),
            dimensions=_dimensions(metric.get("Dimensions"), where),
            statistic=_str(_required(ms, "Stat", where), where),
            period=_period(_required(ms, "Period", where), where),
            unit=_unit(ms.get("Unit"), where),
        )
    return MetricDataQuery(
        id=raw.get("Id"),  # type: ignore[arg-type]
        metric_stat=stat,
        expression=_opt_str(raw.get("Expression"), where),
        label=_opt_str(raw.get("Label"), where),
        return_data=_return_data(raw.get("ReturnData", True), where),
        period=None if raw.get("Period") is None else _period(raw["Period"], where),
    )


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MetricQueryError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)
