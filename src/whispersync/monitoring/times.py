"""Times as users and APIs write them, to epoch milliseconds: one parser for the CLI,
the HTTP API and the query engine, so `--start`, `"start"` and `StartTime` agree.

Every value is range-checked here, once: a time outside 1970-01-01 … 9999-12-31 or a
look-back longer than `MAX_LOOKBACK_SECONDS` is the caller's mistake (a 4xx), never a
number that overflows later inside a query (`since=9999999d`, `{"at": 1e300}`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from whispersync.errors import InputError

__all__ = ["MAX_LOOKBACK_SECONDS", "MAX_TIME_MS", "InvalidTime", "lookback_start", "parse_duration", "parse_time"]

# 9999-12-31T23:59:59.999Z, the last instant ISO 8601's four-digit years can write.
MAX_TIME_MS = 253_402_300_799_999
# A century: "since 36500d" is how people say "since ever". A look-back that reaches
# before 1970 starts at 1970 (see `lookback_start`).
MAX_LOOKBACK_SECONDS = 36_600 * 86_400

_DURATION = re.compile(r"\s*(\d{1,12}(?:\.\d{1,6})?)\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class InvalidTime(InputError):
    """A time or duration that cannot be read, or is out of range: the caller's value."""

    code = "invalid_input"


def parse_time(value: Any, *, numbers_in_seconds: bool = False) -> int:
    """ISO 8601 (UTC unless it says otherwise) or an epoch number to epoch milliseconds."""
    return _in_range(_to_ms(value, numbers_in_seconds), value)


def parse_duration(value: str) -> float:
    """'90s', '15m', '1h', '7d' → seconds, at most `MAX_LOOKBACK_SECONDS`."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) and len(value) <= 40 else None
    if not match:
        raise InvalidTime(f"{str(value)[:40]!r} is not a duration like 30s, 15m, 1h or 7d")
    seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds > MAX_LOOKBACK_SECONDS:
        raise InvalidTime(f"{value.strip()!r} is longer than the longest look-back, "
                         f"{MAX_LOOKBACK_SECONDS // 86_400}d")
    return seconds


def lookback_start(now_ms: int, seconds: float) -> int:
    """The start of a look-back window, never before the epoch."""
    return max(0, now_ms - int(seconds * 1000))


def _to_ms(value: Any, numbers_in_seconds: bool) -> int:
    if isinstance(value, bool):
        raise InvalidTime(f"{value!r} is not a time")
    if isinstance(value, (int, float)):
        scaled = value * 1000 if numbers_in_seconds else value
        if isinstance(scaled, float) and not math.isfinite(scaled):
            raise InvalidTime(f"{value!r} is not a time")
        if abs(scaled) > 10 * MAX_TIME_MS:  # int() of 1e300 is exact but useless; say so early
            raise InvalidTime(f"{value!r} is out of range for a time")
        return int(scaled)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{10,16}", text):
            return int(text)
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00")) if len(text) <= 64 else None
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            try:
                return int(when.timestamp() * 1000)
            except (OverflowError, ValueError):  # year 1 with a negative offset, and the like
                raise InvalidTime(f"{text!r} is out of range for a time") from None
    shown = repr(value) if len(repr(value)) <= 64 else repr(value)[:60] + "…"
    raise InvalidTime(f"{shown} is not ISO 8601 (2026-11-27T13:00:00Z) or epoch milliseconds")


def _in_range(ms: int, value: Any) -> int:
    if not 0 <= ms <= MAX_TIME_MS:
        shown = repr(value) if len(repr(value)) <= 64 else repr(value)[:60] + "…"
        raise InvalidTime(f"{shown} is out of range: times run from 1970-01-01 to 9999-12-31")
    return ms
