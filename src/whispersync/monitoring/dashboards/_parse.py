"""parse_body: a CloudWatch dashboard body -> ``Body``, with PutDashboard-style validation.

The specification is CloudWatch's "Dashboard Body Structure and Syntax"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
0-500 widgets; x 0-23, width 1-24 (default 6), height 1-1000 (default 6); a metric
entry is ``[Namespace, MetricName, DimName, DimValue, ..., {options}]`` or
``[{"expression": ..., "id": ...}]``. Console exports write ``"."`` for "the value at
this position in the entry above" and ``"..."`` for "the rest of the entry above"
(``["...", "fn-b"]`` keeps all but the last value of the entry above). Messages carry
a JSON-pointer ``data_path`` as PutDashboard's DashboardValidationMessages do. Errors
are what PutDashboard refuses; warnings list every property WhisperSync cannot honour
locally, so nothing is dropped silently.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import orjson

from whispersync.monitoring.dashboards._messages import (
    ERROR,
    WARNING,
    DashboardBodyError,
    ValidationMessage,
)
from whispersync.monitoring.dashboards._model import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    GRID_COLUMNS,
    Body,
    MetricEntry,
    Widget,
)
from whispersync.plan import Dashboard, check_period, check_statistic

MAX_WIDGETS = 500
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")  # GetMetricData's rule for query ids
VIEWS = ("timeSeries", "singleValue", "gauge", "bar", "pie", "table")
LOG_VIEWS = ("table", "timeSeries", "bar", "pie")
ALARM_STATES = ("ALARM", "INSUFFICIENT_DATA", "OK")
SORT_BY = ("default", "stateUpdatedTimestamp", "timestamp")
RUN_LOCALLY = ("metric", "log", "alarm", "text")
KEPT_ONLY = ("explorer", "custom")  # valid on CloudWatch, not run here

_TOP_LEVEL = {"widgets", "start", "end", "periodOverride", "variables"}
_WIDGET_KEYS = {"type", "x", "y", "width", "height", "properties"}
# Properties per widget type: honoured locally, or known but ignored (a warning each).
_HONOURED = {
    "metric": {"view", "metrics", "stat", "period", "yAxis", "annotations", "setPeriodToTimeRange", "sparkline",
               "trend", "stacked", "title", "legend", "table", "singleValueFullPrecision"},
    "log": {"query", "view", "title", "stacked"},
    "alarm": {"alarms", "sortBy", "states", "title"},
    "text": {"markdown", "background"},
}
_IGNORED = {
    "region": "WhisperSync has one local store; region is ignored",
    "accountId": "WhisperSync has one local store; accountId is ignored",
    "liveData": "liveData is ignored: local data is always complete",
    "timezone": "timezone is ignored: times are UTC",
}
_ENTRY_OPTIONS = {"id", "label", "stat", "period", "color", "visible", "yAxis", "expression"}


def check_name(name: Any) -> list[ValidationMessage]:
    """PutDashboard's DashboardName rule: 1-255 characters of A-Z, a-z, 0-9, '-' and '_'."""
    if isinstance(name, str) and _NAME.match(name):
        return []
    return [ValidationMessage("/DashboardName", "The dashboard name must be 1 to 255 characters of "
                              "letters, digits, '-' and '_'")]


def parse_body(body: str | bytes | Mapping[str, Any], *, name: str | None = None,
               strict: bool = False) -> tuple[Body, list[ValidationMessage]]:
    """The body (a JSON string, as PutDashboard takes it, or its parsed object) as a ``Body``,
    and the validation messages. With ``strict``, errors raise DashboardBodyError."""
    parser = _Parser()
    result = parser.body(body, name)
    if name is not None:
        parser.messages[:0] = check_name(name)
    if strict and any(m.level == ERROR for m in parser.messages):
        raise DashboardBodyError(parser.messages)
    return result, parser.messages


def body_of(dashboard: Dashboard) -> Body:
    """The plan's dashboard as a Body; its errors raise DashboardBodyError."""
    return parse_body(dashboard.body(), name=dashboard.name, strict=True)[0]


