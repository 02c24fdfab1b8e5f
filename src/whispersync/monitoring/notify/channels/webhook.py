"""A generic webhook: the notification as JSON, signed with HMAC-SHA256.

Request::

    POST <webhook_url>
    Content-Type: application/json
    X-WhisperSync-Timestamp: 1767225600              (unix seconds, when sent)
    X-WhisperSync-Notification-Id: 3f9a...           (same on every retry: dedupe on it)
    X-WhisperSync-Signature: sha256=<hex>            (only when webhook_secret is set)

    <AlarmNotification.to_dict() as JSON>

The signature is ``HMAC-SHA256(webhook_secret, f"{timestamp}.".encode() + raw_body)``
in lowercase hex. A receiver recomputes it over the raw body bytes, compares in
constant time, and rejects a timestamp more than five minutes old, so a captured
request cannot be replayed later. Any 2xx is success; 408, 429 and 5xx are retried;
other statuses (and redirects, which are not followed) fail permanently.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import orjson

from whispersync.monitoring.notify.events import AlarmNotification

from . import _http
from .base import BaseChannel, mask_url

__all__ = ["WebhookChannel", "sign", "verify"]

SIGNATURE_HEADER = "X-WhisperSync-Signature"
TIMESTAMP_HEADER = "X-WhisperSync-Timestamp"
ID_HEADER = "X-WhisperSync-Notification-Id"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None,
           tolerance: float = 300.0) -> bool:
    """What a receiver does: check the signature and that the timestamp is recent."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel(BaseChannel):
    kind = "webhook"

    def __init__(self, url: str, secret: str | None, *, clock: Callable[[], float] = time.time) -> None:
        self._url = url
        self._secret = secret
        self._clock = clock
        self.target = mask_url(url)

    def notify(self, notification: AlarmNotification) -> int | None:
        body = orjson.dumps(notification.to_dict())
        timestamp = str(int(self._clock()))
        headers = {TIMESTAMP_HEADER: timestamp, ID_HEADER: notification.id}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        response = _http.post(self._url, content=body, headers=headers)
        return _http.raise_for_status(response, self._url, service="webhook",
                                      secrets=(self._secret,) if self._secret else ())
