"""Importing log files: Powertools lines, CloudWatch events, and bad lines."""

from __future__ import annotations

import orjson

from whispersync.monitoring.logs.insights import run_query
from whispersync.monitoring.logs import import_logs

T0 = 1795780800000


class TestImport:
    def test_a_get_log_events_response(self, store, tmp_path):
        """@timestamp is the event's, @message the raw line, and its JSON keys are fields."""
        line = '{"level":"INFO","timestamp":"2020-01-01T00:00:00Z","duration_ms":5,"nested":{"k":"v"}}\n'
        response = {"events": [{"timestamp": T0 + 7_200_000, "message": line, "ingestionTime": T0 + 7_200_500}],
                    "nextForwardToken": "f/1", "nextBackwardToken": "b/1"}
        path = tmp_path / "events.json"
        path.write_bytes(orjson.dumps(response, option=orjson.OPT_INDENT_2))
        report = import_logs(store, path, log_group="/aws/lambda/x")
        assert (report.imported, report.errors) == (1, [])
        result = run_query(store, "fields @timestamp, @message, @log, duration_ms, nested.k, timestamp, level",
                           start_ms=T0 + 7_200_000, end_ms=T0 + 7_200_000)
        assert result["rows"] == [["2026-11-27 14:00:00.000", line, "/aws/lambda/x", 5, "v",
                                   "2020-01-01T00:00:00Z", "INFO"]]

    def test_filter_log_events_lines(self, store):
        """One event per line, with its stream; a plain-text message has no fields."""
        data = b"".join(orjson.dumps({"timestamp": T0 + 7_200_000 + i, "message": f"START RequestId: r{i}",
                                      "logStreamName": "2026/11/27/[$LATEST]abc", "eventId": str(i)}) + b"\n"
                        for i in range(3))
        assert import_logs(store, data).imported == 3
        result = run_query(store, "fields @logStream, @message | sort @timestamp asc",
                           start_ms=T0 + 7_200_000, end_ms=T0 + 7_200_010)
        assert result["rows"] == [["2026/11/27/[$LATEST]abc", f"START RequestId: r{i}"] for i in range(3)]

    def test_bad_lines_are_reported_and_lines_without_a_time_stored_and_named(self, store):
        """A line that is not an event names its number and reason; a line without a usable
        time is stored at the import's time and named (it is not lost, and not silent)."""
        data = b"\n".join([
            orjson.dumps({"timestamp": T0 + 7_200_000, "level": "INFO", "message": "one"}),
            b"not json",
            b"[1, 2]",
            b'{"level": "INFO", "message": "no time"}',
            b'{"timestamp": "yesterday", "message": "x"}',
            b"",
            orjson.dumps({"timestamp": "2026-11-27T14:00:01Z", "level": "INFO", "message": "two"}),
        ])
        report = import_logs(store, data)
        assert report.imported == 4
        assert [n for n, _ in report.errors] == [2, 3]
        assert "not valid JSON" in report.errors[0][1]
        assert "expected a JSON object, got list" == report.errors[1][1]
        assert [n for n, _ in report.without_timestamp] == [4, 5]
        assert "no 'timestamp'" in report.without_timestamp[0][1]
        assert "'yesterday'" in report.without_timestamp[1][1]
        result = run_query(store, "fields message | sort @timestamp asc", start_ms=T0 + 7_200_000,
                           end_ms=T0 + 7_201_000)
        assert result["rows"] == [["one"], ["two"]]
