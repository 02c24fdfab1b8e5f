"""The plan's dashboards: CloudWatch bodies over the catalog's metrics, layered by name."""

from __future__ import annotations

import pytest

from whispersync import catalog
from whispersync.monitoring.dashboards import parse_body
from whispersync.plan import DEFAULT_PLAN, Dashboard, PlanError, load_plan_file, plan_from_toml

BUILT_IN = {d.name: d for d in DEFAULT_PLAN.dashboards}
PUBLISHED = {(m.namespace, m.name): m for m in catalog.METRICS}


def _entries(dashboard: Dashboard):
    for widget in dashboard.widgets:
        for entry in widget.get("properties", {}).get("metrics", []):
            yield widget["properties"].get("title"), entry


def _metric_entries(dashboard: Dashboard):
    for title, entry in _entries(dashboard):
        if isinstance(entry[0], str):
            yield title, entry


class TestBuiltInDashboards:
    def test_the_seeds_dashboards_are_named_for_what_they_show(self) -> None:
        assert list(BUILT_IN) == ["worker-performance", "queue-health", "executive", "cost"]

    @pytest.mark.parametrize("name", list(BUILT_IN))
    def test_each_is_a_body_putdashboard_would_take(self, name) -> None:
        """No error and no warning: nothing in the plan's own dashboards is ignored locally."""
        _, messages = parse_body(BUILT_IN[name].body(), name=name)
        assert messages == []

    @pytest.mark.parametrize("name", list(BUILT_IN))
    def test_every_metric_is_one_the_catalog_publishes_with_its_dimensions(self, name) -> None:
        for title, entry in _metric_entries(BUILT_IN[name]):
            namespace, metric_name = entry[0], entry[1]
            published = PUBLISHED.get((namespace, metric_name))
            assert published is not None, (title, namespace, metric_name)
            keys = entry[2:-1:2] if isinstance(entry[-1], dict) else entry[2::2]
            assert set(keys) <= set(published.dimensions) | set(published.varying), (title, keys)
            assert set(published.dimensions) <= set(keys), (title, "a fixed dimension is missing")

    def test_memory_is_ours_not_a_lambda_metric_that_does_not_exist(self) -> None:
        worker = BUILT_IN["worker-performance"]
        assert all(entry[0] != "AWS/Lambda" for _, entry in _metric_entries(worker))
        memory = catalog.WORKER_MEMORY_UTILIZATION
        assert any(entry[:2] == [memory.namespace, memory.name] for _, entry in _metric_entries(worker))
        notes = [w["properties"]["markdown"] for w in worker.widgets if w["type"] == "text"]
        assert any("Lambda Insights" in n and "AWS/Lambda" in n for n in notes)

    def test_the_error_rate_is_math_on_the_right_axis_over_hidden_inputs(self) -> None:
        widget = next(w for w in BUILT_IN["worker-performance"].widgets
                      if w["properties"].get("title") == "Errors and error rate")
        metrics = widget["properties"]["metrics"]
        math = [m[0] for m in metrics if not isinstance(m[0], str)]
        assert math == [{"expression": "errors/invocations*100", "id": "error_rate", "label": "Error %",
                         "yAxis": "right"}]
        options = {m[-1]["id"]: m[-1] for m in metrics if isinstance(m[0], str)}
        assert options["invocations"]["visible"] is False and options["errors"].get("visible", True) is True

    def test_duration_shows_average_p99_and_maximum(self) -> None:
        stats = [entry[-1]["stat"] for title, entry in _metric_entries(BUILT_IN["worker-performance"])
                 if title == "Duration"]
        assert stats == ["Average", "p99", "Maximum"]

    def test_the_dlq_is_a_single_value_and_the_rate_is_math_over_sent(self) -> None:
        widgets = {w["properties"]["title"]: w["properties"] for w in BUILT_IN["queue-health"].widgets}
        dlq = widgets["Messages in DLQ"]
        assert dlq["view"] == "singleValue" and dlq["metrics"][0][2:4] == ["QueueName", catalog.DEAD_LETTER_QUEUE]
        expressions = [m[0]["expression"] for m in widgets["Messages sent"]["metrics"] if isinstance(m[0], dict)]
        assert expressions == ["sent/PERIOD(sent)", "RATE(sent)"]

    def test_the_executive_view_covers_a_day_and_shows_the_system_health_alarm(self) -> None:
        executive = BUILT_IN["executive"]
        assert executive.start == "-P1D"
        views = [w["properties"].get("view") for w in executive.widgets if w["type"] == "metric"]
        assert views == ["singleValue"] * 4
        alarm_widgets = [w for w in executive.widgets if w["type"] == "alarm"]
        names = {a.name for a in DEFAULT_PLAN.alarms}
        assert [a for w in alarm_widgets for a in w["properties"]["alarms"]] == ["whispersync-system-health"]
        assert "whispersync-system-health" in names

    def test_cost_shows_estimates_by_service_per_memo_and_month_to_date(self) -> None:
        cost = BUILT_IN["cost"]
        assert [w["type"] for w in cost.widgets] == ["text", "metric", "metric", "metric"]
        assert "estimates" in cost.widgets[0]["properties"]["markdown"]
        by_service, per_memo, month = (w["properties"] for w in cost.widgets[1:])
        assert by_service["stacked"] is True
        assert [e[3] for e in by_service["metrics"]] == ["Lambda", "SQS", "S3", "DynamoDB", "ElevenLabs"]
        assert [e[0]["expression"] for e in per_memo["metrics"] if isinstance(e[0], dict)] == [
            "cost_work/done_work", "cost_memory/done_memory", "cost_github_ideas/done_github_ideas"]
        assert month["metrics"][0][:2] == [catalog.COST, "MonthToDateCostUSD"]


