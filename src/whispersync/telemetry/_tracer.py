"""Spans: the OpenTelemetry data model with X-Ray's vocabulary, without the OTel SDK.

An OTel SDK span with a batch processor costs ~80 µs; this one a few µs. Our
:class:`Span` *is* an ``opentelemetry.trace.Span`` and is made current through
``opentelemetry.context``, so spans started by OTel instrumentations nest
under ours and ours under theirs. :attr:`Tracer.otel_provider` is a
``TracerProvider`` whose spans are these same objects, written to the same sink.

Annotations are indexed and searchable (X-Ray); metadata is not. OTel
attributes are stored as metadata, as the X-Ray exporter does by default.
"""

from __future__ import annotations

import random
import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation import _SPAN_KEY

from ._correlation import get_correlation_id
from ._redact import redact_fields, redact_value

if TYPE_CHECKING:
    from ._telemetry import Telemetry

KINDS = frozenset({"INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"})
_ANNOTATION_TYPES = (str, int, float, bool)
_ANNOTATION_TYPE_SET = frozenset(_ANNOTATION_TYPES)  # exact types: one lookup before the isinstance

_getrandbits = random.getrandbits  # what the OTel SDK's RandomIdGenerator uses
_NO_SPAN = otel_trace.INVALID_SPAN  # what get_current_span returns when no span is current
_get_current_span = otel_trace.get_current_span
_otel_detach = otel_context.detach


def _attach_span(span: otel_trace.Span) -> Any:
    return otel_context.attach(otel_trace.set_span_in_context(span))


_detach = _otel_detach

# The OTel API reaches the current context through three or four layers of calls
# (~3 µs per span start and end). With its default runtime context, a ContextVar
# holding an immutable Context, we read and set that ContextVar directly: the same
# Context objects under the same key, so OTel instrumentations still see our spans
# as current and we theirs. Another runtime context (OTEL_PYTHON_CONTEXT) keeps the API.
_RUNTIME = getattr(otel_context, "_RUNTIME_CONTEXT", None)
if type(_RUNTIME) is ContextVarsRuntimeContext:
    _current_context = _RUNTIME._current_context
    _context_get, _context_set, _context_reset = _current_context.get, _current_context.set, _current_context.reset
    _INVALID_SPAN = otel_trace.INVALID_SPAN
    _OtelSpan = otel_trace.Span

    def _get_current_span(context: Any = None) -> otel_trace.Span:  # noqa: F811 - the fast twin of OTel's
        span = (_context_get() if context is None else context).get(_SPAN_KEY)
        if type(span) is Span:  # ours, most often: spare the ABC isinstance (~0.3 µs)
            return span
        if span is None or not isinstance(span, _OtelSpan):
            return _INVALID_SPAN
        return span

    def _attach_span(span: otel_trace.Span) -> Any:  # noqa: F811
        return _context_set(Context({**_context_get(), _SPAN_KEY: span}))

    def _detach(token: Any) -> None:  # noqa: F811
        try:
            _context_reset(token)
        except Exception:  # noqa: BLE001 - e.g. a token from another context: OTel logs it, never raises
            _otel_detach(token)

# W3C trace context, version 00: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>.
# Future versions may append fields; version ff is forbidden.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def _new_trace_id(start_ns: int = 0) -> str:
    n = _getrandbits(128)
    while not n:
        n = _getrandbits(128)
    return "%032x" % n


def _new_span_id() -> str:
    n = _getrandbits(64)
    while not n:
        n = _getrandbits(64)
    return "%016x" % n


