"""The plan's dashboards as Grafana dashboard JSON: golden files, the SDK's own model, and nothing lost silently.

Golden files: golden/<datasource>/<dashboard>.json, exactly as `whispersync export grafana`
writes them. To accept a deliberate change, delete the golden files concerned, run this
module (the test writes each missing file and fails, asking for a review), read the new
files and run again.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("grafana_foundation_sdk")

from grafana_foundation_sdk.cog import encoder, plugins  # noqa: E402
from grafana_foundation_sdk.cog.runtime import UnknownDataquery  # noqa: E402
from grafana_foundation_sdk.models import cloudwatch as cw_models  # noqa: E402
from grafana_foundation_sdk.models import dashboard as dashboard_models  # noqa: E402
from grafana_foundation_sdk.models import prometheus as prometheus_models  # noqa: E402

from whispersync.monitoring.dashboards import parse_body  # noqa: E402
from whispersync.monitoring.export import (  # noqa: E402
    DATASOURCES,
    GrafanaExportError,
    dashboard_json_text,
    grafana_dashboard,
    grafana_dashboards,
)
from whispersync.plan import DEFAULT_PLAN, Dashboard, Plan  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
NAMES = [d.name for d in DEFAULT_PLAN.dashboards]
QUERY_CLASSES = {"prometheus": (prometheus_models.Dataquery,),
                 "cloudwatch": (cw_models.CloudWatchMetricsQuery, cw_models.CloudWatchLogsQuery)}

plugins.register_default_plugins()  # the SDK's decoders for panel options and each datasource's queries


def exported(datasource: str) -> Any:
    return grafana_dashboards(DEFAULT_PLAN, datasource=datasource)


def targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] for t in p.get("targets", [])]


def panel(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in dashboard["panels"] if p.get("title") == title)


def without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


def leaves(value: Any, path: str) -> list[str]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in leaves(v, f"{path}/{k}")]
    if isinstance(value, list) and value:
        return [leaf for i, v in enumerate(value) for leaf in leaves(v, f"{path}/{i}")]
    return [path]


class TestGolden:
    @pytest.mark.parametrize("datasource", DATASOURCES)
    @pytest.mark.parametrize("name", NAMES)
    def test_each_dashboard_matches_its_golden_file(self, datasource: str, name: str) -> None:
        text = dashboard_json_text(exported(datasource).dashboards[name])
        golden = GOLDEN / datasource / f"{name}.json"
        if not golden.exists():
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text, encoding="utf-8")
            pytest.fail(f"no golden file: wrote {golden.relative_to(GOLDEN.parent)}; review it and run again")
        assert text == golden.read_text(encoding="utf-8")

    def test_there_is_one_golden_file_per_plan_dashboard_and_flavour(self) -> None:
        for datasource in DATASOURCES:
            assert sorted(p.stem for p in (GOLDEN / datasource).glob("*.json")) == sorted(NAMES)


class TestSdkTypes:
    @pytest.mark.parametrize("datasource", DATASOURCES)
    def test_each_dashboard_round_trips_through_the_sdk_model(self, datasource: str) -> None:
        """Decoded with the SDK's Dashboard.from_json, every panel option and query is one of the
        SDK's types (no UnknownDataquery, no raw dict) and encoding it again gives the same JSON."""
        for name, data in exported(datasource).dashboards.items():
            model = dashboard_models.Dashboard.from_json(data)
            again = json.loads(json.dumps(model, cls=encoder.JSONEncoder))
            assert without_empty(again) == without_empty(data), name  # decoding adds empty defaults ("custom": {})
            assert model.schema_version == 41  # what Grafana 11.6 writes; the SDK build is for 11.6
            for p in model.panels:
                assert p.grid_pos is not None and 1 <= p.grid_pos.w <= 24 and p.grid_pos.x + p.grid_pos.w <= 24
                if p.options is not None:
                    assert not isinstance(p.options, dict), (name, p.type_val)
                for target in p.targets or []:
                    assert not isinstance(target, UnknownDataquery)
                    assert isinstance(target, QUERY_CLASSES[datasource]), (name, type(target))

    @pytest.mark.parametrize("datasource", DATASOURCES)
    def test_targets_have_refids_and_datasource_objects(self, datasource: str) -> None:
        ref = {"type": datasource, "uid": "${datasource}"}
        for name, data in exported(datasource).dashboards.items():
            variable = next(v for v in data["templating"]["list"] if v["name"] == "datasource")
            assert variable["type"] == "datasource" and variable["query"] == datasource
            for p in data["panels"]:
                refs = [t["refId"] for t in p.get("targets", [])]
                assert all(isinstance(r, str) and r for r in refs) and len(set(refs)) == len(refs), (name, p)
                if p.get("targets"):
                    assert p["datasource"] == ref
                    assert all(t["datasource"] == ref for t in p["targets"])

    def test_an_unknown_datasource_is_refused(self) -> None:
        with pytest.raises(GrafanaExportError, match="unknown datasource 'influx'"):
            grafana_dashboards(DEFAULT_PLAN, datasource="influx")


