"""Each command run on the fixture store (conftest.py); expected values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from whispersync.monitoring.logs.insights import InsightsQueryError, run_query

T0 = int(datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp() * 1000)  # as in conftest.py
START, END = T0 - 60_000, T0 + 3_600_000


def rows(result):
    return result["rows"]


def single(result):
    assert len(result["rows"]) == 1 and len(result["rows"][0]) == 1, result
    return result["rows"][0][0]


class TestFilter:
    @pytest.mark.parametrize(
        ("condition", "count"),
        [
            ('level = "ERROR"', 3),
            ('level != "INFO"', 4),  # 2 ERROR... events 4, 8, 9, 10; the text event has no level
            ('level = "ERROR" or level = "WARNING"', 4),
            ('not (level = "INFO")', 4),
            ("duration_ms > 100", 2),  # 120, 3000
            ('duration_ms >= 80 and agent_type = "work"', 3),
            ("transcript_size < 100", 2),  # 50, 7
            ("transcript_size <= 100", 3),
            ("transcript_size = 1000", 1),
            ('agent_type in ["memory", "github"]', 4),
            ('agent_type not in ["work", "memory"]', 2),
            ("http.status = 503", 1),
            ("http.status > 500 and http.path like '/v1/'", 1),
            ('message like "failed"', 3),
            ("@message like /Process(ing)? (failed|successful)/", 5),
            ("@message =~ /Process(ing)? (failed|successful)/", 5),
            ("@message not like /Processing/", 2),  # Slow request, disk full
            ("@message like /disk FULL/i", 1),
            ("@message like /(?i)DISK full/", 1),
            ("@message like /ERROR/", 4),  # 3 JSON lines with "level":"ERROR" and "[ERROR] disk full"
            ("@logStream = 'host-a'", 1),
            ("@log = '/whispersync/test'", 11),
            ("@timestamp >= 1795781100000", 5),  # T0 + 5 min as epoch ms
            ("strlen(correlation_id) = 2 and ispresent(error_type)", 3),
        ],
    )
    def test_it_keeps_matching_events(self, query, condition, count):
        """Comparisons, boolean logic, like, =~, in; JSON fields compare as numbers against numbers."""
        result = query(f"filter {condition} | stats count() as n")
        assert rows(result) == [[count]]
        assert result["statistics"]["recordsMatched"] == count

    def test_json_field_compared_with_a_string_is_text(self, query):
        """'3000' < '9' as text: a quoted value compares as a string."""
        assert single(query('filter duration_ms < "9" | stats count()')) == 3


class TestFields:
    def test_default_columns_and_order(self, query):
        """Without fields: @timestamp and @message, newest first."""
        result = query("limit 2")
        assert result["columns"] == ["@timestamp", "@message"]
        assert rows(result)[0] == ["2026-11-27 12:09:00.000", "2026-11-27 12:09:00 [ERROR] disk full"]
        assert rows(result)[1][0] == "2026-11-27 12:08:20.000"
        assert '"correlation_id":"c6"' in rows(result)[1][1]

    def test_it_shows_typed_json_and_nested_fields(self, query):
        """JSON values keep their type; dots reach into nested objects; missing is null."""
        result = query("filter correlation_id = 'c5' | fields @timestamp, level, duration_ms, http.status, http, nope")
        assert result["columns"] == ["@timestamp", "level", "duration_ms", "http.status", "http", "nope"]
        assert rows(result) == [["2026-11-27 12:06:40.000", "WARNING", 3000, 503,
                                 {"status": 503, "path": "/v1/transcripts"}, None]]

    def test_aliases_and_expressions(self, query):
        """`expr as name` defines a field later commands can use."""
        result = query("fields duration_ms / 1000 as s, duration_ms * 2 as d, duration_ms % 7 as m, 2 ^ 3 as p,"
                       " duration_ms - 1 as x, -duration_ms as neg | filter s > 1")
        assert rows(result) == [[3.0, 6000, 4, 8, 2999, -3000]]

    def test_several_fields_commands_add_up_and_display_picks(self, query):
        """Columns come from every fields command; display picks the ones shown."""
        q = "filter correlation_id = 'c5' | fields level | fields agent_type"
        assert query(q)["columns"] == ["level", "agent_type"]
        assert rows(query(q + " | display agent_type, level")) == [["work", "WARNING"]]


class TestStats:
    @pytest.mark.parametrize(
        ("aggregate", "value"),
        [
            ("count()", 11),
            ("count(*)", 11),
            ("count(duration_ms)", 3),
            ("count_distinct(agent_type)", 3),
            ("sum(transcript_size)", 1157),
            ("avg(transcript_size)", 289.25),
            ("min(transcript_size)", 7),
            ("max(transcript_size)", 1000),
            ("pct(transcript_size, 50)", 50),  # sorted 7, 50, 100, 1000: the 2nd of 4
            ("pct(transcript_size, 95)", 1000),
            ("earliest(correlation_id)", "c1"),
            ("latest(correlation_id)", "c6"),
            ("min(@timestamp)", "2026-11-27 12:00:00.000"),
            ("max(@timestamp)", "2026-11-27 12:09:00.000"),
            ("sum(duration_ms) / count(duration_ms)", 1066.6666666666667),
        ],
    )
    def test_aggregates(self, query, aggregate, value):
        """Each aggregate function over all 11 events."""
        result = query(f"stats {aggregate}")
        assert result["columns"] == [aggregate]
        assert single(result) == value

    def test_by_fields_and_aliases(self, query):
        """One row per group; by-fields first, then aggregates, groups in key order."""
        result = query("filter ispresent(agent_type) | stats count() as n, max(duration_ms) by agent_type")
        assert result["columns"] == ["agent_type", "n", "max(duration_ms)"]
        assert rows(result) == [["github", 2, None], ["memory", 2, None], ["work", 6, 3000]]
        assert result["statistics"]["recordsMatched"] == 10

    def test_bin(self, query):
        """bin(5m) buckets @timestamp at multiples of 5 minutes since the epoch."""
        result = query("stats count() by bin(5m)")
        assert result["columns"] == ["bin(5m)", "count()"]
        assert rows(result) == [["2026-11-27 12:00:00.000", 6], ["2026-11-27 12:05:00.000", 5]]

    def test_stats_then_filter_sort_and_limit(self, query):
        """Commands after stats work on its rows."""
        result = query("stats count() as n by agent_type | filter n > 1 | sort n desc | limit 1")
        assert rows(result) == [["work", 6]]

    def test_it_counts_an_empty_range(self, query):
        """No events: count() is 0 and nothing matched."""
        result = query("stats count()", start_ms=T0 - 10_000, end_ms=T0 - 1)
        assert rows(result) == [[0]]
        assert result["statistics"] == {"recordsMatched": 0, "recordsScanned": 0, "bytesScanned": 0}


class TestSortAndLimit:
    def test_numbers_sort_as_numbers(self, query):
        """1000 > 100 > 50 > 7, not text order."""
        result = query("filter ispresent(transcript_size) | sort transcript_size desc | fields correlation_id")
        assert rows(result) == [["c4"], ["c1"], ["c2"], ["c3"]]

    def test_several_keys(self, query):
        """Later keys order ties of earlier ones."""
        result = query("filter ispresent(agent_type) | sort agent_type asc, @timestamp desc"
                       " | fields agent_type, @timestamp | limit 4")
        assert rows(result) == [
            ["github", "2026-11-27 12:05:30.000"], ["github", "2026-11-27 12:05:20.000"],
            ["memory", "2026-11-27 12:01:10.000"], ["memory", "2026-11-27 12:01:00.000"],
        ]

    def test_limit_counts_matches_before_limiting(self, query):
        """recordsMatched counts every match, not just the rows returned."""
        result = query("fields correlation_id | limit 2")
        assert rows(result) == [[None], ["c6"]]
        assert result["statistics"]["recordsMatched"] == 11


class TestParse:
    def test_glob(self, query):
        """`*` captures lazily, the last one to the end; a non-matching event keeps its row."""
        result = query('parse @message "* [*] *" as d, lvl, msg | display lvl, msg, d')
        assert rows(result)[0] == ["ERROR", "disk full", "2026-11-27 12:09:00"]
        assert len(rows(result)) == 11 and rows(result)[1] == [None, None, None]

    def test_glob_from_another_field_feeds_stats(self, query):
        """Parsed values are numbers when they look like numbers: c1..c6 → 31."""
        assert single(query('parse correlation_id "c*" as num | stats sum(num)')) == 31

    def test_regex_named_groups(self, query):
        """`(?<name>...)` groups become fields; other groups are not extracted."""
        result = query(r"parse @message /\[(?<lvl>\w+)\] (disk|net) (?<what>.*)/ | filter ispresent(lvl)")
        assert result["columns"] == ["@timestamp", "@message", "lvl", "what"]
        assert rows(result)[0][2:] == ["ERROR", "full"]

    def test_cloudwatch_example(self, query):
        """The docs' example: parse loggingType, then filter on it with in [...]."""
        result = query('FIELDS @message | PARSE @message "* [*] *" as loggingTime, loggingType, loggingMessage'
                       ' | FILTER loggingType IN ["ERROR", "INFO"] | DISPLAY loggingMessage, loggingType')
        assert rows(result) == [["disk full", "ERROR"]]


