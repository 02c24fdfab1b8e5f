"""Log lines as real producers write them (issue 17): every event placed in time, the
fields Powertools and Lambda add understood. Powertools' own Logger writes the lines
where it can; structlog's and python-json-logger's defaults are written out by hand
(neither library is a dependency), in the exact shape their docs give.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import run_query
from whispersync.monitoring.store import TelemetryStore
from whispersync.monitoring.times import InvalidTime, parse_log_timestamp

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC
XRAY = "1-5759e988-bd862e3fe1be46a994272793"


@pytest.fixture
def store(tmp_path):
    s = TelemetryStore(tmp_path / "telemetry")
    yield s
    s.close()


class TestParseLogTimestamp:
    @pytest.mark.parametrize(("text", "expected"), [
        ("2026-11-27 12:00:01,969+0000", T0 + 1969),  # Powertools' default, %F%z
        ("2026-11-27T12:00:01+0000", T0 + 1000),  # Powertools datefmt="%Y-%m-%dT%H:%M:%S%z"
        ("2026-11-27T12:00:01.969+0000", T0 + 1969),  # use_datetime_directive with %F
        ("2026-11-27T17:30:01,969+0530", T0 + 1969),  # a local offset is applied
        ("2026-11-27T06:30:01.969-0530", T0 + 1969),
        ("2026-11-27T13:00:01.969+01:00", T0 + 1969),
        ("2026-11-27T12:00:01.969123Z", T0 + 1969),  # structlog TimeStamper(fmt="iso", utc=True)
        ("2026-11-27T12:00:01.969123", T0 + 1969),  # structlog, utc=False: naive, read as UTC
        ("2026-11-27 12:00:01,969", T0 + 1969),  # python-json-logger's asctime: naive, read as UTC
        ("2026-11-27 12:00:01.969123456Z", T0 + 1969),  # nanoseconds: cut to milliseconds
        ("2026-11-27T12:00:01z", T0 + 1000),
        ("1795780801", T0 + 1000),  # epoch seconds as text
        ("1795780801.969", T0 + 1969),
    ])
    def test_strings(self, text, expected):
        assert parse_log_timestamp(text) == expected

    @pytest.mark.parametrize(("number", "expected"), [
        (1795780801, T0 + 1000),  # seconds
        (1795780801.969, T0 + 1969),  # structlog TimeStamper(fmt=None): float seconds
        (T0 + 1969, T0 + 1969),  # milliseconds
        ((T0 + 1969) * 1000 + 123, T0 + 1969),  # microseconds
        ((T0 + 1969) * 1_000_000 + 123_456, T0 + 1969),  # nanoseconds (time.time_ns())
    ])
    def test_epoch_numbers_told_apart_by_magnitude(self, number, expected):
        assert parse_log_timestamp(number) == expected

    @pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "27/11/2026 12:00", "", None, True,
                                       float("nan"), 1e300, "9" * 25, {"t": 1}])
    def test_unreadable_values_are_invalid_time(self, value):
        with pytest.raises(InvalidTime):
            parse_log_timestamp(value)

    @settings(max_examples=60, deadline=None)
    @given(when=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1)),
           minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
           form=st.sampled_from(["%Y-%m-%d %H:%M:%S,{ms}%z", "%Y-%m-%dT%H:%M:%S.{ms}%z", "%Y-%m-%dT%H:%M:%S.{ms}{colon}"]))
    def test_any_offset_is_honoured(self, when, minutes, form):
        aware = when.replace(tzinfo=timezone(timedelta(minutes=minutes)))
        ms = f"{aware.microsecond // 1000:03d}"
        offset = aware.strftime("%z")
        text = aware.strftime(form.replace("{ms}", ms).replace("{colon}", offset[:3] + ":" + offset[3:]))
        expected = (aware.replace(microsecond=aware.microsecond // 1000 * 1000)
                    - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
        assert parse_log_timestamp(text) == expected


def _powertools_lines(**options) -> list[dict]:
    from aws_lambda_powertools import Logger

    buf = io.StringIO()
    logger = Logger(service=f"svc-{uuid.uuid4().hex[:8]}", logger_handler=logging.StreamHandler(buf), **options)
    logger.info("Processing transcript", agent_type="work")
    try:
        {}["missing"]
    except KeyError:
        logger.exception("Processing failed", extra={"error_type": "KeyError", "agent_type": "work"})
    return [orjson.loads(line) for line in buf.getvalue().splitlines()]


def _rows(store, query, start_ms, end_ms):
    return run_query(store, query, start_ms=start_ms, end_ms=end_ms)["rows"]


class TestPowertoolsLines:
    def test_default_format_is_placed_in_time_with_its_fields(self, store, monkeypatch):
        """The issue's case: Powertools' default timestamp was unreadable, so no query found the lines."""
        monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={XRAY};Parent=53995c3f42cd8ad8;Sampled=1")
        before = int(time.time() * 1000) - 1000
        lines = _powertools_lines()
        assert "," in lines[0]["timestamp"] and lines[0]["timestamp"].endswith("+0000")  # the default form
        report = import_logs(store, b"\n".join(orjson.dumps(line) for line in lines), log_group="/aws/lambda/x")
        assert (report.imported, report.errors, report.without_timestamp) == (2, [], [])
        after = int(time.time() * 1000) + 1000
        rows = _rows(store, "fields message, exception_name, trace_id, xray_trace_id, cold_start "
                            "| sort @timestamp asc", before, after)
        assert sorted(r[:2] for r in rows) == [["Processing failed", "KeyError"], ["Processing transcript", None]]
        assert {r[2] for r in rows} == {"5759e988bd862e3fe1be46a994272793"}  # joins the trace's id
        assert {r[3] for r in rows} == {XRAY}
        # The exception's fields are discovered: queryable in filter and stats.
        assert _rows(store, 'filter exception_name = "KeyError" and stack_trace.type = "KeyError" '
                            '| stats count() by exception_name', before, after) == [["KeyError", 1]]
        assert _rows(store, 'filter exception like /KeyError/ | stats count()', before, after) == [[1]]
        assert sorted(r["message"] for r in store.logs(trace_id="5759e988bd862e3fe1be46a994272793")) == [
            "Processing failed", "Processing transcript"]

    def test_a_custom_datefmt_with_a_local_offset(self, store, monkeypatch):
        """datefmt without milliseconds, written in a +05:30 zone: the offset is honoured."""
        monkeypatch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        try:
            lines = _powertools_lines(datefmt="%Y-%m-%dT%H:%M:%S%z")
        finally:
            monkeypatch.delenv("TZ")
            time.tzset()
        assert lines[0]["timestamp"].endswith("+0530")
        now = int(time.time() * 1000)
        report = import_logs(store, b"\n".join(orjson.dumps(line) for line in lines))
        assert (report.imported, report.without_timestamp) == (2, [])
        # Read as UTC, the local wall-clock time would be 5 h 30 min in the future: outside this range.
        assert len(_rows(store, "fields @timestamp", now - 5_000, now + 5_000)) == 2

    def test_the_stored_timestamp_is_iso_utc_with_milliseconds(self, store):
        lines = [{"timestamp": "2026-11-27 17:30:01,969+0530", "message": "a"},
                 {"asctime": "2026-11-27 12:00:02,5", "message": "b"},  # python-json-logger
                 {"timestamp": 1795780803.25, "message": "c"},  # structlog, epoch seconds
                 {"timestamp": "2026-11-27T12:00:04.000001Z", "message": "d"}]  # structlog, ISO
        import_logs(store, b"\n".join(orjson.dumps(line) for line in lines))
        assert [r["timestamp"] for r in store.logs(start_ms=T0, end_ms=T0 + 10_000)] == [
            "2026-11-27T12:00:01.969Z", "2026-11-27T12:00:02.500Z", "2026-11-27T12:00:03.250Z",
            "2026-11-27T12:00:04.000Z"]


class TestLinesWithoutATime:
    def test_are_stored_at_the_import_time_and_named(self, store):
        data = b"\n".join([
            orjson.dumps({"timestamp": "2026-11-27T12:00:01Z", "message": "dated"}),
            b'{"message": "no time"}',
            b'{"timestamp": "yesterday", "message": "unreadable"}',
        ])
        before = int(time.time() * 1000) - 1000
        report = import_logs(store, data)
        assert report.imported == 3 and report.errors == []
        assert [n for n, _ in report.without_timestamp] == [2, 3]
        assert "no 'timestamp'" in report.without_timestamp[0][1]
        assert "'yesterday'" in report.without_timestamp[1][1]
        rows = _rows(store, "fields message, original_timestamp | sort message asc", before,
                     int(time.time() * 1000) + 1000)
        assert rows == [["no time", None], ["unreadable", "yesterday"]]

    def test_a_second_import_does_not_report_them_again(self, store):
        data = b'{"message": "no time"}\n'
        assert [n for n, _ in import_logs(store, data).without_timestamp] == [1]
        again = import_logs(store, data)
        assert (again.imported, again.already_imported, again.without_timestamp) == (0, 1, [])


PLATFORM_EVENTS = {"events": [
    {"timestamp": T0 + 1000, "message": "START RequestId: r1 Version: $LATEST\n", "logStreamName": "s", "eventId": "1"},
    {"timestamp": T0 + 1100, "message": "END RequestId: r1\n", "logStreamName": "s", "eventId": "2"},
    {"timestamp": T0 + 1100, "logStreamName": "s", "eventId": "3",
     "message": "REPORT RequestId: r1\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\t"
                "Max Memory Used: 70 MB\tInit Duration: 150.10 ms\t\n"},
    {"timestamp": T0 + 400_000, "logStreamName": "s", "eventId": "4",
     "message": "REPORT RequestId: r2\tDuration: 10.75 ms\tBilled Duration: 11 ms\tMemory Size: 128 MB\t"
                "Max Memory Used: 72 MB\tXRAY TraceId: 1-5759e988-bd862e3fe1be46a994272793\t"
                "SegmentId: 53995c3f42cd8ad8\tSampled: true\t\n"},
]}


class TestLambdaPlatformLines:
    def test_report_values_are_cloudwatch_discovered_fields(self, store):
        report = import_logs(store, orjson.dumps(PLATFORM_EVENTS), log_group="/aws/lambda/x")
        assert (report.imported, report.errors) == (4, [])
        stats = _rows(store, 'filter @type = "REPORT" | stats avg(@duration), max(@maxMemoryUsed), '
                             'sum(@billedDuration), max(@memorySize), max(@initDuration) by bin(5m)', T0, T0 + 600_000)
        assert stats == [["2026-11-27 12:00:00.000", 102.25, 70_000_000, 103, 128_000_000, 150.1],
                         ["2026-11-27 12:05:00.000", 10.75, 72_000_000, 11, 128_000_000, None]]
        types = _rows(store, "fields @type, @requestId | sort @timestamp asc", T0, T0 + 600_000)
        assert [tuple(r) for r in types] == [("START", "r1"), ("END", "r1"), ("REPORT", "r1"), ("REPORT", "r2")]
        assert _rows(store, 'filter trace_id = "5759e988bd862e3fe1be46a994272793" | fields @requestId',
                     T0, T0 + 600_000) == [["r2"]]

    def test_a_text_line_that_is_not_a_platform_line_is_still_an_error(self, store):
        report = import_logs(store, b"hello START RequestId: nope\nnot json at all\n")
        assert report.imported == 0 and [n for n, _ in report.errors] == [1, 2]