class TestNothingLostSilently:
    @pytest.mark.parametrize("datasource", DATASOURCES)
    def test_every_body_property_is_carried_or_reported(self, datasource: str) -> None:
        result = exported(datasource)
        for dashboard in DEFAULT_PLAN.dashboards:
            body, _ = parse_body(dashboard.body())  # shorthand expanded, as the renderer reads it
            reported = [f"{n.widget}/{n.property}" for n in result.not_carried if n.dashboard == dashboard.name]
            carried = result.carried[dashboard.name]
            for i, widget in enumerate(body.widgets):
                widget_leaves = [f"/widgets/{i}/{k}" for k in ("type", "x", "y", "width", "height")]
                widget_leaves += leaves(dict(widget.properties), f"/widgets/{i}/properties")
                for leaf in widget_leaves:
                    covered = [c for c in [*carried, *reported] if leaf == c or leaf.startswith(c + "/")]
                    assert covered, f"{dashboard.name} {leaf}: neither carried nor reported"
            for key in ("start", "end", "periodOverride"):
                if dashboard.body().get(key) is not None:
                    assert f"/{key}" in carried
        # The catch-all ("not understood") is for bodies from elsewhere: the built-in plan's are all handled.
        assert [n for n in result.not_carried if n.reason == "not understood by the Grafana export"] == []

    def test_properties_grafana_cannot_show_are_reported_each_with_its_path(self) -> None:
        odd = Dashboard(name="odd", variables=({"type": "property", "property": "QueueName", "inputType": "input",
                                                "id": "q", "label": "Queue", "defaultValue": "transcripts"},),
                        widgets=(
            {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
                "title": "Odd", "liveData": True, "view": "timeSeries", "period": 60,
                "metrics": [["WhisperSync/Worker", "Errors", "FunctionName", "whispersync-worker",
                             {"id": "m1", "stat": "Sum"}],
                            [{"expression": "ANOMALY_DETECTION_BAND(m1)", "id": "band"}]],
                "annotations": {"vertical": [{"value": "2024-01-01T00:00:00Z", "label": "deploy"}],
                                "horizontal": [{"value": 5, "label": "limit"}]}}},
            {"type": "log", "x": 12, "y": 0, "width": 12, "height": 6, "properties": {
                "query": "SOURCE 'whispersync' | fields @message | limit 20", "view": "table"}},
            {"type": "alarm", "x": 0, "y": 6, "width": 24, "height": 2, "properties": {
                "alarms": ["SystemDown"], "states": ["ALARM"]}},
        ))
        result = grafana_dashboard(odd, datasource="prometheus", plan=DEFAULT_PLAN)
        reported = {(n.widget, n.property) for n in result.not_carried}
        assert ("", "variables/0") in reported
        assert ("/widgets/0", "properties/liveData") in reported
        assert ("/widgets/0", "properties/annotations/vertical/0") in reported
        assert ("/widgets/0", "properties/annotations/horizontal/0/label") in reported
        assert ("/widgets/0", "properties/metrics/1") in reported  # no PromQL for an anomaly band
        assert ("/widgets/1", "properties/query") in reported  # Logs Insights has no Prometheus form
        assert ("/widgets/2", "properties/alarms") in reported
        assert ("/widgets/2", "properties/states") in reported
        reasons = {n.property: n.reason for n in result.not_carried}
        assert "ANOMALY_DETECTION_BAND" in reasons["properties/metrics/1"]

    def test_a_property_the_export_does_not_know_is_reported_not_dropped(self) -> None:
        odd = Dashboard(name="odd", widgets=({"type": "metric", "x": 0, "y": 0, "width": 6, "height": 6,
                                              "properties": {"metrics": [["WhisperSync/Worker", "Errors"]],
                                                             "futureOption": {"a": 1}}},))
        for datasource in DATASOURCES:
            result = grafana_dashboard(odd, datasource=datasource)
            assert [(n.widget, n.property) for n in result.not_carried
                    if "futureOption" in n.property] == [("/widgets/0", "properties/futureOption/a")]


