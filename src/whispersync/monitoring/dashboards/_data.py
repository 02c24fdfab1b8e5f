"""widget_data: what one widget shows, computed by the engines the API already uses.

A metric widget's entries become GetMetricData queries (``monitoring.metrics``), a log
widget's query runs through Logs Insights (``SOURCE '...' |`` picks its groups), an
alarm widget reads the alarm engine's states, a text widget gives its markdown.
There is no second query path: a chart's numbers are ``metrics get``'s numbers.

The answer is plain JSON (docs/json.md): series are ``{"id", "label", "timestamps",
"values", "unit", "color", "y_axis"}`` oldest first; a metric widget's ``lines`` are the
horizontal lines to draw (``{"kind": "horizontal"|"alarm", "value", "label", "color",
"fill", "y_axis", "state"}``): its ``annotations.horizontal`` and the thresholds of the
metric alarms in its ``annotations.alarms``. A widget whose query fails carries
``{"error": {"code", "message"}}`` instead, so one bad widget does not take a dashboard down.

``period_override`` is the body's ``periodOverride``: ``inherit`` keeps each graph's
period; ``auto`` (CloudWatch's default) makes "the period of all graphs on the dashboard
automatically adapt to the time range of the dashboard" (CDK PeriodOverride,
https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_cloudwatch.PeriodOverride.html).
CloudWatch publishes no table for ``auto``, so here a graph's period is raised (never
lowered) to the first of 1 min, 5 min, 15 min, 1 h, 6 h, 1 day that keeps a series at
most 1,440 points (a day of minutes): enough for any chart's width in pixels, and a
7-day range stays cheap to read and draw.
"""

from __future__ import annotations

import re
import time
from typing import Any

from whispersync.errors import InputError, QuerySyntaxError
from whispersync.monitoring.dashboards._model import DEFAULT_PERIOD, DEFAULT_STAT, Widget
from whispersync.monitoring.logs.insights import run_query
from whispersync.monitoring.metrics import get_metric_data, round_start
from whispersync.monitoring.store import DEFAULT_QUERY_TIMEOUT, TelemetryStore
from whispersync.plan import MetricDataQuery, MetricStat

AUTO_PERIODS = (60, 300, 900, 3600, 21600, 86400)
MAX_AUTO_POINTS = 1440
# Alarm thresholds coloured as CloudWatch colours alarm states (the console's red, green, grey).
STATE_COLORS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{3,8}")  # the body's colours are "hex color code, prefixed with '#'"
# Views that show one number per series: the last value, or the whole range's with setPeriodToTimeRange.
_ONE_VALUE_VIEWS = ("singleValue", "gauge", "bar", "pie")
_STATE_ORDER = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}


