"""Issue 7: Insights queries are bounded in depth, time and reach, and DuckDB's text stays in the server."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from whispersync.errors import InputError, QueryTimeout
from whispersync.monitoring.logs.insights import InsightsQueryError, parse_query, run_query
from whispersync.monitoring.logs.insights._executor import _database
MAX_DEPTH, MAX_NESTING, MAX_QUERY_LENGTH = 100, 32, 10_000  # _parser.py

T0 = int(datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp() * 1000)  # the conftest store's
START, END = T0 - 60_000, T0 + 3_600_000


def test_a_long_chain_is_an_error_at_the_operator_past_the_limit() -> None:
    """Before: the compiler recursed once per operator (RecursionError, or DuckDB's own depth error)."""
    query = "fields " + " + ".join(["x"] * 1000)
    with pytest.raises(InsightsQueryError) as info:
        parse_query(query)
    assert info.value.position == len("fields ") + len("x + ") * MAX_DEPTH - 2
    assert "nested too deeply" in info.value.reason and isinstance(info.value, InputError)


def test_a_chain_at_the_limit_runs(query) -> None:
    result = query("fields " + " + ".join(["1"] * MAX_DEPTH) + " as total | limit 1")
    assert result["rows"] == [[MAX_DEPTH]]


@pytest.mark.parametrize("opening,closing", [("(", ")"), ("abs(", ")"), ("not ", ""), ("- ", "")])
def test_deep_nesting_is_an_error_at_the_first_level_too_deep(opening: str, closing: str) -> None:
    query = "filter " + opening * 40 + "x" + closing * 40
    with pytest.raises(InsightsQueryError) as info:
        parse_query(query)
    assert info.value.position == len("filter ") + len(opening) * MAX_NESTING + (len(opening) - 1 if closing else 0)


def test_a_query_longer_than_cloudwatch_allows_is_refused() -> None:
    with pytest.raises(InsightsQueryError, match="at most 10,000 characters"):
        parse_query("fields " + "x" * MAX_QUERY_LENGTH)


def test_duckdbs_own_text_is_not_the_message(store) -> None:
    with pytest.raises(InsightsQueryError) as info:
        run_query(store, "fields 9223372036854775807 * 9223372036854775807", start_ms=START, end_ms=END)
    assert str(info.value) == "line 1, column 1: the query could not be run: a value is out of range"
    assert "INT64" in info.value.detail  # for the server's log


def test_an_infinite_number_is_a_positioned_error_not_a_column_name(store) -> None:
    with pytest.raises(InsightsQueryError) as info:
        run_query(store, "fields abs(1e400)", start_ms=START, end_ms=END)
    assert info.value.position == len("fields abs(") and "too large" in str(info.value)


def test_a_regex_re2_refuses_is_a_positioned_error(store) -> None:
    """DuckDB runs regexes on RE2: a lookahead is refused before the query runs."""
    with pytest.raises(InsightsQueryError) as info:
        run_query(store, "filter @message like /a(?=b)/", start_ms=START, end_ms=END)
    assert info.value.position == len("filter @message like ") and "invalid regular expression" in info.value.reason
    with pytest.raises(InsightsQueryError) as info:
        run_query(store, "parse @message /(?<a>x)\\1/", start_ms=START, end_ms=END)
    assert info.value.position == len("parse @message ")


def test_a_query_past_its_budget_is_a_query_timeout(store) -> None:
    with pytest.raises(QueryTimeout) as info:
        run_query(store, "stats count()", start_ms=START, end_ms=END, timeout=0)
    assert info.value.http_status == 422


def test_the_query_database_reads_only_the_store(store, query) -> None:
    assert query("stats count() as n")["rows"] == [[11]]  # the views over the store's files still work
    cursor = _database(store.root).cursor()
    try:
        for sql in ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')",
                    "COPY (SELECT 1) TO '/tmp/whispersync-insights.csv'", "INSTALL httpfs",
                    "SET enable_external_access = true"]:
            with pytest.raises(duckdb.Error):
                cursor.execute(sql)
    finally:
        cursor.close()


@pytest.mark.parametrize("query", ["²", "fields ²", "limit ³"])
def test_a_non_ascii_digit_is_a_query_error(query: str) -> None:
    """Found by the fuzz suite: "²".isdigit() is True, so the lexer asserted (an HTTP 500)."""
    with pytest.raises(InsightsQueryError):
        parse_query(query)
