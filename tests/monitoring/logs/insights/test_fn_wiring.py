"""Functions that need more than SCALARS: the query's range (QUERY_WINDOW), errors pointed at
an argument (ArgumentError.index), the true literal, and map attributes (struct_member).

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
"""

from __future__ import annotations

import pytest

from whispersync.monitoring.logs.insights import InsightsQueryError

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC, as in conftest.py
START, END = T0 - 60_000, T0 + 3_600_000  # conftest.py's range


def test_query_window_functions(query):
    """queryStartTime(), queryEndTime(), queryTimeRange(): the query's range in epoch milliseconds."""
    result = query("filter correlation_id = 'c5'"
                   " | fields queryStartTime() as s, queryEndTime() as e, queryTimeRange() as d")
    assert result["rows"] == [[START, END, END - START]]


@pytest.mark.parametrize(
    ("text", "argument"),
    [
        ('fields parseDate(message, "yyyy Q")', '"yyyy Q"'),
        ('fields formatDate(@timestamp, "%Y", "Nowhere/Land")', '"Nowhere/Land"'),
        ('fields regexReplace(message, "a", "$1")', '"$1"'),
        ('fields regexReplace(message, "(", "x")', '"("'),
    ],
)
def test_argument_errors_point_at_the_argument(query, text, argument):
    """A format, zone or pattern that cannot be used is an error at that argument."""
    with pytest.raises(InsightsQueryError) as info:
        query(text)
    assert info.value.position == text.index(argument)


def test_true_literal(query):
    """strcontains' third argument as the documentation writes it."""
    result = query("filter correlation_id = 'c5' | fields strcontains(message, 'SLOW', true) as a,"
                   " strcontains(message, 'SLOW', false) as b")
    assert result["rows"] == [[1, 0]]


def test_map_attribute_access(query):
    """`jsonParse(@message) as m | ... m.http.status`, the documentation's "dot access operator"."""
    result = query("fields jsonParse(@message) as m | filter m.http.status = 503 | display correlation_id, m.http")
    assert result["rows"] == [["c5", {"status": 503, "path": "/v1/transcripts"}]]


def test_a_missing_attribute_is_null(query):
    result = query("filter correlation_id = 'c5' | fields jsonParse(@message) as m | display m.nope, m.http.nope")
    assert result["rows"] == [[None, None]]
