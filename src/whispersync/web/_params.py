"""Times and durations a client sends (`"start"`, `?since=1h`), as 4xx when they are bad.

`monitoring.times` says a bad value with ValueError, for every caller alike; at this
boundary the value is the client's, so it becomes an InputError naming the field.
"""

from __future__ import annotations

from typing import Any

from whispersync.errors import InputError
from whispersync.monitoring.times import parse_duration, parse_time


def client_time(value: Any, name: str) -> int | None:
    """ISO 8601 or epoch ms to epoch ms; None stays None."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None


def client_duration(value: str, name: str) -> float:
    """'15m', '1h', '7d' to seconds."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None