def widget_data(widget: Widget, *, store: TelemetryStore, alarms: Any = None, start_ms: int, end_ms: int,
                now_ms: int | None = None, timeout: float | None = DEFAULT_QUERY_TIMEOUT,
                period_override: str | None = None) -> dict[str, Any]:
    """The data of ``widget`` over ``start_ms`` (inclusive) to ``end_ms`` (exclusive).

    ``alarms`` is the AlarmEngine (anything with ``describe()``) that alarm widgets and
    alarm annotations read. ``period_override`` is the body's (None: CloudWatch's default, auto).
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    out: dict[str, Any] = {"type": widget.type, "title": widget.prop("title")}
    try:
        if widget.type == "metric":
            out.update(_metric(widget, store, start_ms, end_ms, now_ms, timeout, period_override or "auto"))
            out["lines"] = _lines(widget, alarms)
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


def auto_period(range_ms: int) -> int:
    """The period ``periodOverride: auto`` gives a graph over ``range_ms`` (see the module's docstring)."""
    for period in AUTO_PERIODS:
        if range_ms <= period * 1000 * MAX_AUTO_POINTS:
            return period
    return -(-range_ms // (86_400_000 * MAX_AUTO_POINTS)) * 86400


def _metric(widget: Widget, store: TelemetryStore, start_ms: int, end_ms: int, now_ms: int,
            timeout: float | None, period_override: str) -> dict[str, Any]:
    view = widget.prop("view", "timeSeries")
    stat = widget.prop("stat", DEFAULT_STAT)
    period = widget.prop("period", DEFAULT_PERIOD)
    floor = auto_period(end_ms - start_ms) if period_override == "auto" else None
    whole_range = _whole_range(widget, view, start_ms, end_ms, now_ms)
    queries, by_id = _queries(widget, stat, period, whole_range, floor)
    out: dict[str, Any] = {"view": view, "stat": stat, "period": whole_range or max(period, floor or 0),
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
    if view == "singleValue" and widget.prop("trend", False):
        _add_trend(widget, out["series"], store, start_ms, end_ms, now_ms, timeout, stat, period, floor)
    if view == "gauge":
        left = widget.prop("yAxis", {}).get("left", {})
        out["gauge"] = {"min": left.get("min"), "max": left.get("max")}
    return out


def _whole_range(widget: Widget, view: str, start_ms: int, end_ms: int, now_ms: int) -> int | None:
    """With setPeriodToTimeRange, the one period covering the whole range from the start
    GetMetricData rounds to (the rounding is the same for every period of a minute or more)."""
    if not widget.prop("setPeriodToTimeRange", False) or view == "timeSeries":
        return None
    origin = round_start(start_ms, 60, now_ms)
    return max(60, -(-(end_ms - origin) // 60_000) * 60)


def _add_trend(widget: Widget, series: list[dict[str, Any]], store: TelemetryStore, start_ms: int, end_ms: int,
               now_ms: int, timeout: float | None, stat: str, period: int, floor: int | None) -> None:
    """A single value's ``trend`` (CloudWatch's singleValue option; on the executive
    dashboard, "the change against the previous day"): each series' value over the range
    just before this one, of the same length, read the same way, and the change."""
    before_start = start_ms - (end_ms - start_ms)
    queries, _ = _queries(widget, stat, period, _whole_range(widget, "singleValue", before_start, start_ms, now_ms),
                          floor)
    results = get_metric_data(store, queries, start_ms=before_start, end_ms=start_ms,
                              scan_by="TimestampAscending", now_ms=now_ms, timeout=timeout)
    previous = {r.id: (r.values[-1] if r.values else None) for r in results}
    for s in series:
        before, now = previous.get(s["id"]), s.get("value")
        change = now - before if now is not None and before is not None else None
        s["trend"] = {"previous": before, "change": change,
                      "change_percent": change / abs(before) * 100 if change is not None and before else None}


def _lines(widget: Widget, engine: Any) -> list[dict[str, Any]]:
    """The horizontal lines of a metric widget. ``annotations.horizontal`` items are the body
    structure's (value, label, color, fill above|below, yAxis, visible); an ``annotations.alarms``
    ARN draws that metric alarm's threshold, labelled with its name and coloured by its state,
    shaded on the side that breaches. A composite alarm has no threshold: it draws nothing.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"""
    annotations = widget.prop("annotations") or {}
    lines: list[dict[str, Any]] = []
    for item in annotations.get("horizontal") or []:
        if not isinstance(item, dict) or item.get("visible") is False:
            continue
        fill = item.get("fill")
        color = item.get("color")
        if not (isinstance(color, str) and _HEX_COLOR.fullmatch(color)):
            color = None
        lines.append({"kind": "horizontal", "value": item["value"], "label": item.get("label"), "color": color,
                      "fill": fill if fill in ("above", "below") else None,
                      "y_axis": "right" if item.get("yAxis") == "right" else "left", "state": None})
    names = [_alarm_name(a) for a in annotations.get("alarms") or []]
    if not names:
        return lines
    known = {a["name"]: a for a in engine.describe()} if engine is not None else {}
    for name in dict.fromkeys(names):
        alarm = known.get(name)
        definition = alarm["definition"] if alarm else {}
        if alarm is None or definition.get("threshold") is None:
            continue
        operator = definition.get("comparison_operator", "")
        lines.append({"kind": "alarm", "value": definition["threshold"], "label": name,
                      "color": STATE_COLORS.get(alarm["state"]), "state": alarm["state"],
                      "fill": "above" if operator.startswith("Greater") else "below" if operator.startswith("Less")
                      else None, "y_axis": "left"})
    return lines


def _queries(widget: Widget, stat: str, period: int, whole_range: int | None, floor: int | None = None):
    """The widget's entries as MetricDataQuerys; ids ``m0, m1...`` (by position) where none is given.
    ``floor`` is the auto period: no entry's period is below it."""
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
        entry_period = whole_range or max(entry.options.get("period", period), floor or 0)
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
