"""Times and durations a client sends (`"start"`, `?since=1h`), as 4xx when they are bad.

`monitoring.times` says a bad value with InvalidTime (a 4xx); here the error also
names the field the client sent it in.
"""

from __future__ import annotations

from typing import Any

from whispersync.monitoring.times import InvalidTime, parse_duration, parse_time


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