class _Parser:
    def __init__(self) -> None:
        self.messages: list[ValidationMessage] = []

    def error(self, path: str, message: str) -> None:
        self.messages.append(ValidationMessage(path, message, ERROR))

    def warn(self, path: str, message: str) -> None:
        self.messages.append(ValidationMessage(path, message, WARNING))

    # -- top level

    def body(self, body: Any, name: str | None) -> Body:
        if isinstance(body, (str, bytes)):
            try:
                body = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                self.error("", f"The dashboard body is not valid JSON: {exc}")
                return Body(name=name)
        if not isinstance(body, Mapping):
            self.error("", "The dashboard body must be a JSON object")
            return Body(name=name)
        body = copy.deepcopy(dict(body))
        extra = {k: v for k, v in body.items() if k not in _TOP_LEVEL}
        for key in extra:
            self.warn(f"/{_escape(key)}", f"Unknown property {key!r}: kept, not used")
        widgets_raw = body.get("widgets")
        if widgets_raw is None:
            self.error("/widgets", "Should have required property 'widgets'")
            widgets_raw = []
        elif not isinstance(widgets_raw, list):
            self.error("/widgets", "Should be an array")
            widgets_raw = []
        elif len(widgets_raw) > MAX_WIDGETS:
            self.error("/widgets", f"Should NOT have more than {MAX_WIDGETS} items")
        start, end = body.get("start"), body.get("end")
        for key, value in (("start", start), ("end", end)):
            if value is not None and not (isinstance(value, str) and value):
                self.error(f"/{key}", "Should be a string: a relative time such as -PT3H, or ISO 8601")
        if end is not None and start is None:
            self.error("/end", "end requires start")
        override = body.get("periodOverride")
        if override is not None and override not in ("auto", "inherit"):
            self.error("/periodOverride", "Should be equal to one of the allowed values: auto, inherit")
        variables = body.get("variables")
        if variables is not None:
            if not isinstance(variables, list):
                self.error("/variables", "Should be an array")
            self.warn("/variables", "Dashboard variables are not supported locally: widgets use their own values")
        widgets = []
        cursor = (0, 0, 0)  # where the next widget without x/y goes: x, y, bottom of the row
        for i, raw in enumerate(widgets_raw):
            widget, cursor = self.widget(raw, f"/widgets/{i}", cursor)
            if widget is not None:
                widgets.append(widget)
        return Body(widgets=tuple(widgets), start=start, end=end, period_override=override,
                    variables=tuple(variables) if isinstance(variables, list) else None, name=name, extra=extra)

    # -- widgets

    def widget(self, raw: Any, path: str, cursor: tuple[int, int, int]) -> tuple[Widget | None, tuple[int, int, int]]:
        if not isinstance(raw, Mapping):
            self.error(path, "Should be an object")
            return None, cursor
        for key in raw:
            if key not in _WIDGET_KEYS:
                self.warn(f"{path}/{_escape(key)}", f"Unknown widget property {key!r}: ignored")
        kind = raw.get("type")
        if kind not in RUN_LOCALLY + KEPT_ONLY:
            self.error(f"{path}/type", "Should be equal to one of the allowed values: "
                       + ", ".join(RUN_LOCALLY + KEPT_ONLY))
        elif kind in KEPT_ONLY:
            self.warn(f"{path}/type", f"A {kind} widget is not supported locally: kept, not shown")
        width = self.integer(raw, "width", path, 1, GRID_COLUMNS, DEFAULT_WIDTH)
        height = self.integer(raw, "height", path, 1, 1000, DEFAULT_HEIGHT)
        # Widgets without a position flow left to right and wrap, as on CloudWatch.
        cx, cy, bottom = cursor
        if "x" not in raw and "y" not in raw and cx + width > GRID_COLUMNS:
            cx, cy = 0, bottom
        x = self.integer(raw, "x", path, 0, GRID_COLUMNS - 1, cx)
        y = self.integer(raw, "y", path, 0, None, cy)
        cursor = (x + width, y, max(bottom, y + height))
        props = raw.get("properties", {})
        if not isinstance(props, Mapping):
            self.error(f"{path}/properties", "Should be an object")
            props = {}
        props = dict(props)
        metrics: tuple[MetricEntry, ...] = ()
        ppath = f"{path}/properties"
        if kind in _HONOURED:
            for key in props:
                if key in _HONOURED[kind]:
                    continue
                if key in _IGNORED:
                    self.warn(f"{ppath}/{key}", _IGNORED[key])
                else:
                    self.warn(f"{ppath}/{_escape(key)}", f"Unknown {kind} widget property {key!r}: ignored")
        if kind == "metric":
            metrics = self.metric_widget(props, ppath)
            if "metrics" in props:
                props["metrics"] = [e.to_json() for e in metrics]
        elif kind == "log":
            self.log_widget(props, ppath)
        elif kind == "alarm":
            self.alarm_widget(props, ppath)
        elif kind == "text":
            self.text_widget(props, ppath)
        return Widget(str(kind), x, y, width, height, props, metrics), cursor

    def integer(self, raw: Mapping[str, Any], key: str, path: str, low: int, high: int | None, default: int) -> int:
        value = raw.get(key, default)
        if type(value) is not int or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"{low} or more"
            self.error(f"{path}/{key}", f"Should be an integer {bound}")
            return default
        return value

    def metric_widget(self, props: dict[str, Any], path: str) -> tuple[MetricEntry, ...]:
        view = props.get("view", "timeSeries")
        if view not in VIEWS:
            self.error(f"{path}/view", "Should be equal to one of the allowed values: " + ", ".join(VIEWS))
        if "stat" in props:
            self.statistic(props["stat"], f"{path}/stat")
        if "period" in props:
            self.period(props["period"], f"{path}/period")
        for key in ("stacked", "setPeriodToTimeRange", "sparkline", "trend", "singleValueFullPrecision"):
            if key in props and not isinstance(props[key], bool):
                self.error(f"{path}/{key}", "Should be a boolean")
        if props.get("sparkline") and props.get("setPeriodToTimeRange"):
            self.warn(f"{path}/sparkline", "sparkline cannot be combined with setPeriodToTimeRange: not drawn")
        y_axis = props.get("yAxis", {})
        if not isinstance(y_axis, Mapping):
            self.error(f"{path}/yAxis", "Should be an object")
            y_axis = {}
        for side, axis in y_axis.items():
            if side not in ("left", "right") or not isinstance(axis, Mapping):
                self.error(f"{path}/yAxis/{_escape(str(side))}", "Should be 'left' or 'right' with an object")
                continue
            for key in ("min", "max"):
                if key in axis and (isinstance(axis[key], bool) or not isinstance(axis[key], (int, float))):
                    self.error(f"{path}/yAxis/{side}/{key}", "Should be a number")
        if view == "gauge":
            left = y_axis.get("left") if isinstance(y_axis.get("left"), Mapping) else {}
            if "min" not in left or "max" not in left:
                self.error(f"{path}/yAxis", "A gauge needs yAxis.left.min and yAxis.left.max")
        self.annotations(props.get("annotations"), f"{path}/annotations")
        if "metrics" not in props:
            self.error(f"{path}/metrics", "Should have required property 'metrics'")
            return ()
        raw = props["metrics"]
        if not isinstance(raw, list):
            self.error(f"{path}/metrics", "Should be an array")
            return ()
        entries: list[MetricEntry] = []
        seen_ids: set[str] = set()
        previous: list[str] | None = None
        for i, item in enumerate(raw):
            entry, previous = self.metric_entry(item, f"{path}/metrics/{i}", previous)
            if entry is None:
                continue
            qid = entry.options.get("id")
            if qid is not None:
                if qid in seen_ids:
                    # The CDK's words (aws-cloudwatch/lib/private/rendering.ts).
                    self.error(f"{path}/metrics/{i}", f"Cannot have two different metrics share the same id "
                               f"('{qid}') in one graph")
                seen_ids.add(qid)
            entries.append(entry)
        return tuple(entries)

    def metric_entry(self, item: Any, path: str,
                     previous: list[str] | None) -> tuple[MetricEntry | None, list[str] | None]:
        """One entry of ``metrics``; returns it and the strings the next entry's shorthand refers to."""
        if not isinstance(item, list) or not item:
            self.error(path, "Should be a non-empty array")
            return None, None
        options: Any = item[-1] if isinstance(item[-1], Mapping) else {}
        values = item[:-1] if isinstance(item[-1], Mapping) else item
        options = dict(options)
        self.entry_options(options, f"{path}/{len(item) - 1}", math=not values)
        if not values:
            if not isinstance(options.get("expression"), str) or not options["expression"].strip():
                self.error(path, "A metric needs a namespace and a metric name; a math entry needs an expression")
                return None, None
            return MetricEntry(options=options), None
        if "expression" in options:
            self.error(f"{path}/{len(item) - 1}/expression", "A math entry holds only its options object")
            return None, None
        expanded: list[str] = []
        for pos, value in enumerate(values):
            if value == "...":
                if previous is None:
                    self.error(f"{path}/{pos}", "'...' repeats the metric above, and there is none")
                    return None, None
                rest = len(values) - pos - 1  # values written after "..." replace the end of the entry above
                if values[pos + 1:].count("...") or len(previous) - rest < len(expanded):
                    self.error(f"{path}/{pos}", "'...' does not fit the metric above")
                    return None, None
                expanded += previous[len(expanded):len(previous) - rest]
            elif value == ".":
                if previous is None or len(expanded) >= len(previous):
                    self.error(f"{path}/{pos}", "'.' repeats the value at this position in the metric above, "
                               "and there is none")
                    return None, None
                expanded.append(previous[len(expanded)])
            elif isinstance(value, str) and value:
                expanded.append(value)
            else:
                self.error(f"{path}/{pos}", "Should be a non-empty string (or an options object, last)")
                return None, None
        if len(expanded) < 2 or len(expanded) % 2:
            self.error(path, "A metric is [Namespace, MetricName, DimensionName, DimensionValue, ...]: "
                       "a namespace, a name and dimension name/value pairs")
            return None, None
        dims = tuple((expanded[i], expanded[i + 1]) for i in range(2, len(expanded), 2))
        return MetricEntry(expanded[0], expanded[1], dims, options), expanded

    def entry_options(self, options: dict[str, Any], path: str, *, math: bool) -> None:
        """``path`` is the options object's own (the entry's last item)."""
        for key, value in options.items():
            where = f"{path}/{_escape(key)}"
            if key in _IGNORED:
                self.warn(where, _IGNORED[key])
            elif key not in _ENTRY_OPTIONS:
                self.warn(where, f"Unknown metric option {key!r}: ignored")
            elif key == "id" and not (isinstance(value, str) and _ID.match(value)):
                self.error(where, "An id starts with a lowercase letter and holds letters, digits and underscores")
            elif key == "stat" and not math:
                self.statistic(value, where)
            elif key == "period":
                self.period(value, where)
            elif key == "visible" and not isinstance(value, bool):
                self.error(where, "Should be a boolean")
            elif key == "yAxis" and value not in ("left", "right"):
                self.error(where, "Should be 'left' or 'right'")
            elif key in ("label", "color", "expression") and not isinstance(value, str):
                self.error(where, "Should be a string")

    def statistic(self, value: Any, path: str) -> None:
        try:
            check_statistic(value)
        except ValueError:
            self.error(path, f"Unknown statistic {value!r}: Sum, Average, Minimum, Maximum, SampleCount, pNN...")

    def period(self, value: Any, path: str) -> None:
        try:
            check_period(value)
        except ValueError as exc:
            self.error(path, str(exc).capitalize())

    def annotations(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, Mapping):
            self.error(path, "Should be an object")
            return
        for key, items in value.items():
            if key not in ("horizontal", "vertical", "alarms"):
                self.warn(f"{path}/{_escape(key)}", f"Unknown annotation kind {key!r}: ignored")
            elif not isinstance(items, list):
                self.error(f"{path}/{key}", "Should be an array")
            elif key == "horizontal":
                for i, item in enumerate(items):
                    number = item.get("value") if isinstance(item, Mapping) else None
                    if isinstance(number, bool) or not isinstance(number, (int, float)):
                        self.error(f"{path}/horizontal/{i}/value", "Should be a number")
                    elif item.get("fill", "none") not in ("above", "below", "none"):
                        self.error(f"{path}/horizontal/{i}/fill", "Should be equal to one of the allowed values: "
                                   "above, below, none")
                    elif item.get("yAxis", "left") not in ("left", "right"):
                        self.error(f"{path}/horizontal/{i}/yAxis", "Should be 'left' or 'right'")
            elif key == "alarms":
                for i, item in enumerate(items):
                    if not isinstance(item, str) or not item:
                        self.error(f"{path}/alarms/{i}", "Should be an alarm ARN")

    def log_widget(self, props: dict[str, Any], path: str) -> None:
        query = props.get("query")
        if not isinstance(query, str) or not query.strip():
            self.error(f"{path}/query", "A log widget needs a query (a Logs Insights query, SOURCE '...' | ...)")
        if props.get("view", "table") not in LOG_VIEWS:
            self.error(f"{path}/view", "Should be equal to one of the allowed values: " + ", ".join(LOG_VIEWS))

    def alarm_widget(self, props: dict[str, Any], path: str) -> None:
        alarms = props.get("alarms")
        if not isinstance(alarms, list) or not alarms:
            self.error(f"{path}/alarms", "An alarm widget needs a non-empty array of alarm ARNs")
        else:
            for i, arn in enumerate(alarms):
                if not isinstance(arn, str) or not arn:
                    self.error(f"{path}/alarms/{i}", "Should be an alarm ARN")
        if props.get("sortBy", "default") not in SORT_BY:
            self.error(f"{path}/sortBy", "Should be equal to one of the allowed values: " + ", ".join(SORT_BY))
        states = props.get("states", [])
        if not isinstance(states, list) or any(s not in ALARM_STATES for s in states):
            self.error(f"{path}/states", "Should be an array of: " + ", ".join(ALARM_STATES))

    def text_widget(self, props: dict[str, Any], path: str) -> None:
        if not isinstance(props.get("markdown"), str):
            self.error(f"{path}/markdown", "A text widget needs its markdown (a string)")
        if props.get("background", "solid") not in ("solid", "transparent"):
            self.error(f"{path}/background", "Should be equal to one of the allowed values: solid, transparent")


def _escape(key: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