class TestDedup:
    def test_it_keeps_the_first_in_sort_order(self, query):
        """The docs' example shape: the newest event per value."""
        result = query("filter ispresent(agent_type) | fields agent_type, correlation_id"
                       " | sort @timestamp desc | dedup agent_type")
        assert rows(result) == [["work", "c6"], ["github", "c4"], ["memory", "c2"]]

    def test_nulls_are_not_duplicates(self, query):
        """Events without the field all stay; one per error_type otherwise."""
        result = query("fields correlation_id, error_type | dedup error_type")
        kept = [r for r in rows(result) if r[1] is not None]
        assert kept == [["c6", "ValueError"], ["c4", "TimeoutError"]]
        assert len(rows(result)) == 10
        assert result["statistics"]["recordsMatched"] == 11


class TestTimeRange:
    def test_default_is_the_last_hour(self, store):
        """No range: the hour before now; here now is T0 + 65 min."""
        result = run_query(store, "stats count()", now_ms=T0 + 3_900_000)
        assert result["rows"] == [[5]] and result["statistics"]["recordsScanned"] == 5

    def test_both_ends_are_inclusive(self, store):
        """An event exactly at start or end is in."""
        result = run_query(store, "stats count()", start_ms=T0, end_ms=T0 + 10_000)
        assert result["rows"] == [[2]]

    def test_statistics(self, query):
        """Scanned counts every event in range, bytes their stored size."""
        stats = query("filter level = 'ERROR'")["statistics"]
        assert stats["recordsScanned"] == 11 and stats["recordsMatched"] == 3
        assert 1500 < stats["bytesScanned"] < 4000

    def test_unknown_function_is_a_query_error(self, query):
        """Compile-time errors carry the position too."""
        with pytest.raises(InsightsQueryError) as info:
            query("fields nosuch(x)")
        assert info.value.position == 7 and "unknown function nosuch()" in str(info.value)

    def test_it_reads_compacted_data(self, store):
        """The same answer once the JSONL segments are Parquet."""
        before = run_query(store, "stats count() by bin(5m)", start_ms=START, end_ms=END)
        store._clock = lambda: 4_000_000_000.0  # far future: every segment is closed
        store.compact()
        assert run_query(store, "stats count() by bin(5m)", start_ms=START, end_ms=END)["rows"] == before["rows"]


