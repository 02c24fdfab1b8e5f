"""Queries as people write them: any number of parse groups, regexes with classes and
flags, stats over expressions and earlier aliases, commands in any documented order,
and fields no event has. Mostly on the conftest store (11 events, worked out by hand):

    s    level    agent   cid  extra                message
    0    INFO     work    c1   transcript_size 100  Processing transcript
    10   INFO     work    c1   duration_ms 120      Processing successful
    60   INFO     memory  c2   transcript_size 50   Processing transcript
    70   ERROR    memory  c2   ValueError           Processing failed
    200  INFO     work    c3   transcript_size 7    Processing transcript
    230  INFO     work    c3   duration_ms 80       Processing successful
    320  INFO     github  c4   transcript_size 1000 Processing transcript
    330  ERROR    github  c4   TimeoutError         Processing failed
    400  WARNING  work    c5   duration_ms 3000     Slow request
    500  ERROR    work    c6   ValueError           Processing failed
    540  (a plain text event: "2026-11-27 12:09:00 [ERROR] disk full", stream host-a)
"""

from __future__ import annotations

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError, parse_query, run_query
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC, as in conftest.py
TWELVE_GROUPS = (r"/(?<y1>\d)(?<y2>\d)(?<y3>\d)(?<y4>\d)-(?<mo1>\d)(?<mo2>\d)-(?<d1>\d)(?<d2>\d)"
                 r" (?<h1>\d)(?<h2>\d):(?<mi>\d\d):(?<sec>\d\d)/")


def events_store(tmp_path, messages: list[str], group: str = "/t") -> TelemetryStore:
    store = TelemetryStore(tmp_path / "telemetry")
    events = [{"timestamp": T0 + i * 1000, "message": m, "logStreamName": "s", "eventId": str(i)}
              for i, m in enumerate(messages)]
    assert import_logs(store, orjson.dumps({"events": events}), log_group=group).imported == len(messages)
    return store


class TestParse:
    def test_a_regex_with_twelve_named_groups(self, query):
        """regexp_extract by group number stops at 9 ("Group index must be between 0 and 9")."""
        result = query(f"parse @message {TWELVE_GROUPS} | filter ispresent(sec) | display y1, y4, h2, mi, sec")
        assert result["rows"] == [["2", "6", "2", "09", "00"]]

    def test_a_glob_with_ten_stars(self, query):
        names = ", ".join("abcdefghij")
        result = query(f'parse @message "*0*-*-* *:*:* [*] * *" as {names} | filter ispresent(j) | display {names}')
        assert result["rows"] == [["2", "26", "11", "27", "12", "09", "00", "ERROR", "disk", "full"]]

    def test_the_documented_regex_with_colons_and_commas(self, tmp_path):
        """CWL_QuerySyntax-Parse's example, once reported as an unterminated regex."""
        store = events_store(tmp_path, ["user=ann, method:GET, latency := 40", "user=bob, method:PUT, latency := 60",
                                        "user=ann, method:GET, latency := 20"])
        try:
            result = run_query(store, "parse @message /user=(?<user2>.*?), method:(?<method2>.*?),"
                                      " latency := (?<latency2>.*?)$/ | stats avg(latency2) by method2, user2",
                               start_ms=T0, end_ms=T0 + 10_000)
            assert result["rows"] == [["GET", "ann", 30.0], ["PUT", "bob", 60.0]]
        finally:
            store.close()

    @pytest.mark.parametrize(("regex", "value"), [
        (r"/\[(?<lvl>[^]/]+)\]/", "ERROR"),  # a class holding `]` first and an unescaped `/`
        (r"/\[(?<lvl>[A-Z/]+)\] (?<rest>\S+)/", "ERROR"),
        (r"/\[(?<lvl>error)\]/i", "ERROR"),  # a flag after the closing slash
        (r"/(?i)\[(?<lvl>error)\]/", "ERROR"),
        (r"/\[(?P<lvl>\w+)\]/", "ERROR"),  # RE2's own spelling of a named group
        (r"/\[(?<lvl>\w+)\] disk\/?/", "ERROR"),  # an escaped slash
    ])
    def test_regexes_as_the_docs_write_them(self, query, regex, value):
        result = query(f"parse @message {regex} | filter ispresent(lvl) | display lvl")
        assert result["rows"] == [[value]]

    def test_positional_groups_named_after_as(self, query):
        """`/(...)(...)/ as a, b`: the capturing groups in order, as a glob's stars."""
        result = query(r"parse @message /\[(\w+)\] (\w+) (?<last>\w+)/ as lvl, what, tail | filter ispresent(lvl)"
                       " | display lvl, what, tail")
        assert result["rows"] == [["ERROR", "disk", "full"]]

    @pytest.mark.parametrize(("text", "position", "words"), [
        (r"parse @message /(\d+)-(\d+)/ as a", 15, "has 2 capturing groups but 1 field names"),
        (r"parse @message /\d+/", 15, "expected a regular expression with named groups"),
        ('parse "x*" as n multi', 16, "not a glob"),
    ])
    def test_parse_errors_point_at_the_problem(self, query, text, position, words):
        with pytest.raises(InsightsQueryError) as info:
            query(text)
        assert info.value.position == position and words in info.value.reason

    def test_a_slash_in_a_class_stays_in_the_regex_after_like(self, query):
        assert query("filter @logStream like /host[/-]a/ | stats count() as n")["rows"] == [[1]]

    def test_a_class_that_never_closes_is_an_unterminated_regex(self):
        with pytest.raises(InsightsQueryError, match="unterminated regular expression") as info:
            parse_query("parse @message /(?<a>[/)/")
        assert info.value.position == len("parse @message ")


