"""Alarm notifications: topics, priority routing, channels, a durable outbox.

An alarm action publishes an :class:`AlarmNotification` to a topic (a name such
as ``"critical"`` or an SNS-style ARN whose last part is the name). The alert
router is subscribed to every topic and picks channels by the notification's
priority (the plan's §4)::

    P1 -> pagerduty, slack_critical      P2 -> slack_high
    P3, P4 -> slack, email               every priority -> webhook, console

Each (notification, channel) pair becomes one row in a SQLite outbox
(``NotifierConfig.outbox_path``, tables ``notify_*``) before anything is sent, so a
crash or restart loses nothing: :meth:`Notifier.deliver_due` (run every second by
``whispersync up``, scheduled in app.py) tries each due row, records every
attempt, and retries failures with exponential backoff and full jitter (base 1 s,
cap 5 min) until it is delivered, fails permanently, or gives up (24 h or 50
attempts) as ``failed``, still listed and re-queued by :meth:`Notifier.retry`.

A channel without configuration is a no-op object; its rows are recorded as
``skipped`` so the routing decision stays visible. Webhook URLs, routing keys and
passwords never leave a channel object: records and logs show only
``scheme://host`` of a target.

Usage::

    notifier = Notifier(NotifierConfig(outbox_path=path), telemetry=telemetry)   # app.notifier_config(settings)
    notifier.deliver_due()                                                         # every second in `up`
    ids = notifier.publish("critical", AlarmNotification(
        alarm_name="SystemDown", description="Worker errors", priority="P1",
        old_state="OK", new_state="ALARM", reason="Threshold Crossed: 1 datapoint [12.0] >= 10.0",
        reason_data={"recentDatapoints": [12.0]}, timestamp=time.time()))
    notifier.deliveries(status="failed")
"""

from whispersync.monitoring.notify.channels.base import Channel, TransportError
from whispersync.monitoring.notify.events import AlarmNotification
from whispersync.monitoring.notify.channels import ChannelConfig
from whispersync.monitoring.notify.notifier import DELIVERY_STATUSES, Notifier, NotifierConfig
from whispersync.monitoring.notify.secrets import SECRET_NAMES, ChannelSecrets, read_secrets
from whispersync.monitoring.notify.router import topic_name

__all__ = [
    "DELIVERY_STATUSES",
    "SECRET_NAMES",
    "AlarmNotification",
    "Channel",
    "ChannelConfig",
    "ChannelSecrets",
    "Notifier",
    "NotifierConfig",
    "TransportError",
    "read_secrets",
    "topic_name",
]
