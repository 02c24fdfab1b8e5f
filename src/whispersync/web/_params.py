"""Times and durations a client sends (`"start"`, `?since=1h`), as 4xx when they are bad.

`monitoring.times` says a bad value with InvalidTime (a 4xx); here the error also
names the field the client sent it in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from whispersync.errors import InputError
from whispersync.monitoring.times import InvalidTime, parse_duration, parse_time

T = TypeVar("T")
MAX_LIMIT = 1000
# Pages are read by offset from the start of the list, so how deep a client can page is
# bounded: each page reads every item before it.
_MAX_OFFSET = 100_000
_TOKEN_PREFIX = "o:"


def client_time(value: Any, name: str) -> int | None:
    """ISO 8601 or epoch ms to epoch ms; None stays None."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except InvalidTime as exc:
        raise InvalidTime(f"{name}: {exc}") from None


def client_duration(value: str, name: str) -> float:
    """'15m', '1h', '7d' to seconds."""
    try:
        return parse_duration(value)
    except InvalidTime as exc:
        raise InvalidTime(f"{name}: {exc}") from None


def page(fetch: Callable[[int], Sequence[T]], limit: int, next_token: str | None) -> tuple[list[T], str | None]:
    """One page of a list and the `next_token` of the page after it (None on the last page).

    `fetch(n)` returns the list's first n items, in the list's order; `limit` is
    clamped to 1..MAX_LIMIT. The token is opaque to clients: the offset of the next
    page, so items added at the head of a newest-first list between two calls shift
    what the next page starts with (a client may see an item twice, never miss an old one).
    """
    limit = max(1, min(limit, MAX_LIMIT))
    offset = _offset(next_token)
    items = list(fetch(offset + limit + 1))
    more = len(items) > offset + limit and offset + limit <= _MAX_OFFSET
    return items[offset:offset + limit], (_token(offset + limit) if more else None)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if token is None or token == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text.removeprefix(_TOKEN_PREFIX)
    if not text.startswith(_TOKEN_PREFIX) or not digits.isdigit() or int(digits) > _MAX_OFFSET:
        raise InputError("next_token is not one this server gave; pass the next_token of the previous answer")
    return int(digits)