class TestStatsExpressions:
    def test_arithmetic_over_aggregates(self, query):
        result = query("stats count(*) - count(duration_ms) as without, sum(duration_ms) / count(*) * 100 as pct")
        assert result["rows"] == [[8, 3200 / 11 * 100]]

    def test_earlier_aliases_of_the_same_stats(self, query):
        result = query("stats max(transcript_size) as big, min(transcript_size) as small, big - small as spread,"
                       " spread / big * 100 as pct_spread")
        assert result["columns"] == ["big", "small", "spread", "pct_spread"]
        assert result["rows"] == [[1000, 7, 993, 99.3]]

    def test_earlier_aliases_per_group(self, query):
        result = query("filter ispresent(transcript_size) | stats max(transcript_size) as big,"
                       " min(transcript_size) as small, big - small as spread by agent_type")
        assert result["rows"] == [["github", 1000, 1000, 0], ["memory", 50, 50, 0], ["work", 100, 7, 93]]

    def test_the_aws_lambda_memory_sample(self, tmp_path):
        """AWS's sample query over imported REPORT lines (memory in bytes: "Memory Size: 128 MB")."""
        report = "REPORT RequestId: r{}\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t" \
                 "Max Memory Used: {} MB\t\n"
        store = events_store(tmp_path, [report.format(1, 70), "START RequestId: r2 Version: $LATEST\n",
                                        report.format(2, 72), report.format(3, 71)], group="/aws/lambda/f")
        try:
            result = run_query(store, 'filter @type = "REPORT" | stats max(@memorySize / 1000 / 1000) as'
                                      " provisonedMemoryMB, min(@maxMemoryUsed / 1000 / 1000) as"
                                      " smallestMemoryRequestMB, avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB,"
                                      " max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB, provisonedMemoryMB -"
                                      " maxMemoryUsedMB as overProvisionedMB", start_ms=T0, end_ms=T0 + 10_000)
            assert result["columns"] == ["provisonedMemoryMB", "smallestMemoryRequestMB", "avgMemoryUsedMB",
                                         "maxMemoryUsedMB", "overProvisionedMB"]
            assert result["rows"] == [[128.0, 70.0, 71.0, 72.0, 56.0]]
            assert result["statistics"]["recordsMatched"] == 3
        finally:
            store.close()

    @pytest.mark.parametrize(("text", "position", "words"), [
        ("stats count() + duration_ms", 16, "duration_ms is a field of each event"),
        ("stats sum(count(*))", 10, "they do not nest"),
        ("stats count() as n, later + 1 as x", 20, "expected an aggregate function"),
        ("stats count() + bin(5m)", 16, "use it after 'by'"),
    ])
    def test_what_is_not_an_aggregate_is_a_positioned_error(self, query, text, position, words):
        with pytest.raises(InsightsQueryError) as info:
            query(text)
        assert info.value.position == position and words in info.value.reason


