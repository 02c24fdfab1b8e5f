"""An anomaly detection alarm (a band, no Threshold) goes through every output the plan has:
the CloudFormation properties, the Prometheus rules, Grafana's threshold lines and the alarm
document. Each of these once read ``float(alarm.threshold)`` and fell over on None."""

from __future__ import annotations

import json
from pathlib import Path

from whispersync.deploy.aws._monitoring import metric_alarm_properties
from whispersync.monitoring.alarms import parse_alarm_request
from whispersync.monitoring.export import grafana_dashboard, prometheus_rules
from whispersync.plan import DEFAULT_PLAN, Dashboard, MetricAlarm, Plan

EXAMPLE = Path(__file__).parents[3] / "examples" / "latency-anomaly.json"


def band_alarm() -> MetricAlarm:
    alarm = parse_alarm_request(json.loads(EXAMPLE.read_text()))
    assert isinstance(alarm, MetricAlarm) and alarm.threshold is None and alarm.threshold_metric_id == "ad1"
    return alarm


def test_cloudformation_properties_carry_the_threshold_metric_id_and_no_threshold() -> None:
    props = metric_alarm_properties(band_alarm(), lambda actions: list(actions))
    assert props["ThresholdMetricId"] == "ad1"
    assert "Threshold" not in props
    assert props["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert [m["Id"] for m in props["Metrics"]] == ["m1", "ad1"]
    assert props["Metrics"][1]["Expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"


def test_plain_alarms_keep_their_threshold_in_cloudformation() -> None:
    alarm = next(a for a in DEFAULT_PLAN.alarms if isinstance(a, MetricAlarm) and a.name == "HighQueueDepth")
    props = metric_alarm_properties(alarm, lambda actions: list(actions))
    assert props["Threshold"] == float(alarm.threshold) and "ThresholdMetricId" not in props


def test_prometheus_rule_for_a_band_alarm_never_fires_and_says_why() -> None:
    plan = Plan(alarms=(*DEFAULT_PLAN.alarms, band_alarm()))
    rules = {r["alert"]: r for g in prometheus_rules(plan)["groups"] for r in g["rules"]}
    rule = rules["ProcessingDurationAnomaly"]
    assert "anomaly detection band" in rule["annotations"]["untranslated"]
    assert "of band ad1" in rule["annotations"]["cloudwatch"]
    assert rule["expr"] == "vector(1) == 0"  # a rule that never fires


def test_grafana_reports_a_band_alarm_annotation_instead_of_drawing_a_line() -> None:
    plan = Plan(alarms=(*DEFAULT_PLAN.alarms, band_alarm()))
    board = Dashboard(name="band", widgets=({"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
                                              "properties": {"view": "timeSeries", "period": 300, "metrics": [
                                                  ["WhisperSync/Business", "ProcessingDuration"]],
                                                  "annotations": {"alarms": ["ProcessingDurationAnomaly"]}}},))
    result = grafana_dashboard(board, datasource="prometheus", plan=plan)
    reasons = {(n.widget, n.property): n.reason for n in result.not_carried}
    assert "anomaly detection band" in reasons[("/widgets/0", "properties/annotations/alarms/0")]
