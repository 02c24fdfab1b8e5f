"""The remediation handler: HighQueueDepth's alarm action raises the worker event source's MaximumConcurrency."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from whispersync.deploy.aws.environment import ENV
from whispersync.plan import DEFAULT_PLAN


def alarm_event(alarm: str = "HighQueueDepth", state: str = "ALARM", previous: str = "OK") -> dict:
    """The documented alarm-action payload (AlarmThatSendsEmail.html#Lambda-action-payload)."""
    return {
        "source": "aws.cloudwatch", "alarmArn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{alarm}",
        "accountId": "123456789012", "time": "2026-12-02T14:00:00.490+0000", "region": "eu-west-1",
        "alarmData": {
            "alarmName": alarm,
            "state": {"value": state, "reason": "Threshold Crossed: 2 out of the last 2 datapoints were >= 1000.0",
                      "reasonData": '{"version":"1.0","recentDatapoints":[1500.0,1800.0],"threshold":1000.0}',
                      "timestamp": "2026-12-02T14:00:00.490+0000"},
            "previousState": {"value": previous, "reason": "Threshold Crossed",
                              "timestamp": "2026-12-02T13:00:00.000+0000"},
            "configuration": {"description": "The transcripts queue is backing up; scaling workers up", "metrics": [{
                "id": "m1", "metricStat": {"metric": {"namespace": "WhisperSync/Queue",
                                                      "name": "ApproximateNumberOfMessagesVisible",
                                                      "dimensions": {"QueueName": "transcripts"}},
                                           "period": 300, "stat": "Maximum"}, "returnData": True}]},
        },
    }


@pytest.fixture
def mapping(deployed, monkeypatch) -> str:
    """The worker function and its SQS event source mapping, capped at 2, in moto."""
    import boto3

    role = boto3.client("iam").create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    client = boto3.client("lambda")
    client.create_function(FunctionName="whispersync-worker", Runtime="python3.11", Role=role,
                           Handler="handler.handler", Code={"ZipFile": package.getvalue()})
    arn = deployed.sqs.get_queue_attributes(QueueUrl=deployed.queue_url,
                                            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    uuid = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="whispersync-worker", BatchSize=10,
                                              FunctionResponseTypes=["ReportBatchItemFailures"],
                                              ScalingConfig={"MaximumConcurrency": 2})["UUID"]
    monkeypatch.setenv(ENV.WORKER_EVENT_SOURCE, uuid)
    return uuid


def _concurrency(uuid: str) -> int:
    import boto3

    return boto3.client("lambda").get_event_source_mapping(UUID=uuid)["ScalingConfig"]["MaximumConcurrency"]


def test_scale_up_steps_toward_the_plan_s_maximum_with_a_cooldown(deployed, lam, mapping) -> None:
    module = deployed.modules["remediation"]
    rule = module.rule_for(DEFAULT_PLAN, "HighQueueDepth")
    assert rule is not None and rule.maximum == 16

    # Just created: within the cooldown, nothing changes.
    answer = module.handler(alarm_event(), lam.context("whispersync-remediation"))
    assert answer["changed"] is False and answer["reason"].startswith("cooldown")
    assert _concurrency(mapping) == 2

    seen = []
    later = time.time()
    for _ in range(4):
        later += rule.cooldown_seconds + 1
        result = module.scale_up(rule, mapping, now=later)
        seen.append(_concurrency(mapping))
    assert seen == [4, 8, 16, 16]
    assert result == {"changed": False, "reason": "already at the plan's maximum (16 >= 16)", "maximum_concurrency": 16}
    logged = [line for line in lam.stdout_lines(deployed.stdout) if line.get("message", "").startswith("Remediation")]
    assert logged[0]["alarm_name"] == "HighQueueDepth" and logged[0]["changed"] is False


def test_only_the_plan_s_scale_up_alarm_entering_alarm_acts(deployed, lam, mapping) -> None:
    handler = deployed.modules["remediation"].handler
    assert handler(alarm_event(state="OK", previous="ALARM"), lam.context())["reason"] == "state is OK, not ALARM"
    assert handler(alarm_event(alarm="WorkerErrors"), lam.context())["reason"] == "not a scale-up alarm of the plan"
    assert _concurrency(mapping) == 2


def test_the_rules_are_those_of_the_plan_file_synth_shipped(deployed, lam, mapping, monkeypatch, tmp_path) -> None:
    """A user's plan scales on WorkerErrors, which the built-in plan does not: the deployed handler acts on it."""
    (tmp_path / "whispersync-plan.toml").write_text(
        '[[remediation]]\nname = "scale-on-errors"\nalarm = "WorkerErrors"\naction = "scale_up"\n'
        'maximum = 8\ncooldown_seconds = 0\n', encoding="utf-8")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv(ENV.PLAN_FILE, "whispersync-plan.toml")
    answer = deployed.modules["remediation"].handler(alarm_event(alarm="WorkerErrors"), lam.context())
    assert answer["changed"] is True, answer
    assert _concurrency(mapping) == 4
