"""The alert router on Lambda: subscribed to the P1-P4 SNS topics, the local router and channels.

SNS delivers CloudWatch's alarm notification as the record's `Sns.Message`, a JSON
string with AlarmName, AlarmDescription, NewStateValue, OldStateValue,
NewStateReason, StateChangeTime, Trigger, ...
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html). The priority is the
topic's: its name (the ARN's last part) is one of the plan's topics ("critical",
"high", "medium", "low"), alone or as the end of a longer name ("whispersync-critical").

The notification goes through the local `Notifier`: the deployed plan's routes (a user's
plan file shipped by synth, `ENV.PLAN_FILE`, else the built-in plan) pick the
channels, each delivery is recorded in an outbox (in /tmp, for this container) and
tried at once. A delivery left to retry fails the invocation, so Lambda's own retry
of the SNS event (same notification id, same outbox rows) tries again.

Channel secrets come from the SSM SecureString parameter or Secrets Manager secret
named in `WHISPERSYNC_SECRETS_NAME` (a JSON object keyed by the local secret names:
slack_webhook, pagerduty_routing_key, webhook_url, ...), read once per container;
never from the environment. A name starting with "/" or an `arn:aws:ssm:` ARN is an
SSM parameter; anything else a Secrets Manager secret. The channels' other settings
(SMTP host, recipients) are plain environment variables with the local names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from whispersync.deploy.aws.environment import ENV, secret_store
from whispersync.deploy.aws.handlers._lambda import Invocations, deployed_plan
from whispersync.errors import ConfigError, ExternalServiceError
from whispersync.monitoring.notify import (
    SECRET_NAMES,
    AlarmNotification,
    ChannelConfig,
    ChannelSecrets,
    Notifier,
    NotifierConfig,
    read_secrets,
    topic_name,
)
from whispersync.plan import TOPICS

__all__ = ["handler", "priority_of", "read_channel_secrets"]

_OUTBOX_DIR = "WHISPERSYNC_NOTIFY_DIR"  # where the outbox lives; /tmp is Lambda's writable disk

_invocations = Invocations()
_notifier: Notifier | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    telemetry = _invocations.start(context)
    log = telemetry.logger("whispersync.notify")
    try:
        notifier = build_notifier()
        ids: list[str] = []
        for record in event.get("Records", []):
            sns = record.get("Sns") or {}
            try:
                notification = notification_from_sns(sns)
            except (ValueError, KeyError, TypeError) as exc:
                # Not an alarm notification (a test message, another publisher): nothing to route.
                log.warning("SNS message is not a CloudWatch alarm notification", error_type=type(exc).__name__,
                            reason=str(exc)[:200], topic=str(sns.get("TopicArn", ""))[:200])
                continue
            ids += notifier.publish(sns["TopicArn"], notification)
        notifier.deliver_due()
        outcome = [{"alarm_name": row["alarm_name"], "channel": row["channel"], "status": row["status"]}
                   for row in notifier.deliveries(ids=ids, limit=max(len(ids), 1))] if ids else []
    finally:
        telemetry.flush()
    waiting = [row for row in outcome if row["status"] == "pending"]
    if waiting:
        raise ExternalServiceError(f"{len(waiting)} deliveries wait for a retry "
                                   f"({', '.join(sorted({row['channel'] for row in waiting}))})")
    return {"deliveries": outcome}


def priority_of(topic: str) -> str:
    """The plan's priority whose topic this is (its name, or a name ending in "-<topic>")."""
    name = topic_name(topic)
    for priority, short in TOPICS.items():
        if name == short or name.endswith(f"-{short}"):
            return priority
    raise ValueError(f"topic {name!r} is none of the plan's topics ({', '.join(TOPICS.values())})")


def notification_from_sns(sns: dict[str, Any]) -> AlarmNotification:
    """CloudWatch's SNS alarm message as the AlarmNotification the local router takes."""
    message = orjson.loads(sns["Message"])
    if not isinstance(message, dict) or "AlarmName" not in message:
        raise ValueError("the message has no AlarmName")
    reason_data = message.get("NewStateReasonData") or {}
    if isinstance(reason_data, str):  # CloudWatch sends it as a JSON string
        reason_data = orjson.loads(reason_data) if reason_data else {}
    return AlarmNotification.from_dict({**message, "NewStateReasonData": reason_data,
                                        "Priority": priority_of(sns["TopicArn"])})


def build_notifier() -> Notifier:
    global _notifier
    if _notifier is None:
        outbox = Path(os.environ.get(_OUTBOX_DIR) or "/tmp/whispersync") / "notify.db"
        outbox.parent.mkdir(parents=True, exist_ok=True)
        name = os.environ.get(ENV.SECRETS_NAME)
        secrets = read_channel_secrets(name) if name else ChannelSecrets()
        email_to = tuple(a.strip() for a in os.environ.get(ENV.EMAIL_TO, "").split(",") if a.strip())
        channels = ChannelConfig(
            smtp_host=os.environ.get(ENV.SMTP_HOST) or None,
            smtp_port=int(os.environ.get(ENV.SMTP_PORT) or 587),
            smtp_user=os.environ.get(ENV.SMTP_USER) or None,
            email_from=os.environ.get(ENV.EMAIL_FROM) or "whispersync@localhost",
            email_to=email_to,
        )
        # The routes of the plan the stack was synthesized from (a user's plan file may change them).
        _notifier = Notifier(NotifierConfig(outbox_path=outbox, channels=channels, secrets=secrets,
                                            dashboard_url=os.environ.get("WHISPERSYNC_DASHBOARD_URL") or None,
                                            routes=deployed_plan().routes),
                             telemetry=_invocations.telemetry)
    return _notifier


def read_channel_secrets(name: str) -> ChannelSecrets:
    """The channel secrets JSON held by SSM parameter or Secrets Manager secret `name` (see the module doc)."""
    import boto3

    try:
        if secret_store(name) == "ssm":
            text = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        else:
            text = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    except Exception as exc:  # the service's message may name the value's location, never the value
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise ConfigError(f"channel secrets {name!r} cannot be read ({code})") from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ConfigError(f"channel secrets {name!r} must be a JSON object (not readable as JSON)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"channel secrets {name!r} must be a JSON object")
    unknown = sorted(set(data) - set(SECRET_NAMES))
    if unknown:
        raise ConfigError(f"channel secrets {name!r}: unknown key(s) {unknown}; known: {', '.join(SECRET_NAMES)}")
    if any(not isinstance(v, str) for v in data.values()):
        raise ConfigError(f"channel secrets {name!r}: every value must be a string")
    return read_secrets(None, data)
