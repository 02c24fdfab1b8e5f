"""The one place notification channels make HTTP requests (patch or fake it here).

httpx errors are translated into :class:`TransportError` with messages that
name the error type and the masked host only: httpx puts the full URL (and so a
Slack webhook's secret path) into some of its messages.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from .base import TransportError, mask_url

__all__ = ["Response", "parse_retry_after", "post", "raise_for_status"]

_MASK = "***"
# Path segments and query values at least this long may be secrets (Slack's webhook
# path, a token parameter); shorter ones ("v2", "api") are not worth masking.
_MIN_SECRET_PART = 6

#: Seconds; a channel that hangs must not hold the delivery loop for long.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "WhisperSync-Notifier/1"

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _get_client() -> httpx.Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False,
                                   headers={"User-Agent": USER_AGENT})
        return _client


@dataclass(frozen=True)
class Response:
    status: int
    text: str
    retry_after: float | None = None  # seconds, from the Retry-After header


_DELAY_SECONDS = re.compile(r"[0-9]{1,10}")
_FAR_FUTURE = 1e10  # a longer delay-seconds than fits 10 digits: the caller bounds it anyway


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) → seconds from now.

    None when absent or unreadable; a date in the past is 0. The caller bounds the result.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value) if _DELAY_SECONDS.fullmatch(value) else _FAR_FUTURE
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; one without a zone is not an HTTP-date
        return None
    return max(0.0, when.timestamp() - time.time())


def post(url: str, *, content: bytes, headers: dict[str, str] | None = None) -> Response:
    """POST *content*; network errors become retryable TransportErrors naming only the host."""
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    try:
        response = _get_client().post(url, content=content, headers=all_headers)
    except httpx.TimeoutException as exc:
        raise TransportError(f"timed out talking to {mask_url(url)} ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise TransportError(f"could not reach {mask_url(url)} ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise TransportError(f"request to {mask_url(url)} failed ({type(exc).__name__})") from None
    return Response(response.status_code, response.text[:500], parse_retry_after(response.headers.get("retry-after")))


def raise_for_status(response: Response, url: str, *, service: str, body_hint: Any = None,
                     secrets: tuple[str, ...] = ()) -> int:
    """2xx -> the status; 408, 429 and 5xx -> retryable; any other status -> permanent.

    The error quotes the service's answer, which some services fill with the request
    they got (a 404 naming the path): the URL's path and query, and `secrets`, are
    masked in it, since the error is logged and kept in the outbox.
    """
    status = response.status
    if 200 <= status < 300:
        return status
    detail = _without_secrets(str(body_hint) if body_hint is not None else response.text.strip(), url, secrets)[:200]
    message = f"{service} at {mask_url(url)} answered HTTP {status}" + (f": {detail}" if detail else "")
    retryable = status in (408, 429) or status >= 500
    raise TransportError(message, permanent=not retryable, http_status=status,
                         retry_after=response.retry_after if retryable else None)


def _without_secrets(text: str, url: str, secrets: tuple[str, ...]) -> str:
    parts = urlsplit(url)
    candidates = {url, parts.path, parts.query, *secrets,
                  *(seg for seg in parts.path.split("/") if len(seg) >= _MIN_SECRET_PART),
                  *(value for _, value in parse_qsl(parts.query) if len(value) >= _MIN_SECRET_PART)}
    for secret in sorted((c for c in candidates if c and len(c) > 1), key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text
