from __future__ import annotations

import io
import re
import sys
import time

import orjson
import pytest

from whispersync.telemetry import MemorySink, NullSink, StdoutSink, Telemetry, correlation_scope
from whispersync.telemetry.testing import capture_telemetry

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class TestRecordShape:
    def test_it_writes_powertools_keys_flat(self, telemetry, sink):
        """A log line is one flat dict with Powertools Logger keys and the extra fields."""
        telemetry.logger("whispersync.worker").info("Processing transcript", agent_type="work", transcript_size=12)

        (record,) = sink.records["logs"]
        assert record["location"].startswith("test_it_writes_powertools_keys_flat:")
        assert record == {
            "level": "INFO",
            "location": record["location"],
            "message": "Processing transcript",
            "timestamp": "2026-11-27T13:45:01.123Z",
            "service": "whispersync",
            "logger": "whispersync.worker",
            "agent_type": "work",
            "transcript_size": 12,
        }

    def test_location_is_the_callers_line(self, telemetry, sink):
        log = telemetry.logger("t")
        expected_line = sys._getframe().f_lineno + 1
        log.warning("here")
        assert sink.records["logs"][0]["location"] == f"test_location_is_the_callers_line:{expected_line}"

    def test_each_call_site_keeps_its_own_line(self, telemetry, sink):
        """Call sites are remembered (issue 15): two sites in one function, a site met
        again in a loop, and the same function's sites from another call each keep their line."""
        log = telemetry.logger("t")

        def two_sites(n):
            lines = []
            for _ in range(n):
                lines.append(sys._getframe().f_lineno + 1)
                log.info("first")
                lines.append(sys._getframe().f_lineno + 1)
                log.info("second")
            return lines

        expected = two_sites(2) + two_sites(1)
        assert [r["location"] for r in sink.records["logs"]] == [f"two_sites:{n}" for n in expected]
        assert len(set(expected)) == 2

    def test_location_at_the_end_of_a_long_function(self, telemetry, sink):
        """A call site after hundreds of lines (the line is looked up, then remembered)."""
        body = "\n".join(f"    x{i} = {i}" for i in range(400))
        namespace = {"log": telemetry.logger("t")}
        exec(compile(f"def long_one():\n{body}\n    log.info('end')\n", "<long>", "exec"), namespace)
        namespace["long_one"]()
        namespace["long_one"]()
        assert [r["location"] for r in sink.records["logs"]] == ["long_one:402", "long_one:402"]

    def test_timestamp_is_iso_utc_with_milliseconds(self, sink):
        """Timestamps are ISO 8601 UTC with milliseconds and Z, even across second boundaries."""
        times = iter([1_795_787_101_999_999_999, 1_795_787_102_000_000_000, 1_795_787_102_001_500_000])
        log = Telemetry(sink, clock_ns=lambda: next(times)).logger("t")
        for _ in range(3):
            log.info("tick")
        stamps = [r["timestamp"] for r in sink.records["logs"]]
        assert stamps == ["2026-11-27T13:45:01.999Z", "2026-11-27T13:45:02.000Z", "2026-11-27T13:45:02.001Z"]
        assert all(ISO_MS_Z.fullmatch(s) for s in stamps)

    @pytest.mark.parametrize("method", ["debug", "info", "warning", "error"])
    def test_each_level_is_named(self, telemetry, sink, method):
        getattr(telemetry.logger("t"), method)("m")
        assert sink.records["logs"][0]["level"] == method.upper()

    def test_extra_fields_cannot_overwrite_owned_keys(self, telemetry, sink):
        telemetry.logger("t").info("real", level="fake", timestamp="yesterday")
        record = sink.records["logs"][0]
        assert (record["level"], record["extra_level"], record["extra_timestamp"]) == ("INFO", "fake", "yesterday")
        assert ISO_MS_Z.fullmatch(record["timestamp"])

    def test_log_level_drops_lower_lines(self, sink):
        log = Telemetry(sink, log_level="WARNING").logger("t")
        log.debug("no")
        log.info("no")
        log.warning("yes")
        log.error("yes")
        assert [r["level"] for r in sink.records["logs"]] == ["WARNING", "ERROR"]


class TestCorrelation:
    def test_scope_id_and_trace_ids_are_on_every_line(self, telemetry, sink):
        """Inside a correlation scope and a span, every line carries correlation_id, trace_id and span_id."""
        log = telemetry.logger("whispersync.worker")
        with correlation_scope("memo-42"), telemetry.tracer.span("worker") as span:
            log.info("one")
            log.bind(memo_id="m1").warning("two")
            with telemetry.tracer.span("child") as child:
                log.error("three")
        lines = sink.records["logs"]
        assert [r["correlation_id"] for r in lines] == ["memo-42"] * 3
        assert [r["trace_id"] for r in lines] == [span.trace_id] * 3
        assert [r["span_id"] for r in lines] == [span.span_id, span.span_id, child.span_id]

    def test_unknown_ids_are_left_out(self, telemetry, sink):
        telemetry.logger("t").info("outside")
        assert not {"correlation_id", "trace_id", "span_id"} & set(sink.records["logs"][0])


class TestBind:
    def test_bound_fields_are_added_to_every_line(self, telemetry, sink):
        log = telemetry.logger("t").bind(memo_id="m1", agent_type="work")
        log.info("a")
        log.info("b", agent_type="memory")
        assert [(r["memo_id"], r["agent_type"]) for r in sink.records["logs"]] == [("m1", "work"), ("m1", "memory")]

    def test_bind_leaves_the_original_alone(self, telemetry, sink):
        base = telemetry.logger("t")
        base.bind(memo_id="m1")
        base.info("plain")
        assert "memo_id" not in sink.records["logs"][0]

    def test_bound_secrets_are_redacted(self, telemetry, sink):
        telemetry.logger("t").bind(api_key="sk-live-123").info("x")
        assert sink.records["logs"][0]["api_key"] == "***"


