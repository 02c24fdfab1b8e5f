"""The CloudWatch alarm operations: the same engine, stores and notifier as `whispersync alarms ...`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.monitoring.alarms import plan_import
from whispersync.monitoring.alarms._cloudwatch import READ_ONLY_FIELDS, alarm_arn, topic_arn
from whispersync.monitoring.times import parse_time
from whispersync.web.aws._alarm_ops import _users

BOTH = ["MetricAlarm", "CompositeAlarm"]
TIMES = ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp", "StateTransitionedTimestamp")
ERRORS_ALARM = {
    "AlarmName": "TestErrors", "Namespace": "ApiTest", "MetricName": "Errors",
    "Dimensions": [{"Name": "Service", "Value": "voice"}], "Statistic": "Sum", "Period": 60,
    "EvaluationPeriods": 1, "Threshold": 3.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "notBreaching", "AlarmActions": [topic_arn("high")], "AlarmDescription": "errors",
}


def cli(runtime, *args: str) -> dict:
    result = CliRunner().invoke(app, ["--home", str(runtime.settings.home), *args])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def as_cli_prints(alarm: dict) -> dict:
    """A boto3 alarm as `alarms list --format cloudwatch` prints it: ISO times; Tags, which the API's
    MetricAlarm shape has no place for, are the CLI's addition and not compared."""
    out = {k: v for k, v in alarm.items() if k != "Tags"}
    for key in TIMES:
        if key in out:
            out[key] = out[key].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return out


def cli_alarms(runtime, names: set[str] | None = None) -> dict[str, list[dict]]:
    printed = cli(runtime, "alarms", "list", "--format", "cloudwatch")
    return {key: [{k: v for k, v in a.items() if k != "Tags"} for a in printed[key]
                  if names is None or a["AlarmName"] in names]
            for key in ("MetricAlarms", "CompositeAlarms")}


def error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


def test_put_and_describe_equal_the_cli(cw) -> None:
    runtime, client = cw
    client.put_metric_alarm(**ERRORS_ALARM)
    client.put_composite_alarm(
        AlarmName="TestCombined", AlarmRule=f'ALARM("{alarm_arn("TestErrors")}") OR ALARM(TestErrors)',
        AlarmActions=[topic_arn("critical")], ActionsSuppressor=alarm_arn("TestErrors"),
        ActionsSuppressorWaitPeriod=60, ActionsSuppressorExtensionPeriod=120)
    answer = client.describe_alarms(AlarmNamePrefix="Test", AlarmTypes=BOTH)
    got = {key: [as_cli_prints(a) for a in answer[key]] for key in ("MetricAlarms", "CompositeAlarms")}
    assert got == cli_alarms(runtime, {"TestErrors", "TestCombined"})
    [metric], [composite] = answer["MetricAlarms"], answer["CompositeAlarms"]
    assert metric["AlarmActions"] == [topic_arn("high")] and metric["Threshold"] == 3.0
    assert composite["AlarmRule"] == 'ALARM("TestErrors") OR ALARM(TestErrors)'  # ARNs become names, as on import
    assert composite["ActionsSuppressor"] == alarm_arn("TestErrors")
    stored = cli(runtime, "alarms", "list", "--json")["alarms"]
    assert {a["name"]: a["source"] for a in stored if a["name"].startswith("Test")} == {
        "TestErrors": "stored", "TestCombined": "stored"}
    children = client.describe_alarms(ChildrenOfAlarmName="TestCombined")
    assert [a["AlarmName"] for a in children["MetricAlarms"]] == ["TestErrors"] and not children["CompositeAlarms"]
    parents = client.describe_alarms(ParentsOfAlarmName="TestErrors")
    assert [a["AlarmName"] for a in parents["CompositeAlarms"]] == ["TestCombined"] and not parents["MetricAlarms"]
    with pytest.raises(ClientError) as caught:
        client.describe_alarms(ParentsOfAlarmName="TestErrors", StateValue="OK")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    # Without AlarmTypes, "only metric alarms are returned, even if composite alarms exist".
    default = client.describe_alarms(AlarmNamePrefix="Test")
    assert [a["AlarmName"] for a in default["MetricAlarms"]] == ["TestErrors"] and default["CompositeAlarms"] == []


