"""The alert router handler: CloudWatch's SNS alarm message through the local router and channels."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from whispersync.deploy.aws.environment import ENV
from whispersync.errors import ConfigError

TOPIC = "arn:aws:sns:eu-west-1:123456789012:whispersync-critical"


def sns_event(message: dict | str, topic: str = TOPIC) -> dict:
    """The documented SNS → Lambda event (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html)."""
    return {"Records": [{
        "EventVersion": "1.0", "EventSource": "aws:sns",
        "EventSubscriptionArn": f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "TopicArn": topic,
                "Subject": 'ALARM: "WorkerErrors" in EU (Ireland)',
                "Message": message if isinstance(message, str) else json.dumps(message),
                "Timestamp": "2026-12-02T14:00:00.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
                "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
                "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe", "MessageAttributes": {}},
    }]}


# CloudWatch's alarm message as SNS carries it (AlarmThatSendsEmail.html, "notification format").
ALARM_MESSAGE = {
    "AlarmName": "WorkerErrors", "AlarmDescription": "Worker errors above 10 a minute",
    "AWSAccountId": "123456789012", "AlarmConfigurationUpdatedTimestamp": "2026-12-01T10:00:00.000+0000",
    "NewStateValue": "ALARM", "NewStateReason": "Threshold Crossed: 1 datapoint [12.0 (02/12/26 13:59:00)] was "
    "greater than or equal to the threshold (10.0).",
    "StateChangeTime": "2026-12-02T14:00:00.123+0000", "Region": "EU (Ireland)",
    "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:WorkerErrors", "OldStateValue": "OK",
    "OKActions": [], "AlarmActions": [TOPIC], "InsufficientDataActions": [],
    "NewStateReasonData": '{"version":"1.0","queryDate":"2026-12-02T14:00:00.120+0000","recentDatapoints":[12.0],'
                          '"threshold":10.0}',
    "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "StatisticType": "Statistic",
                "Statistic": "SUM", "Unit": None,
                "Dimensions": [{"value": "whispersync-worker", "name": "FunctionName"}],
                "Period": 60, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 10.0,
                "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": ""},
}


@pytest.fixture
def hook():
    """A real HTTP receiver for the webhook channel."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def test_an_alarm_reaches_the_plan_s_channels_with_secrets_from_ssm(deployed, lam, hook, monkeypatch) -> None:
    import boto3

    url, received = hook
    boto3.client("ssm").put_parameter(Name="/whispersync/channels", Type="SecureString",
                                      Value=json.dumps({"webhook_url": url}))
    monkeypatch.setenv(ENV.SECRETS_NAME, "/whispersync/channels")
    answer = deployed.modules["alert_router"].handler(sns_event(ALARM_MESSAGE), lam.context("whispersync-alert-router"))

    statuses = {row["channel"]: row["status"] for row in answer["deliveries"]}
    assert statuses["webhook"] == "delivered" and statuses["console"] == "delivered"
    assert statuses["pagerduty"] == "skipped"  # P1 routes to PagerDuty; it has no routing key here
    [body] = received
    assert (body["AlarmName"], body["Priority"], body["NewStateValue"], body["OldStateValue"]) == (
        "WorkerErrors", "P1", "ALARM", "OK")
    assert body["NewStateReasonData"]["recentDatapoints"] == [12.0]
    assert url not in deployed.stdout.getvalue()  # the secret never reaches the logs


def test_secrets_come_from_secrets_manager_and_bad_ones_are_named_not_shown(deployed, lam, hook, monkeypatch) -> None:
    import boto3

    from whispersync.deploy.aws.handlers.alert_router import read_channel_secrets

    client = boto3.client("secretsmanager")
    client.create_secret(Name="whispersync/channels", SecretString=json.dumps({"webhook_url": hook[0]}))
    assert dict(read_channel_secrets("whispersync/channels")) == {"webhook_url": hook[0]}
    client.create_secret(Name="bad", SecretString=json.dumps({"slack_token": "xoxb-very-secret"}))
    with pytest.raises(ConfigError, match="unknown key") as caught:
        read_channel_secrets("bad")
    assert "xoxb" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_channel_secrets("/missing/parameter")


def test_the_priority_is_the_topic_s_and_a_non_alarm_message_is_skipped(deployed, lam) -> None:
    handler = deployed.modules["alert_router"].handler
    low = handler(sns_event(ALARM_MESSAGE, topic="arn:aws:sns:eu-west-1:123456789012:low"), lam.context())
    assert {row["channel"] for row in low["deliveries"]} >= {"slack", "email", "console"}
    assert handler(sns_event("just a test message"), lam.context()) == {"deliveries": []}
    skipped = [line for line in lam.stdout_lines(deployed.stdout)
               if line.get("message") == "SNS message is not a CloudWatch alarm notification"]
    assert len(skipped) == 1


def test_the_routes_are_those_of_the_plan_file_synth_shipped(deployed, lam, hook, monkeypatch, tmp_path) -> None:
    """A user's plan file routes P1 to the webhook alone: the deployed router follows it, not the built-in
    routes (PagerDuty, Slack, webhook, console). The file sits in the code directory (LAMBDA_TASK_ROOT)."""
    import boto3

    url, received = hook
    boto3.client("ssm").put_parameter(Name="/whispersync/channels", Type="SecureString",
                                      Value=json.dumps({"webhook_url": url}))
    monkeypatch.setenv(ENV.SECRETS_NAME, "/whispersync/channels")
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "whispersync-plan.toml").write_text('[routes]\nP1 = ["webhook"]\n', encoding="utf-8")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(task_root))
    monkeypatch.setenv(ENV.PLAN_FILE, "whispersync-plan.toml")
    answer = deployed.modules["alert_router"].handler(sns_event(ALARM_MESSAGE), lam.context("whispersync-alert-router"))
    assert [(row["channel"], row["status"]) for row in answer["deliveries"]] == [("webhook", "delivered")]
    assert len(received) == 1


def test_a_shipped_plan_file_that_is_broken_is_named(deployed, lam, monkeypatch, tmp_path) -> None:
    (tmp_path / "whispersync-plan.toml").write_text('[routes]\nP1 = "webhook"\n', encoding="utf-8")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv(ENV.PLAN_FILE, "whispersync-plan.toml")
    with pytest.raises(ConfigError, match="WHISPERSYNC_PLAN_FILE=whispersync-plan.toml: the shipped plan"):
        deployed.modules["alert_router"].handler(sns_event(ALARM_MESSAGE), lam.context())
