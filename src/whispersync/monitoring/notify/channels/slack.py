"""Slack incoming webhook: one readable Block Kit message per state change.

POST JSON ``{"text": ..., "blocks": [...]}`` to the webhook URL; Slack answers
200 ``ok``. Its documented errors: 400 ``invalid_payload``, 403
``action_prohibited``, 404 ``channel_not_found``/``no_service``, 410
``channel_is_archived`` (all permanent: the webhook must be fixed), 429
``rate_limited`` and 5xx (retried; a 429's Retry-After, "the number of seconds
until you can retry", is honoured by the notifier). The URL's path is the
secret, so only the host is ever shown.
"""

from __future__ import annotations

from typing import Any

import orjson

from whispersync.monitoring.notify.events import AlarmNotification
from whispersync.plan import PRIORITIES

from . import _http
from .base import BaseChannel, mask_url

__all__ = ["SlackChannel", "slack_message"]

_EMOJI = {"ALARM": ":rotating_light:", "OK": ":white_check_mark:", "INSUFFICIENT_DATA": ":grey_question:"}
# Slack truncates a section's text at 3000 characters and rejects longer ones.
_MAX_TEXT = 2900


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(n: AlarmNotification) -> dict[str, Any]:
    """The webhook body: a plain ``text`` fallback (notifications, old clients) and blocks."""
    headline = f"{_EMOJI[n.new_state]} [{n.priority}] {n.new_state}: {n.alarm_name}"
    fields = [
        {"type": "mrkdwn", "text": f"*State*\n{n.old_state} → {n.new_state}"},
        {"type": "mrkdwn", "text": f"*Priority*\n{n.priority} – {PRIORITIES[n.priority]}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(headline, 150), "emoji": True}},
        {"type": "section", "fields": fields},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Reason*\n{n.reason}")}},
    ]
    if n.description:
        blocks.insert(1, {"type": "section", "text": {"type": "mrkdwn", "text": _clip(n.description)}})
    context = [{"type": "mrkdwn", "text": f"State changed {n.to_dict()['StateChangeTime']}"}]
    if n.dashboard_url:
        context.append({"type": "mrkdwn", "text": f"<{n.dashboard_url}|Open the dashboard>"})
    blocks.append({"type": "context", "elements": context})
    return {"text": f"{headline} – {_clip(n.reason, 500)}", "blocks": blocks}


class SlackChannel(BaseChannel):
    kind = "slack"

    def __init__(self, webhook_url: str) -> None:
        self._url = webhook_url
        self.target = mask_url(webhook_url)

    def notify(self, notification: AlarmNotification) -> int | None:
        body = orjson.dumps(slack_message(notification))
        response = _http.post(self._url, content=body)
        return _http.raise_for_status(response, self._url, service="Slack")