def parse_traceparent(value: Any) -> tuple[str, str] | None:
    """Return (trace_id, parent span_id) from a W3C traceparent, or None if invalid."""
    if not isinstance(value, str):
        return None
    m = _TRACEPARENT.fullmatch(value.strip())
    if m is None:
        return None
    version, trace_id, span_id, _flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span in the OTel context, if any."""
    span = _get_current_span()
    if type(span) is Span:
        return span.trace_id, span.span_id
    if span is _NO_SPAN:  # no current span, e.g. a log line outside any: nothing to ask
        return None
    ctx = span.get_span_context()
    if ctx.is_valid:
        return "%032x" % ctx.trace_id, "%016x" % ctx.span_id
    return None


class Span(otel_trace.Span):
    """One unit of work. Also a full ``opentelemetry.trace.Span``."""

    # Slots: a span's fields are set and read a dozen times in its few µs of life
    # (OTel's Span has no slots, so other attributes still go to a __dict__).
    __slots__ = (
        "_telemetry", "name", "kind", "trace_id", "span_id", "parent_span_id", "start_time_unix_nano",
        "end_time_unix_nano", "status", "status_message", "correlation_id", "annotations", "metadata",
        "events", "_context",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        name: str,
        kind: str,
        trace_id: str,
        span_id: str,
        parent_span_id: str | None,
        start_ns: int,
    ) -> None:
        self._telemetry = telemetry
        self.name = name
        self.kind = kind
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.start_time_unix_nano = start_ns
        self.end_time_unix_nano: int | None = None
        self.status = "UNSET"
        self.status_message: str | None = None
        self.correlation_id = cid = get_correlation_id()
        self.annotations: dict[str, Any] = {"correlation_id": cid} if cid else {}
        self.metadata: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self._context: SpanContext | None = None

    # -- X-Ray vocabulary ---------------------------------------------------

    def put_annotation(self, key: str, value: str | int | float | bool) -> None:
        """Record an indexed, searchable key (X-Ray annotation)."""
        if type(value) not in _ANNOTATION_TYPE_SET and not isinstance(value, _ANNOTATION_TYPES):
            raise TypeError(f"annotation {key!r} must be str, int, float or bool, not {type(value).__name__}")
        self.annotations[key] = value

    def put_metadata(self, key: str, value: Any) -> None:
        """Record a non-indexed value of any JSON-able shape."""
        self.metadata[key] = value

    def set_error(self, exc: BaseException) -> None:
        """Mark the span ERROR and record the exception's type and message."""
        name = type(exc).__name__
        self.status = "ERROR"
        self.status_message = str(exc) or name
        self.annotations["error_type"] = name
        self._add_exception_event(exc, None, None)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    # -- OpenTelemetry API --------------------------------------------------

    def get_span_context(self) -> SpanContext:
        ctx = self._context
        if ctx is None:  # built lazily: SpanContext validation costs ~1 µs
            ctx = self._context = SpanContext(
                int(self.trace_id, 16), int(self.span_id, 16), False, TraceFlags(TraceFlags.SAMPLED)
            )
        return ctx

    def is_recording(self) -> bool:
        return self.end_time_unix_nano is None

    def set_attribute(self, key: str, value: Any) -> None:
        self.metadata[key] = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None) -> None:
        self.events.append(
            {
                "name": name,
                "time_unix_nano": timestamp if timestamp is not None else self._telemetry._clock_ns(),
                "attributes": dict(attributes) if attributes else {},
            }
        )

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        links = self.metadata.setdefault("links", [])
        links.append({"trace_id": "%032x" % context.trace_id, "span_id": "%016x" % context.span_id})

    def update_name(self, name: str) -> None:
        self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, Status):
            code, description = status.status_code, status.description
        else:
            code = status
        if self.status == "OK":  # OTel: OK is final
            return
        if code is StatusCode.ERROR:
            self.status, self.status_message = "ERROR", description
        elif code is StatusCode.OK:
            self.status, self.status_message = "OK", None

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self.annotations.setdefault("error_type", type(exception).__name__)
        self._add_exception_event(exception, attributes, timestamp)

    def _add_exception_event(
        self, exc: BaseException, attributes: Mapping[str, Any] | None, timestamp: int | None
    ) -> None:
        attrs = {
            "exception.type": type(exc).__name__,
            "exception.message": str(exc),
            "exception.stacktrace": "".join(traceback.format_exception(exc)),
        }
        if attributes:
            attrs.update(attributes)
        self.add_event("exception", attrs, timestamp)

    def end(self, end_time: int | None = None) -> None:
        """Finish the span and hand its record to the sink (once)."""
        if self.end_time_unix_nano is not None:
            return
        telemetry = self._telemetry
        end = self.end_time_unix_nano = end_time if end_time is not None else telemetry._clock_ns()
        if not telemetry.enabled:
            return
        annotations, metadata, events = self.annotations, self.metadata, self.events
        # What the record is built from, as it is now: an ended span's fields can still
        # be set (OTel would ignore it), and must not reach a record built later. Values,
        # not the span: a deferred record then holds no span and no containers of it,
        # objects the garbage collector would count (see Telemetry._defer).
        defer = telemetry._deferred is not None and not events
        if metadata:
            if _scalars(metadata):
                metadata = dict(metadata)
            elif defer:
                # Containers (the worker's routing: a dict holding a list) are copied, so
                # the record shows them as they are now. Building this span in place,
                # between SQLite calls, had cost as much as the memo's other four spans
                # (issue 15 profile, GIL samples).
                try:
                    metadata = _plain_copy(metadata)
                except _NotPlain:
                    defer = False
                    metadata = dict(metadata)
            else:
                metadata = dict(metadata)
        entry = ("spans", _span_record, self.trace_id, self.span_id, self.parent_span_id, self.name, self.kind,
                 self.start_time_unix_nano, end, self.status, self.status_message, telemetry.service,
                 self.correlation_id, dict(annotations) if annotations else None, metadata or None, events or None)
        if defer:
            telemetry._defer(entry)
            return
        try:
            record = _span_record(*entry[2:])
        except Exception:
            telemetry._fault()
            return
        try:
            telemetry._sink_emit("spans", record)
        except Exception:  # noqa: BLE001 - counted, as Telemetry._emit does (one call less per record)
            telemetry.faults += 1

    def __repr__(self) -> str:
        return f"<Span {self.name!r} trace={self.trace_id} span={self.span_id}>"