class TestCommandOrder:
    def test_limit_before_filter_filters_the_newest(self, query):
        """Each command works on what the ones before left: the newest 5, then their errors."""
        assert query('limit 5 | filter level = "ERROR" | fields correlation_id')["rows"] == [["c6"], ["c4"]]
        assert query('filter level = "ERROR" | limit 5 | fields correlation_id')["rows"] == [["c6"], ["c4"], ["c2"]]

    def test_sort_and_limit_before_stats(self, query):
        result = query("sort @timestamp asc | limit 3 | stats count() as n, sum(transcript_size) as size")
        assert result["rows"] == [[3, 150]]
        assert result["statistics"]["recordsMatched"] == 11  # counted before the limit, as with limit last

    def test_limit_filter_limit_counts_the_filtered_events(self, query):
        """The newest 8 hold 3 INFO events (c4, c3, c3): 3 matched, 2 kept."""
        result = query('limit 8 | filter level = "INFO" | limit 2 | stats count() as n')
        assert result["rows"] == [[2]] and result["statistics"]["recordsMatched"] == 3

    def test_limit_before_sort_sorts_what_the_limit_kept(self, query):
        assert query("limit 3 | sort correlation_id asc | fields correlation_id")["rows"] == [["c5"], ["c6"], [None]]

    def test_limit_before_parse_and_stats(self, query):
        assert query('limit 6 | parse correlation_id "c*" as num | stats sum(num) as total')["rows"] == [[22]]

    def test_limit_before_dedup(self, query):
        result = query("fields level | limit 4 | dedup level")
        assert result["rows"] == [[None], ["ERROR"], ["WARNING"]]

    def test_a_second_stats_aggregates_the_first(self, query):
        result = query("stats count() as n by agent_type | stats max(n) as most, count(*) as groups")
        assert result["rows"] == [[6, 4]] and result["statistics"]["recordsMatched"] == 11

    def test_a_second_stats_by_groups_matched_the_events_once(self, query):
        """recordsMatched counts events, not the first stats' groups once per second-stats group."""
        result = query("stats count() as n by agent_type, level | stats sum(n) as total by agent_type")
        assert result["rows"] == [["github", 2], ["memory", 2], ["work", 6], [None, 1]]
        assert result["statistics"]["recordsMatched"] == 11

    def test_the_documented_filter_between_two_stats(self, query):
        """CWL_QuerySyntax-Stats: STATS ... BY session | FILTER ... | STATS ... BY platform."""
        result = query("stats count(*) as requests by correlation_id, agent_type | filter requests > 1"
                       " | stats count(*) as multi, sum(requests) / count(*) as avg_requests by agent_type")
        assert result["rows"] == [["github", 1, 2.0], ["memory", 1, 2.0], ["work", 2, 2.0]]

    def test_a_time_kept_by_the_first_stats_bins_the_second(self, query):
        """The docs' way round bin() in a second stats: keep @timestamp as @t, then datefloor(@t, 5m)."""
        result = query("stats count() as n, max(@timestamp) as @t by agent_type"
                       " | stats sum(n) as total by datefloor(@t, 5m)")
        assert result["rows"] == [["2026-11-27 12:00:00.000", 2], ["2026-11-27 12:05:00.000", 9]]

    @pytest.mark.parametrize(("text", "position", "words"), [
        ("stats count() as a | stats count() as b | stats count() as c", 42, "at most 2 stats"),
        ("stats count() as a by level | sort a | stats count() as b", 30, "sort must come after the second stats"),
        ("limit 5 | stats count() as a by level | stats count() as b", 0, "limit must come after the second stats"),
        ("stats count() as n by level | stats count() by bin(5m)", 47, "bin() needs @timestamp"),
        # The docs' own invalid example: @message is gone after the first stats.
        ("fields @message | stats count() as n by level | stats max(strlen(@message)) as m", 65,
         "@message is not a field of the first stats; the second can use only those (level, n)"),
        ("stats count() as n by level | stats count() by nosuch", 47, "nosuch is not a field of the first stats"),
        ("fields a | dedup a | sort a", 21, "only limit may follow dedup"),
    ])
    def test_what_the_docs_forbid_is_a_positioned_error(self, query, text, position, words):
        with pytest.raises(InsightsQueryError) as info:
            query(text)
        assert info.value.position == position and words in info.value.reason


class TestFieldsNoEventHas:
    def test_sorting_by_one_keeps_the_default_order(self, query):
        """Was: "ORDER BY non-integer literal has no effect" after stats."""
        assert query("sort nosuch | limit 1 | fields @timestamp")["rows"] == [["2026-11-27 12:09:00.000"]]
        result = query("stats count() as n by agent_type | sort nosuch desc")
        assert result["rows"] == [["github", 2], ["memory", 2], ["work", 6], [None, 1]]

    def test_stats_group_and_aggregate_it_as_null(self, query):
        result = query("stats count() as n, max(nosuch) as m, sum(nosuch) as s, count(nosuch) as c by nosuch")
        assert result["rows"] == [[None, 11, None, None, 0]]

    def test_after_stats_it_is_null_everywhere(self, query):
        assert query("stats count() as n by level | filter nosuch > 1")["rows"] == []
        assert query("stats count() as n by level | display level, nosuch | limit 1")["rows"] == [["ERROR", None]]
        assert query("stats count() as n by level | dedup nosuch")["rows"] == [
            ["ERROR", 3], ["INFO", 6], ["WARNING", 1], [None, 1]]


class TestValues:
    def test_a_constant_sort_key_orders_nothing(self, query):
        """`fields 2 as k | sort k` once sorted by the second output column."""
        rows = query("fields 2 as k, correlation_id | sort k | limit 2")["rows"]
        assert rows == [[2, None], [2, "c6"]]

    def test_a_decimal_number_is_a_float(self, query):
        value = query("fields 2.5 as x | limit 1")["rows"][0][0]
        assert value == 2.5 and type(value) is float  # was decimal.Decimal: not JSON

    def test_modulo_by_zero_is_null(self, query):
        """As division by zero: no "Division by zero" from the engine."""
        assert query("filter ispresent(duration_ms) | fields duration_ms % 0 as m | limit 1")["rows"] == [[None]]
