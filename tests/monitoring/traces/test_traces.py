"""Tests for trace search (whispersync.monitoring.traces), on hand-made spans."""

from __future__ import annotations

import time

import pytest

from whispersync.errors import InputError, NotFound, QueryTimeout
from whispersync.monitoring.store import TelemetryStore
from whispersync.monitoring.traces._search import (
    TraceFilterError,
    find_correlation_ids,
    find_trace_ids,
    get_trace,
    parse_trace_filter,
    search_traces,
)

T0_NS = 1795787100 * 10**9  # 2026-11-27T13:45:00Z
T0_MS = T0_NS // 10**6
A, B, C = "a" * 32, "b" * 32, "c" * 32


def span(trace_id, span_id, parent, name, start_ms, duration_ms, *, status="OK", annotations=None,
         correlation_id=None, metadata=None) -> dict:
    return {
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent, "name": name, "kind": "INTERNAL",
        "start_time_unix_nano": T0_NS + start_ms * 10**6,
        "end_time_unix_nano": T0_NS + (start_ms + duration_ms) * 10**6,
        "duration_ms": float(duration_ms), "status": status, "service": "whispersync",
        "correlation_id": correlation_id, "annotations": annotations or {}, "metadata": metadata or {},
    }


def make_spans() -> list[dict]:
    """A: a failed work memo, 800 ms. B: a memory memo, 100 ms, whose root's parent (ingest) is
    elsewhere. C: a work memo that succeeded, 300 ms, an hour later."""
    return [
        span(A, "a1" * 8, None, "process_memo", 0, 800, correlation_id="cid-a"),
        span(A, "a2" * 8, "a1" * 8, "transcript_download", 5, 5, correlation_id="cid-a",
             metadata={"transcript_length": 42}),
        span(A, "a3" * 8, "a1" * 8, "agent_processing", 10, 700, status="ERROR", correlation_id="cid-a",
             annotations={"agent_type": "work", "success": False, "retries": 2}),
        span(B, "b1" * 8, "ff" * 8, "process_memo", 1000, 100, correlation_id="cid-b"),
        span(B, "b2" * 8, "b1" * 8, "agent_processing", 1010, 50, correlation_id="cid-b",
             annotations={"agent_type": "memory", "success": True, "retries": 0}),
        span(C, "c1" * 8, None, "process_memo", 3_600_000, 300, correlation_id="cid-c"),
        span(C, "c2" * 8, "c1" * 8, "agent_processing", 3_600_010, 250, correlation_id="cid-c",
             annotations={"agent_type": "work", "success": True}),
    ]


@pytest.fixture
def store(tmp_path):
    s = TelemetryStore(tmp_path / "telemetry")
    for record in make_spans():
        s.emit("spans", record)
    s.flush()
    yield s
    s.close()


def ids(found) -> list[str]:
    return [t.trace_id[0] for t in found]


class TestSearch:
    def test_it_summarises_each_trace_newest_first(self, store) -> None:
        found = search_traces(store)
        assert ids(found) == ["c", "b", "a"]
        a = found[2].to_dict()
        assert a == {
            "trace_id": A, "root_span": "process_memo", "started_at": "2026-11-27T13:45:00.000Z", "start_ms": T0_MS,
            "duration_ms": 800.0, "correlation_id": "cid-a", "has_error": True, "span_count": 3,
            "annotations": {"agent_type": "work", "success": False, "retries": 2},
        }

    def test_a_root_whose_parent_is_elsewhere_is_still_the_root(self, store) -> None:
        assert search_traces(store, correlation_id="cid-b")[0].root_span == "process_memo"

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ('agent_type = "work" AND success = false', ["a"]),
            ('annotation.agent_type = "work"', ["c", "a"]),
            ("annotation[agent_type] = 'memory'", ["b"]),
            ('agent_type = "work" AND NOT success = false', ["c"]),
            ('agent_type != "work"', ["b"]),
            ("retries >= 2", ["a"]),
            ("retries < 1", ["b"]),
            ("success = true", ["c", "b"]),
            ('agent_type = "memory" OR (agent_type = "work" AND success = true)', ["c", "b"]),
            ('agent_type = "memory" || agent_type = "work" && success = true', ["c", "b"]),
            ("duration > 0.5", ["a"]),
            ("duration >= 0.3 AND duration < 0.8", ["c"]),
            ("responsetime < 0.2", ["b"]),
            ("error", ["a"]),
            ("fault", ["a"]),
            ("!error", ["c", "b"]),
            ("ok", ["c", "b"]),
            ("error = false", ["c", "b"]),
            ('agent_type BEGINSWITH "mem"', ["b"]),
            ('agent_type CONTAINS "ork"', ["c", "a"]),
            ('agent_type ENDSWITH "k"', ["c", "a"]),
            ('agent_type = "nobody"', []),
            ("missing = 1", []),
        ],
    )
    def test_it_filters_by_expression(self, store, expression: str, expected: list[str]) -> None:
        assert ids(search_traces(store, filter=expression)) == expected

    def test_it_filters_by_correlation_id_errors_and_duration(self, store) -> None:
        assert ids(search_traces(store, correlation_id="cid-c")) == ["c"]
        assert ids(search_traces(store, errors=True)) == ["a"]
        assert ids(search_traces(store, min_duration_ms=300)) == ["c", "a"]

    def test_it_limits_to_the_time_range_by_trace_start(self, store) -> None:
        assert ids(search_traces(store, start_ms=T0_MS + 500)) == ["c", "b"]
        assert ids(search_traces(store, start_ms=T0_MS, end_ms=T0_MS + 1000)) == ["b", "a"]

    def test_a_trace_that_started_before_the_range_is_not_cut_into_it(self, store) -> None:
        # A starts at T0 (root) with children at T0+5 and T0+10: it did not start in range.
        assert ids(search_traces(store, start_ms=T0_MS + 5, end_ms=T0_MS + 500)) == []
        assert ids(search_traces(store, start_ms=T0_MS + 5)) == ["c", "b"]

    def test_it_lists_the_slowest_first(self, store) -> None:
        assert ids(search_traces(store, slowest=2)) == ["a", "c"]

    def test_it_limits_the_count(self, store) -> None:
        assert ids(search_traces(store, limit=1)) == ["c"]


