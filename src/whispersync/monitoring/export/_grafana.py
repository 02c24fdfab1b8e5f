"""The plan's dashboards as Grafana dashboard JSON, for a Prometheus or a CloudWatch datasource.

    result = grafana_dashboards(plan, datasource="prometheus")
    result.dashboards["queue-health"]     # the dashboard JSON (a dict), built with grafana-foundation-sdk
    result.not_carried                    # [NotCarried(dashboard, widget, property, reason), ...]

Each CloudWatch body is read with the dashboard engine's parser (shorthand expanded,
defaults known), then each widget becomes a Grafana panel built with the SDK's builders
(`grafana-foundation-sdk`, the build for Grafana 11.6; its dashboard model writes
``schemaVersion`` 41, the version Grafana 11.6 saves). Every property of the body is
either carried over or listed in ``not_carried``: while a widget is rendered, each
property it reads is ticked off, and whatever is left unticked afterwards is reported
as not understood, so nothing is lost silently.

Layout. Both grids are 24 columns wide, so x and width carry over. Heights differ:
Grafana's row is 30 px (``gridPos.h``), and CloudWatch's default 6-unit graph matches
Grafana's default 8-row panel, so y and height are scaled by 4/3 (rounding the top
and bottom edges, so widgets that touch on CloudWatch still touch).

Datasource. Every panel and target names ``{"type": ..., "uid": "${datasource}"}``, and
the dashboard has a ``datasource`` variable of that type, so the importer picks theirs.

Prometheus targets are PromQL over the names ``/metrics`` exposes (``_prometheus_names``):
``/metrics`` exposes only the full dimension set and a CloudWatch metric with fewer
dimensions is a roll-up, so each selector is aggregated with ``sum``/``max``/``avg``. The statistic becomes
``increase`` (Sum of a counter), ``histogram_quantile`` over ``_bucket`` (pNN), the
``_sum``/``_count`` ratio (Average of a histogram), ``*_over_time`` (gauges); the period
becomes the range ``[$__interval]`` with the widget's period as the query's minimum
interval (the body's periodOverride ``auto``), ``[60s]`` fixed (``inherit``) or
``[$__range]`` (setPeriodToTimeRange). Values are exposed in base units (seconds, 0-1
ratios) and shown in CloudWatch's unit again (x 1000 for Milliseconds, x 100 for Percent).

CloudWatch targets use the Grafana CloudWatch datasource's query model: metricQueryType 0
(Metric Search) with metricEditorMode 0 (Builder) for a metric, 1 (Code) for a math
expression; the math is CloudWatch's own, its inputs keep their ids and, when the body
hides them, ``hide: true`` (Grafana still runs a hidden CloudWatch query that has an id,
grafana/grafana#50987). https://grafana.com/docs/grafana/latest/datasources/aws-cloudwatch/query-editor/
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from whispersync.errors import ConfigError
from whispersync.monitoring.dashboards import (
    Body,
    DashboardBodyError,
    MetricEntry,
    Widget,
    parse_body,
    relative_seconds,
)
from whispersync.monitoring.export._prometheus_names import label_name, prometheus_metric
from whispersync.plan import Dashboard, MetricAlarm, Plan

DATASOURCES = ("prometheus", "cloudwatch")
SDK_PACKAGE = "grafana-foundation-sdk"
DEFAULT_PERIOD = 300  # a metric widget's period when the body gives none (CloudWatch's default)
DEFAULT_STAT = "Average"
_ROW_SCALE = 4 / 3  # CloudWatch grid units -> Grafana rows (30 px); see the module docstring


class GrafanaExportError(ConfigError):
    """The export cannot run: the SDK is missing or the datasource is unknown."""


@dataclass(frozen=True)
class NotCarried:
    """One property of a dashboard body that the Grafana dashboard does not carry over.

    ``widget`` is a JSON pointer into the body ("/widgets/3", or "" for the body's own
    fields) and ``property`` one relative to it ("properties/trend")."""

    dashboard: str
    widget: str
    property: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class GrafanaExport:
    """The dashboards, by plan name, and everything they do not carry over."""

    dashboards: Mapping[str, dict[str, Any]]
    not_carried: tuple[NotCarried, ...] = ()
    carried: Mapping[str, frozenset[str]] = field(default_factory=dict)  # dashboard -> "/widgets/i/<path>"


# ---------------------------------------------------------------------- entry points


def grafana_dashboards(plan: Plan, *, datasource: str = "prometheus") -> GrafanaExport:
    """Every plan dashboard as Grafana dashboard JSON for ``datasource`` (prometheus | cloudwatch)."""
    dashboards: dict[str, dict[str, Any]] = {}
    not_carried: list[NotCarried] = []
    carried: dict[str, frozenset[str]] = {}
    for dashboard in plan.dashboards:
        one = grafana_dashboard(dashboard, datasource=datasource, plan=plan)
        dashboards.update(one.dashboards)
        not_carried += one.not_carried
        carried.update(one.carried)
    return GrafanaExport(dashboards, tuple(not_carried), carried)


def grafana_dashboard(dashboard: Dashboard, *, datasource: str = "prometheus",
                      plan: Plan | None = None) -> GrafanaExport:
    """One plan dashboard; ``plan`` resolves the alarms its widgets annotate (their thresholds)."""
    if datasource not in DATASOURCES:
        raise GrafanaExportError(f"unknown datasource {datasource!r}: use one of {', '.join(DATASOURCES)}")
    sdk = _sdk()
    try:
        body, _messages = parse_body(dashboard.body(), name=dashboard.name, strict=True)
    except DashboardBodyError as exc:
        raise GrafanaExportError(f"dashboard {dashboard.name}: {exc}") from None
    renderer = _Renderer(sdk, dashboard, body, datasource, plan)
    result = renderer.render()
    return GrafanaExport({dashboard.name: result}, tuple(renderer.not_carried),
                         {dashboard.name: frozenset(renderer.carried)})


def dashboard_json_text(dashboard: Mapping[str, Any]) -> str:
    """The dashboard as a file holds it: sorted keys, two-space indent, a final newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _Sdk:
    """The SDK modules, imported on first use: the package is an optional extra."""

    def __init__(self) -> None:
        try:
            for name in ("dashboard", "timeseries", "stat", "gauge", "bargauge", "table", "text", "logs",
                         "prometheus", "cloudwatch", "common"):
                setattr(self, name, importlib.import_module(f"grafana_foundation_sdk.builders.{name}"))
            self.models = importlib.import_module("grafana_foundation_sdk.models.dashboard")
            self.common_models = importlib.import_module("grafana_foundation_sdk.models.common")
            self.cw_models = importlib.import_module("grafana_foundation_sdk.models.cloudwatch")
            self.text_models = importlib.import_module("grafana_foundation_sdk.models.text")
            self.encoder = importlib.import_module("grafana_foundation_sdk.cog.encoder")
        except ImportError:
            raise GrafanaExportError(f"the Grafana export needs the {SDK_PACKAGE} package: "
                                     "pip install 'whispersync[grafana]'") from None


