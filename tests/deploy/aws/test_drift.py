"""`deploy aws check`'s comparison under moto: an account deployed from the plan has no drift, and each
change made behind the plan's back is reported precisely.

moto 5.2 has no PutCompositeAlarm (NotImplementedError); its DescribeAlarms returns an alarm stored
with an AlarmRule among CompositeAlarms, so composites are put through moto's backend, as its own
PutMetricAlarm handler does with an AlarmRule. moto ignores AlarmTypes and never pages; the reader
asks for both types and follows NextToken all the same, as CloudWatch needs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from whispersync.deploy.aws.drift import (
    alarm_differences,
    compare,
    expected_alarms,
    expected_dashboards,
    read_deployed,
)
from whispersync.plan import (
    DEFAULT_PLAN,
    CompositeAlarm,
    MetricAlarm,
    MetricDataQuery,
    MetricStat,
)

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account


def action_arn(action: str) -> str:
    """An ARN for a plan action, in the shape the stack's topics and remediation function have."""
    if action.startswith("remediation:"):
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:whispersync-remediation"
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:whispersync-{action.split(':', 1)[-1]}"


def deploy(plan, cloudwatch) -> None:
    """Put the plan's alarms and dashboards into the account from the compiled properties, as synth writes them."""
    from moto.cloudwatch.models import cloudwatch_backends

    for name, props in expected_alarms(plan, region=REGION, account=ACCOUNT).items():
        request = {k: v for k, v in props.items() if k != "Kind"}
        if props["Kind"] == "MetricAlarm":
            cloudwatch.put_metric_alarm(**request)
        else:
            put_composite(cloudwatch_backends[ACCOUNT][REGION], request)
    for name, body in expected_dashboards(plan, region=REGION, account=ACCOUNT).items():
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))


