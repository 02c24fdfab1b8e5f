from __future__ import annotations

import re

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, StatusCode

from whispersync.telemetry import MemorySink, NullSink, Span, Telemetry, correlation_scope

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class TestSpanRecord:
    def test_it_writes_the_otel_model_with_xray_vocabulary(self, telemetry, sink):
        with telemetry.tracer.span("agent_processing", annotations={"agent_type": "work"}) as span:
            span.put_annotation("success", True)
            span.put_metadata("transcript_length", 1234)
        (record,) = sink.records["spans"]
        assert HEX32.fullmatch(record["trace_id"]) and HEX16.fullmatch(record["span_id"])
        assert record == {
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "parent_span_id": None,
            "name": "agent_processing",
            "kind": "INTERNAL",
            "start_time_unix_nano": 1_795_787_101_123_000_000,
            "end_time_unix_nano": 1_795_787_101_124_000_000,
            "duration_ms": 1.0,
            "status": "OK",
            "status_message": None,
            "service": "whispersync",
            "correlation_id": None,
            "annotations": {"agent_type": "work", "success": True},
            "metadata": {"transcript_length": 1234},
            "events": [],
        }

    def test_kind_is_validated(self, telemetry):
        with pytest.raises(ValueError):
            telemetry.tracer.span("x", kind="client")

    def test_annotations_are_scalars(self, telemetry):
        with telemetry.tracer.span("x") as span, pytest.raises(TypeError):
            span.put_annotation("reasons", ["a", "b"])

    def test_correlation_id_is_a_field_and_an_annotation(self, telemetry, sink):
        with correlation_scope("memo-7"), telemetry.tracer.span("worker"):
            with telemetry.tracer.span("tts", kind="CLIENT"):
                pass
        assert [(r["correlation_id"], r["annotations"]["correlation_id"]) for r in sink.records["spans"]] == [
            ("memo-7", "memo-7"),
            ("memo-7", "memo-7"),
        ]

    def test_secrets_in_metadata_are_redacted(self, telemetry, sink):
        with telemetry.tracer.span("tts") as span:
            span.put_metadata("request", {"headers": {"xi-api-key": "abc123"}, "url": "https://api.example"})
        assert sink.records["spans"][0]["metadata"]["request"]["headers"]["xi-api-key"] == "***"


class TestNesting:
    def test_a_child_span_has_the_parents_trace_and_id(self, telemetry, sink):
        with telemetry.tracer.span("worker") as parent, telemetry.tracer.span("agent_processing") as child:
            assert telemetry.tracer.current_trace_id() == parent.trace_id
        assert child.trace_id == parent.trace_id
        assert sink.records["spans"][0]["parent_span_id"] == parent.span_id
        assert telemetry.tracer.current_trace_id() is None

    def test_siblings_after_a_span_ends_share_the_parent(self, telemetry, sink):
        with telemetry.tracer.span("worker") as parent:
            with telemetry.tracer.span("a"):
                pass
            with telemetry.tracer.span("b"):
                pass
        a, b, _ = sink.records["spans"]
        assert a["parent_span_id"] == b["parent_span_id"] == parent.span_id


class TestTraceparent:
    def test_a_trace_continued_from_a_traceparent_keeps_its_trace_id(self, telemetry, sink):
        """The trace id is the sender's and the parent is the sender's span."""
        with telemetry.tracer.span("worker", kind="CONSUMER", parent=TRACEPARENT) as span:
            pass
        assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert sink.records["spans"][0]["parent_span_id"] == "00f067aa0ba902b7"

    def test_current_traceparent_round_trips(self, telemetry):
        with telemetry.tracer.span("ingest", kind="PRODUCER") as producer:
            sent = telemetry.tracer.current_traceparent()
        assert sent == f"00-{producer.trace_id}-{producer.span_id}-01"
        with telemetry.tracer.span("worker", parent=sent) as consumer:
            pass
        assert consumer.trace_id == producer.trace_id and consumer.parent_span_id == producer.span_id

    def test_an_explicit_parent_wins_over_the_current_span(self, telemetry):
        with telemetry.tracer.span("outer"), telemetry.tracer.span("w", parent=TRACEPARENT) as span:
            assert span.parent_span_id == "00f067aa0ba902b7"

    @pytest.mark.parametrize(
        "bad",
        [
            "junk",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # v00 has 4 fields
        ],
    )
    def test_a_malformed_traceparent_starts_a_new_trace(self, telemetry, bad):
        with telemetry.tracer.span("worker", parent=bad) as span:
            pass
        assert span.parent_span_id is None and span.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"

    def test_no_current_span_means_no_traceparent(self, telemetry):
        assert telemetry.tracer.current_traceparent() is None


