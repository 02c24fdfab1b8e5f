"""The seed plan's saved queries and CloudWatch's documented examples, on the fixture store."""

from __future__ import annotations

import orjson
import pytest

from whispersync.monitoring.logs.insights import SAVED_QUERIES, run_query, saved_query
from whispersync.monitoring.logs import import_logs

T0 = 1795780800000  # as in conftest.py


class TestSeedQueries:
    def test_error_analysis(self, query):
        """4 lines hold ERROR: three JSON error lines and the text event (no error_type)."""
        result = query(saved_query("error_analysis"))
        assert result["columns"] == ["error_type", "agent_type", "count()"]
        assert result["rows"] == [["TimeoutError", "github", 1], ["ValueError", "memory", 1],
                                  ["ValueError", "work", 1], [None, None, 1]]
        assert result["statistics"]["recordsMatched"] == 4

    def test_performance_analysis(self, query):
        """Two successes, both work: 120 and 80 ms."""
        result = query(saved_query("performance_analysis"))
        assert result["columns"] == ["agent_type", "avg(duration_ms)", "max(duration_ms)", "min(duration_ms)"]
        assert result["rows"] == [["work", 100.0, 120, 80]]

    def test_user_activity(self, query):
        """Transcripts at 0s, 60s, 200s (work, memory, work) and 320s (github), newest bucket first."""
        result = query(saved_query("user_activity"))
        assert result["columns"] == ["time_bucket", "agent_type", "count()"]
        assert result["rows"] == [["2026-11-27 12:05:00.000", "github", 1],
                                  ["2026-11-27 12:00:00.000", "memory", 1],
                                  ["2026-11-27 12:00:00.000", "work", 2]]

    def test_all_three_ship(self):
        """The names the CLI's --saved accepts."""
        assert sorted(SAVED_QUERIES) == ["error_analysis", "performance_analysis", "user_activity"]
        with pytest.raises(KeyError, match="known: error_analysis"):
            saved_query("nope")


class TestCloudWatchExamples:
    def test_most_recent_25(self, query):
        """limit docs: `fields @timestamp, @message | sort @timestamp desc | limit 25`."""
        result = query("fields @timestamp, @message | sort @timestamp desc | limit 25")
        assert len(result["rows"]) == 11
        stamps = [r[0] for r in result["rows"]]
        assert stamps == sorted(stamps, reverse=True)

    def test_exceptions_per_hour(self, query):
        """Sample query: count matching lines per hour, sorted by the count."""
        result = query("filter @message like /ERROR/ | stats count(*) as exceptionCount by bin(1h)"
                       " | sort exceptionCount desc")
        assert result["rows"] == [["2026-11-27 12:00:00.000", 4]]

    def test_parse_glob_into_at_fields(self, store):
        """parse docs: `parse @message "user=*, method:*, latency := *" as @user, @method, @latency
        | stats avg(@latency) by @method, @user`."""
        events = [{"timestamp": T0 + 1000 + i, "message": m, "logStreamName": "s"} for i, m in enumerate(
            ["user=alice, method:GET, latency := 10", "user=alice, method:GET, latency := 30",
             "user=bob, method:PUT, latency := 5"])]
        import_logs(store, orjson.dumps({"events": events}, option=orjson.OPT_INDENT_2))
        result = run_query(store, 'parse @message "user=*, method:*, latency := *" as @user, @method, @latency'
                           " | stats avg(@latency) by @method, @user", start_ms=T0 + 1000, end_ms=T0 + 1010)
        assert result["columns"] == ["@method", "@user", "avg(@latency)"]
        assert result["rows"] == [["GET", "alice", 20.0], ["PUT", "bob", 5.0]]

    def test_vpc_flow_log_named_group(self, store):
        """parse docs: `parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message`."""
        line = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 ACCEPT OK"
        import_logs(store, orjson.dumps({"timestamp": T0, "message": line}) + b"\n")
        result = run_query(store, "parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message"
                           " | filter ispresent(NetworkInterface)", start_ms=T0, end_ms=T0)
        assert result["rows"] == [["eni-1235b8ca123456789", line]]
