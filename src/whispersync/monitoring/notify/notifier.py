"""The Notifier: alarm actions publish here; the outbox delivers, at least once."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from whispersync import catalog
from whispersync.domain import iso_utc
from whispersync.telemetry import Telemetry

from .channels import ChannelConfig, build_channels
from .channels.base import Channel, TransportError
from .events import AlarmNotification
from .outbox import DELIVERY_STATUSES, Outbox, OutboxRow
from .router import Router, topic_name
from .secrets import ChannelSecrets

__all__ = ["DELIVERY_STATUSES", "Notifier", "NotifierConfig"]

_URL_TAIL = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s'\"<>?#]+)[/?#][^\s'\"<>]*", re.IGNORECASE)


@dataclass(frozen=True)
class NotifierConfig:
    """Everything a Notifier needs, as plain values (app.py builds it from the settings)."""

    outbox_path: Path
    dashboard_url: str | None = None
    channels: ChannelConfig = field(default_factory=ChannelConfig)
    secrets: ChannelSecrets = field(default_factory=ChannelSecrets)
    routes: Mapping[str, Sequence[str]] | None = None  # None: the plan's default routes


class Notifier:
    """Routes alarm notifications to channels and delivers them through a durable outbox.

    ``channels`` (name -> :class:`Channel`) and ``routes`` (priority -> channel
    names) replace the ones the config describes; tests inject ``clock`` and
    ``rng`` to step through retries without sleeping. Whoever runs it calls
    :meth:`deliver_due` every ``interval`` seconds (``up`` does, from app.py).

    Retry policy: after the n-th failed attempt the next one is due after a delay
    drawn uniformly from [0, min(max_backoff, base_backoff * 2**(n-1))] ("full
    jitter": retries from many alarms spread out instead of arriving together).
    A delivery gives up, as ``failed``, after ``max_attempts`` attempts or when
    ``max_age`` seconds have passed since it was queued; a permanent error fails it
    at once. Failed deliveries stay listed until :meth:`retry` re-queues them.

    A service's Retry-After (Slack's answer to a 429: "the number of seconds until
    you can retry") comes first: the next attempt waits at least that long, bounded
    by ``max_retry_after``, and so does every other delivery to that channel, since
    Slack warns that sending on while rate limited may get the app disabled.
    """

    def __init__(self, config: NotifierConfig, *, telemetry: Telemetry, clock: Callable[[], float] = time.time,
                 channels: Mapping[str, Channel] | None = None,
                 routes: Mapping[str, Sequence[str]] | None = None,
                 rng: random.Random | None = None, interval: float = 1.0,
                 base_backoff: float = 1.0, max_backoff: float = 300.0,
                 max_attempts: int = 50, max_age: float = 24 * 3600.0, lease: float = 120.0,
                 max_retry_after: float = 300.0) -> None:
        self.config = config
        self._telemetry = telemetry
        self._log = telemetry.logger("whispersync.notify")
        self._clock = clock
        self._rng = rng or random.Random()
        self._secrets: ChannelSecrets = config.secrets
        self.channels: dict[str, Channel] = dict(channels) if channels is not None else build_channels(
            config.channels, self._secrets, log=telemetry.logger("whispersync.alerts"), clock=clock)
        self.router = Router(routes if routes is not None else config.routes, known_channels=list(self.channels))
        self.dashboard_url = config.dashboard_url
        self.interval = interval
        self.base_backoff, self.max_backoff = base_backoff, max_backoff
        self.max_attempts, self.max_age, self.lease = max_attempts, max_age, lease
        self.max_retry_after = max_retry_after
        self._paused_until: dict[str, float] = {}  # channel -> not before (its Retry-After)
        self._outbox = Outbox(config.outbox_path)

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, topic: str, notification: AlarmNotification) -> list[str]:
        """Route *notification* (published to *topic*) and queue one delivery per channel.

        *topic* is a name (``"critical"``) or an SNS-style ARN whose last part is
        the name; the router is subscribed to every topic and picks channels by
        the notification's priority. The rows are durable when this returns; the
        delivery loop sends them. Publishing the same state change again (same
        alarm, states and timestamp) returns the existing deliveries: no duplicates.
        Never raises for a channel problem; raises ValueError for a bad topic.
        """
        name = topic_name(topic)
        if notification.dashboard_url is None and self.dashboard_url:
            notification = _with_dashboard(notification, self.dashboard_url)
        channel_names = self.router.channels_for(name, notification)
        now = self._clock()
        message = orjson.dumps(notification.to_dict()).decode()
        rows = []
        for channel_name in channel_names:
            channel = self.channels[channel_name]
            skip = channel.skip_reason(notification)
            rows.append(OutboxRow(
                id=_delivery_id(notification.id, channel_name), notification_id=notification.id, topic=name,
                channel=channel_name, kind=channel.kind, target=channel.target,
                alarm_name=notification.alarm_name, priority=notification.priority,
                old_state=notification.old_state, new_state=notification.new_state, message=message,
                status="skipped" if skip else "pending", attempts=0, created_at=now, queued_at=now,
                next_attempt_at=None if skip else now, updated_at=now, delivered_at=None,
                last_error=self._scrub(skip) if skip else None))
        self._outbox.add(rows)
        self._log.info("Notification queued", alarm_name=notification.alarm_name, priority=notification.priority,
                       new_state=notification.new_state, topic=name, notification_id=notification.id,
                       channels=[r.channel for r in rows if r.status == "pending"],
                       skipped=[r.channel for r in rows if r.status == "skipped"])
        return self._outbox.ids_for(notification.id, channel_names)

    # -- delivering -------------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Try every delivery that is due now, once each; return how many were tried."""
        now = self._clock()
        tried = 0
        for row in self._outbox.claim_due(now, self.lease):
            paused_until = self._paused_until.get(row.channel, 0.0)
            if paused_until > now:
                self._outbox.postpone(row.id, paused_until, now=now)  # not an attempt: nothing was sent
                continue
            self._attempt(row)
            tried += 1
        return tried

    def _attempt(self, row: OutboxRow) -> None:
        channel = self.channels.get(row.channel)
        started = time.perf_counter()
        http_status: int | None = None
        error: str | None = None
        permanent = False
        retry_after: float | None = None
        try:
            if channel is None:
                raise TransportError(f"no channel named {row.channel!r} any more", permanent=True)
            if not channel.configured:
                # Configuration went away since it was queued (a restart with other settings).
                raise TransportError(channel.skip_reason(AlarmNotification.from_dict(orjson.loads(row.message)))
                                     or "unconfigured", permanent=True)
            http_status = channel.notify(AlarmNotification.from_dict(orjson.loads(row.message)))
        except TransportError as exc:
            error, permanent, http_status, retry_after = exc.message, exc.permanent, exc.http_status, exc.retry_after
        except Exception as exc:  # noqa: BLE001 - a channel bug must not stop the loop or lose the row
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = (time.perf_counter() - started) * 1000
        at = self._clock()
        attempt = row.attempts + 1
        next_at: float | None = None
        not_before: float | None = None
        if retry_after is not None and not permanent:
            not_before = at + min(retry_after, self.max_retry_after)
            self._paused_until[row.channel] = not_before
        if error is None:
            outcome = status = "delivered"
        else:
            error = self._scrub(error)
            if permanent:
                outcome = status = "failed"
            elif attempt >= self.max_attempts or at - row.queued_at >= self.max_age:
                outcome = status = "failed"
                error = f"gave up after {attempt} attempts over {at - row.queued_at:.0f}s: {error}"
            else:
                outcome, status = "retry", "pending"
                next_at = at + self.backoff(attempt)
                if not_before is not None:
                    next_at = max(next_at, not_before)
        self._outbox.record_attempt(row, at=at, outcome=outcome, http_status=http_status, error=error,
                                    duration_ms=duration_ms, status=status, next_attempt_at=next_at)
        fields = {"delivery_id": row.id, "channel": row.channel, "target": row.target,
                  "alarm_name": row.alarm_name, "priority": row.priority, "new_state": row.new_state,
                  "attempt": attempt, "outcome": outcome, "http_status": http_status,
                  "duration_ms": round(duration_ms, 1)}
        if outcome == "delivered":
            self._log.info("Notification delivered", **fields)
        elif outcome == "retry":
            self._log.warning("Notification delivery failed; will retry", error=error,
                              retry_in_s=round(next_at - at, 3) if next_at else None, **fields)
        else:
            self._log.error("Notification delivery failed", error=error, permanent=permanent, **fields)
        self._telemetry.metrics.record(catalog.NOTIFICATION_ATTEMPTS, 1, {"Channel": row.channel, "Outcome": outcome})

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: full jitter over an exponential ceiling."""
        ceiling = min(self.max_backoff, self.base_backoff * 2 ** min(attempt - 1, 32))
        return self._rng.uniform(0, ceiling)

    def retry(self, delivery_ids: Sequence[str] | None = None) -> int:
        """Re-queue failed deliveries (all of them, or those named) to be tried now; return the count."""
        return self._outbox.requeue(self._clock(), delivery_ids)

    def close(self) -> None:
        self._outbox.close()

    # -- reading ----------------------------------------------------------------------------------

    def deliveries(self, *, status: str | None = None, limit: int = 100,
                   ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Deliveries, newest first, each with every attempt (attempted_at, outcome, http status, error).

        Targets are ``scheme://host`` only and errors are scrubbed of secrets.
        """
        if status is not None and status not in DELIVERY_STATUSES:
            raise ValueError(f"status must be one of {list(DELIVERY_STATUSES)}, not {status!r}")
        out = []
        for row, attempts in self._outbox.rows(status=status, limit=max(1, limit), ids=ids):
            # The outbox keeps epoch seconds (it compares and orders them); answers write ISO (docs/json.md).
            attempts = [{"attempt": a["attempt"], "attempted_at": iso_utc(a["time"]), "outcome": a["outcome"],
                         "http_status": a["http_status"], "error": a["error"], "duration_ms": a["duration_ms"]}
                        for a in attempts]
            next_attempt_at = row.next_attempt_at if row.status == "pending" else None
            out.append({
                "id": row.id, "notification_id": row.notification_id, "topic": row.topic,
                "channel": row.channel, "kind": row.kind, "target": row.target,
                "alarm_name": row.alarm_name, "priority": row.priority, "old_state": row.old_state,
                "new_state": row.new_state, "status": row.status, "attempt_count": row.attempts,
                "created_at": iso_utc(row.created_at), "next_attempt_at": _iso_or_none(next_attempt_at),
                "delivered_at": _iso_or_none(row.delivered_at), "last_error": row.last_error, "attempts": attempts,
            })
        return out

    # -- secrets ----------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Mask every known secret and every URL's path/query in *text* (defence in depth:
        channels already build their messages without secrets)."""
        for secret in self._secrets.values_to_scrub():
            text = text.replace(secret, "***")
        return _URL_TAIL.sub(r"\1/***", text)

    def __repr__(self) -> str:
        return f"<Notifier channels={sorted(self.channels)} db={self.config.outbox_path}>"


def _iso_or_none(epoch: float | None) -> str | None:
    return None if epoch is None else iso_utc(epoch)


def _delivery_id(notification_id: str, channel: str) -> str:
    return f"{notification_id[:16]}-{channel}"


def _with_dashboard(n: AlarmNotification, url: str) -> AlarmNotification:
    from dataclasses import replace

    return replace(n, dashboard_url=url)
