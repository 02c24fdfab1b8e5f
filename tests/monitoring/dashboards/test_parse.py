"""parse_body: the body grammar, defaults, shorthand and PutDashboard-style messages (paths checked by hand)."""

from __future__ import annotations

import orjson
import pytest

from whispersync.errors import InputError
from whispersync.monitoring.dashboards import DashboardBodyError, body_of, check_name, parse_body
from whispersync.plan import Dashboard


def metric_widget(metrics, **props):
    return {"type": "metric", "x": 0, "y": 0, "properties": {"metrics": metrics, **props}}


def errors(body, **kw):
    return [(m.data_path, m.message) for m in parse_body(body, **kw)[1] if m.level == "error"]


def warnings(body):
    return [(m.data_path, m.message) for m in parse_body(body)[1] if m.level == "warning"]


class TestStructure:
    def test_defaults_and_a_json_string(self):
        body, messages = parse_body('{"widgets": [{"type": "text", "x": 3, "y": 1, "properties": {"markdown": "hi"}}]}')
        assert messages == []
        (w,) = body.widgets
        assert (w.type, w.x, w.y, w.width, w.height) == ("text", 3, 1, 6, 6)
        assert body.start is None and body.period_override is None

    def test_bad_json_is_an_error_at_the_root(self):
        assert errors("{widgets: [")[0][0] == ""

    def test_widgets_is_required_and_at_most_500(self):
        assert errors({}) == [("/widgets", "Should have required property 'widgets'")]
        text = {"type": "text", "x": 0, "y": 0, "properties": {"markdown": ""}}
        assert errors({"widgets": [text] * 500}) == []
        assert errors({"widgets": [text] * 501}) == [("/widgets", "Should NOT have more than 500 items")]

    @pytest.mark.parametrize(("key", "value"), [("width", 0), ("width", 25), ("x", 24), ("x", -1), ("height", 1001),
                                                ("y", -1), ("width", "6")])
    def test_grid_bounds(self, key, value):
        widget = {"type": "text", "x": 0, "y": 0, "properties": {"markdown": ""}, key: value}
        assert [p for p, _ in errors({"widgets": [widget]})] == [f"/widgets/0/{key}"]

    def test_unknown_type_is_an_error_explorer_is_kept_with_a_warning(self):
        assert [p for p, _ in errors({"widgets": [{"type": "chart", "x": 0, "y": 0}]})] == ["/widgets/0/type"]
        body, messages = parse_body({"widgets": [{"type": "explorer", "x": 0, "y": 0, "properties": {"a": 1}}]})
        assert body.widgets[0].type == "explorer" and body.widgets[0].properties == {"a": 1}
        assert [(m.data_path, m.level) for m in messages] == [("/widgets/0/type", "warning")]

    def test_widgets_without_a_position_flow_and_wrap(self):
        text = {"type": "text", "width": 10, "properties": {"markdown": ""}}
        body, _ = parse_body({"widgets": [text, text, text]})
        assert [(w.x, w.y) for w in body.widgets] == [(0, 0), (10, 0), (0, 6)]

    def test_end_needs_start_and_period_override_values(self):
        assert errors({"widgets": [], "end": "2026-01-01T00:00:00Z"}) == [("/end", "end requires start")]
        assert [p for p, _ in errors({"widgets": [], "periodOverride": "never"})] == ["/periodOverride"]

    def test_dashboard_names(self):
        assert check_name("queue-health_2") == []
        for bad in ("", "a b", "x" * 256, "é"):
            assert [m.data_path for m in check_name(bad)] == ["/DashboardName"]
        assert [p for p, _ in errors({"widgets": []}, name="no spaces")] == ["/DashboardName"]

    def test_strict_raises_an_input_error_with_every_message(self):
        with pytest.raises(DashboardBodyError) as caught:
            parse_body({"widgets": [{"type": "text", "x": 30, "y": 0, "width": 0}]}, strict=True)
        assert isinstance(caught.value, InputError)
        assert {m.data_path for m in caught.value.messages} == {"/widgets/0/x", "/widgets/0/width",
                                                                  "/widgets/0/properties/markdown"}
        assert "/widgets/0/x: Should be an integer from 0 to 23" in str(caught.value)
        assert caught.value.messages[0].to_aws().keys() == {"DataPath", "Message"}


