"""Structured logs with Powertools Logger keys, built as dicts without stdlib logging.

stdlib logging with an orjson formatter costs 20-24 µs a line and Powertools
80-100 µs; building the dict here and handing it to the sink costs a few µs.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import TYPE_CHECKING, Any

from ._correlation import get_correlation_id
from ._redact import (
    MASK,
    _key_cache,
    _maybe_secret_unknown,
    _plain,
    is_secret_key,
    redact_fields,
    redact_string,
    redact_value,
)
from ._tracer import _NO_SPAN, Span, _get_current_span, _scalars, current_ids

if TYPE_CHECKING:
    from ._telemetry import Telemetry

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}

# Keys the logger owns; an extra field with one of these names is kept under
# "extra_<name>" rather than overwriting it.
_RESERVED = frozenset({"level", "location", "message", "timestamp", "service", "logger"})

_getframe = sys._getframe

# "function:line" of each call site, by (code object, instruction offset). A frame's
# f_lineno is worked out by scanning its function's line table from the start, so it
# costs more the longer the function: ~4 µs at the end of the worker's process()
# (issue 15 profile), where the lookup costs ~0.2 µs. The key holds the code's id, as
# hashing a code object hashes its constants (~1 µs); the value keeps the code alive,
# so the id is not reused while its entries stand. Call sites are places in code: the
# cache stays small, and is cleared if it ever fills (generated code).
_locations: dict[tuple[int, int], tuple[Any, str]] = {}
_LOCATIONS_MAX = 4096


def _location(frame: Any) -> str:
    code = frame.f_code
    key = (id(code), frame.f_lasti)
    entry = _locations.get(key)
    if entry is None:
        if len(_locations) >= _LOCATIONS_MAX:
            _locations.clear()
        entry = _locations[key] = (code, f"{code.co_name}:{frame.f_lineno}")
    return entry[1]

# A log line carries client text (an unknown agent name, a title, a query): each
# string is cut to this many characters before redaction, so no line is megabytes
# and redaction's cost is bounded. A traceback keeps its end, where the error is.
MAX_VALUE_CHARS = 2048
MAX_TRACEBACK_CHARS = 8192
_MAX_ITEMS = 100  # items kept of a list or dict field
_MAX_DEPTH = 8  # nesting kept of a container field


def _cut(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]" if len(text) > limit else text


def _bounded(value: Any, depth: int = 0) -> Any:
    """*value* with long strings cut and containers limited; scalars as they are."""
    kind = type(value)
    if kind is str:
        return _cut(value)
    if kind is int or kind is float or kind is bool or value is None:
        return value
    if depth >= _MAX_DEPTH:
        return "…[nested too deeply]"
    if isinstance(value, dict):
        items = list(value.items())
        out = {k: _bounded(v, depth + 1) for k, v in items[:_MAX_ITEMS]}
        if len(items) > _MAX_ITEMS:
            out["…"] = f"[{len(items) - _MAX_ITEMS} more keys]"
        return out
    if kind is list or kind is tuple:
        out_list = [_bounded(v, depth + 1) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            out_list.append(f"…[{len(value) - _MAX_ITEMS} more items]")
        return out_list
    return value


def _bound_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Cut the values of a fresh ``**fields`` dict in place (the caller owns it)."""
    for key, value in fields.items():
        kind = type(value)
        if kind is str:
            if len(value) > MAX_VALUE_CHARS:
                fields[key] = _cut(value)
        elif kind is not int and kind is not float and kind is not bool and value is not None:
            fields[key] = _bounded(value)
    return fields


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``redact_fields(_bound_fields(fields))`` in one pass over a fresh ``**fields`` dict.

    No key is trusted by name: the logger cannot tell a memo id our code made from
    a client's string passed under the same key, so every string is checked for
    secret shapes. What makes this cheap is the order: a secret key costs one
    cached lookup, a number or bool nothing, a string a few substring tests.
    """
    cache, plain = _key_cache, _plain
    for key, value in fields.items():
        secret = cache.get(key)
        if secret is None:
            secret = is_secret_key(key)
        if secret:
            fields[key] = MASK
            continue
        kind = type(value)
        if kind is str:
            if len(value) > MAX_VALUE_CHARS:
                value = fields[key] = _cut(value)
            if value not in plain and _maybe_secret_unknown(value):
                fields[key] = redact_string(value)
        elif kind is not int and kind is not float and kind is not bool and value is not None:
            fields[key] = redact_value(_bounded(value))
    return fields


# ".000Z" to ".999Z": a line's milliseconds are looked up, not formatted. A format
# spec ("{:03d}") is a rarely run path through CPython, and in the pipeline, between
# SQLite calls that evict it from the CPU's caches, it cost ~4 µs a line (issue 15).
_MS_SUFFIX = tuple(f".{ms:03d}Z" for ms in range(1000))


class _Clock:
    """ISO 8601 UTC timestamps with milliseconds, formatting each second once."""

    __slots__ = ("_clock_ns", "_cached", "_last")

    def __init__(self, clock_ns: Any) -> None:
        self._clock_ns = clock_ns
        # One tuple each: swapped atomically across threads.
        self._cached: tuple[int, str] = (-1, "")  # (second, its text)
        self._last: tuple[int, str] = (-1, "")  # (millisecond, its text): a memo's lines share it

    def iso_now(self) -> str:
        return self.iso(self._clock_ns())

    def iso(self, time_ns: int) -> str:
        ms = time_ns // 1_000_000
        last_ms, text = self._last
        if ms == last_ms:
            return text
        second = ms // 1000
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cached = (second, prefix)
        text = prefix + _MS_SUFFIX[ms - second * 1000]
        self._last = (ms, text)
        return text


class Logger:
    """Writes one structured record per call; get one from ``telemetry.logger(name)``.

    Extra keyword fields land flat in the record. Values under secret-looking
    keys, and secret-shaped strings, are masked before the record leaves.
    """

    __slots__ = ("_telemetry", "_name", "_bound", "_min")

    def __init__(self, telemetry: Telemetry, name: str, bound: dict[str, Any] | None = None) -> None:
        self._telemetry = telemetry
        self._name = name
        self._bound = bound or {}
        # Disabled telemetry: every level is below the threshold, one compare per call.
        self._min = LEVELS[telemetry.log_level] if telemetry.enabled else 100

    @property
    def name(self) -> str:
        return self._name

    def bind(self, **fields: Any) -> Logger:
        """A logger that adds *fields* to every record."""
        merged = {**self._bound, **redact_fields(_bound_fields(fields))}
        return Logger(self._telemetry, self._name, merged)

    def debug(self, message: str, **fields: Any) -> None:
        if self._min <= 10:
            self._log("DEBUG", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        if self._min <= 20:
            self._log("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        if self._min <= 30:
            self._log("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        if self._min <= 40:
            self._log("ERROR", message, fields)

    def exception(self, message: str, **fields: Any) -> None:
        """Log at ERROR with the active exception: ``exception``, ``exception_name``, ``error_type``."""
        if self._min > 40:
            return
        exc = sys.exc_info()[1]
        trace = None
        if exc is not None:
            name = type(exc).__name__
            trace = "".join(traceback.format_exception(exc))
            if len(trace) > MAX_TRACEBACK_CHARS:
                trace = f"…[truncated {len(trace) - MAX_TRACEBACK_CHARS} chars]{trace[-MAX_TRACEBACK_CHARS:]}"
            fields["exception_name"] = name
            fields.setdefault("error_type", name)
        self._log("ERROR", message, fields, trace)

    def _log(self, level: str, message: str, fields: dict[str, Any], trace: str | None = None) -> None:
        telemetry = self._telemetry
        try:
            location = _location(_getframe(2))  # the caller of debug/info/...
            cid = get_correlation_id()
            span = _get_current_span()
            if type(span) is Span:  # ours: current_ids() without its call
                trace_id, span_id = span.trace_id, span.span_id
            elif span is _NO_SPAN:
                trace_id = span_id = None
            else:  # another's span (an OTel SDK's, a propagated context)
                trace_id, span_id = current_ids() or (None, None)
            entry = ("logs", Logger._record, self, level, message, fields, trace, location, telemetry._clock_ns(), cid,
                     trace_id, span_id)
            # Built later only from values that cannot change meanwhile: a line whose
            # fields hold a container is built now, showing it as the caller saw it.
            if telemetry._deferred is not None and type(message) is str and _scalars(fields):
                telemetry._defer(entry)
                return
            record = self._record(*entry[3:])
        except Exception:
            telemetry._fault()
            return
        try:
            telemetry._sink_emit("logs", record)
        except Exception:  # noqa: BLE001 - counted, as Telemetry._emit does (one call less per record)
            telemetry.faults += 1

    def _record(self, level: str, message: Any, fields: dict[str, Any], trace: str | None, location: str,
                time_ns: int, cid: str | None, trace_id: str | None, span_id: str | None) -> dict[str, Any]:
        """The line's record, Powertools keys first; *fields* is the call's own dict (changed in place)."""
        if type(message) is not str or len(message) > MAX_VALUE_CHARS or (
            message not in _plain and _maybe_secret_unknown(message)
        ):
            message = redact_string(_cut(message if type(message) is str else str(message)))
        telemetry = self._telemetry
        record = {
            "level": level,
            "location": location,
            "message": message,
            "timestamp": telemetry._clock.iso(time_ns),
            "service": telemetry.service,
            "logger": self._name,
        }
        if cid is not None:
            record["correlation_id"] = cid
        if trace_id is not None:
            record["trace_id"], record["span_id"] = trace_id, span_id
        if self._bound:
            record.update(self._bound)
        if fields:
            if not _RESERVED.isdisjoint(fields):
                for key in _RESERVED.intersection(fields):
                    fields["extra_" + key] = fields.pop(key)
            record.update(_clean_fields(fields))
        if trace is not None:
            record["exception"] = redact_string(trace)
        return record

    def __repr__(self) -> str:
        return f"<Logger {self._name!r}>"