class TestNaturalSort:
    """CloudWatch's documented sort order (CWL_QuerySyntax-Sort): non-number values
    first, digit runs compared by length then value, other parts by Unicode."""

    VALUES = ["item10", "item9", "Item2", "abc", "10", "9"]
    ASCENDING = ["Item2", "abc", "item9", "item10", "9", "10"]
    # The docs' own example, in their ascending order.
    DOCS = ["!:", "#", "*%04", "0#", "5A", "111A", "2345_", "@", "@_", "A", "A9876fghj", "a12345hfh",
            "0", "01", "1", "2", "3"]

    @staticmethod
    def _sorted(tmp_path, values, direction):
        from whispersync.monitoring.logs import import_logs
        from whispersync.monitoring.store import TelemetryStore

        store = TelemetryStore(tmp_path / "telemetry")
        try:
            # Reversed timestamps, so the default newest-first order is not the answer by luck.
            lines = [orjson.dumps({"timestamp": T0 + (len(values) - i) * 1000, "name": v})
                     for i, v in enumerate(values)]
            lines.append(orjson.dumps({"timestamp": T0, "other": 1}))  # no `name`: sorts last both ways
            assert import_logs(store, b"\n".join(lines) + b"\n", log_group="/t").imported == len(values) + 1
            result = run_query(store, f"sort name {direction} | fields name", start_ms=START, end_ms=END)
            return [r[0] for r in rows(result)]
        finally:
            store.close()

    def test_ascending(self, tmp_path):
        assert self._sorted(tmp_path, self.VALUES, "asc") == [*self.ASCENDING, None]

    def test_descending_is_the_reverse(self, tmp_path):
        assert self._sorted(tmp_path, self.VALUES, "desc") == [*reversed(self.ASCENDING), None]

    def test_the_documented_example(self, tmp_path):
        shuffled = self.DOCS[::2] + self.DOCS[1::2]
        assert self._sorted(tmp_path, shuffled, "asc") == [*self.DOCS, None]

    def test_a_typed_text_column(self, tmp_path):
        """`level` is a typed column of the logs view: the same order applies."""
        from whispersync.monitoring.logs import import_logs
        from whispersync.monitoring.store import TelemetryStore

        store = TelemetryStore(tmp_path / "telemetry")
        try:
            lines = [orjson.dumps({"timestamp": T0 + i * 1000, "level": v}) for i, v in enumerate(self.VALUES)]
            import_logs(store, b"\n".join(lines) + b"\n", log_group="/t")
            result = run_query(store, "sort level asc | fields level", start_ms=START, end_ms=END)
            assert [r[0] for r in rows(result)] == self.ASCENDING
        finally:
            store.close()
