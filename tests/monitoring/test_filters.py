"""Tests for CloudWatch filter patterns and metric filters (whispersync.monitoring.filters).

Expected matches are worked out by hand from CloudWatch's "Filter pattern syntax"
page; the event sets below are the ones that page uses.
"""

from __future__ import annotations

import orjson
import pytest

from whispersync.errors import InputError
from whispersync.monitoring import plan
from whispersync.monitoring.filters import (
    FilterPatternError,
    MetricFilter,
    MetricFilterListener,
    parse_pattern,
    test_metric_filter,
)
from whispersync.monitoring.store import TelemetryStore
from whispersync.telemetry import Telemetry

# The unstructured events of the CloudWatch page's term examples.
EVENTS = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
]

# The JSON event of the page's JSON examples (abridged to the fields used).
JSON_EVENT = orjson.dumps({
    "eventType": "UpdateTrail",
    "sourceIPAddress": "111.111.111.111",
    "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
    "SomeObject": None,
    "cluster.name": "c1",
    "ThisFlag": True,
    "ThatFlag": False,
    "bandwidth": 80,
    "latency": 500,
    "user": {"id": 1, "email": "John.Doe@example.com"},
    "users": [{"id": 2, "email": "John.Doe@example.com"}],
    "actions": ["GET", "PUT", "DELETE"],
    "coordinates": [[0, 1], [2, 3]],
}).decode()

ACCESS_LOG = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'
ACCESS_LOG_404 = '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /index.html HTTP/1.0" 404 -'


def matched(pattern: str, events: list[str]) -> list[int]:
    return [m["eventNumber"] for m in test_metric_filter(pattern, events)["matches"]]


class TestTermPatterns:
    @pytest.mark.parametrize(
        ("pattern", "expected"),
        [
            ("", [1, 2, 3, 4]),  # the empty pattern matches every event
            ("ERROR", [1, 2, 3, 4]),
            ("ERROR ARGUMENTS", [3, 4]),  # all terms
            ("?ARGUMENTS ?UNAUTHORIZED", [2, 3, 4]),  # any term
            ("ERROR -ARGUMENTS", [1, 2]),  # exclusion
            ('"INVALID ARGUMENTS"', [4]),  # exact phrase
            ('"MISSING ARGUMENTS" ?x', []),  # a ? term is required when present
            ("error", []),  # case-sensitive
            ("%4[01]9%", [3]),  # a regex
            ("%^\\[ERROR 4[02]0\\]%", [1, 4]),
        ],
    )
    def test_it_matches_the_documented_examples(self, pattern: str, expected: list[int]) -> None:
        assert matched(pattern, EVENTS) == expected

    def test_test_metric_filter_answers_like_the_api(self) -> None:
        assert test_metric_filter("ARGUMENTS", EVENTS) == {"matches": [
            {"eventNumber": 3, "eventMessage": EVENTS[2], "extractedValues": {}},
            {"eventNumber": 4, "eventMessage": EVENTS[3], "extractedValues": {}},
        ]}


class TestJsonPatterns:
    @pytest.mark.parametrize(
        ("pattern", "matches"),
        [
            ('{ $.eventType = "UpdateTrail" }', True),
            ('{ $.eventType = UpdateTrail }', True),  # unquoted string
            ('{ $.eventType != "UpdateTrail" }', False),
            ("{ $.sourceIPAddress != 123.123.* }", True),  # wildcard
            ("{ $.sourceIPAddress = 111.* }", True),
            ('{ $.eventType = "Update*" }', True),
            ('{ $.arrayKey[0] = "value" }', True),
            ('{ $.arrayKey[1] = "value" }', False),
            ("{ $.objectList[1].id = 2 }", True),
            ("{ $.bandwidth > 75 }", True),
            ("{ $.latency <= 500 }", True),
            ("{ $.latency < 500 }", False),
            ("{ $.bandwidth = 8e1 }", True),
            ("{ $.SomeObject IS NULL }", True),
            ("{ $.eventType IS NULL }", False),
            ("{ $.SomeOtherObject NOT EXISTS }", True),
            ("{ $.eventType NOT EXISTS }", False),
            ("{ $.eventType EXISTS }", True),
            ("{ $.ThisFlag IS TRUE }", True),
            ("{ $.ThatFlag IS FALSE }", True),
            ("{ $.ThatFlag IS TRUE }", False),
            ("{ $.['cluster.name'] = \"c1\" }", True),
            ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
            ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
            # && binds tighter than ||: true || (false && false).
            ('{ $.user.email = "John.Doe@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }', True),
            ("{ $.coordinates[1][0] = 2 }", True),
            ("{ $.eventType = 5 }", False),  # a number never equals a string
            ("{ $.bandwidth = \"80\" }", True),  # a number's text compared as a string
            ("{ $.missing != 1 }", False),  # a missing field fails every comparison
            ("{ $.eventType = * }", True),
            ("{ $.eventType = %Update[A-Z]rail% }", True),
        ],
    )
    def test_it_matches_the_documented_json_examples(self, pattern: str, matches: bool) -> None:
        assert bool(matched(pattern, [JSON_EVENT])) is matches

    def test_it_never_matches_text_that_is_not_json(self) -> None:
        assert matched('{ $.level = "ERROR" }', ["ERROR level", '{"level": "ERROR"'] ) == []

    def test_it_extracts_the_selectors_it_names(self) -> None:
        result = test_metric_filter("{ $.latency > 1 && $.eventType = * }", [JSON_EVENT])
        assert result["matches"][0]["extractedValues"] == {"$.latency": "500", "$.eventType": "UpdateTrail"}


class TestSpaceDelimitedPatterns:
    @pytest.mark.parametrize(
        ("pattern", "expected"),
        [
            ("[ip, user, username, timestamp, request, status_code, bytes]", [1, 2]),
            ("[ip, user, username, timestamp, request, status_code = 404, bytes]", [2]),
            ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [2]),
            ("[ip, user, username, timestamp, request = *html*, status_code, bytes]", [2]),
            ("[ip, user, username, timestamp, request, status_code != 200, bytes]", [2]),
            ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", [1]),
            ("[ip, user, ..., status_code = 2* || status_code = 404, bytes]", [1, 2]),
            ("[ip, user, ..., status_code >= 200 && status_code < 300, bytes]", [1]),
            ("[..., status_code, bytes]", [1, 2]),
            ("[ip = 127.0.0.1, ...]", [1, 2]),
            ("[ip, user, username]", []),  # too few fields, no ...
            ("[ERROR]", []),  # the seed's pattern: one field, so one-word events only
        ],
    )
    def test_it_matches_the_documented_access_log_examples(self, pattern: str, expected: list[int]) -> None:
        assert matched(pattern, [ACCESS_LOG, ACCESS_LOG_404]) == expected

    def test_one_field_pattern_matches_only_one_word_events(self) -> None:
        assert matched("[ERROR]", ["ERROR", "[ERROR] disk full", '{"level": "ERROR"}', "anything"]) == [1, 4]

    def test_it_extracts_every_named_field_without_brackets_or_quotes(self) -> None:
        result = test_metric_filter("[ip, user, username, timestamp, request, status_code, bytes]", [ACCESS_LOG])
        assert result["matches"][0]["extractedValues"] == {
            "$ip": "127.0.0.1", "$user": "-", "$username": "frank",
            "$timestamp": "10/Oct/2000:13:25:15 -0700", "$request": "GET /apache_pb.gif HTTP/1.0",
            "$status_code": "200", "$bytes": "1534",
        }


class TestPatternErrors:
    @pytest.mark.parametrize(
        ("pattern", "position"),
        [
            ("{ $.a = }", 8),
            ("{ $.a = 1", 9),
            ("{ a = 1 }", 2),
            ('{ $.a > "x" }', 8),
            ("{ $.a = 1 && }", 13),
            ("[a, b", 5),
            ("[a, a]", 4),
            ('"unterminated', 0),
            ("%a(b)%", 2),
        ],
    )
    def test_it_points_at_the_position(self, pattern: str, position: int) -> None:
        with pytest.raises(FilterPatternError) as info:
            parse_pattern(pattern)
        assert info.value.position == position
        assert f"at position {position}" in str(info.value)
        assert isinstance(info.value, InputError)


