"""Anomaly detection alarms over the wire (PutMetricAlarm / DescribeAlarms with ThresholdMetricId) and
through `whispersync alarms put`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from whispersync.cli import app

BAND_ALARM = {
    "AlarmName": "LatencyAnomaly", "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
    "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "ThresholdMetricId": "ad1", "TreatMissingData": "notBreaching",
    "Metrics": [
        {"Id": "m1", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "App", "MetricName": "Latency",
                       "Dimensions": [{"Name": "Service", "Value": "api"}]},
            "Period": 300, "Stat": "Average"}},
        {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2.5)", "Label": "Latency (expected)",
         "ReturnData": True},
    ],
}
LATENCY = {"Namespace": "App", "MetricName": "Latency", "Dimensions": [{"Name": "Service", "Value": "api"}],
           "Stat": "Average"}


def test_put_metric_alarm_round_trips_threshold_metric_id(cw):
    runtime, client = cw
    client.put_metric_alarm(**BAND_ALARM)
    [alarm] = client.describe_alarms(AlarmNames=["LatencyAnomaly"])["MetricAlarms"]
    assert alarm["ThresholdMetricId"] == "ad1" and "Threshold" not in alarm
    assert alarm["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert [q["Id"] for q in alarm["Metrics"]] == ["m1", "ad1"]
    assert alarm["Metrics"][1]["Expression"] == "ANOMALY_DETECTION_BAND(m1, 2.5)"
    # CloudWatch creates the detector with the alarm.
    [detector] = runtime.alarms.alarm_store.detectors.list()
    assert (detector.metric_name, detector.stat) == ("Latency", "Average")


def test_refusals_name_what_is_wrong(cw_server, make_cloudwatch):
    """One protocol is enough here: the errors come from the same parser whatever the wire."""
    _, server = cw_server
    client = make_cloudwatch(server.url, "json")
    request = {k: v for k, v in BAND_ALARM.items() if k != "ThresholdMetricId"}
    with pytest.raises(ClientError) as caught:
        client.put_metric_alarm(**request)
    assert "ThresholdMetricId" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        client.put_anomaly_detector(SingleMetricAnomalyDetector=LATENCY, Configuration={"MetricTimezone": "Mars/Base"})
    assert "unknown metric timezone" in caught.value.response["Error"]["Message"]


def test_alarms_put_accepts_put_metric_alarm_json(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    request = tmp_path / "alarm.json"
    request.write_text(json.dumps(BAND_ALARM))
    runner = CliRunner()
    put = runner.invoke(app, ["--home", str(home), "alarms", "put", str(request), "--json"])
    assert put.exit_code == 0, put.output
    assert orjson.loads(put.stdout) == {"alarms": [{"name": "LatencyAnomaly", "kind": "metric", "replaced": False}]}
    listed = runner.invoke(app, ["--home", str(home), "alarms", "list", "--format", "cloudwatch"])
    assert listed.exit_code == 0, listed.output
    [alarm] = [a for a in orjson.loads(listed.stdout)["MetricAlarms"] if a["AlarmName"] == "LatencyAnomaly"]
    assert alarm["ThresholdMetricId"] == "ad1" and alarm["DatapointsToAlarm"] == 2 and "Threshold" not in alarm


def test_anomaly_detectors_put_describe_delete(cw):
    _, client = cw
    start, end = datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    client.put_anomaly_detector(SingleMetricAnomalyDetector=LATENCY, Configuration={
        "ExcludedTimeRanges": [{"StartTime": start, "EndTime": end}], "MetricTimezone": "Europe/Berlin"})
    client.put_anomaly_detector(MetricMathAnomalyDetector={"MetricDataQueries": [
        {"Id": "m1", "ReturnData": False, "MetricStat": {"Metric": {k: v for k, v in LATENCY.items() if k != "Stat"},
                                                         "Period": 300, "Stat": "Sum"}},
        {"Id": "e1", "Expression": "m1 / 300", "ReturnData": True}]})
    [single] = client.describe_anomaly_detectors(Namespace="App")["AnomalyDetectors"]
    assert single["SingleMetricAnomalyDetector"] == LATENCY
    assert single["Configuration"] == {"ExcludedTimeRanges": [{"StartTime": start, "EndTime": end}],
                                       "MetricTimezone": "Europe/Berlin"}
    assert single["StateValue"] == "PENDING_TRAINING"  # no data yet
    both = client.describe_anomaly_detectors(AnomalyDetectorTypes=["SINGLE_METRIC", "METRIC_MATH"])
    assert len(both["AnomalyDetectors"]) == 2
    client.delete_anomaly_detector(SingleMetricAnomalyDetector=LATENCY)
    assert client.describe_anomaly_detectors()["AnomalyDetectors"] == []
    with pytest.raises(ClientError) as caught:
        client.delete_anomaly_detector(SingleMetricAnomalyDetector=LATENCY)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