_SDK: _Sdk | None = None


def _sdk() -> _Sdk:
    global _SDK
    if _SDK is None:
        _SDK = _Sdk()
    return _SDK


# ---------------------------------------------------------------------- rendering


class _Renderer:
    def __init__(self, sdk: _Sdk, dashboard: Dashboard, body: Body, datasource: str, plan: Plan | None) -> None:
        self.sdk = sdk
        self.dashboard = dashboard
        self.body = body
        self.flavour = datasource
        self.alarms = {a.name: a for a in plan.alarms} if plan is not None else {}
        self.not_carried: list[NotCarried] = []
        self.carried: set[str] = set()
        self.ds_ref = sdk.models.DataSourceRef(type_val=datasource, uid="${datasource}")
        self.inherit = body.period_override == "inherit"

    # -- bookkeeping

    def carry(self, path: str) -> None:
        self.carried.add(path)

    def report(self, widget: str, prop: str, reason: str) -> None:
        self.not_carried.append(NotCarried(self.dashboard.name, widget, prop, reason))

    # -- the dashboard

    def render(self) -> dict[str, Any]:
        sdk, body = self.sdk, self.body
        builder = (sdk.dashboard.Dashboard(self.dashboard.name)
                   .uid(_uid(self.dashboard.name))
                   .tags(["whispersync"])
                   .timezone("utc")
                   .time(*self._time())
                   .with_variable(sdk.dashboard.DatasourceVariable("datasource").label("Datasource")
                                  .type(self.flavour)))
        if self.dashboard.description:
            builder = builder.description(self.dashboard.description)
        self.carry("/start")
        if body.end is not None:
            self.carry("/end")
        if body.period_override is not None:
            self.carry("/periodOverride")
            if self.flavour == "cloudwatch" and body.period_override == "auto" and \
                    any(w.type == "metric" for w in body.widgets):
                self.report("", "periodOverride", "Grafana's CloudWatch queries keep each widget's period at every "
                            "time range; CloudWatch's auto period is not available")
        for i, _variable in enumerate(body.variables or ()):
            self.report("", f"variables/{i}", "dashboard variables are not exported: widgets use their own values")
        for key in body.extra:
            self.report("", key, f"unknown body property {key!r}")
        panel_id = 0
        for i, widget in enumerate(body.widgets):
            panel_id += 1
            panel = self.widget(widget, f"/widgets/{i}", panel_id)
            if panel is not None:
                builder = builder.with_panel(panel)
        model = builder.build()
        return json.loads(json.dumps(model, cls=sdk.encoder.JSONEncoder))

    def _time(self) -> tuple[str, str]:
        return _grafana_time(self.body.start or "-PT3H"), _grafana_time(self.body.end) if self.body.end else "now"

    # -- widgets

    def widget(self, widget: Widget, path: str, panel_id: int) -> Any:
        for key in ("type", "x", "y", "width", "height"):
            self.carry(f"{path}/{key}")
        title = widget.prop("title")
        if widget.type == "metric":
            panel = self.metric_widget(widget, path)
        elif widget.type == "text":
            panel = self.text_widget(widget, path)
        elif widget.type == "log":
            panel = self.log_widget(widget, path)
        elif widget.type == "alarm":
            panel = self.alarm_widget(widget, path)
        else:
            self.report(path, "type", f"a {widget.type} widget has no Grafana panel here: not exported")
            self._report_rest(widget, path)
            return None
        if title is not None:
            panel = panel.title(str(title))
            self.carry(f"{path}/properties/title")
        panel = panel.id(panel_id).grid_pos(self.grid_pos(widget))
        self._report_rest(widget, path)
        return panel

    def grid_pos(self, widget: Widget) -> Any:
        top = round(widget.y * _ROW_SCALE)
        bottom = round((widget.y + widget.height) * _ROW_SCALE)
        return self.sdk.models.GridPos(h=max(1, bottom - top), w=widget.width, x=widget.x, y=top)

    def _report_rest(self, widget: Widget, path: str) -> None:
        """Every leaf of the widget's properties not ticked off is reported: nothing is dropped silently."""
        for leaf in _leaves(widget.properties, f"{path}/properties"):
            if not any(leaf == c or leaf.startswith(c + "/") for c in self.carried) and \
                    not any(f"{n.widget}/{n.property}" == leaf or leaf.startswith(f"{n.widget}/{n.property}/")
                            for n in self.not_carried if n.widget == path):
                self.report(path, leaf[len(path) + 1:], "not understood by the Grafana export")

    def text_widget(self, widget: Widget, path: str) -> Any:
        panel = self.sdk.text.Panel().mode(self.sdk_text_mode()).content(widget.prop("markdown", ""))
        self.carry(f"{path}/properties/markdown")
        if "background" in widget.properties:
            self.carry(f"{path}/properties/background")
            panel = panel.transparent(widget.prop("background") == "transparent")
        return panel

    def sdk_text_mode(self) -> Any:
        return self.sdk.text_models.TextMode.MARKDOWN

    def alarm_widget(self, widget: Widget, path: str) -> Any:
        # The SDK has no alert-list panel, and the plan's alarms are Prometheus rules or CloudWatch
        # alarms, not Grafana alert rules: the slot keeps the alarm names, the status is reported lost.
        names = [str(a) for a in widget.prop("alarms", [])]
        lines = "\n".join(f"- `{name}`" for name in names)
        self.report(path, "properties/alarms", "alarm status is not exported (no Grafana alert rules): the panel "
                    "lists the alarm names; see `whispersync export prometheus-rules` or the CloudWatch console")
        for key in ("sortBy", "states"):
            if key in widget.properties:
                self.report(path, f"properties/{key}", "alarm status is not exported")
        return self.sdk.text.Panel().mode(self.sdk_text_mode()).content(f"Alarms:\n\n{lines}\n")

    def log_widget(self, widget: Widget, path: str) -> Any:
        query = str(widget.prop("query", ""))
        view = widget.prop("view", "table")
        if self.flavour == "prometheus":
            self.report(path, "properties/query", "a Logs Insights query has no Prometheus equivalent: not carried")
            if "view" in widget.properties:
                self.report(path, "properties/view", "the log query is not carried")
            panel = self.sdk.text.Panel().mode(self.sdk_text_mode()).content(
                f"Logs Insights query (not available with Prometheus):\n\n```\n{query}\n```\n")
            return panel
        # SOURCE 'group' | ... names the log groups inline; Grafana takes them as logGroupNames.
        sources = re.match(r"\s*SOURCE\s+(.*?)\s*\|\s*(.*)", query, re.S)
        groups: list[str] = []
        expression = query
        if sources:
            groups = re.findall(r"'([^']*)'|\"([^\"]*)\"", sources.group(1))
            groups = [a or b for a, b in groups]  # type: ignore[misc]
            expression = sources.group(2)
        target = (self.sdk.cloudwatch.CloudWatchLogsQuery().ref_id("A").datasource(self.ds_ref)
                  .query_mode(self.sdk.cw_models.CloudWatchQueryMode.LOGS).region("default")
                  .query_language(self.sdk.cw_models.LogsQueryLanguage.CWLI).expression(expression))
        if groups:
            target = target.log_group_names(groups)
        self.carry(f"{path}/properties/query")
        if view == "table":
            panel = self.sdk.table.Panel()
        else:
            panel = self.sdk.timeseries.Panel()
            if view != "timeSeries":
                self.report(path, "properties/view", f"a {view} log view is drawn as a time series")
        if "view" in widget.properties:
            self.carry(f"{path}/properties/view")
        if "stacked" in widget.properties:
            if not widget.prop("stacked"):
                self.carry(f"{path}/properties/stacked")
            elif view == "timeSeries":
                stacking = self.sdk.common.StackingConfig().mode(self.sdk.common_models.StackingMode.NORMAL)
                panel = panel.stacking(stacking)
                self.carry(f"{path}/properties/stacked")
            else:
                self.report(path, "properties/stacked", "only a time series stacks")
        return panel.datasource(self.ds_ref).with_target(target)

    # -- metric widgets

    def metric_widget(self, widget: Widget, path: str) -> Any:
        sdk, props = self.sdk, widget.properties
        pp = f"{path}/properties"
        view = props.get("view", "timeSeries")
        self.carry(f"{pp}/view")
        if view == "timeSeries":
            panel = sdk.timeseries.Panel()
        elif view == "singleValue":
            panel = sdk.stat.Panel()
        elif view == "gauge":
            panel = sdk.gauge.Panel()
        elif view == "bar":
            panel = sdk.bargauge.Panel()
        elif view == "table":
            panel = sdk.table.Panel()
        else:  # pie: Grafana's pie chart is not in this export
            panel = sdk.bargauge.Panel()
            self.report(path, "properties/view", f"a {view} view is drawn as a bar gauge")
        panel = panel.datasource(self.ds_ref)
        whole_range = bool(props.get("setPeriodToTimeRange"))
        if "setPeriodToTimeRange" in props:
            self.carry(f"{pp}/setPeriodToTimeRange")
        period = props.get("period", DEFAULT_PERIOD)
        if "period" in props:
            self.carry(f"{pp}/period")
        stat = props.get("stat", DEFAULT_STAT)
        if "stat" in props:
            self.carry(f"{pp}/stat")
        targets = self.metric_targets(widget, pp, stat, period, whole_range)
        for target in targets.queries:
            panel = panel.with_target(target)
        if view in ("singleValue", "gauge", "bar"):
            # CloudWatch shows a single value's latest datapoint (with setPeriodToTimeRange, the only one).
            panel = panel.reduce_options(self.sdk.common.ReduceDataOptions().calcs(["lastNotNull"]))
        if not whole_range and not self.inherit and self.flavour == "prometheus":
            # The widget's period is the shortest step; $__interval grows with the range (periodOverride auto).
            panel = panel.interval(f"{_min_period(widget, period)}s")
        panel = self.axes(panel, widget, pp, view, targets)
        panel = self.annotations(panel, widget, path, view)
        panel = self.series_options(panel, widget, pp, view, targets)
        if view == "singleValue":
            # Grafana's stat panel draws a sparkline unless told not to; CloudWatch only with `sparkline`.
            mode = sdk.common_models.BigValueGraphMode
            panel = panel.graph_mode(mode.AREA if props.get("sparkline") else mode.NONE)
            if "sparkline" in props:
                self.carry(f"{pp}/sparkline")
        elif props.get("sparkline"):
            self.report(path, "properties/sparkline", f"a {view} panel draws no sparkline")
        elif "sparkline" in props:
            self.carry(f"{pp}/sparkline")
        if props.get("trend"):
            self.report(path, "properties/trend", "Grafana's stat panel has no change against the previous range")
        elif "trend" in props:
            self.carry(f"{pp}/trend")
        if "stacked" in props:
            if props["stacked"] and view == "timeSeries":
                panel = panel.stacking(sdk.common.StackingConfig().mode(sdk.common_models.StackingMode.NORMAL))
                self.carry(f"{pp}/stacked")
            elif props["stacked"]:
                self.report(path, "properties/stacked", f"a {view} view does not stack")
            else:
                self.carry(f"{pp}/stacked")
        if "legend" in props:
            panel = self.legend(panel, props["legend"], path, view)
        if "singleValueFullPrecision" in props:
            if props["singleValueFullPrecision"]:
                self.report(path, "properties/singleValueFullPrecision", "Grafana rounds by the field's decimals")
            else:
                self.carry(f"{pp}/singleValueFullPrecision")
        if "table" in props:
            self.report(path, "properties/table", "the table view's layout options are not carried")
        for key in ("region", "accountId"):
            if key in props:
                if self.flavour == "cloudwatch":
                    self.carry(f"{pp}/{key}")  # set on each query (metric_targets)
                else:
                    self.report(path, f"properties/{key}", f"Prometheus has no {key}")
        for key in ("liveData", "timezone"):
            if key in props:
                self.report(path, f"properties/{key}", f"{key} is not carried")
        return panel

    def legend(self, panel: Any, legend: Any, path: str, view: str) -> Any:
        position = legend.get("position") if isinstance(legend, Mapping) else None
        if view != "timeSeries" or position not in ("bottom", "right", "hidden"):
            self.report(path, "properties/legend", "the legend is carried for time series (bottom, right, hidden)")
            return panel
        self.carry(f"{path}/properties/legend/position")
        common, cm = self.sdk.common, self.sdk.common_models
        options = common.VizLegendOptions().show_legend(position != "hidden") \
            .display_mode(cm.LegendDisplayMode.LIST) \
            .placement(cm.LegendPlacement.RIGHT if position == "right" else cm.LegendPlacement.BOTTOM)
        return panel.legend(options)

    def axes(self, panel: Any, widget: Widget, pp: str, view: str, targets: _Targets) -> Any:
        y_axis = widget.prop("yAxis", {}) or {}
        left = y_axis.get("left", {}) or {}
        right = y_axis.get("right", {}) or {}
        for key in ("min", "max"):
            if key in left:
                panel = panel.min(left[key]) if key == "min" else panel.max(left[key])
                self.carry(f"{pp}/yAxis/left/{key}")
        if "label" in left:
            if view == "timeSeries":
                panel = panel.axis_label(str(left["label"]))
                self.carry(f"{pp}/yAxis/left/label")
            else:
                self.report(pp.rsplit("/", 1)[0], "properties/yAxis/left/label", f"a {view} panel has no axis label")
        for side, axis in (("left", left), ("right", right)):
            if "showUnits" in axis:
                if axis["showUnits"]:
                    self.report(pp.rsplit("/", 1)[0], f"properties/yAxis/{side}/showUnits",
                                "no unit is set on the Grafana fields, so none is shown")
                else:
                    self.carry(f"{pp}/yAxis/{side}/showUnits")  # no unit is set: none is shown
        if view != "timeSeries":
            if right:
                self.report(pp.rsplit("/", 1)[0], "properties/yAxis/right", f"a {view} panel has one axis")
            for where in targets.right_paths:
                self.report(pp.rsplit("/", 1)[0], where, f"a {view} panel has one axis")
            return panel
        if targets.right:
            properties = self._right_axis_properties(right, pp)
            for ref_id in targets.right:
                panel = panel.override_by_query(ref_id, properties)
        else:  # the right axis's settings apply to no series: nothing to draw
            for key in right:
                self.carry(f"{pp}/yAxis/right/{key}")
        return panel

    def _right_axis_properties(self, right: Mapping[str, Any], pp: str) -> list[Any]:
        dcv = self.sdk.models.DynamicConfigValue
        properties = [dcv(id_val="custom.axisPlacement", value="right")]
        for key, grafana in (("min", "min"), ("max", "max"), ("label", "custom.axisLabel")):
            if key in right:
                properties.append(dcv(id_val=grafana, value=right[key]))
                self.carry(f"{pp}/yAxis/right/{key}")
        return properties

    def annotations(self, panel: Any, widget: Widget, path: str, view: str) -> Any:
        annotations = widget.prop("annotations", {}) or {}
        steps: list[tuple[float, str]] = []
        for i, item in enumerate(annotations.get("horizontal", [])):
            where = f"properties/annotations/horizontal/{i}"
            steps.append((float(item["value"]), item.get("color", "red")))
            for key in item:
                if key in ("value", "color"):
                    self.carry(f"{path}/{where}/{key}")
                elif key == "label" and view == "timeSeries":
                    # Grafana's threshold lines have no labels; the label names the line in the description.
                    self.report(path, f"{where}/label", "Grafana's threshold lines carry no label")
                elif key == "fill" and item[key] == "none":
                    self.carry(f"{path}/{where}/fill")
                elif key == "yAxis" and item[key] == "left":
                    self.carry(f"{path}/{where}/yAxis")
                else:
                    self.report(path, f"{where}/{key}", f"threshold {key} {item[key]!r} is not carried")
        for i, name in enumerate(annotations.get("alarms", [])):
            alarm = self.alarms.get(name)
            if isinstance(alarm, MetricAlarm) and alarm.threshold is not None:
                steps.append((float(alarm.threshold), "red"))
                self.carry(f"{path}/properties/annotations/alarms/{i}")
            else:
                band = " (its threshold is an anomaly detection band)" if isinstance(alarm, MetricAlarm) else ""
                self.report(path, f"properties/annotations/alarms/{i}",
                            f"alarm {name!r} has no single threshold in the plan to draw{band}")
        for i, _item in enumerate(annotations.get("vertical", [])):
            self.report(path, f"properties/annotations/vertical/{i}", "vertical annotations are not carried")
        if not steps:
            return panel
        sdk = self.sdk
        threshold = sdk.models.Threshold
        ordered = sorted(steps)
        config = (sdk.dashboard.ThresholdsConfig().mode(sdk.models.ThresholdsMode.ABSOLUTE)
                  .steps([threshold(value=None, color="green")]
                         + [threshold(value=value, color=color) for value, color in ordered]))
        panel = panel.thresholds(config)
        if view == "timeSeries":
            panel = panel.thresholds_style(sdk.common.GraphThresholdsStyleConfig()
                                           .mode(sdk.common_models.GraphThresholdsStyleMode.LINE))
        return panel

    def series_options(self, panel: Any, widget: Widget, pp: str, view: str, targets: _Targets) -> Any:
        dcv = self.sdk.models.DynamicConfigValue
        for ref_id, color in targets.colors.items():
            panel = panel.override_by_query(ref_id, [dcv(id_val="color", value={"mode": "fixed", "fixedColor": color})])
        return panel

    def metric_targets(self, widget: Widget, pp: str, stat: str, period: int, whole_range: bool) -> _Targets:
        if self.flavour == "cloudwatch":
            return _CloudWatchTargets(self, widget, pp, stat, period, whole_range).build()
        return _PrometheusTargets(self, widget, pp, stat, period, whole_range).build()


