"""The console/log channel: one structured log line per notification, always on."""

from __future__ import annotations

from whispersync.monitoring.notify.events import AlarmNotification
from whispersync.telemetry import Logger

from .base import BaseChannel

__all__ = ["ConsoleChannel"]


class ConsoleChannel(BaseChannel):
    kind = "console"
    target = "log"

    def __init__(self, log: Logger) -> None:
        self._log = log

    def notify(self, notification: AlarmNotification) -> int | None:
        n = notification
        level = self._log.error if n.new_state == "ALARM" and n.priority in ("P1", "P2") else (
            self._log.warning if n.new_state == "ALARM" else self._log.info)
        level(n.subject, alarm_name=n.alarm_name, priority=n.priority, old_state=n.old_state,
              new_state=n.new_state, reason=n.reason, state_change_time=n.to_dict()["StateChangeTime"],
              notification_id=n.id, dashboard_url=n.dashboard_url)
        return None