class TestLayout:
    def test_the_grid_keeps_columns_and_scales_rows_so_touching_widgets_still_touch(self) -> None:
        data = exported("prometheus").dashboards["worker-performance"]
        grid = [p["gridPos"] for p in data["panels"]]
        # CloudWatch: (0,0,12,6) (12,0,12,6) (0,6,12,6) (12,6,12,6) (0,12,24,2)
        assert grid == [{"x": 0, "y": 0, "w": 12, "h": 8}, {"x": 12, "y": 0, "w": 12, "h": 8},
                        {"x": 0, "y": 8, "w": 12, "h": 8}, {"x": 12, "y": 8, "w": 12, "h": 8},
                        {"x": 0, "y": 16, "w": 24, "h": 3}]

    def test_the_time_range_comes_from_the_body(self) -> None:
        dashboards = exported("cloudwatch").dashboards
        assert dashboards["queue-health"]["time"] == {"from": "now-3h", "to": "now"}
        assert dashboards["executive"]["time"] == {"from": "now-1d", "to": "now"}
        assert dashboards["cost"]["time"] == {"from": "now-7d", "to": "now"}


class TestPrometheusTargets:
    def test_statistics_become_the_promql_that_computes_them(self) -> None:
        data = exported("prometheus").dashboards["worker-performance"]
        invocations, = [t["expr"] for t in panel(data, "Invocations")["targets"]]
        assert invocations == ('sum(increase(whispersync_worker_invocations_total'
                               '{function_name="whispersync-worker"}[$__interval]))')
        average, p99, maximum = [t["expr"] for t in panel(data, "Duration")["targets"]]
        assert average == ('sum(rate(whispersync_worker_duration_seconds_sum{function_name="whispersync-worker"}'
                           '[$__interval])) / sum(rate(whispersync_worker_duration_seconds_count'
                           '{function_name="whispersync-worker"}[$__interval])) * 1000')
        assert p99.startswith("histogram_quantile(0.99, sum by (le) (rate(whispersync_worker_duration_seconds_bucket")
        assert p99.endswith(" * 1000")  # exposed in seconds, shown in CloudWatch's milliseconds
        assert maximum.startswith("histogram_quantile(1, ")
        memory, = [t["expr"] for t in panel(data, "Memory utilization")["targets"]]
        assert memory.startswith("max(max_over_time(whispersync_worker_memory_utilization_ratio{")
        assert memory.endswith(" * 100")
        assert panel(data, "Invocations")["interval"] == "60s"  # the widget's period is the shortest step

    def test_metric_math_is_promql_over_the_inputs(self) -> None:
        data = exported("prometheus").dashboards["worker-performance"]
        errors, rate = panel(data, "Errors and error rate")["targets"]
        assert rate["legendFormat"] == "Error %"
        assert rate["expr"] == (f"((({errors['expr']}) / (sum(increase(whispersync_worker_invocations_total"
                                '{function_name="whispersync-worker"}[$__interval])))) * 100)')
        executive = exported("prometheus").dashboards["executive"]
        success, = panel(executive, "Success rate")["targets"]  # the hidden inputs are folded in
        assert success["instant"] is True  # setPeriodToTimeRange: one value over the range
        assert success["expr"] == (
            '((100 * (sum(increase(whispersync_business_transcripts_processed_total{status="Success"}[$__range]))))'
            " / (sum(increase(whispersync_business_transcripts_processed_total[$__range]))))")
        availability, = panel(executive, "Availability")["targets"]
        assert "count_over_time(whispersync_worker_concurrent_executions" in availability["expr"]
        assert "or vector(0)" in availability["expr"] and "[$__range:$__interval]" in availability["expr"]

    def test_the_right_axis_and_alarm_thresholds_carry_over(self) -> None:
        data = exported("prometheus").dashboards["worker-performance"]
        errors = panel(data, "Errors and error rate")
        override, = errors["fieldConfig"]["overrides"]
        assert override["matcher"] == {"id": "byFrameRefID", "options": "B"}
        assert {"id": "custom.axisPlacement", "value": "right"} in override["properties"]
        assert {"id": "max", "value": 100} in override["properties"]
        steps = errors["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[-1] == {"color": "red", "value": 10.0}  # SystemDown's threshold
        assert errors["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}

    @pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
    def test_every_expression_is_valid_promql(self, tmp_path: Path) -> None:
        """promtool parses each expression, Grafana's variables replaced as Grafana replaces them."""
        rules = []
        for dashboard in exported("prometheus").dashboards.values():
            for i, target in enumerate(targets(dashboard)):
                expr = target["expr"]
                for var, value in (("$__interval_ms", "60000"), ("$__range_s", "3600"), ("$__interval", "1m"),
                                   ("$__range", "1h")):
                    expr = expr.replace(var, value)
                rules.append({"record": f"check:{dashboard['uid'].replace('-', '_')}:{i}", "expr": expr})
        path = tmp_path / "rules.yml"
        path.write_text(json.dumps({"groups": [{"name": "grafana", "rules": rules}]}))  # JSON is YAML
        result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


class TestCloudWatchTargets:
    def test_metrics_keep_namespace_name_dimensions_statistic_and_period(self) -> None:
        data = exported("cloudwatch").dashboards["queue-health"]
        visible, in_flight = panel(data, "Queue depth")["targets"]
        assert visible["namespace"] == "WhisperSync/Queue"
        assert visible["metricName"] == "ApproximateNumberOfMessagesVisible"
        assert visible["dimensions"] == {"QueueName": "transcripts"}
        assert visible["statistic"] == "Average" and visible["period"] == "60"
        assert visible["label"] == "Visible"
        assert (visible["metricQueryType"], visible["metricEditorMode"]) == (0, 0)
        assert in_flight["metricName"] == "ApproximateNumberOfMessagesNotVisible"

    def test_math_stays_a_cloudwatch_expression_over_hidden_inputs_with_ids(self) -> None:
        data = exported("cloudwatch").dashboards["queue-health"]
        sent, per_second, rate = panel(data, "Messages sent")["targets"]
        assert sent["id"] == "sent" and sent["hide"] is True and sent["statistic"] == "Sum"
        assert per_second["expression"] == "sent/PERIOD(sent)" and per_second["metricEditorMode"] == 1
        assert rate["expression"] == "RATE(sent)"
        overrides = panel(data, "Messages sent")["fieldConfig"]["overrides"]
        assert overrides[0]["matcher"]["options"] == rate["refId"]

    def test_a_whole_range_single_value_asks_for_one_period_as_long_as_the_range(self) -> None:
        data = exported("cloudwatch").dashboards["executive"]
        success, total, ratio = panel(data, "Success rate")["targets"]
        assert {success["period"], total["period"], ratio["period"]} == {"$__range_s"}
        assert panel(data, "Success rate")["options"]["reduceOptions"]["calcs"] == ["lastNotNull"]

    def test_a_log_widget_is_a_logs_insights_query(self) -> None:
        logs = Dashboard(name="logs", widgets=({"type": "log", "x": 0, "y": 0, "width": 24, "height": 6,
                                                "properties": {"title": "Errors", "view": "table", "query":
                                                               "SOURCE 'whispersync' | filter level = 'ERROR'"}},))
        result = grafana_dashboard(logs, datasource="cloudwatch")
        target, = result.dashboards["logs"]["panels"][0]["targets"]
        assert target["queryMode"] == "Logs" and target["logGroupNames"] == ["whispersync"]
        assert target["expression"] == "filter level = 'ERROR'"
        assert result.not_carried == ()


def test_a_plan_dashboard_with_an_invalid_body_is_a_clear_error() -> None:
    bad = Plan(dashboards=(Dashboard(name="bad", widgets=({"type": "metric", "properties": {"metrics": [["A"]]}},)),))
    with pytest.raises(GrafanaExportError, match=re.escape("dashboard bad: ")):
        grafana_dashboards(bad)