@dataclass
class _Targets:
    queries: list[Any] = field(default_factory=list)
    right: list[str] = field(default_factory=list)  # refIds drawn on the right axis
    right_paths: list[str] = field(default_factory=list)  # their yAxis options, relative to the widget
    colors: dict[str, str] = field(default_factory=dict)


def _ref_ids() -> Iterator[str]:
    """A, B, ..., Z, AA, AB, ... as Grafana names queries."""
    n = 0
    while True:
        name, k = "", n
        while True:
            name = chr(ord("A") + k % 26) + name
            k = k // 26 - 1
            if k < 0:
                break
        yield name
        n += 1


class _TargetsBase:
    def __init__(self, renderer: _Renderer, widget: Widget, pp: str, stat: str, period: int, whole_range: bool):
        self.r = renderer
        self.widget = widget
        self.pp = pp
        self.path = pp.rsplit("/", 1)[0]
        self.stat = stat
        self.period = period
        self.whole_range = whole_range
        self.result = _Targets()

    def entry_period(self, entry: MetricEntry) -> int:
        return int(entry.options.get("period", self.period))

    def entry_stat(self, entry: MetricEntry) -> str:
        return str(entry.options.get("stat", self.stat))

    def common_options(self, entry: MetricEntry, i: int, ref_id: str) -> None:
        """label/visible/yAxis/color/id/stat/period: ticked off here or by the flavour."""
        where = f"{self.pp}/metrics/{i}"
        last = len(entry.to_json()) - 1
        opt = f"{where}/{last}"
        if entry.namespace is not None:
            for pos in range(last if entry.options else last + 1):
                self.r.carry(f"{where}/{pos}")
        if entry.options.get("yAxis") == "right" and ref_id:
            self.result.right.append(ref_id)
            self.result.right_paths.append(self.option_path(entry, i, "yAxis"))
        if "color" in entry.options and ref_id:  # a folded-in hidden input is drawn by no query of its own
            self.result.colors[ref_id] = str(entry.options["color"])
        for key in ("yAxis", "color", "visible", "id", "label", "stat", "period", "expression"):
            if key in entry.options:
                self.r.carry(f"{opt}/{key}")

    def option_path(self, entry: MetricEntry, i: int, key: str) -> str:
        return f"properties/metrics/{i}/{len(entry.to_json()) - 1}/{key}"