class TestModel:
    def test_body_and_from_body_round_trip(self) -> None:
        text = {"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "hi"}}
        body = {"widgets": [text],
                "start": "-PT6H", "end": "2026-01-01T00:00:00Z", "periodOverride": "inherit",
                "variables": [{"type": "property", "property": "region", "inputType": "input", "id": "r"}]}
        assert Dashboard.from_body("d", body).body() == body

    @pytest.mark.parametrize(("fields", "message"), [
        ({"name": "has space"}, "name: must be 1 to 255 letters, digits, - or _"),
        ({"name": "x" * 256}, "name: must be 1 to 255"),
        ({"name": "d", "widgets": ["not a table"]}, "widgets[0]: must be a table"),
        ({"name": "d", "period_override": "sometimes"}, "period_override: must be one of auto, inherit"),
        ({"name": "d", "start": ""}, "start: must be a duration"),
    ])
    def test_bad_fields_are_named(self, fields, message) -> None:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            Dashboard(**fields)


TOML = b'''
[[dashboards]]
name = "my-errors"
start = "-PT6H"

[[dashboards.widgets]]
type = "metric"
x = 0
y = 0
width = 12
height = 6

[dashboards.widgets.properties]
title = "Worker errors"
period = 60
metrics = [["WhisperSync/Worker", "Errors", "FunctionName", "whispersync-worker", { stat = "Sum" }]]

[[dashboards]]
name = "cost"
description = "ours"

[[dashboards.widgets]]
type = "text"
properties = { markdown = "# Our cost notes" }
'''


class TestPlanFiles:
    def test_a_toml_file_adds_a_dashboard_and_replaces_one_by_name(self) -> None:
        plan = DEFAULT_PLAN.layered(plan_from_toml(TOML, source="mine.toml"), "mine.toml")
        by_name = {d.name: d for d in plan.dashboards}
        assert list(by_name) == ["worker-performance", "queue-health", "executive", "cost", "my-errors"]
        assert by_name["cost"].description == "ours" and plan.source_of("dashboards", "cost") == "mine.toml"
        assert plan.source_of("dashboards", "executive") == "built-in"
        mine = by_name["my-errors"]
        assert mine.start == "-PT6H"
        assert mine.widgets[0]["properties"]["metrics"] == [
            ["WhisperSync/Worker", "Errors", "FunctionName", "whispersync-worker", {"stat": "Sum"}]]
        assert parse_body(mine.body(), name=mine.name)[1] == []

    def test_every_problem_of_a_toml_dashboard_is_reported_with_its_path(self) -> None:
        with pytest.raises(PlanError) as caught:
            plan_from_toml(b'[[dashboards]]\nname = "bad name"\n\n[[dashboards]]\nname = "ok"\ncolour = "red"\n')
        assert caught.value.problems == [
            "dashboards[0].name: must be 1 to 255 letters, digits, - or _, got 'bad name'",
            "dashboards[1].colour: unknown key; allowed: description, end, name, period_override, start, "
            "variables, widgets",
        ]

    def test_a_python_file_declares_dashboards(self, tmp_path) -> None:
        path = tmp_path / "plan.py"
        path.write_text("from whispersync.plan import Dashboard\n"
                        "DASHBOARDS = [Dashboard(name='notes', widgets=[{'type': 'text', 'properties': "
                        "{'markdown': 'x'}}])]\n")
        assert [d.name for d in load_plan_file(path).dashboards] == ["notes"]

    def test_a_python_file_with_something_else_in_dashboards_is_refused(self, tmp_path) -> None:
        path = tmp_path / "plan.py"
        path.write_text("DASHBOARDS = [{'name': 'notes'}]\n")
        with pytest.raises(PlanError, match=r"DASHBOARDS\[0\] is a dict, not one of Dashboard"):
            load_plan_file(path)