class TestMetricFilter:
    def test_value_comes_from_a_json_field_and_dimensions_from_fields(self) -> None:
        f = MetricFilter(name="Latency", pattern="{ $.duration_ms > 0 }", namespace="App", metric_name="Latency",
                         value="$.duration_ms", unit="Milliseconds", dimensions={"Agent": "$.agent_type"})
        out = MetricFilterListener([f])([
            {"timestamp": "2026-11-27T13:45:00.000Z", "duration_ms": 12.5, "agent_type": "work"},
            {"timestamp": "2026-11-27T13:45:01.000Z", "duration_ms": 0},
        ])
        assert out == [{"timestamp": 1795787100000, "namespace": "App", "name": "Latency", "unit": "Milliseconds",
                        "value": 12.5, "dimensions": {"Agent": "work"}}]

    def test_value_comes_from_a_space_delimited_field(self) -> None:
        f = MetricFilter(name="Bytes", pattern="[ip, user, username, timestamp, request, status_code, size]",
                         namespace="Web", metric_name="BytesSent", value="$size",
                         dimensions={"Status": "$status_code"})
        compiled = f.compiled
        match = compiled.match(ACCESS_LOG)
        assert f.metric_for(match, None, 5) == {"timestamp": 5, "namespace": "Web", "name": "BytesSent",
                                                "unit": None, "value": 1534.0, "dimensions": {"Status": "200"}}
        # "-" is not a number: no datapoint, as CloudWatch skips it.
        assert f.metric_for(compiled.match(ACCESS_LOG_404), None, 5) is None

    def test_default_value_is_reported_for_a_batch_without_matches(self) -> None:
        f = MetricFilter(name="E", pattern="ERROR", namespace="L", metric_name="Errors", default_value=0)
        listener = MetricFilterListener([f], clock_ms=lambda: 42)
        assert [m["value"] for m in listener([{"message": "ok"}, {"message": "fine"}])] == [0.0]
        assert [m["value"] for m in listener([{"message": "ERROR"}, {"message": "fine"}])] == [1.0]
        assert listener([]) == []

    def test_default_value_with_dimensions_is_refused(self) -> None:
        with pytest.raises(ValueError, match="default value"):
            MetricFilter(name="E", pattern="x", namespace="L", metric_name="E", default_value=0,
                         dimensions={"A": "$.a"})

    def test_a_bad_pattern_is_refused_when_declared(self) -> None:
        with pytest.raises(FilterPatternError):
            MetricFilter(name="E", pattern="{ $.a = ", namespace="L", metric_name="E")


class TestPlanLogErrors:
    def test_it_counts_real_error_lines_written_through_the_store(self, tmp_path) -> None:
        """The plan's LogErrors filter counts error lines the real logger writes, and only those."""
        store = TelemetryStore(tmp_path / "telemetry",
                               log_listeners=[MetricFilterListener(plan.METRIC_FILTERS)])
        telemetry = Telemetry(store, service="whispersync")
        log = telemetry.logger("whispersync.worker")
        log.info("Processing transcript", transcript_key="a.txt")
        log.error("Agent failed", error_type="ProcessingError")
        log.warning("ERROR in the text of a warning is not an error line")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("Unhandled failure")
        store.flush()
        points = [m for m in _metrics(store) if m["name"] == "LogErrors"]
        store.close()
        assert [(p["namespace"], p["value"], p["unit"]) for p in points] == [("WhisperSync/Logs", 1.0, "Count")] * 2

    def test_the_seeds_literal_pattern_would_not_have_counted_them(self) -> None:
        line = orjson.dumps({"level": "ERROR", "message": "Agent failed"}).decode()
        assert matched("[ERROR]", [line]) == []
        assert matched(plan.LOG_ERRORS.pattern, [line]) == [1]


def _metrics(store: TelemetryStore) -> list[dict]:
    con = store.connect()
    try:
        rows = con.execute("SELECT namespace, name, unit, value FROM metrics ORDER BY ts").fetchall()
    finally:
        con.close()
    return [{"namespace": ns, "name": n, "unit": u, "value": v} for ns, n, u, v in rows]


def test_a_deeply_nested_json_pattern_is_a_pattern_error_not_a_recursion_error() -> None:
    with pytest.raises(FilterPatternError, match="nested too deeply"):
        parse_pattern("{" + "(" * 5000 + "$.a = 1" + ")" * 5000 + "}")