class _CloudWatchTargets(_TargetsBase):
    def build(self) -> _Targets:
        sdk = self.r.sdk
        cw, models = sdk.cloudwatch, sdk.cw_models
        region = self.widget.prop("region", "default")
        account = self.widget.prop("accountId")
        ref_ids = _ref_ids()
        for i, entry in enumerate(self.widget.metrics):
            ref_id = next(ref_ids)
            query = (cw.CloudWatchMetricsQuery().ref_id(ref_id).datasource(self.r.ds_ref)
                     .query_mode(models.CloudWatchQueryMode.METRICS)
                     .metric_query_type(models.MetricQueryType.SEARCH)
                     .region(str(entry.options.get("region", region))))
            if "id" in entry.options:
                query = query.id(str(entry.options["id"]))
            if "label" in entry.options:
                query = query.label(str(entry.options["label"]))
            if entry.options.get("visible") is False:
                query = query.hide(True)
            if entry.expression is not None:
                # The same period as its inputs: Grafana sends queries of one period in one GetMetricData call.
                query = (query.metric_editor_mode(models.MetricEditorMode.CODE).expression(entry.expression)
                         .period("$__range_s" if self.whole_range else str(self.entry_period(entry))))
            else:
                query = (query.metric_editor_mode(models.MetricEditorMode.BUILDER)
                         .namespace(entry.namespace).metric_name(entry.name)
                         .dimensions({k: v for k, v in entry.dimensions})
                         .match_exact(True)
                         .statistic(self.entry_stat(entry))
                         # One value for the whole range: Grafana replaces $__range_s with its seconds.
                         .period("$__range_s" if self.whole_range else str(self.entry_period(entry))))
            account_id = entry.options.get("accountId", account)
            if account_id is not None:
                query = query.account_id(str(account_id))
            for key in ("region", "accountId"):
                if key in entry.options:
                    self.r.carry(f"{self.path}/{self.option_path(entry, i, key)}")
            self.common_options(entry, i, ref_id)
            self.result.queries.append(query)
        return self.result


