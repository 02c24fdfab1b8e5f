"""The common span start (no traceparent, no annotations) is inlined (issue 15): same ids and links as before."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from whispersync.telemetry import MemorySink, Telemetry, correlation_scope

TRACE, PARENT = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7


def test_a_span_under_a_foreign_otel_span_continues_its_trace_and_logs_carry_it():
    """What OTel's propagators make current: a non-recording span of a remote context."""
    sink = MemorySink()
    telemetry = Telemetry(sink)
    foreign = NonRecordingSpan(SpanContext(TRACE, PARENT, True, TraceFlags(TraceFlags.SAMPLED)))
    token = otel_context.attach(otel_trace.set_span_in_context(foreign))
    try:
        telemetry.logger("w").info("outside ours")
        with telemetry.tracer.span("worker") as ours:
            assert otel_trace.get_current_span() is ours
    finally:
        otel_context.detach(token)
    assert (ours.trace_id, ours.parent_span_id) == ("%032x" % TRACE, "%016x" % PARENT)
    [line] = sink.records["logs"]
    assert (line["trace_id"], line["span_id"]) == ("%032x" % TRACE, "%016x" % PARENT)


def test_with_no_current_span_a_new_trace_starts_and_logs_carry_no_ids():
    sink = MemorySink()
    telemetry = Telemetry(sink, clock_ns=lambda: 1_795_787_101_123_000_000)
    seen = []
    telemetry.tracer.trace_id_generator = lambda start_ns: seen.append(start_ns) or "ab" * 16
    telemetry.logger("w").info("no span")
    with correlation_scope("memo-1"), telemetry.tracer.span("ingest", kind="SERVER") as root:
        with telemetry.tracer.span("queue", kind="PRODUCER") as child:
            telemetry.logger("w").info("inside")
    assert seen == [1_795_787_101_123_000_000]
    assert (root.trace_id, root.parent_span_id) == ("ab" * 16, None)
    assert (child.trace_id, child.parent_span_id) == (root.trace_id, root.span_id)
    assert root.span_id != child.span_id and len(child.span_id) == 16 and int(child.span_id, 16)
    no_span, inside = sink.records["logs"]
    assert "trace_id" not in no_span and "span_id" not in no_span
    assert (inside["trace_id"], inside["span_id"]) == (child.trace_id, child.span_id)
    assert [s["status"] for s in sink.records["spans"]] == ["OK", "OK"]
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN
