"""The time range a dashboard body asks for, read once for the CLI and the console.

A body's ``start``/``end`` is relative, an ISO 8601 duration before now (``-PT3H``,
``-P1D``, ``-P2W``), or an absolute ISO 8601 time; without ``start``, CloudWatch shows
the last 3 hours. CloudWatch does not say how long its months are: 30 days here.
"""

from __future__ import annotations

import re

from whispersync.errors import InputError
from whispersync.monitoring.times import parse_time

DEFAULT_RANGE_SECONDS = 3 * 3600
_RELATIVE = re.compile(r"-P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
# Seconds per Y, M(onth), W, D, H, M(inute), S.
_UNITS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


def relative_seconds(value: str | None) -> int | None:
    """How far back a relative time (``-PT3H``) reaches, in seconds; None when it is not one."""
    match = _RELATIVE.fullmatch(value or "")
    if not match or not any(match.groups()):
        return None
    return sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS) if n)


def body_range(start: str | None, end: str | None, now_ms: int) -> tuple[int, int]:
    """(start_ms, end_ms) of a body's ``start`` and ``end``; InputError names a value that is neither form."""
    return _point(start or f"-PT{DEFAULT_RANGE_SECONDS}S", now_ms, "start"), \
        _point(end, now_ms, "end") if end else now_ms


def _point(value: str, now_ms: int, what: str) -> int:
    seconds = relative_seconds(value)
    if seconds is not None:
        return now_ms - seconds * 1000
    try:
        return parse_time(value)
    except InputError:
        raise InputError(f"the dashboard's {what} {value[:60]!r} is neither a relative time such as -PT3H"
                         " nor an ISO 8601 time") from None