class TestTraceIdGenerator:
    def test_a_new_trace_takes_its_id_from_the_generator_with_its_start_time(self, telemetry, sink):
        """The hook sees the root span's start (Unix ns), the time X-Ray ids begin with."""
        calls = []

        def generator(start_ns: int) -> str:
            calls.append(start_ns)
            return "%08x" % (start_ns // 1_000_000_000) + "ab" * 12

        telemetry.tracer.trace_id_generator = generator
        with telemetry.tracer.span("ingest"), telemetry.tracer.span("store"):
            pass
        assert calls == [1_795_787_101_123_000_000]  # the child continues the trace: no second id
        root = sink.records["spans"][1]
        assert root["start_time_unix_nano"] == calls[0]
        # 1795787101 s (2026-11-27T13:45:01Z) is 6b09895d
        assert {r["trace_id"] for r in sink.records["spans"]} == {"6b09895d" + "ab" * 12}

    def test_it_is_not_used_to_continue_a_trace(self, telemetry, sink):
        """A remote parent, or a parent span from the OTel API, keeps its own trace id."""
        telemetry.tracer.trace_id_generator = lambda start_ns: pytest.fail("a continued trace needs no new id")
        with telemetry.tracer.span("worker", parent=TRACEPARENT):
            pass
        foreign = otel_trace.NonRecordingSpan(otel_trace.SpanContext(
            0x0123456789ABCDEF0123456789ABCDEF, 0x0123456789ABCDEF, True))
        with otel_trace.use_span(foreign), telemetry.tracer.span("inner"):
            pass
        assert [r["trace_id"] for r in sink.records["spans"]] == [TRACEPARENT[3:35], "0123456789abcdef" * 2]

    def test_the_default_is_random(self, telemetry, sink):
        """Two traces, two different random ids of 32 hex digits."""
        for _ in range(2):
            with telemetry.tracer.span("x"):
                pass
        first, second = (r["trace_id"] for r in sink.records["spans"])
        assert HEX32.fullmatch(first) and HEX32.fullmatch(second) and first != second


class TestErrors:
    def test_an_exception_marks_the_span_and_propagates(self, telemetry, sink):
        with pytest.raises(TimeoutError), telemetry.tracer.span("tts") as span:
            raise TimeoutError("no answer in 30 s")
        (record,) = sink.records["spans"]
        assert (record["status"], record["status_message"]) == ("ERROR", "no answer in 30 s")
        assert record["annotations"]["error_type"] == "TimeoutError"
        (event,) = record["events"]
        assert event["name"] == "exception"
        assert event["attributes"]["exception.type"] == "TimeoutError"
        assert span.status == "ERROR"

    def test_set_error_marks_without_raising(self, telemetry, sink):
        with telemetry.tracer.span("agent_processing") as span:
            span.set_error(ValueError("bad transcript"))
        assert sink.records["spans"][0]["status"] == "ERROR"


class TestOpenTelemetryInterop:
    def test_an_otel_span_nests_under_ours(self, telemetry, sink):
        """get_tracer().start_as_current_span inside our span gets our span as parent."""
        otel_tracer = otel_trace.get_tracer("httpx", tracer_provider=telemetry.tracer.otel_provider)
        with telemetry.tracer.span("tts", kind="CLIENT") as ours:
            with otel_tracer.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes={"http.method": "POST"}):
                assert otel_trace.get_current_span().get_span_context().trace_id == int(ours.trace_id, 16)
        theirs, _ = sink.records["spans"]
        assert (theirs["trace_id"], theirs["parent_span_id"]) == (ours.trace_id, ours.span_id)
        assert theirs["kind"] == "CLIENT"
        assert theirs["metadata"]["http.method"] == "POST"

    def test_our_span_nests_under_an_otel_span(self, telemetry, sink):
        otel_tracer = telemetry.tracer.otel_provider.get_tracer("fastapi")
        with otel_tracer.start_as_current_span("GET /v1/transcripts", kind=SpanKind.SERVER) as theirs:
            with telemetry.tracer.span("ingest") as ours:
                pass
        assert ours.parent_span_id == "%016x" % theirs.get_span_context().span_id

    def test_an_exception_in_an_otel_span_is_recorded(self, telemetry, sink):
        otel_tracer = telemetry.tracer.otel_provider.get_tracer("x")
        with pytest.raises(RuntimeError), otel_tracer.start_as_current_span("boom"):
            raise RuntimeError("kaput")
        (record,) = sink.records["spans"]
        assert record["status"] == "ERROR" and record["annotations"]["error_type"] == "RuntimeError"

    def test_status_ok_is_final(self, telemetry, sink):
        span = telemetry.tracer.otel_provider.get_tracer("x").start_span("s")
        span.set_status(StatusCode.OK)
        span.set_status(StatusCode.ERROR, "late")
        span.end()
        assert sink.records["spans"][0]["status"] == "OK"

    def test_the_global_provider_lands_in_our_sink(self, telemetry, sink, global_provider):
        global_provider(telemetry.tracer.otel_provider)
        with telemetry.tracer.span("worker") as ours:
            with otel_trace.get_tracer("sqlite3").start_as_current_span("INSERT"):
                pass
        assert sink.records["spans"][0]["parent_span_id"] == ours.span_id


@pytest.fixture
def global_provider():
    """Set the process-wide OTel provider for one test, then put the old one back.

    OTel allows set_tracer_provider once per process; resetting its private
    once-flag is what opentelemetry's own test utilities do.
    """
    saved = (otel_trace._TRACER_PROVIDER, otel_trace._TRACER_PROVIDER_SET_ONCE._done)

    def install(provider):
        otel_trace._TRACER_PROVIDER_SET_ONCE._done = False
        otel_trace.set_tracer_provider(provider)

    yield install
    otel_trace._TRACER_PROVIDER, otel_trace._TRACER_PROVIDER_SET_ONCE._done = saved


class TestDisabled:
    @pytest.mark.parametrize("make", [lambda: Telemetry(MemorySink(), enabled=False), lambda: Telemetry(NullSink())])
    def test_spans_still_carry_trace_ids(self, make):
        """With telemetry off nothing is written, but spans nest and propagate."""
        telemetry = make()
        with telemetry.tracer.span("worker", parent=TRACEPARENT) as span:
            assert isinstance(span, Span)
            span.put_annotation("agent_type", "work")
            with telemetry.tracer.span("child") as child:
                assert telemetry.tracer.current_traceparent() == f"00-{span.trace_id}-{child.span_id}-01"
        assert child.parent_span_id == span.span_id and span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        if isinstance(telemetry.sink, MemorySink):
            assert telemetry.sink.records["spans"] == []
