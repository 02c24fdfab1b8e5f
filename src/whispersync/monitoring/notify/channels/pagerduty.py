"""PagerDuty Events API v2: trigger on ALARM, resolve on OK, one ``dedup_key`` per alarm.

POST ``{"routing_key", "event_action", "dedup_key", "payload": {...}}`` to
``settings.pagerduty_url`` (https://events.pagerduty.com/v2/enqueue). PagerDuty
answers 202 ``{"status": "success", "dedup_key": ...}``; 400 means the event is
invalid (permanent), 429 and 5xx are retried. The dedup key is
``whispersync/<alarm name>``, so the OK that follows an ALARM resolves the same
incident, and a repeated trigger while it is open adds to it rather than paging again.
INSUFFICIENT_DATA neither opens nor closes an incident; it is skipped.
"""

from __future__ import annotations

import socket
from typing import Any

import orjson

from whispersync.monitoring.notify.events import SEVERITIES, AlarmNotification

from . import _http
from .base import BaseChannel, mask_url

__all__ = ["PagerDutyChannel", "pagerduty_event"]

_SUMMARY_MAX = 1024  # PagerDuty's limit for payload.summary
_DEDUP_MAX = 255


def dedup_key(alarm_name: str) -> str:
    return f"whispersync/{alarm_name}"[:_DEDUP_MAX]


def pagerduty_event(n: AlarmNotification, routing_key: str, *, source: str) -> dict[str, Any]:
    action = "trigger" if n.new_state == "ALARM" else "resolve"
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(n.alarm_name)}
    if action == "trigger":
        event["payload"] = {
            "summary": f"[{n.priority}] {n.alarm_name}: {n.reason}"[:_SUMMARY_MAX],
            "source": source,
            "severity": SEVERITIES[n.priority],
            "timestamp": n.to_dict()["StateChangeTime"],
            "component": "whispersync",
            "group": "alarms",
            "class": n.alarm_name,
            "custom_details": {
                "description": n.description,
                "priority": n.priority,
                "old_state": n.old_state,
                "new_state": n.new_state,
                "reason": n.reason,
                "reason_data": n.reason_data,
                "alarm_arn": n.alarm_arn,
            },
        }
        event["client"] = "WhisperSync"
        if n.dashboard_url:
            event["client_url"] = n.dashboard_url
            event["links"] = [{"href": n.dashboard_url, "text": "WhisperSync dashboard"}]
    return event


class PagerDutyChannel(BaseChannel):
    kind = "pagerduty"

    def __init__(self, routing_key: str, url: str, *, source: str | None = None) -> None:
        self._routing_key = routing_key
        self._url = url
        self.target = mask_url(url)
        self.source = source or socket.gethostname() or "whispersync"

    def skip_reason(self, notification: AlarmNotification) -> str | None:
        if notification.new_state == "INSUFFICIENT_DATA":
            return "not applicable: PagerDuty triggers on ALARM and resolves on OK only"
        return None

    def notify(self, notification: AlarmNotification) -> int | None:
        body = orjson.dumps(pagerduty_event(notification, self._routing_key, source=self.source))
        response = _http.post(self._url, content=body)
        hint = None
        if response.status == 400:
            # PagerDuty's 400 body is {"status": "invalid event", "errors": [...]}: safe and useful.
            try:
                data = orjson.loads(response.text)
                hint = "; ".join(str(e) for e in data.get("errors", [])) or data.get("message")
            except (orjson.JSONDecodeError, AttributeError):
                hint = None
        return _http.raise_for_status(response, self._url, service="PagerDuty", body_hint=hint,
                                      secrets=(self._routing_key,))