def put_composite(backend: Any, request: dict[str, Any]) -> None:
    """PutCompositeAlarm into moto's store (see the module doc)."""
    backend.put_metric_alarm(
        name=request["AlarmName"], namespace=None, metric_name=None, comparison_operator=None,
        evaluation_periods=None, period=None, threshold=None, statistic=None,
        description=request.get("AlarmDescription"), dimensions=[], alarm_actions=request.get("AlarmActions", []),
        ok_actions=request.get("OKActions", []), insufficient_data_actions=request.get("InsufficientDataActions", []),
        actions_enabled=request.get("ActionsEnabled", True),
        rule=request["AlarmRule"])


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                       "AWS_CONFIG_FILE": str(tmp_path / "none"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        client = boto3.client("cloudwatch", region_name=REGION)
        deploy(DEFAULT_PLAN, client)
        yield client


def check(plan=DEFAULT_PLAN) -> dict[str, Any]:
    return compare(plan, read_deployed(boto3.Session(region_name=REGION)))


class TestTheDeployedPlan:
    def test_an_account_deployed_from_the_plan_has_no_drift(self, cloudwatch) -> None:
        report = check()
        assert report["drift"] == []
        assert report["checked"] == {"alarms": len(DEFAULT_PLAN.alarms), "dashboards": len(DEFAULT_PLAN.dashboards)}
        assert (report["region"], report["account"]) == (REGION, ACCOUNT)

    def test_the_reader_sees_both_alarm_kinds_and_every_dashboard(self, cloudwatch) -> None:
        deployed = read_deployed(boto3.Session(region_name=REGION))
        kinds = {a.name: "MetricAlarm" if isinstance(a, MetricAlarm) else "CompositeAlarm" for a in DEFAULT_PLAN.alarms}
        assert {name: alarm["Kind"] for name, alarm in deployed.alarms.items()} == kinds
        assert set(deployed.dashboards) == {d.name for d in DEFAULT_PLAN.dashboards}


class TestEachDriftIsReported:
    def test_a_changed_threshold(self, cloudwatch) -> None:
        [alarm] = [a for a in cloudwatch.describe_alarms(AlarmNames=["SystemDown"])["MetricAlarms"]]
        request = {k: alarm[k] for k in ("AlarmName", "ComparisonOperator", "EvaluationPeriods", "TreatMissingData",
                                         "Namespace", "MetricName", "Dimensions", "Period", "Statistic",
                                         "AlarmDescription", "AlarmActions", "OKActions", "InsufficientDataActions")}
        cloudwatch.put_metric_alarm(**request, Threshold=alarm["Threshold"] + 5)
        assert check()["drift"] == [{"type": "alarm", "name": "SystemDown", "drift": "changed", "field": "Threshold",
                                     "expected": alarm["Threshold"], "actual": alarm["Threshold"] + 5}]

    def test_changed_actions(self, cloudwatch) -> None:
        """An alarm action moved to another topic, and an OK action removed, in the console."""
        [alarm] = [a for a in DEFAULT_PLAN.alarms if a.name == "SystemDown"]
        [deployed] = cloudwatch.describe_alarms(AlarmNames=["SystemDown"])["MetricAlarms"]
        expected_alarm = [action_arn(a) for a in alarm.alarm_actions]
        expected_ok = [action_arn(a) for a in alarm.ok_actions]
        assert sorted(deployed["AlarmActions"]) == sorted(expected_alarm) and expected_ok  # deployed as synth does
        request = {k: deployed[k] for k in ("AlarmName", "ComparisonOperator", "EvaluationPeriods", "Threshold",
                                            "TreatMissingData", "Namespace", "MetricName", "Dimensions", "Period",
                                            "Statistic", "AlarmDescription", "InsufficientDataActions")}
        elsewhere = f"arn:aws:sns:{REGION}:{ACCOUNT}:someone-else"
        cloudwatch.put_metric_alarm(**request, AlarmActions=[elsewhere], OKActions=[])
        assert check()["drift"] == [
            {"type": "alarm", "name": "SystemDown", "drift": "changed", "field": "AlarmActions",
             "expected": sorted(expected_alarm), "actual": [elsewhere]},
            {"type": "alarm", "name": "SystemDown", "drift": "changed", "field": "OKActions",
             "expected": sorted(expected_ok), "actual": None}]

    def test_the_remediated_alarm_invokes_the_remediation_function(self, cloudwatch) -> None:
        [alarm] = [a for a in DEFAULT_PLAN.alarms if "remediation:scale_up" in a.alarm_actions]
        [deployed] = cloudwatch.describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"]
        assert action_arn("remediation:scale_up") in deployed["AlarmActions"]
        assert check()["drift"] == []

    def test_a_deleted_dashboard(self, cloudwatch) -> None:
        cloudwatch.delete_dashboards(DashboardNames=["queue-health"])
        assert check()["drift"] == [{"type": "dashboard", "name": "queue-health", "drift": "missing"}]

    def test_a_deleted_alarm(self, cloudwatch) -> None:
        cloudwatch.delete_alarms(AlarmNames=["Api5xx"])
        assert check()["drift"] == [{"type": "alarm", "name": "Api5xx", "drift": "missing"}]

    def test_unknown_alarms_and_dashboards_of_ours_but_not_others(self, cloudwatch) -> None:
        common = {"ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1, "Threshold": 1.0,
                  "Namespace": "AWS/Billing", "MetricName": "EstimatedCharges", "Period": 21600, "Statistic": "Maximum"}
        cloudwatch.put_metric_alarm(AlarmName="whispersync-old-alarm", **common)
        cloudwatch.put_metric_alarm(AlarmName="QueueTooOld", AlarmActions=[action_arn("topic:high")], **common)
        cloudwatch.put_metric_alarm(AlarmName="BillingAlarm", **common,
                                    AlarmActions=[f"arn:aws:sns:{REGION}:{ACCOUNT}:finance-team"])
        cloudwatch.put_dashboard(DashboardName="whispersync-retired", DashboardBody='{"widgets": []}')
        cloudwatch.put_dashboard(DashboardName="team-overview", DashboardBody='{"widgets": []}')
        assert check()["drift"] == [
            {"type": "alarm", "name": "QueueTooOld", "drift": "extra"},
            {"type": "alarm", "name": "whispersync-old-alarm", "drift": "extra"},
            {"type": "dashboard", "name": "whispersync-retired", "drift": "extra"},
        ]

    def test_a_changed_composite_rule(self, cloudwatch) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        [composite] = [a for a in DEFAULT_PLAN.alarms
                       if isinstance(a, CompositeAlarm) and a.name == "whispersync-system-health"]
        expected = expected_alarms(DEFAULT_PLAN, region=REGION, account=ACCOUNT)[composite.name]
        request = {k: v for k, v in expected.items() if k != "Kind"}
        changed_rule = "ALARM(SystemDown) AND ALARM(DLQMessages)"
        put_composite(cloudwatch_backends[ACCOUNT][REGION], {**request, "AlarmRule": changed_rule})
        assert check()["drift"] == [{"type": "alarm", "name": composite.name, "drift": "changed", "field": "AlarmRule",
                                     "expected": composite.rule, "actual": changed_rule}]

    def test_a_metric_alarm_where_the_plan_has_a_composite(self, cloudwatch) -> None:
        [composite] = [a for a in DEFAULT_PLAN.alarms
                       if isinstance(a, CompositeAlarm) and a.name == "whispersync-system-health"]
        cloudwatch.delete_alarms(AlarmNames=[composite.name])
        cloudwatch.put_metric_alarm(AlarmName=composite.name, ComparisonOperator="GreaterThanThreshold",
                                    EvaluationPeriods=1, Threshold=1, Namespace="N", MetricName="M", Period=60,
                                    Statistic="Sum")
        assert check()["drift"] == [{"type": "alarm", "name": composite.name, "drift": "changed", "field": "Kind",
                                     "expected": "CompositeAlarm", "actual": "MetricAlarm"}]

    def test_a_dashboard_edited_in_the_console(self, cloudwatch) -> None:
        body = expected_dashboards(DEFAULT_PLAN, region=REGION, account=ACCOUNT)["queue-health"]
        edited = json.loads(json.dumps(body))
        old_title = edited["widgets"][0]["properties"].get("title")
        edited["widgets"][0]["properties"]["title"] = "renamed"
        edited["widgets"].append({"type": "text", "x": 0, "y": 99, "width": 6, "height": 2,
                                  "properties": {"markdown": "hi"}})
        # Key order and spacing differ from what synth writes: not drift.
        cloudwatch.put_dashboard(DashboardName="queue-health", DashboardBody=json.dumps(edited, indent=4,
                                                                                        sort_keys=True))
        index = len(body["widgets"])
        assert check()["drift"] == [
            {"type": "dashboard", "name": "queue-health", "drift": "changed", "field": "widgets[0].properties.title",
             "expected": old_title, "actual": "renamed"},
            {"type": "dashboard", "name": "queue-health", "drift": "changed", "field": f"widgets[{index}]",
             "expected": None, "actual": edited["widgets"][index]},
        ]

    def test_a_dashboard_in_another_region_is_drift(self, cloudwatch) -> None:
        """The stack writes its region into metric widgets and alarm ARNs: a body made for another region differs."""
        body = expected_dashboards(DEFAULT_PLAN, region="us-east-1", account=ACCOUNT)["worker-performance"]
        cloudwatch.put_dashboard(DashboardName="worker-performance", DashboardBody=json.dumps(body))
        drift = check()["drift"]
        # the widgets' region, and the region inside the alarm ARNs of alarm annotations
        assert {d["field"].rsplit(".", 1)[-1] for d in drift} == {"region", "alarms[0]"}
        assert all(d["actual"] == d["expected"].replace(REGION, "us-east-1") != d["expected"] for d in drift)


class TestMetricMath:
    """Metrics (metric-math queries) compared query by query, with CloudWatch's defaults."""

    @staticmethod
    def plan_with(expression: str):
        stat = MetricStat("WhisperSync/Worker", "Errors", {"FunctionName": "whispersync-worker", "Env": "prod"},
                          statistic="p99", period=60)
        alarm = MetricAlarm("whispersync-error-rate", threshold=5, evaluation_periods=3, datapoints_to_alarm=2,
                            metrics=(MetricDataQuery("e1", expression=expression, label="rate"),
                                     MetricDataQuery("m1", metric_stat=stat, return_data=False)))
        return dataclasses.replace(DEFAULT_PLAN, alarms=(*DEFAULT_PLAN.alarms, alarm))

    def test_the_same_queries_are_no_drift_and_a_changed_expression_is(self, cloudwatch) -> None:
        deploy(self.plan_with("m1 * 100"), cloudwatch)
        assert check(self.plan_with("m1 * 100"))["drift"] == []
        [item] = check(self.plan_with("m1 * 10"))["drift"]
        assert (item["name"], item["field"]) == ("whispersync-error-rate", "Metrics")
        assert (item["expected"][0]["Expression"], item["actual"][0]["Expression"]) == ("m1 * 10", "m1 * 100")


class TestDefaults:
    """What CloudWatch fills in or reorders is not drift (pure comparison, no account)."""

    def test_defaults_and_dimension_order(self) -> None:
        expected = expected_alarms(DEFAULT_PLAN, region=REGION, account=ACCOUNT)["HighQueueDepth"]
        actual = {**expected, "DatapointsToAlarm": expected["EvaluationPeriods"],
                  "Threshold": int(expected["Threshold"]), "Dimensions": list(reversed(expected["Dimensions"])),
                  "Metrics": []}
        assert alarm_differences(expected, actual) == []
        assert alarm_differences({**expected, "TreatMissingData": "missing"},
                                 {k: v for k, v in actual.items() if k != "TreatMissingData"}) == []
        assert alarm_differences(expected, {**actual, "DatapointsToAlarm": 1}) == [
            ("DatapointsToAlarm", expected["EvaluationPeriods"], 1)]
        assert alarm_differences(expected, {**actual, "Statistic": None, "ExtendedStatistic": "p99"}) == [
            ("Statistic", "Maximum", None), ("ExtendedStatistic", None, "p99")]