class TestMetrics:
    def test_entries_options_and_math(self):
        body, messages = parse_body({"widgets": [metric_widget([
            ["NS", "Errors", "FunctionName", "f", {"id": "errors", "stat": "Sum", "visible": False}],
            [{"expression": "errors*2", "id": "e1", "label": "Doubled"}],
        ])]})
        assert messages == []
        first, math = body.widgets[0].metrics
        assert (first.namespace, first.name, first.dimensions) == ("NS", "Errors", (("FunctionName", "f"),))
        assert first.options == {"id": "errors", "stat": "Sum", "visible": False}
        assert math.namespace is None and math.expression == "errors*2"

    def test_dot_and_ellipsis_shorthand(self):
        body, messages = parse_body({"widgets": [metric_widget([
            ["NS", "Invocations", "Agent", "work", "Region", "x"],
            ["...", "y"],                        # all of the entry above but its last value
            [".", "Errors", "...", {"stat": "p99"}],  # namespace from above, the rest too
            [".", ".", ".", "memory"],           # a shorter entry: one dimension
        ])]})
        assert messages == []
        got = [e.to_json() for e in body.widgets[0].metrics]
        assert got == [["NS", "Invocations", "Agent", "work", "Region", "x"],
                       ["NS", "Invocations", "Agent", "work", "Region", "y"],
                       ["NS", "Errors", "Agent", "work", "Region", "y", {"stat": "p99"}],
                       ["NS", "Errors", "Agent", "memory"]]

    @pytest.mark.parametrize(("entries", "path"), [
        ([["NS"]], "/widgets/0/properties/metrics/0"),                    # no metric name
        ([["NS", "M", "Dim"]], "/widgets/0/properties/metrics/0"),        # a dimension without value
        ([[".", "M"]], "/widgets/0/properties/metrics/0/0"),              # nothing above to repeat
        ([["NS", "M"], [".", ".", "."]], "/widgets/0/properties/metrics/1/2"),
        ([["NS", "M"], ["NS", 5]], "/widgets/0/properties/metrics/1/1"),
        ([[{"label": "x"}]], "/widgets/0/properties/metrics/0"),          # math without expression
        ([["NS", "M", {"stat": "Median"}]], "/widgets/0/properties/metrics/0/2/stat"),
        ([["NS", "M", {"period": 90}]], "/widgets/0/properties/metrics/0/2/period"),
        ([["NS", "M", {"id": "Bad"}]], "/widgets/0/properties/metrics/0/2/id"),
        ([["NS", "M", {"yAxis": "middle"}]], "/widgets/0/properties/metrics/0/2/yAxis"),
        ("not an array", "/widgets/0/properties/metrics"),
        ([[]], "/widgets/0/properties/metrics/0"),
    ])
    def test_grammar_errors_are_positioned(self, entries, path):
        assert [p for p, _ in errors({"widgets": [metric_widget(entries)]})] == [path]

    def test_two_metrics_may_not_share_an_id(self):
        found = errors({"widgets": [metric_widget([["NS", "A", {"id": "x"}], ["NS", "B", {"id": "x"}]])]})
        assert found == [("/widgets/0/properties/metrics/1",
                          "Cannot have two different metrics share the same id ('x') in one graph")]

    def test_gauge_needs_left_min_and_max(self):
        widget = metric_widget([["NS", "M"]], view="gauge", yAxis={"left": {"min": 0}})
        assert errors({"widgets": [widget]}) == [("/widgets/0/properties/yAxis",
                                                  "A gauge needs yAxis.left.min and yAxis.left.max")]
        widget["properties"]["yAxis"]["left"]["max"] = 100
        assert errors({"widgets": [widget]}) == []

    def test_widget_stat_period_and_view_are_checked(self):
        widget = metric_widget([["NS", "M"]], view="donut", stat="Mean", period=7)
        assert [p for p, _ in errors({"widgets": [widget]})] == [
            "/widgets/0/properties/view", "/widgets/0/properties/stat", "/widgets/0/properties/period"]

    def test_every_ignored_property_is_listed(self):
        widget = metric_widget([["NS", "M", {"region": "eu-west-1", "accountId": "1", "shade": 1}]],
                               region="eu-west-1", liveData=True, sparkle=True)
        assert warnings({"widgets": [widget], "variables": [], "theme": "dark"}) == [
            ("/theme", "Unknown property 'theme': kept, not used"),
            ("/variables", "Dashboard variables are not supported locally: widgets use their own values"),
            ("/widgets/0/properties/region", "WhisperSync has one local store; region is ignored"),
            ("/widgets/0/properties/liveData", "liveData is ignored: local data is always complete"),
            ("/widgets/0/properties/sparkle", "Unknown metric widget property 'sparkle': ignored"),
            ("/widgets/0/properties/metrics/0/2/region", "WhisperSync has one local store; region is ignored"),
            ("/widgets/0/properties/metrics/0/2/accountId", "WhisperSync has one local store; accountId is ignored"),
            ("/widgets/0/properties/metrics/0/2/shade", "Unknown metric option 'shade': ignored"),
        ]


class TestOtherWidgets:
    def test_log_alarm_and_text_rules(self):
        body = {"widgets": [
            {"type": "log", "x": 0, "y": 0, "properties": {"view": "graph"}},
            {"type": "alarm", "x": 0, "y": 0, "properties": {"alarms": [], "sortBy": "name", "states": ["RED"]}},
            {"type": "text", "x": 0, "y": 0, "properties": {"markdown": "x", "background": "blue"}},
        ]}
        assert [p for p, _ in errors(body)] == [
            "/widgets/0/properties/query", "/widgets/0/properties/view", "/widgets/1/properties/alarms",
            "/widgets/1/properties/sortBy", "/widgets/1/properties/states", "/widgets/2/properties/background"]


def test_body_of_a_plan_dashboard():
    dashboard = Dashboard("queue-health", widgets=(
        {"type": "text", "properties": {"markdown": "# Queues"}},
        {"type": "metric", "properties": {"metrics": [["WhisperSync/Queue", "Sent"], [".", "Received"]]}},
    ), start="-PT6H")
    body = body_of(dashboard)
    assert body.name == "queue-health" and body.start == "-PT6H" and body.period_override == "auto"
    assert [(w.x, w.y) for w in body.widgets] == [(0, 0), (6, 0)]
    assert body.widgets[1].metrics[1].name == "Received"
    with pytest.raises(DashboardBodyError, match="/widgets/0/width"):
        body_of(Dashboard("bad", widgets=({"type": "text", "width": 30, "properties": {"markdown": ""}},)))


def test_messages_serialise():
    (message,) = parse_body(orjson.dumps({"widgets": [{"type": "nope", "x": 0, "y": 0}]}))[1]
    assert message.to_dict() == {"data_path": "/widgets/0/type", "level": "error",
                                 "message": "Should be equal to one of the allowed values: metric, log, alarm, text, "
                                            "explorer, custom"}
