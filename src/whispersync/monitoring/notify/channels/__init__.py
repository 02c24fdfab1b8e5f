"""Notification channels, one module each; :func:`build_channels` makes them from a ChannelConfig."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from whispersync.telemetry import Logger

from .base import BaseChannel, Channel, TransportError, UnconfiguredChannel, mask_url
from .console import ConsoleChannel
from .email import EmailChannel
from .pagerduty import PagerDutyChannel
from .slack import SlackChannel
from .webhook import WebhookChannel

__all__ = ["BaseChannel", "Channel", "ChannelConfig", "ConsoleChannel", "EmailChannel", "PagerDutyChannel",
           "SlackChannel", "TransportError", "UnconfiguredChannel", "WebhookChannel", "build_channels", "mask_url"]


@dataclass(frozen=True)
class ChannelConfig:
    """What the channels need besides their secrets (built from the settings in app.py)."""

    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_starttls: bool = True
    email_from: str = "whispersync@localhost"
    email_to: Sequence[str] = ()


def build_channels(settings: ChannelConfig, secrets: Mapping[str, str], *, log: Logger,
                   clock: Callable[[], float]) -> dict[str, Channel]:
    """Channel name -> channel; a channel without its settings is an UnconfiguredChannel.

    The critical and high Slack channels fall back to the default webhook, so one
    Slack webhook is enough to hear about everything.
    """
    channels: dict[str, Channel] = {}
    default_slack = secrets.get("slack_webhook")
    for name, key in (("slack_critical", "slack_critical_webhook"), ("slack_high", "slack_high_webhook"),
                      ("slack", "slack_webhook")):
        url = secrets.get(key) or default_slack
        channels[name] = (SlackChannel(url) if url else UnconfiguredChannel(
            "slack", f"set WHISPERSYNC_{key.upper()} or WHISPERSYNC_SLACK_WEBHOOK"))
    routing_key = secrets.get("pagerduty_routing_key")
    channels["pagerduty"] = (PagerDutyChannel(routing_key, settings.pagerduty_url) if routing_key else
                             UnconfiguredChannel("pagerduty", "set WHISPERSYNC_PAGERDUTY_ROUTING_KEY"))
    url = secrets.get("webhook_url")
    channels["webhook"] = (WebhookChannel(url, secrets.get("webhook_secret"), clock=clock) if url else
                           UnconfiguredChannel("webhook", "set WHISPERSYNC_WEBHOOK_URL"))
    if settings.smtp_host and settings.email_to:
        channels["email"] = EmailChannel(host=settings.smtp_host, port=settings.smtp_port,
                                         sender=settings.email_from, recipients=list(settings.email_to),
                                         user=settings.smtp_user, password=secrets.get("smtp_password"),
                                         starttls=settings.smtp_starttls)
    else:
        channels["email"] = UnconfiguredChannel("email", "set WHISPERSYNC_SMTP_HOST and WHISPERSYNC_EMAIL_TO")
    channels["console"] = ConsoleChannel(log)
    return channels