def test_the_plan_round_trips(make_api, make_cloudwatch) -> None:
    runtime, server = make_api()
    client = make_cloudwatch(server.url, "smithy-rpc-v2-cbor")
    pages = list(client.get_paginator("describe_alarms").paginate(AlarmTypes=BOTH, PaginationConfig={"PageSize": 2}))
    assert len(pages) > 2 and all(len(p["MetricAlarms"]) + len(p["CompositeAlarms"]) <= 2 for p in pages)
    listed = {key: [a for p in pages for a in p[key]] for key in ("MetricAlarms", "CompositeAlarms")}
    assert {key: [as_cli_prints(a) for a in items] for key, items in listed.items()} == cli_alarms(runtime)
    # Each plan alarm, as DescribeAlarms gives it, is a PutMetricAlarm request for the plan's own definition.
    plan = runtime.alarms.alarms()
    assert sorted(a["AlarmName"] for items in listed.values() for a in items) == sorted(plan)
    requests = {key: [{k: v for k, v in a.items() if k not in READ_ONLY_FIELDS} for a in items]
                for key, items in listed.items()}
    report = plan_import(requests, existing={})
    for item in report.alarms:
        assert item.outcome == "created", item.reason
        expected = plan[item.name].to_dict()
        got = item.alarm.to_dict()
        # The wire has no Tags in DescribeAlarms: the priority comes back from the alarm's topics.
        assert {**got, "tags": {}, "priority": None} == {**expected, "tags": {}, "priority": None}, item.name


