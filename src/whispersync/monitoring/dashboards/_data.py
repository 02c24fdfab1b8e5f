"""widget_data: what one widget shows, computed by the engines the API already uses.

A metric widget's entries become GetMetricData queries (``monitoring.metrics``), a log
widget's query runs through Logs Insights (``SOURCE '...' |`` picks its groups), an
alarm widget reads the alarm engine's states, a text widget gives its markdown.
There is no second query path: a chart's numbers are ``metrics get``'s numbers.

The answer is plain JSON (docs/json.md): series are ``{"id", "label", "timestamps",
"values", "unit", "color", "y_axis"}`` oldest first; a widget whose query fails
carries ``{"error": {"code", "message"}}`` instead, so one bad widget does not take a
dashboard down.
"""

from __future__ import annotations

import time
from typing import Any

from whispersync.errors import InputError, QuerySyntaxError
from whispersync.monitoring.dashboards._model import DEFAULT_PERIOD, DEFAULT_STAT, Widget
from whispersync.monitoring.logs.insights import run_query
from whispersync.monitoring.metrics import get_metric_data, round_start
from whispersync.monitoring.store import DEFAULT_QUERY_TIMEOUT, TelemetryStore
from whispersync.plan import MetricDataQuery, MetricStat

# Views that show one number per series: the last value, or the whole range's with setPeriodToTimeRange.
_ONE_VALUE_VIEWS = ("singleValue", "gauge", "bar", "pie")
_STATE_ORDER = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}


def widget_data(widget: Widget, *, store: TelemetryStore, alarms: Any = None, start_ms: int, end_ms: int,
                now_ms: int | None = None, timeout: float | None = DEFAULT_QUERY_TIMEOUT) -> dict[str, Any]:
    """The data of ``widget`` over ``start_ms`` (inclusive) to ``end_ms`` (exclusive).

    ``alarms`` is the AlarmEngine (anything with ``describe()``) that alarm widgets read.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    out: dict[str, Any] = {"type": widget.type, "title": widget.prop("title")}
    try:
        if widget.type == "metric":
            out.update(_metric(widget, store, start_ms, end_ms, now_ms, timeout))
        elif widget.type == "log":
            result = run_query(store, widget.prop("query", ""), start_ms=start_ms, end_ms=end_ms, now_ms=now_ms,
                               timeout=timeout)
            out.update(view=widget.prop("view", "table"), columns=result["columns"], rows=result["rows"],
                       statistics=result["statistics"])
        elif widget.type == "alarm":
            out.update(_alarms(widget, alarms))
        elif widget.type == "text":
            out.update(markdown=widget.prop("markdown", ""), background=widget.prop("background", "solid"))
        else:
            out["error"] = {"code": "not_supported", "message": f"a {widget.type} widget is not supported locally"}
    except InputError as exc:
        out["error"] = _error(exc)
    return out


def _error(exc: InputError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, QuerySyntaxError):
        error.update(reason=exc.reason, position=exc.position, line=exc.line, column=exc.column)
    return error


def _metric(widget: Widget, store: TelemetryStore, start_ms: int, end_ms: int, now_ms: int,
            timeout: float | None) -> dict[str, Any]:
    view = widget.prop("view", "timeSeries")
    stat = widget.prop("stat", DEFAULT_STAT)
    period = widget.prop("period", DEFAULT_PERIOD)
    whole_range = None
    if widget.prop("setPeriodToTimeRange", False) and view != "timeSeries":
        # One period covering the whole range from the start GetMetricData rounds to
        # (the rounding is the same for every period of a minute or more).
        origin = round_start(start_ms, 60, now_ms)
        whole_range = max(60, -(-(end_ms - origin) // 60_000) * 60)
    queries, by_id = _queries(widget, stat, period, whole_range)
    out: dict[str, Any] = {"view": view, "stat": stat, "period": whole_range or period,
                           "y_axis": widget.prop("yAxis", {}), "annotations": widget.prop("annotations", {}),
                           "stacked": widget.prop("stacked", False), "legend": widget.prop("legend"), "series": []}
    if not queries:
        return out
    results = get_metric_data(store, queries, start_ms=start_ms, end_ms=end_ms, scan_by="TimestampAscending",
                              now_ms=now_ms, timeout=timeout)
    for r in results:
        doc = r.to_dict()
        options = by_id[r.id].options
        series = {"id": r.id, "label": doc["label"], "timestamps": doc["timestamps"], "values": doc["values"],
                  "unit": doc["unit"], "color": options.get("color"), "y_axis": options.get("yAxis", "left")}
        if view in _ONE_VALUE_VIEWS:
            series["value"] = r.values[-1] if r.values else None
        out["series"].append(series)
    if view == "gauge":
        left = widget.prop("yAxis", {}).get("left", {})
        out["gauge"] = {"min": left.get("min"), "max": left.get("max")}
    return out


def _queries(widget: Widget, stat: str, period: int, whole_range: int | None):
    """The widget's entries as MetricDataQuerys; ids ``m0, m1...`` (by position) where none is given."""
    taken = {e.options["id"] for e in widget.metrics if "id" in e.options}
    queries, by_id = [], {}
    for i, entry in enumerate(widget.metrics):
        qid = entry.options.get("id")
        if qid is None:
            qid, n = f"m{i}", 0
            while qid in taken:
                n += 1
                qid = f"m{i}_{n}"
            taken.add(qid)
        entry_period = whole_range or entry.options.get("period", period)
        visible = entry.options.get("visible", True)
        if entry.expression is not None:
            query = MetricDataQuery(qid, expression=entry.expression, label=entry.options.get("label"),
                                    return_data=visible, period=entry_period)
        else:
            metric = MetricStat(entry.namespace, entry.name, dict(entry.dimensions),  # type: ignore[arg-type]
                                entry.options.get("stat", stat), entry_period)
            query = MetricDataQuery(qid, metric, label=entry.options.get("label"), return_data=visible)
        queries.append(query)
        by_id[qid] = entry
    return queries, by_id


