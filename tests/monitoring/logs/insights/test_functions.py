"""Each function, evaluated on the one event of correlation id c5 (WARNING "Slow request",
agent work, duration_ms 3000, http.status 503, at 12:06:40.000) unless it says otherwise."""

from __future__ import annotations

import pytest

from whispersync.monitoring.logs.insights import InsightsQueryError

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC, as in conftest.py


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        # string
        ("strlen(message)", 12),
        ("toupper(agent_type)", "WORK"),
        ("tolower(level)", "warning"),
        ('trim("  x  ")', "x"),
        ('ltrim("  x  ")', "x  "),
        ('rtrim("  x  ")', "  x"),
        ('trim("--x--", "-")', "x"),
        ("substr(message, 0, 4)", "Slow"),  # zero-based start, as in CloudWatch
        ("substr(message, 5)", "request"),
        ('replace(message, "Slow", "Fast")', "Fast request"),
        ('replace("a.b.c", ".", "-")', "a-b-c"),
        ('strcontains(message, "req")', 1),
        ('strcontains(message, "zzz")', 0),
        ('concat(agent_type, "-", correlation_id)', "work-c5"),
        ("isempty(error_type)", 1),
        ("isempty(agent_type)", 0),
        ('isempty("")', 1),
        ('isblank("   ")', 1),
        ("isblank(agent_type)", 0),
        # number
        ("abs(-3)", 3),
        ("abs(0 - duration_ms)", 3000),
        ("ceil(2.1)", 3),
        ("floor(2.9)", 2),
        ("greatest(1, duration_ms, 5)", 3000),
        ("least(1, duration_ms, 5)", 1),
        ("log(1)", 0),
        ("sqrt(16)", 4),
        # time
        ("bin(1h)", "2026-11-27 12:00:00.000"),
        ("bin(30s)", "2026-11-27 12:06:30.000"),
        ("datefloor(@timestamp, 1m)", "2026-11-27 12:06:00.000"),
        ("dateceil(@timestamp, 1m)", "2026-11-27 12:07:00.000"),
        ("datefloor(@timestamp, 1d)", "2026-11-27 00:00:00.000"),
        ("datefloor(@timestamp, 1mo)", "2026-11-01 00:00:00.000"),
        ("dateceil(@timestamp, 1h)", "2026-11-27 13:00:00.000"),
        ("toMillis(@timestamp)", T0 + 400_000),
        (f"fromMillis({T0})", "2026-11-27 12:00:00.000"),
        ("fromMillis(toMillis(@timestamp) + 20000)", "2026-11-27 12:07:00.000"),
        # general
        ("ispresent(http.status)", 1),
        ("ispresent(error_type)", 0),
        ("coalesce(error_type, agent_type)", "work"),
        ("coalesce(nope, duration_ms)", 3000),
        ("http.status + 1", 504),
    ],
)
def test_function(query, expression, value):
    """The value of `expression` for the c5 event."""
    result = query(f"filter correlation_id = 'c5' | fields {expression} as v")
    assert result["rows"] == [[value]]


def test_function_names_ignore_case(query):
    """toMillis and tomillis are the same function."""
    result = query("filter correlation_id = 'c5' | fields TOUPPER(agent_type) as v")
    assert result["rows"] == [["WORK"]]


def test_functions_work_in_filters_and_stats(query):
    """strlen in a filter, datefloor as a stats key."""
    result = query("filter strlen(message) > 15 | stats count() by datefloor(@timestamp, 5m) as t")
    # "Processing transcript"/"successful" (21), "Processing failed" (17); not "Slow request" (12)
    assert result["rows"] == [["2026-11-27 12:00:00.000", 6], ["2026-11-27 12:05:00.000", 3]]


@pytest.mark.parametrize(
    ("query_text", "message"),
    [
        ("fields substr(message)", "substr() takes 2 to 3 arguments, got 1"),
        ("fields strlen(a, b)", "strlen() takes 1 argument, got 2"),
        ("fields bin(5)", "expected bin(period) with a period such as 5m"),
        ("fields count()", "count() is an aggregate function: use it in stats"),
        ("stats pct(x, 200)", "expected pct(field, percentile)"),
        ("filter x = 5m", "a time period is only allowed in bin()"),
        ("filter @message like /a(b/", "invalid regular expression"),
    ],
)
def test_misuse_is_a_query_error(query, query_text, message):
    """Wrong arguments name the function and what it takes."""
    with pytest.raises(InsightsQueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        query(query_text)