# ---------------------------------------------------------------------- PromQL


class _Unsupported(Exception):
    pass


class _PrometheusTargets(_TargetsBase):
    def build(self) -> _Targets:
        sdk = self.r.sdk
        entries = self.widget.metrics
        self.by_id = {e.options["id"]: e for e in entries if "id" in e.options}
        ref_ids = _ref_ids()
        for i, entry in enumerate(entries):
            if entry.expression is None and entry.options.get("visible") is False:
                # A hidden input: its PromQL is folded into the expressions that name it.
                self.common_options(entry, i, "")
                continue
            try:
                expr = self.expression(entry) if entry.expression is not None else self.metric(entry)
            except _Unsupported as exc:
                self.r.report(self.path, f"properties/metrics/{i}", f"not expressible in PromQL: {exc}")
                continue
            ref_id = next(ref_ids)
            query = (sdk.prometheus.Dataquery().ref_id(ref_id).datasource(self.r.ds_ref).expr(expr)
                     .legend_format(self.legend(entry)))
            query = query.instant() if self.whole_range else query.range()
            if "period" in entry.options and not self.whole_range:
                query = query.interval(f"{self.entry_period(entry)}s")
            if entry.expression is not None and entry.options.get("visible") is False:
                query = query.hide(True)
            for key in ("region", "accountId"):
                if key in entry.options:
                    self.r.report(self.path, self.option_path(entry, i, key), f"Prometheus has no {key}")
            self.common_options(entry, i, ref_id)
            self.result.queries.append(query)
        return self.result

    def legend(self, entry: MetricEntry) -> str:
        if "label" in entry.options:
            return str(entry.options["label"]).replace("{{", "{ {")
        if entry.expression is not None:
            return str(entry.options.get("id", entry.expression))
        return f"{entry.name} {self.entry_stat(entry)}"

    def range(self, entry: MetricEntry) -> str:
        if self.whole_range:
            return "$__range"
        if self.r.inherit:
            return f"{self.entry_period(entry)}s"
        return "$__interval"

    def seconds(self, entry: MetricEntry) -> str:
        """PERIOD(m): the period in seconds, as the query runs it."""
        if self.whole_range:
            return "$__range_s"
        if self.r.inherit:
            return str(self.entry_period(entry))
        return "($__interval_ms / 1000)"

    def metric(self, entry: MetricEntry, offset: str = "") -> str:
        family = prometheus_metric(entry.namespace or "", entry.name or "", _catalog_unit(entry))
        name, kind = family.name, family.kind
        stat = self.entry_stat(entry)
        window = f"[{self.range(entry)}]{offset}"
        labels = ",".join(f'{label_name(k)}="{_promql_string(v)}"' for k, v in entry.dimensions)
        sel = f"{{{labels}}}" if labels else ""
        # Back to CloudWatch's unit (seconds -> milliseconds, ratio -> percent), as the widget's labels say.
        scale = f" * {1 / family.scale:g}" if family.scale != 1 else ""
        if kind == "counter":
            if stat in ("Sum", "SampleCount"):
                # SampleCount of a counter that counts one per event is its Sum (the producers publish 1s).
                return f"sum(increase({name}{sel}{window}))"
            raise _Unsupported(f"{stat} of the counter {name}: a counter keeps only its running total")
        if kind == "histogram":
            if stat == "Average":
                return (f"sum(rate({name}_sum{sel}{window})) / sum(rate({name}_count{sel}{window})){scale}")
            if stat == "SampleCount":
                return f"sum(increase({name}_count{sel}{window}))"
            if stat == "Sum":
                return f"sum(increase({name}_sum{sel}{window})){scale}"
            quantile = _percentile(stat)
            if quantile is not None:
                return (f"histogram_quantile({quantile}, sum by (le) (rate({name}_bucket{sel}{window})))"
                        f"{scale}")
            if stat == "Maximum":
                # The largest bucket boundary reached: the closest a histogram keeps to a maximum.
                self.r.report(self.path, self._stat_path(entry), "Maximum of a histogram is approximated by "
                              "histogram_quantile(1, ...): the upper bound of the highest bucket reached")
                return f"histogram_quantile(1, sum by (le) (rate({name}_bucket{sel}{window}))){scale}"
            raise _Unsupported(f"{stat} of the histogram {name}")
        over = {"Average": ("avg", "avg_over_time"), "Maximum": ("max", "max_over_time"),
                "Minimum": ("min", "min_over_time"), "Sum": ("sum", "sum_over_time"),
                "SampleCount": ("sum", "count_over_time")}
        if stat in over:
            outer, inner = over[stat]
            return f"{outer}({inner}({name}{sel}{window})){'' if stat == 'SampleCount' else scale}"
        quantile = _percentile(stat)
        if quantile is not None:
            return f"max(quantile_over_time({quantile}, {name}{sel}{window})){scale}"
        raise _Unsupported(f"{stat} of the gauge {name}")

    def _stat_path(self, entry: MetricEntry) -> str:
        i = self.widget.metrics.index(entry)
        return self.option_path(entry, i, "stat") if "stat" in entry.options else "properties/stat"

    def expression(self, entry: MetricEntry) -> str:
        tree = _MathParser(str(entry.expression)).parse()
        return self.emit(tree, entry)

    # CloudWatch metric math -> PromQL. The tree is (kind, ...) tuples from _MathParser.
    def emit(self, node: tuple[Any, ...], entry: MetricEntry, offset: str = "") -> str:
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "id":
            ref = self.by_id.get(node[1])
            if ref is None:
                raise _Unsupported(f"unknown id {node[1]!r}")
            if ref.expression is not None:
                return f"({self.emit(_MathParser(ref.expression).parse(), ref, offset)})"
            return f"({self.metric(ref, offset)})"
        if kind == "neg":
            return f"-({self.emit(node[1], entry, offset)})"
        if kind == "bin":
            op, left, right = node[1], self.emit(node[2], entry, offset), self.emit(node[3], entry, offset)
            if op in ("<", ">", "<=", ">=", "==", "!="):
                return f"({left} {op} bool {right})"
            return f"({left} {op} {right})"
        if kind == "call":
            name, args = node[1], node[2]
            return self.call(name, args, entry, offset)
        raise _Unsupported(str(kind))

    def call(self, name: str, args: list[tuple[Any, ...]], entry: MetricEntry, offset: str) -> str:
        def arg(i: int) -> str:
            return self.emit(args[i], entry, offset)

        def need(n: int) -> None:
            if len(args) != n:
                raise _Unsupported(f"{name} takes {n} argument(s)")

        if name == "PERIOD":
            need(1)
            ref = self.by_id.get(args[0][1]) if args[0][0] == "id" else None
            return self.seconds(ref or entry)
        if name == "RATE":
            # "The difference between the latest data point value and the previous data point value,
            # divided by the time difference in seconds": the series against itself one period back.
            need(1)
            if offset:
                raise _Unsupported("RATE inside RATE")
            back = self.emit(args[0], entry, offset=f" offset {self.range(entry)}")
            return f"(({arg(0)} - {back}) / {self.seconds(entry)})"
        if name == "FILL":
            need(2)
            if args[1][0] != "num":
                raise _Unsupported("FILL with a value other than a number")
            return f"({arg(0)} or vector({args[1][1]}))"
        if name == "IF":
            if len(args) not in (2, 3):
                raise _Unsupported("IF takes 2 or 3 arguments")
            condition = arg(0)
            if args[0][0] != "bin" or args[0][1] not in ("<", ">", "<=", ">=", "==", "!="):
                condition = f"({condition} != bool 0)"
            otherwise = arg(2) if len(args) == 3 else None
            if otherwise is None:
                return f"({arg(1)} and ({condition} == 1))"
            return f"({condition} * {arg(1)} + (1 - {condition}) * {otherwise})"
        if name in ("AVG", "SUM", "MIN", "MAX"):
            # One series -> one number over the whole range.
            need(1)
            step = self.range(entry) if not self.whole_range else f"{self.entry_period(entry)}s"
            return f"{name.lower()}_over_time({arg(0)}[$__range:{step}])"
        if name == "TIME_SERIES":
            need(1)
            return arg(0)
        raise _Unsupported(f"the function {name}")


class _MathParser:
    """CloudWatch metric math's arithmetic: numbers, ids, + - * / ^, comparisons, calls, parentheses.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html"""

    _TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|[-+*/^(),<>]))")

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            match = self._TOKEN.match(text, pos)
            if not match:
                raise _Unsupported(f"cannot read {text[pos:pos + 20]!r}")
            number, word, op = match.groups()
            self.tokens.append(("num", number) if number else ("word", word) if word else ("op", op))
            pos = match.end()
        self.i = 0

    def parse(self) -> tuple[Any, ...]:
        node = self.comparison()
        if self.i != len(self.tokens):
            raise _Unsupported(f"unexpected {self.tokens[self.i][1]!r}")
        return node

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise _Unsupported("the expression ends early")
        self.i += 1
        return self.tokens[self.i - 1]

    def comparison(self) -> tuple[Any, ...]:
        left = self.additive()
        while self.peek() in ("<", ">", "<=", ">=", "==", "!="):
            op = self.take()[1]
            left = ("bin", op, left, self.additive())
        return left

    def additive(self) -> tuple[Any, ...]:
        left = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            left = ("bin", op, left, self.term())
        return left

    def term(self) -> tuple[Any, ...]:
        left = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            left = ("bin", op, left, self.unary())
        return left

    def unary(self) -> tuple[Any, ...]:
        if self.peek() == "-":
            self.take()
            return ("neg", self.unary())
        base = self.atom()
        if self.peek() == "^":
            self.take()
            return ("bin", "^", base, self.unary())
        return base

    def atom(self) -> tuple[Any, ...]:
        kind, value = self.take()
        if kind == "num":
            return ("num", value)
        if kind == "word":
            if self.peek() == "(":
                self.take()
                args = []
                if self.peek() != ")":
                    args.append(self.comparison())
                    while self.peek() == ",":
                        self.take()
                        args.append(self.comparison())
                if self.take()[1] != ")":
                    raise _Unsupported(f"{value}( is not closed")
                return ("call", value.upper(), args)
            return ("id", value)
        if value == "(":
            node = self.comparison()
            if self.take()[1] != ")":
                raise _Unsupported("a parenthesis is not closed")
            return node
        raise _Unsupported(f"unexpected {value!r}")


# ---------------------------------------------------------------------- small helpers


def _catalog_unit(entry: MetricEntry) -> str:
    from whispersync import catalog

    key = (entry.namespace, entry.name)
    return next((m.unit for m in catalog.METRICS if (m.namespace, m.name) == key), "None")


def _percentile(stat: str) -> str | None:
    match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?)", stat)
    return f"{float(match.group(1)) / 100:g}" if match else None


def _promql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _min_period(widget: Widget, period: int) -> int:
    return min([period] + [int(e.options["period"]) for e in widget.metrics if "period" in e.options])


def _uid(name: str) -> str:
    """Grafana uids are at most 40 characters."""
    return f"whispersync-{name}"[:40]


def _grafana_time(value: str) -> str:
    """-PT3H -> now-3h; an absolute ISO 8601 time stays as it is (Grafana reads both)."""
    seconds = relative_seconds(value)
    if seconds is None:
        return value
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"now-{seconds // size}{unit}"
    return f"now-{seconds}s"


def _leaves(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{path}/{key}")
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}/{i}")
    else:
        yield path