def _span_record(trace_id: str, span_id: str, parent_span_id: str | None, name: str, kind: str, start: int,
                 end: int, status: str, status_message: str | None, service: str, correlation_id: str | None,
                 annotations: dict[str, Any] | None, metadata: dict[str, Any] | None,
                 events: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A finished span's record; *annotations* and *metadata* are copies it may change."""
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent_span_id,
        "name": name,
        "kind": kind,
        "start_time_unix_nano": start,
        "end_time_unix_nano": end,
        "duration_ms": (end - start) / 1e6,
        "status": status,
        "status_message": status_message,
        "service": service,
        "correlation_id": correlation_id,
        # Annotations are scalars: only strings need scanning. Metadata can hold
        # anything: redact_fields (on the copy) recurses into containers.
        "annotations": redact_fields(annotations) if annotations else {},
        "metadata": redact_fields(metadata) if metadata else {},
        "events": redact_value(events) if events else [],
    }


class _NotPlain(Exception):
    """A value :func:`_plain_copy` cannot copy: its record is built at once instead."""


_PLAIN_DEPTH = 8  # nesting copied for a deferred record; deeper is built at once


def _plain_copy(value: Any, depth: int = 0) -> Any:
    """A deep copy of dicts, lists and tuples (as lists, as redaction makes them) of str,
    int, float, bool and None. Raises _NotPlain for anything else, or nesting deeper than
    _PLAIN_DEPTH: an object of another kind may change before the drain, unseen by a copy."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if depth < _PLAIN_DEPTH:
        if kind is dict:
            return {key: _plain_copy(item, depth + 1) for key, item in value.items()}
        if kind is list or kind is tuple:
            return [_plain_copy(item, depth + 1) for item in value]
    raise _NotPlain


def _scalars(values: dict[str, Any]) -> bool:
    """True when every value is a str, int, float, bool or None (nothing a caller can change)."""
    for value in values.values():
        kind = type(value)
        if kind is not str and kind is not int and kind is not float and kind is not bool and value is not None:
            return False
    return True


class _SpanScope:
    """``with tracer.span(...)``: make the span current, record an error, end it."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._token = None

    def __enter__(self) -> Span:
        self._token = _attach_span(self._span)
        return self._span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        span = self._span
        try:
            if exc is None:
                if span.status == "UNSET":
                    span.status = "OK"
            elif isinstance(exc, Exception):
                span.set_error(exc)
            span.end()
        except Exception:  # never let telemetry replace the caller's exception
            span._telemetry._fault()
        finally:
            _detach(self._token)