class TestException:
    def test_it_records_the_exception_and_its_type(self, telemetry, sink):
        """logger.exception inside except adds exception, exception_name and error_type."""
        try:
            raise TimeoutError("ElevenLabs timed out")
        except TimeoutError:
            telemetry.logger("t").exception("Processing failed", agent_type="work")
        record = sink.records["logs"][0]
        assert record["level"] == "ERROR"
        assert record["error_type"] == "TimeoutError"
        assert record["exception_name"] == "TimeoutError"
        assert "ElevenLabs timed out" in record["exception"]
        assert "Traceback" in record["exception"]

    def test_an_explicit_error_type_wins(self, telemetry, sink):
        try:
            raise KeyError("k")
        except KeyError:
            telemetry.logger("t").exception("x", error_type="MissingKey")
        assert sink.records["logs"][0]["error_type"] == "MissingKey"

    def test_outside_except_it_is_a_plain_error(self, telemetry, sink):
        telemetry.logger("t").exception("no exception active")
        record = sink.records["logs"][0]
        assert record["level"] == "ERROR" and "exception" not in record


class TestDisabled:
    @pytest.mark.parametrize("make", [lambda: Telemetry(MemorySink(), enabled=False), lambda: Telemetry(NullSink())])
    def test_it_writes_nothing(self, make):
        telemetry = make()
        log = telemetry.logger("t")
        log.info("x")
        try:
            raise ValueError
        except ValueError:
            log.exception("y")
        if isinstance(telemetry.sink, MemorySink):
            assert telemetry.sink.records["logs"] == []
        assert telemetry.faults == 0


class TestStdoutSink:
    def test_each_record_is_one_json_line(self):
        out = io.StringIO()
        telemetry = Telemetry(StdoutSink(out))
        telemetry.logger("t").info("hello", n=1)
        telemetry.logger("t").info("world", when=object())  # unknown types are written as str()
        lines = out.getvalue().splitlines()
        assert [orjson.loads(line)["message"] for line in lines] == ["hello", "world"]
        assert telemetry.faults == 0


class TestCaptureHelper:
    def test_records_are_captured_with_their_structure(self):
        """capture_telemetry keeps records as dicts and finds them by key."""
        with capture_telemetry() as cap:
            cap.telemetry.logger("t").info("Processing transcript", agent_type="work")
            cap.telemetry.metrics.put("WhisperSync/Business", "TranscriptsProcessed", 1, unit="Count",
                                      dimensions={"AgentType": "work", "Status": "Success"})
            with cap.telemetry.tracer.span("agent_processing"):
                pass
        assert cap.logs_where(message="Processing transcript")[0]["agent_type"] == "work"
        assert cap.metric_values("WhisperSync/Business", "TranscriptsProcessed", AgentType="work") == [1.0]
        assert cap.spans_named("agent_processing")[0]["status"] == "OK"


class TestBoundedValues:
    """No log line can be megabytes: client text is cut before redaction and output."""

    def test_a_huge_field_and_message_make_a_short_line_quickly(self):
        cap = capture_telemetry()
        log = cap.telemetry.logger("t")
        huge = "a" * (1024 * 1024)
        started = time.perf_counter()
        # The "Transcript rejected" shape: the unknown name is in the reason and the message.
        reason = f"unknown agent {huge!r}: x"
        log.warning(f"unknown agent {huge!r}; known agents: work", reason=reason, nested={"items": [huge] * 3})
        elapsed = time.perf_counter() - started
        line = orjson.dumps(cap.logs[0])
        assert len(line) < 20_000
        assert elapsed < 1.0
        record = cap.logs[0]
        assert record["reason"] == reason[:2048] + f"…[truncated {len(reason) - 2048} chars]"
        assert record["message"].startswith("unknown agent 'aaaa") and "…[truncated " in record["message"]
        assert "…[truncated " in record["nested"]["items"][0]

    def test_secrets_before_the_cut_are_still_masked(self):
        cap = capture_telemetry()
        cap.telemetry.logger("t").info("x", detail="api_key=S3CR3TVALUE " + "b" * 10_000)
        assert "S3CR3TVALUE" not in orjson.dumps(cap.logs[0]).decode()

    def test_bound_fields_are_cut_too(self):
        cap = capture_telemetry()
        cap.telemetry.logger("t").bind(title="t" * 100_000).info("x")
        assert len(cap.logs[0]["title"]) < 2100

    def test_short_values_are_untouched(self):
        cap = capture_telemetry()
        cap.telemetry.logger("t").info("m" * 2048, v="v" * 2048, n={"k": ["x"]})
        assert cap.logs[0]["message"] == "m" * 2048 and cap.logs[0]["v"] == "v" * 2048
        assert cap.logs[0]["n"] == {"k": ["x"]}

    def test_a_huge_traceback_keeps_its_end(self):
        cap = capture_telemetry()
        try:
            raise ValueError("x" * 100_000 + " THE END")
        except ValueError:
            cap.telemetry.logger("t").exception("failed")
        exception = cap.logs[0]["exception"]
        assert len(exception) < 8300 and exception.rstrip().endswith("THE END")
        assert exception.startswith("…[truncated ")