class TestFilterErrors:
    @pytest.mark.parametrize(
        ("expression", "position"),
        [
            ("agent_type =", 12),
            ('agent_type = "x" AND', 20),
            ('duration > "x"', 9),
            ("(success = true", 15),
            ("a ~ 1", 2),
            ("retries > true", 8),
            ("", 0),
            ('success = true success', 15),
        ],
    )
    def test_it_points_at_the_position(self, expression: str, position: int) -> None:
        with pytest.raises(TraceFilterError) as info:
            parse_trace_filter(expression)
        assert info.value.position == position
        assert isinstance(info.value, InputError)


class TestGetTrace:
    def test_it_returns_the_spans_and_summary(self, store) -> None:
        trace = get_trace(store, A)
        assert [s["name"] for s in trace["spans"]] == ["process_memo", "transcript_download", "agent_processing"]
        assert trace["spans"][1]["metadata"] == {"transcript_length": 42}
        assert trace["summary"]["span_count"] == 3

    def test_an_unknown_trace_is_not_found(self, store) -> None:
        with pytest.raises(NotFound):
            get_trace(store, "0" * 32)


@pytest.mark.parametrize("expression", ["(" * 5000 + "error" + ")" * 5000, "!" * 5000 + "error"])
def test_a_deeply_nested_filter_is_a_filter_error_not_a_recursion_error(expression: str) -> None:
    with pytest.raises(TraceFilterError, match="nested too deeply"):
        parse_trace_filter(expression)


class TestLimits:
    @pytest.mark.parametrize("opening", ["(", "!", "NOT "])
    def test_deep_nesting_is_an_error_at_the_first_level_too_deep(self, opening: str) -> None:
        expression = opening * 40 + "error" + (")" * 40 if opening == "(" else "")
        with pytest.raises(TraceFilterError) as info:
            parse_trace_filter(expression)
        assert info.value.position == len(opening) * 32 and "nested too deeply" in info.value.reason

    def test_the_first_error_is_reported_without_reading_the_rest(self) -> None:
        # CI: "(" * 300,000 took over the fuzz test's 2 s budget while every
        # parenthesis was tokenized before the parser stopped at the 33rd.
        with pytest.raises(TraceFilterError) as info:
            parse_trace_filter("(" * 40 + "\x01" * 100_000)
        assert info.value.position == 32 and "nested too deeply" in info.value.reason

    def test_a_long_chain_is_an_error_at_the_first_condition_too_many(self) -> None:
        expression = " OR ".join(["error"] * 1000)
        with pytest.raises(TraceFilterError) as info:
            parse_trace_filter(expression)
        assert info.value.position == len("error OR ") * 200

    def test_a_long_run_of_digits_tokenizes_in_linear_time(self) -> None:
        """Before: `\\d+\\.?\\d*` before a failing lookahead backtracked quadratically."""
        started = time.perf_counter()
        with pytest.raises(TraceFilterError):
            parse_trace_filter("duration > " + "1" * 100_000 + "x")
        assert time.perf_counter() - started < 1.0

    def test_a_search_past_its_budget_is_a_query_timeout(self, store) -> None:
        with pytest.raises(QueryTimeout):
            search_traces(store, filter="error", timeout=0)


class TestFindByPrefix:
    """Trace and correlation ids usable at any width, as git accepts short hashes."""

    def test_trace_ids_by_prefix(self, store):
        assert find_trace_ids(store, "aaaa") == [A]
        assert find_trace_ids(store, A) == [A]
        assert find_trace_ids(store, "d") == [] and find_trace_ids(store, "") == []

    def test_correlation_ids_by_prefix_with_like_wildcards_literal(self, store):
        assert find_correlation_ids(store, "cid-") == ["cid-a", "cid-b", "cid-c"]
        assert find_correlation_ids(store, "cid-", limit=2) == ["cid-a", "cid-b"]
        assert find_correlation_ids(store, "cid_") == [] and find_correlation_ids(store, "%") == []
