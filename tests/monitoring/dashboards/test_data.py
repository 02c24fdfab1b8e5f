"""widget_data over a real store: metric widgets through GetMetricData, log widgets through
Logs Insights, alarm widgets from the alarm engine; expected values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from whispersync.monitoring.alarms import AlarmEngine, AlarmStore
from whispersync.monitoring.dashboards import parse_body, widget_data
from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import MetricAlarm

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 3_600_000
NS = "WhisperSync/Worker"


@pytest.fixture
def store(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    # Invocations: 4 and 6 in minute 0, 20 in minute 1. Errors: 1 in minute 0, 5 in minute 1.
    store.put_metrics([{"namespace": NS, "name": name, "value": v, "timestamp": T0 + ms, "unit": "Count",
                        "dimensions": {"AgentType": "work"}}
                       for name, ms, v in [("Invocations", 1_000, 4), ("Invocations", 2_000, 6),
                                           ("Invocations", 61_000, 20), ("Errors", 5_000, 1),
                                           ("Errors", 65_000, 5)]])
    yield store
    store.close()


def widget(properties, kind="metric"):
    body, messages = parse_body({"widgets": [{"type": kind, "x": 0, "y": 0, "properties": properties}]})
    assert not [m for m in messages if m.level == "error"], messages
    return body.widgets[0]


def data(store, w, start=T0, end=T0 + 120_000, **kw):
    return widget_data(w, store=store, start_ms=start, end_ms=end, now_ms=NOW, **kw)


class TestMetricWidget:
    def test_hidden_inputs_math_and_auto_ids(self, store):
        w = widget({"period": 60, "stat": "Sum", "metrics": [
            [NS, "Invocations", "AgentType", "work", {"id": "inv", "visible": False}],
            [".", "Errors", ".", ".", {"color": "#d62728"}],
            [{"expression": "m1/inv*100", "label": "Error %", "id": "rate", "yAxis": "right"}],
        ]})
        out = data(store, w)
        assert [(s["id"], s["label"], s["values"], s["y_axis"]) for s in out["series"]] == [
            ("m1", "Errors", [1, 5], "left"),           # 1 error in minute 0, 5 in minute 1
            ("rate", "Error %", [10, 25], "right"),     # 1/10*100, 5/20*100
        ]
        errors = out["series"][0]
        assert errors["timestamps"] == ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"]
        assert errors["unit"] == "Count" and errors["color"] == "#d62728"
        assert out["view"] == "timeSeries" and out["period"] == 60
        orjson.dumps(out)  # plain JSON

    def test_cloudwatch_defaults_average_over_300_seconds(self, store):
        out = data(store, widget({"metrics": [[NS, "Invocations", "AgentType", "work"]]}))
        (series,) = out["series"]
        assert series["values"] == [10]  # (4 + 6 + 20) / 3 in the one 5-minute period
        assert (out["stat"], out["period"]) == ("Average", 300)

    def test_entry_options_override_the_widget(self, store):
        out = data(store, widget({"period": 60, "metrics": [
            [NS, "Invocations", "AgentType", "work", {"stat": "Maximum"}],
            [".", ".", ".", ".", {"stat": "SampleCount", "period": 120, "label": "samples"}]]}))
        assert [s["values"] for s in out["series"]] == [[6, 20], [3]]
        assert out["series"][1]["label"] == "samples"

    def test_single_value_is_the_last_value(self, store):
        out = data(store, widget({"view": "singleValue", "stat": "Sum", "period": 60,
                                  "metrics": [[NS, "Invocations", "AgentType", "work"]]}))
        assert out["series"][0]["value"] == 20

    @pytest.mark.parametrize(("stat", "value"), [("Sum", 30), ("Maximum", 20), ("SampleCount", 3)])
    def test_set_period_to_time_range_aggregates_the_whole_range(self, store, stat, value):
        out = data(store, widget({"view": "singleValue", "setPeriodToTimeRange": True, "stat": stat,
                                  "metrics": [[NS, "Invocations", "AgentType", "work"]]}),
                   start=T0 + 500, end=T0 + 3_000_000)
        (series,) = out["series"]
        assert series["value"] == value and len(series["values"]) == 1
        assert out["period"] == 3_000  # rounded start T0 to T0 + 50 min

    def test_gauge_carries_its_bounds(self, store):
        out = data(store, widget({"view": "gauge", "stat": "Maximum", "yAxis": {"left": {"min": 0, "max": 50}},
                                  "metrics": [[NS, "Invocations", "AgentType", "work"]]}))
        assert out["gauge"] == {"min": 0, "max": 50} and out["series"][0]["value"] == 20

    def test_a_bad_expression_is_a_positioned_error_of_the_widget(self, store):
        out = data(store, widget({"metrics": [[NS, "Errors", {"id": "e"}], [{"expression": "e +", "id": "x"}]]}))
        assert out["error"] == {"code": "invalid_input", "message": "query 'x': line 1, column 4: expected a "
                                "number, an id, a function or '(', found end of expression"}
        assert "series" not in out


class TestLogWidget:
    def test_the_source_picks_the_group(self, store):
        def line(seconds, level, group_msg):
            when = datetime.fromtimestamp((T0 + seconds * 1000) / 1000, UTC)
            return orjson.dumps({"timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                 "level": level, "message": group_msg}) + b"\n"
        import_logs(store, line(1, "ERROR", "a") + line(2, "ERROR", "b") + line(3, "INFO", "c"),
                    log_group="/whispersync/worker")
        import_logs(store, line(4, "ERROR", "d"), log_group="/whispersync/api")
        w = widget({"query": "SOURCE '/whispersync/worker' | filter level = 'ERROR' | stats count() as n",
                    "title": "Errors"}, kind="log")
        out = data(store, w)
        assert (out["title"], out["view"], out["columns"], out["rows"]) == ("Errors", "table", ["n"], [[2]])

    def test_a_syntax_error_is_reported_with_its_position(self, store):
        out = data(store, widget({"query": "fields @message | sort"}, kind="log"))
        assert out["error"]["code"] == "bad_query" and out["error"]["column"] > 1


class TestAlarmAndTextWidgets:
    @pytest.fixture
    def engine(self, store, tmp_path):
        alarms = [MetricAlarm(name=n, namespace=NS, metric_name="Errors", threshold=1, evaluation_periods=1)
                  for n in ("a-errors", "b-latency", "c-queue")]
        engine = AlarmEngine(store, AlarmStore(tmp_path / "monitoring.sqlite3"), definitions=lambda: alarms)
        engine.set_state("a-errors", "OK", "quiet", at_ms=T0)
        engine.set_state("c-queue", "OK", "quiet", at_ms=T0 + 60_000)
        engine.set_state("b-latency", "ALARM", "slow", at_ms=T0 + 1_000)
        return engine

    def names(self, store, engine, **props):
        arns = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:c-queue", "b-latency", "a-errors", "gone"]
        out = data(store, widget({"alarms": arns, **props}, kind="alarm"), alarms=engine)
        return [(a["name"], a["state"]) for a in out["alarms"]]

    def test_states_by_name_from_arns(self, store, engine):
        assert self.names(store, engine) == [("a-errors", "OK"), ("b-latency", "ALARM"), ("c-queue", "OK"),
                                             ("gone", None)]

    def test_sort_by_and_states(self, store, engine):
        assert self.names(store, engine, sortBy="stateUpdatedTimestamp") == [
            ("b-latency", "ALARM"), ("c-queue", "OK"), ("a-errors", "OK"), ("gone", None)]
        assert self.names(store, engine, sortBy="timestamp")[:3] == [
            ("c-queue", "OK"), ("b-latency", "ALARM"), ("a-errors", "OK")]
        assert self.names(store, engine, states=["ALARM"]) == [("b-latency", "ALARM")]

    def test_text_and_unsupported_widgets(self, store):
        assert data(store, widget({"markdown": "# Hi"}, kind="text")) == {
            "type": "text", "title": None, "markdown": "# Hi", "background": "solid"}
        body, _ = parse_body({"widgets": [{"type": "custom", "x": 0, "y": 0, "properties": {}}]})
        assert data(store, body.widgets[0])["error"]["code"] == "not_supported"


class TestLines:
    """Horizontal annotations and alarm thresholds come back as the lines to draw."""

    def test_horizontal_annotations(self, store):
        out = data(store, widget({"metrics": [[NS, "Errors", "AgentType", "work"]], "annotations": {"horizontal": [
            {"value": 3, "label": "budget", "color": "#ff0000", "fill": "above", "yAxis": "right"},
            {"value": 1.5, "color": "red; background: url(x)"},  # not a hex colour: the chart's own instead
            {"value": 9, "label": "hidden", "visible": False}]}}))
        assert out["lines"] == [
            {"kind": "horizontal", "value": 3, "label": "budget", "color": "#ff0000", "fill": "above",
             "y_axis": "right", "state": None},
            {"kind": "horizontal", "value": 1.5, "label": None, "color": None, "fill": None, "y_axis": "left",
             "state": None}]

    def test_alarm_thresholds_are_labelled_and_coloured_by_state(self, store, tmp_path):
        alarms = [MetricAlarm(name="many-errors", namespace=NS, metric_name="Errors", threshold=4,
                              evaluation_periods=1),
                  MetricAlarm(name="few-invocations", namespace=NS, metric_name="Invocations", threshold=2,
                              evaluation_periods=1, comparison_operator="LessThanThreshold")]
        engine = AlarmEngine(store, AlarmStore(tmp_path / "monitoring.sqlite3"), definitions=lambda: alarms)
        engine.set_state("many-errors", "ALARM", "too many", at_ms=T0)
        w = widget({"metrics": [[NS, "Errors", "AgentType", "work"]], "annotations": {"alarms": [
            "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:many-errors", "few-invocations", "no-such-alarm"]}})
        out = data(store, w, alarms=engine)
        assert out["lines"] == [
            {"kind": "alarm", "value": 4.0, "label": "many-errors", "color": "#d62728", "state": "ALARM",
             "fill": "above", "y_axis": "left"},
            {"kind": "alarm", "value": 2.0, "label": "few-invocations", "color": "#7f7f7f",
             "state": "INSUFFICIENT_DATA", "fill": "below", "y_axis": "left"}]
        assert data(store, w)["lines"] == []  # no alarm engine: nothing to draw

    def test_a_bad_fill_is_refused(self):
        _, messages = parse_body({"widgets": [{"type": "metric", "properties": {
            "metrics": [[NS, "Errors"]], "annotations": {"horizontal": [{"value": 1, "fill": "left"}]}}}]})
        assert [(m.data_path, m.level) for m in messages] == [
            ("/widgets/0/properties/annotations/horizontal/0/fill", "error")]


class TestPeriodOverride:
    WEEK = 7 * 86_400_000

    def test_auto_period_keeps_a_series_within_1440_points(self):
        from whispersync.monitoring.dashboards._data import auto_period

        assert [auto_period(h * 3_600_000) for h in (1, 3, 24, 25, 24 * 7, 24 * 30, 24 * 365 * 5)] == [
            60, 60, 60, 300, 900, 3600, 86400 * 2]

    def test_auto_raises_the_period_for_a_long_range_and_inherit_keeps_it(self, store):
        w = widget({"period": 60, "stat": "Sum", "metrics": [[NS, "Invocations", "AgentType", "work"]]})
        auto = data(store, w, start=T0, end=T0 + self.WEEK)
        assert auto["period"] == 900 and auto["series"][0]["values"] == [30]  # the 3 samples in one 15-minute bucket
        inherit = data(store, w, start=T0, end=T0 + self.WEEK, period_override="inherit")
        assert inherit["period"] == 60 and inherit["series"][0]["values"] == [10, 20]

    def test_auto_never_lowers_a_period(self, store):
        w = widget({"period": 3600, "metrics": [[NS, "Invocations", "AgentType", "work"]]})
        assert data(store, w)["period"] == 3600


class TestTrend:
    def test_the_change_against_the_range_before(self, store):
        # Minute 0 holds 4 + 6 invocations, minute 1 holds 20: minute 1 against minute 0.
        w = widget({"view": "singleValue", "trend": True, "setPeriodToTimeRange": True, "stat": "Sum",
                    "metrics": [[NS, "Invocations", "AgentType", "work"]]})
        (series,) = data(store, w, start=T0 + 60_000, end=T0 + 120_000)["series"]
        assert series["value"] == 20
        assert series["trend"] == {"previous": 10, "change": 10, "change_percent": 100.0}

    def test_no_earlier_value_and_no_trend_unless_asked(self, store):
        w = widget({"view": "singleValue", "trend": True, "setPeriodToTimeRange": True, "stat": "Sum",
                    "metrics": [[NS, "Invocations", "AgentType", "work"]]})
        (series,) = data(store, w, start=T0, end=T0 + 120_000)["series"]
        assert series["trend"] == {"previous": None, "change": None, "change_percent": None}
        plain = widget({"view": "singleValue", "metrics": [[NS, "Invocations", "AgentType", "work"]]})
        assert "trend" not in data(store, plain)["series"][0]

    def test_trend_must_be_a_boolean(self):
        _, messages = parse_body({"widgets": [{"type": "metric", "properties": {
            "view": "singleValue", "trend": "yes", "metrics": [[NS, "Errors"]]}}]})
        assert [(m.data_path, m.level) for m in messages] == [("/widgets/0/properties/trend", "error")]