def test_an_alarm_put_over_the_api_is_evaluated_by_the_engine(make_api, make_cloudwatch) -> None:
    runtime, server = make_api()
    client = make_cloudwatch(server.url, "json")
    client.put_metric_alarm(**ERRORS_ALARM)
    minute = (int(time.time()) // 60 - 1) * 60  # the last whole minute: complete now
    client.put_metric_data(Namespace="ApiTest", MetricData=[
        {"MetricName": "Errors", "Dimensions": [{"Name": "Service", "Value": "voice"}], "Value": 5.0,
         "Timestamp": datetime.fromtimestamp(minute + 10, UTC)}])
    [result] = [r for r in runtime.alarms.evaluate() if r.name == "TestErrors"]
    assert result.state == "ALARM"
    [alarm] = client.describe_alarms(AlarmNames=["TestErrors"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    history = client.describe_alarm_history(AlarmName="TestErrors")["AlarmHistoryItems"]
    ours = cli(runtime, "alarms", "history", "TestErrors", "--json")["history"]
    assert [(h["HistoryItemType"], h["HistorySummary"], json.loads(h["HistoryData"])) for h in history] == [
        (h["type"], h["summary"], h["data"]) for h in ours]
    assert {h["HistoryItemType"] for h in history} >= {"ConfigurationUpdate", "StateUpdate", "Action"}
    # The action went to the same notifier: its delivery is in the history, routed to topic "high".
    states = client.describe_alarm_history(AlarmName="TestErrors", HistoryItemType="StateUpdate",
                                           ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [json.loads(h["HistoryData"])["newState"]["stateValue"] for h in states] == ["ALARM"]
    paged = list(client.get_paginator("describe_alarm_history").paginate(
        AlarmName="TestErrors", PaginationConfig={"PageSize": 1}))
    assert [i for p in paged for i in p["AlarmHistoryItems"]] == history


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_set_state_actions_and_delete(make_api, make_cloudwatch, protocol) -> None:
    runtime, server = make_api()
    client = make_cloudwatch(server.url, protocol)
    client.put_metric_alarm(**ERRORS_ALARM)
    client.set_alarm_state(AlarmName="TestErrors", StateValue="ALARM", StateReason="testing",
                           StateReasonData='{"by": "test"}')
    ours = {a["name"]: a for a in cli(runtime, "alarms", "list", "--json")["alarms"]}
    assert (ours["TestErrors"]["state"], ours["TestErrors"]["reason"], ours["TestErrors"]["reason_data"]) == (
        "ALARM", "testing", {"by": "test"})
    assert client.describe_alarms(StateValue="ALARM")["MetricAlarms"][0]["StateReason"] == "testing"
    client.disable_alarm_actions(AlarmNames=["TestErrors"])
    assert client.describe_alarms(AlarmNames=["TestErrors"])["MetricAlarms"][0]["ActionsEnabled"] is False
    client.enable_alarm_actions(AlarmNames=["TestErrors"])
    assert client.describe_alarms(AlarmNames=["TestErrors"])["MetricAlarms"][0]["ActionsEnabled"] is True
    with_high = client.describe_alarms(ActionPrefix=topic_arn("high"))["MetricAlarms"]
    assert "TestErrors" in [a["AlarmName"] for a in with_high]
    assert all(topic_arn("high") in a["AlarmActions"] + a["OKActions"] + a["InsufficientDataActions"]
               for a in with_high)
    assert client.describe_alarms(ActionPrefix=topic_arn("nobody"))["MetricAlarms"] == []
    client.delete_alarms(AlarmNames=["TestErrors"])
    assert client.describe_alarms(AlarmNames=["TestErrors"])["MetricAlarms"] == []


def test_errors_are_the_documented_ones(make_api, make_cloudwatch) -> None:
    runtime, server = make_api()
    client = make_cloudwatch(server.url, "json")
    plan = runtime.alarms.alarms()
    plan_alarm = next(n for n in sorted(plan) if not _users(n, plan.values()))  # no composite holds it
    assert error_code(client.set_alarm_state, AlarmName="Nobody", StateValue="OK", StateReason="x") \
        == "ResourceNotFound"
    assert error_code(client.set_alarm_state, AlarmName=plan_alarm, StateValue="OK", StateReason="x",
                      StateReasonData="{not json") == "InvalidFormat"
    assert error_code(client.put_metric_alarm, **{**ERRORS_ALARM, "Period": 45}) == "InvalidParameterValue"
    assert error_code(client.put_metric_alarm, **{**ERRORS_ALARM, "AlarmActions": [
        "arn:aws:automate:us-east-1:ec2:stop"]}) == "InvalidParameterValue"
    assert error_code(client.put_composite_alarm, AlarmName="Loose", AlarmRule="ALARM(Nobody)") \
        == "InvalidParameterValue"
    assert error_code(client.describe_alarms, NextToken="garbage") == "InvalidNextToken"
    # A plan alarm is not deleted: ResourceConflict (409), and nothing of the request is deleted.
    client.put_metric_alarm(**ERRORS_ALARM)
    with pytest.raises(ClientError) as caught:
        client.delete_alarms(AlarmNames=["TestErrors", plan_alarm])
    assert caught.value.response["Error"]["Code"] == "ResourceConflict"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "monitoring plan" in caught.value.response["Error"]["Message"]
    assert client.describe_alarms(AlarmNames=["TestErrors"])["MetricAlarms"]
    # Unknown names do not stop the others from being deleted, and are reported.
    assert error_code(client.delete_alarms, AlarmNames=["TestErrors", "Nobody"]) == "ResourceNotFound"
    assert client.describe_alarms(AlarmNames=["TestErrors"])["MetricAlarms"] == []
    # A plan alarm overridden by a stored one: deleting removes the override, the plan's is back.
    client.disable_alarm_actions(AlarmNames=[plan_alarm])
    assert client.describe_alarms(AlarmNames=[plan_alarm], AlarmTypes=BOTH)
    client.delete_alarms(AlarmNames=[plan_alarm])
    assert plan_alarm in runtime.alarms.alarms()
    assert runtime.alarms.alarms()[plan_alarm].actions_enabled is True


def test_the_aws_cli_puts_and_describes(make_api, tmp_path: Path) -> None:
    runtime, server = make_api()
    aws = Path(sys.executable).with_name("aws")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    request = tmp_path / "alarm.json"
    request.write_bytes(orjson.dumps(ERRORS_ALARM))

    def run(*args: str) -> str:
        done = subprocess.run([str(aws), "--endpoint-url", server.url, "cloudwatch", *args, "--output", "json"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("put-metric-alarm", "--cli-input-json", f"file://{request}")
    printed = json.loads(run("describe-alarms", "--alarm-names", "TestErrors"))
    ours = cli(runtime, "alarms", "list", "--format", "cloudwatch")
    [mine] = [a for a in ours["MetricAlarms"] if a["AlarmName"] == "TestErrors"]
    [theirs] = printed["MetricAlarms"]
    # The AWS CLI (v1) prints times as it got them (epoch seconds over JSON); ours are ISO. The same instants.
    for key in TIMES:
        if key in mine:
            value = theirs.pop(key)
            assert (round(value * 1000) if isinstance(value, float) else parse_time(value)) == parse_time(mine.pop(key))
    assert theirs == {k: v for k, v in mine.items() if k != "Tags"}