class Tracer:
    """Starts spans. Reach it as ``telemetry.tracer``.

    ``trace_id_generator`` makes the id of each new trace (a span with no parent): called with
    the root span's start time (Unix nanoseconds), it returns 32 lowercase hex digits, not all
    zero. The default is 128 random bits, as the OTel SDK's ``RandomIdGenerator``; on Lambda it
    is X-Ray's, whose ids begin with the start's epoch seconds (the OTel SDK's
    ``AwsXRayIdGenerator`` plays the same part).
    """

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry
        self._provider: _OtelTracerProvider | None = None
        self.trace_id_generator: Callable[[int], str] = _new_trace_id

    def span(
        self,
        name: str,
        *,
        kind: str = "INTERNAL",
        parent: str | None = None,
        annotations: Mapping[str, Any] | None = None,
    ) -> _SpanScope:
        """Start a span, current for the ``with`` block.

        *parent* is a W3C traceparent (from a message attribute) to continue a
        trace; without it (or if it is malformed) the current span is the
        parent, else a new trace starts. An exception in the block marks the
        span ERROR and propagates.
        """
        if kind not in KINDS:
            raise ValueError(f"span kind must be one of {sorted(KINDS)}, not {kind!r}")
        remote = parse_traceparent(parent) if parent else None
        if remote is not None or annotations:
            span = self._start(name, kind, remote)
            if annotations:
                for key, value in annotations.items():
                    span.put_annotation(key, value)
            return _SpanScope(span)
        # The common case (no remote parent, no annotations) is _start inlined: five
        # spans a memo, and each call and argument tuple saved is paid per span.
        telemetry = self._telemetry
        current = _get_current_span()
        start_ns = telemetry._clock_ns()
        if type(current) is Span:
            trace_id, parent_id = current.trace_id, current.span_id
        else:
            ctx = None if current is _NO_SPAN else current.get_span_context()
            if ctx is not None and ctx.is_valid:
                trace_id, parent_id = "%032x" % ctx.trace_id, "%016x" % ctx.span_id
            else:
                trace_id, parent_id = self.trace_id_generator(start_ns), None
        span_id = _getrandbits(64)
        return _SpanScope(
            Span(telemetry, name, kind, trace_id, "%016x" % span_id if span_id else _new_span_id(), parent_id,
                 start_ns)
        )

    def _start(
        self, name: str, kind: str, remote: tuple[str, str] | None, context: Any = None, start_ns: int | None = None
    ) -> Span:
        trace_id: str | None
        parent_id: str | None
        if remote is not None:
            trace_id, parent_id = remote
        else:
            current = _get_current_span(context)
            if type(current) is Span:
                trace_id, parent_id = current.trace_id, current.span_id
            else:
                ctx = current.get_span_context()
                if ctx.is_valid:
                    trace_id, parent_id = "%032x" % ctx.trace_id, "%016x" % ctx.span_id
                else:
                    trace_id, parent_id = None, None
        telemetry = self._telemetry
        if start_ns is None:
            start_ns = telemetry._clock_ns()
        if trace_id is None:
            trace_id = self.trace_id_generator(start_ns)
        return Span(telemetry, name, kind, trace_id, _new_span_id(), parent_id, start_ns)

    def current_span(self) -> Span | None:
        """The current span if it is one of ours."""
        span = _get_current_span()
        return span if type(span) is Span else None

    def current_traceparent(self) -> str | None:
        """W3C traceparent of the current span, for message attributes and headers."""
        span = _get_current_span()
        if type(span) is Span:
            return f"00-{span.trace_id}-{span.span_id}-01"
        ctx = span.get_span_context()
        if ctx.is_valid:
            return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
        return None

    def current_trace_id(self) -> str | None:
        ids = current_ids()
        return ids[0] if ids else None

    @property
    def otel_provider(self) -> otel_trace.TracerProvider:
        """An OTel ``TracerProvider`` whose spans go through this telemetry's sink."""
        if self._provider is None:
            self._provider = _OtelTracerProvider(self)
        return self._provider


class _OtelTracerProvider(otel_trace.TracerProvider):
    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> otel_trace.Tracer:
        return _OtelTracer(self._tracer, instrumenting_module_name)


class _OtelTracer(otel_trace.Tracer):
    def __init__(self, tracer: Tracer, scope: str) -> None:
        self._tracer = tracer
        self._scope = scope

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Sequence[otel_trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        span = self._tracer._start(name, kind.name, None, context, start_time)
        if self._scope:
            span.metadata["otel.scope"] = self._scope
        if attributes:
            span.set_attributes(attributes)
        for link in links or ():
            span.add_link(link.context)
        return span

    @contextmanager
    def start_as_current_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Sequence[otel_trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        with otel_trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current
