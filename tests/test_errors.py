"""The error tree (issue 8 §5): one family for everything a caller can write wrong."""

from __future__ import annotations

import pytest

from whispersync.errors import (
    ExternalServiceError,
    InputError,
    ProcessingError,
    QuerySyntaxError,
    line_and_column,
)
from whispersync.monitoring.alarms import AlarmInputError, RuleSyntaxError, parse_alarm_request
from whispersync.monitoring.alarms._composite import parse as parse_rule
from whispersync.monitoring.logs import FilterPatternError, parse_pattern
from whispersync.monitoring.logs.insights import InsightsQueryError, parse_query
from whispersync.monitoring.metrics import MetricMathError, MetricQueryError, parse_request
from whispersync.monitoring.metrics._math import parse as parse_math
from whispersync.monitoring.notify import TransportError
from whispersync.monitoring.traces import TraceFilterError, parse_trace_filter


@pytest.mark.parametrize(("error", "base", "code"), [
    (QuerySyntaxError, InputError, "invalid_syntax"),
    (InsightsQueryError, QuerySyntaxError, "bad_query"),
    (MetricMathError, QuerySyntaxError, "invalid_expression"),
    (FilterPatternError, QuerySyntaxError, "invalid_filter_pattern"),
    (TraceFilterError, QuerySyntaxError, "invalid_filter"),
    (RuleSyntaxError, QuerySyntaxError, "invalid_syntax"),
    (AlarmInputError, InputError, "invalid_input"),
    (MetricQueryError, InputError, "invalid_input"),
])
def test_each_callers_error_is_an_input_error_and_never_a_value_error(error, base, code) -> None:
    """A ValueError is a bug (a 500 over HTTP); these are the caller's fault (a 400)."""
    assert issubclass(error, base) and issubclass(error, InputError)
    assert not issubclass(error, ValueError)
    assert error.code == code and error.http_status == 400


def test_a_transport_error_is_an_external_service_error_and_keeps_its_attributes() -> None:
    error = TransportError("slack answered 429", http_status=429, retry_after=3.0)
    assert isinstance(error, ExternalServiceError) and isinstance(error, ProcessingError)
    assert (error.permanent, error.http_status, error.retry_after, error.message) == (False, 429, 3.0,
                                                                                      "slack answered 429")
    assert TransportError("revoked", True).permanent is True
    assert str(error) == "slack answered 429"


@pytest.mark.parametrize(("text", "position", "where"), [
    ("", 0, (1, 1)),
    ("abc", 0, (1, 1)),
    ("abc", 3, (1, 4)),  # the end of the text, where "expected more" points
    ("ab\ncd", 2, (1, 3)),  # the newline itself belongs to the first line
    ("ab\ncd", 3, (2, 1)),
    ("ab\ncd\n\nefg", 9, (4, 3)),
    ("a\r\nb", 3, (2, 1)),
])
def test_line_and_column_are_one_based_over_lines(text, position, where) -> None:
    assert line_and_column(text, position) == where


def test_the_message_has_one_shape() -> None:
    error = QuerySyntaxError("expected a field name after 'by'", "stats count()\n  by", 18)
    assert (error.line, error.column, error.position) == (2, 5, 18)
    assert error.reason == "expected a field name after 'by'"
    assert str(error) == "line 2, column 5: expected a field name after 'by'"


@pytest.mark.parametrize(("parse", "text", "error", "line", "column"), [
    (parse_query, "fields @message\n| filter x = ", InsightsQueryError, 2, 14),  # the end of the query
    (parse_math, "m1 +\n  $", MetricMathError, 2, 3),
    (parse_pattern, '{ $.a = 1 &&\n  $.b = }', FilterPatternError, 2, 9),
    (parse_trace_filter, 'error AND\n  annotation.x ~ 1', TraceFilterError, 2, 16),
    (parse_rule, "ALARM(a) AND\n  NOT", RuleSyntaxError, 2, 6),
])
def test_every_language_reports_the_line_and_column(parse, text, error, line, column) -> None:
    with pytest.raises(error) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert str(info.value) == f"line {line}, column {column}: {info.value.reason}"
    assert line_and_column(text, info.value.position) == (line, column)


def test_an_alarm_request_names_its_field_and_a_metric_request_is_an_input_error() -> None:
    with pytest.raises(AlarmInputError) as info:
        parse_alarm_request({"AlarmName": "c", "AlarmRule": "ALARM(a) AND"})
    assert info.value.field == "AlarmRule" and str(info.value).startswith("AlarmRule: line 1, column 13: ")
    with pytest.raises(MetricQueryError, match="queries must be a non-empty list"):
        parse_request({"queries": [], "start": 0, "end": 1})
    with pytest.raises(MetricQueryError, match="is not ISO 8601"):
        parse_request({"queries": [{"id": "e", "expression": "1"}], "start": "soon", "end": 1})
