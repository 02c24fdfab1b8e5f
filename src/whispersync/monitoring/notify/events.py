"""What an alarm publishes when its state changes, and the priorities it carries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from whispersync.plan import PRIORITIES, STATES

__all__ = ["SEVERITIES", "AlarmNotification"]


#: Priority -> PagerDuty Events v2 severity (critical, error, warning, info).
SEVERITIES: dict[str, str] = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}



def _iso_cloudwatch(epoch_s: float) -> str:
    """CloudWatch's SNS timestamp shape: ``2021-06-21T19:29:35.443+0000``."""
    when = datetime.fromtimestamp(epoch_s, tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def _parse_cloudwatch_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@dataclass(frozen=True)
class AlarmNotification:
    """One alarm state change, as an alarm action publishes it to a topic.

    The counterpart of the JSON message CloudWatch sends to SNS; :meth:`to_dict`
    uses CloudWatch's field names (``AlarmName``, ``NewStateValue`` ...) so a
    receiver written for CloudWatch alarms reads ours too.

    ``reason_data`` holds what decided the state (the datapoints, the composite
    rule's inputs); ``trigger`` optionally describes the alarm's metric the way
    CloudWatch's ``Trigger`` object does (MetricName, Namespace, Threshold...).
    """

    alarm_name: str
    description: str | None
    priority: str
    old_state: str
    new_state: str
    reason: str
    reason_data: dict[str, Any]
    timestamp: float
    alarm_arn: str | None = None
    dashboard_url: str | None = None
    trigger: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.alarm_name:
            raise ValueError("alarm_name must not be empty")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {list(PRIORITIES)}, not {self.priority!r}")
        for name in ("old_state", "new_state"):
            if getattr(self, name) not in STATES:
                raise ValueError(f"{name} must be one of {list(STATES)}, not {getattr(self, name)!r}")

    @property
    def id(self) -> str:
        """Stable id of this state change: the same change published twice has the same id."""
        key = f"{self.alarm_name}\x00{self.old_state}\x00{self.new_state}\x00{self.timestamp!r}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]

    @property
    def subject(self) -> str:
        """A one-line summary, e.g. ``[P1] ALARM: SystemDown``."""
        return f"[{self.priority}] {self.new_state}: {self.alarm_name}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "AlarmName": self.alarm_name,
            "AlarmDescription": self.description,
            "AlarmArn": self.alarm_arn,
            "NewStateValue": self.new_state,
            "NewStateReason": self.reason,
            "NewStateReasonData": self.reason_data,
            "StateChangeTime": _iso_cloudwatch(self.timestamp),
            "OldStateValue": self.old_state,
            "Trigger": self.trigger,
            # WhisperSync's additions.
            "Priority": self.priority,
            "PriorityDescription": PRIORITIES[self.priority],
            "DashboardUrl": self.dashboard_url,
            "Timestamp": self.timestamp,
            "NotificationId": self.id,
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlarmNotification:
        """The inverse of :meth:`to_dict` (used to re-read the outbox)."""
        timestamp = data.get("Timestamp")
        if timestamp is None:
            timestamp = _parse_cloudwatch_time(data["StateChangeTime"])
        return cls(
            alarm_name=data["AlarmName"],
            description=data.get("AlarmDescription"),
            priority=data.get("Priority", "P3"),
            old_state=data["OldStateValue"],
            new_state=data["NewStateValue"],
            reason=data.get("NewStateReason", ""),
            reason_data=data.get("NewStateReasonData") or {},
            timestamp=float(timestamp),
            alarm_arn=data.get("AlarmArn"),
            dashboard_url=data.get("DashboardUrl"),
            trigger=data.get("Trigger"),
        )
