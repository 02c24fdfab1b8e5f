"""Times as users and APIs write them, to epoch milliseconds: one parser for the CLI,
the HTTP API and the query engine, so `--start`, `"start"` and `StartTime` agree.

Every value is range-checked here, once: a time outside 1970-01-01 … 9999-12-31 or a
look-back longer than `MAX_LOOKBACK_SECONDS` is the caller's mistake (a 4xx), never a
number that overflows later inside a query (`since=9999999d`, `{"at": 1e300}`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from whispersync.errors import InputError

__all__ = [
    "MAX_LOOKBACK_SECONDS", "MAX_TIME_MS", "InvalidTime", "lookback_start", "parse_duration", "parse_log_timestamp",
    "parse_time",
]

# 9999-12-31T23:59:59.999Z, the last instant ISO 8601's four-digit years can write.
MAX_TIME_MS = 253_402_300_799_999
# A century: "since 36500d" is how people say "since ever". A look-back that reaches
# before 1970 starts at 1970 (see `lookback_start`).
MAX_LOOKBACK_SECONDS = 36_600 * 86_400

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"\s*(\d{1,12}(?:\.\d{1,6})?)\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class InvalidTime(InputError):
    """A time or duration that cannot be read, or is out of range: the caller's value."""

    code = "invalid_input"


def parse_time(value: Any, *, numbers_in_seconds: bool = False) -> int:
    """ISO 8601 (UTC unless it says otherwise) or an epoch number to epoch milliseconds."""
    return _in_range(_to_ms(value, numbers_in_seconds), value)


# What log producers write: ISO 8601 with "T" or a space, a "." or "," before the
# fraction (Python logging's asctime, Powertools' default), any number of fraction
# digits, and "Z", "+00:00", "+0000", "-0530", "+05" or nothing after it.
_LOG_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(?:([Zz])|(?:UTC)?([+-])(\d{2}):?(\d{2})?)?"
)


def parse_log_timestamp(value: Any) -> int:
    """A log record's time, in any form common producers write it, to epoch milliseconds.

    Strings: ISO 8601 and its relatives (see ``_LOG_TIME``): Powertools' default
    ``2026-12-02 03:08:37,969+0000`` and its ``datefmt`` variants, structlog's
    ``2026-12-02T03:08:37.969123Z``, python-json-logger's ``2026-12-02 03:08:37,969``.
    An offset is always applied; a time without one is taken as UTC (a log file does
    not say which zone its writer lived in, and Lambda's is UTC). Epoch numbers, or
    strings of digits, are told apart by magnitude: seconds below 10^11 (year 5138),
    milliseconds below 10^14, microseconds below 10^17, nanoseconds above.
    Raises ``InvalidTime`` for anything else.
    """
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d{1,20}(?:\.\d{1,9})?", text):
            return _in_range(_epoch_by_magnitude(float(text) if "." in text else int(text), value), value)
        match = _LOG_TIME.fullmatch(text) if len(text) <= 64 else None
        if match is None:
            return parse_time(value)  # its error message names the forms; the rest it reads too
        year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
        micros = int((fraction or "0")[:6].ljust(6, "0"))
        offset = 0 if zulu or not sign else (int(off_h) * 60 + int(off_m or 0)) * (1 if sign == "+" else -1)
        try:
            when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                            micros, tzinfo=UTC)
            ms = (when - _EPOCH) // timedelta(milliseconds=1) - offset * 60_000
        except (ValueError, OverflowError):
            raise InvalidTime(f"{text!r} is not a valid date and time") from None
        return _in_range(ms, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return _in_range(_epoch_by_magnitude(value, value), value)
    return parse_time(value)  # raises, naming the value


def _epoch_by_magnitude(number: float, value: Any) -> int:
    size = abs(number)
    if size > 10 * MAX_TIME_MS * 1_000_000:
        raise InvalidTime(f"{value!r} is out of range for a time")
    divisor = 0.001 if size < 1e11 else 1 if size < 1e14 else 1_000 if size < 1e17 else 1_000_000
    return int(number // divisor) if divisor >= 1 else round(number * 1000)


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
