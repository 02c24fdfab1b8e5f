"""The notification channel port, its error, and the no-op channel for what is not configured.

Contract (as healthchecks' ``Transport.notify()``): :meth:`Channel.notify` sends
one notification and returns on success, optionally with the HTTP status the
service answered (recorded with the attempt); it raises :class:`TransportError`
on failure, ``permanent=True`` when a retry cannot help (a 400 from PagerDuty, a
Slack webhook that was revoked). A channel never puts its secret (webhook URL,
routing key, password) in an error message; ``target`` is ``scheme://host`` only.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from whispersync.errors import ExternalServiceError
from whispersync.monitoring.notify.events import AlarmNotification

__all__ = ["BaseChannel", "Channel", "TransportError", "UnconfiguredChannel", "mask_url"]


class TransportError(ExternalServiceError):
    """A channel could not deliver; ``permanent`` says a retry cannot help.

    ``retry_after`` is the service's own "not before" (seconds, from a Retry-After
    header on a 429 or 503), which the notifier honours over its backoff."""

    def __init__(self, message: str, permanent: bool = False, *, http_status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, permanent=permanent)
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after


@runtime_checkable
class Channel(Protocol):
    """Where notifications go. ``kind`` names the transport (slack, pagerduty ...)."""

    kind: str
    target: str
    configured: bool

    def skip_reason(self, notification: AlarmNotification) -> str | None:
        """Why this channel does not take *notification* (None: it does)."""
        ...

    def notify(self, notification: AlarmNotification) -> int | None:
        """Send it; return None or the HTTP status; raise TransportError on failure."""
        ...


class BaseChannel:
    """Defaults for a configured channel that takes every notification."""

    kind = "base"
    target = ""
    configured = True

    def skip_reason(self, notification: AlarmNotification) -> str | None:
        return None

    def notify(self, notification: AlarmNotification) -> int | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.target}>"


class UnconfiguredChannel(BaseChannel):
    """Stands in for a channel whose settings are missing: routed to, never sends.

    Its deliveries are recorded as ``skipped`` with ``hint`` (which setting to set),
    so "why did nobody get paged?" has an answer in ``notifications list``.
    """

    configured = False

    def __init__(self, kind: str, hint: str) -> None:
        self.kind = kind
        self.target = "unconfigured"
        self.hint = hint

    def skip_reason(self, notification: AlarmNotification) -> str | None:
        return f"unconfigured: {self.hint}"

    def notify(self, notification: AlarmNotification) -> int | None:
        return None


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/xyz`` -> ``https://hooks.slack.com``.

    Slack and many webhooks carry their secret in the path or query; the host is
    all anyone needs to tell targets apart.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "invalid-url"
    if not parts.scheme or not host:
        return "invalid-url"
    return f"{parts.scheme}://{host}"