def _alarm_name(arn: str) -> str:
    """``arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`` -> NAME; a bare name stays as it is."""
    if arn.startswith("arn:") and ":alarm:" in arn:
        return arn.split(":alarm:", 1)[1]
    return arn


def _alarms(widget: Widget, engine: Any) -> dict[str, Any]:
    """The listed alarms' states, filtered by ``states`` and ordered by ``sortBy`` as the
    CDK documents AlarmStatusWidgetSortBy: default is by name; stateUpdatedTimestamp is
    ALARM, INSUFFICIENT_DATA, OK, each newest change first; timestamp is newest change first."""
    if engine is None:
        return {"alarms": [], "error": {"code": "not_configured", "message": "no alarm engine to read states from"}}
    known = {a["name"]: a for a in engine.describe()}
    rows = []
    for name in dict.fromkeys(_alarm_name(a) for a in widget.prop("alarms", [])):
        alarm = known.get(name)
        if alarm is None:
            rows.append({"name": name, "state": None, "reason": f"no alarm named {name!r}", "updated_at": None})
        else:
            rows.append({"name": name, "state": alarm["state"], "reason": alarm["reason"],
                         "updated_at": alarm["updated_at"]})
    states = widget.prop("states") or []
    if states:
        rows = [r for r in rows if r["state"] in states]
    sort_by = widget.prop("sortBy", "default")
    rows.sort(key=lambda r: r["name"])
    if sort_by in ("stateUpdatedTimestamp", "timestamp"):
        rows.sort(key=lambda r: r["updated_at"] or "", reverse=True)  # ISO 8601 UTC sorts as text
    if sort_by == "stateUpdatedTimestamp":
        rows.sort(key=lambda r: _STATE_ORDER.get(r["state"], 3))
    return {"sort_by": sort_by, "alarms": rows}
