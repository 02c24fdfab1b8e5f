"""Alarm notifications: topics, priority routing, channels, a durable outbox.

An alarm action publishes an :class:`AlarmNotification` to a topic (a name such
as ``"critical"`` or an SNS-style ARN whose last part is the name). The alert
router is subscribed to every topic and picks channels by the notification's
priority (the plan's §4)::

    P1 -> pagerduty, slack_critical      P2 -> slack_high
    P3, P4 -> slack, email               every priority -> webhook, console

Each (notification, channel) pair becomes one row in a SQLite outbox
(``settings.monitoring_db``, tables ``notify_*``) before anything is sent, so a
crash or restart loses nothing: :meth:`Notifier.deliver_due` (run every second by
the background loop of :meth:`Notifier.start`) tries each due row, records every
attempt, and retries failures with exponential backoff and full jitter (base 1 s,
cap 5 min) until it is delivered, fails permanently, or gives up (24 h or 50
attempts) as ``failed``, still listed and re-queued by :meth:`Notifier.retry`.

A channel without configuration is a no-op object; its rows are recorded as
``skipped`` so the routing decision stays visible. Webhook URLs, routing keys and
passwords never leave a channel object: records and logs show only
``scheme://host`` of a target.

Usage::

    notifier = Notifier(settings, telemetry=telemetry)
    notifier.start()
    ids = notifier.publish("critical", AlarmNotification(
        alarm_name="SystemDown", description="Worker errors", priority="P1",
        old_state="OK", new_state="ALARM", reason="Threshold Crossed: 1 datapoint [12.0] >= 10.0",
        reason_data={"recentDatapoints": [12.0]}, timestamp=time.time()))
    notifier.deliveries(status="failed")
"""

from whispersync.monitoring.notify.channels.base import Channel, TransportError
from whispersync.monitoring.notify.events import PRIORITIES, AlarmNotification
from whispersync.monitoring.notify.notifier import DELIVERY_STATUSES, Notifier
from whispersync.monitoring.notify.router import DEFAULT_ROUTES, topic_name

__all__ = [
    "DEFAULT_ROUTES",
    "DELIVERY_STATUSES",
    "PRIORITIES",
    "AlarmNotification",
    "Channel",
    "Notifier",
    "TransportError",
    "topic_name",
]
