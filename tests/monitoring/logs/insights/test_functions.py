"""Each function, evaluated on the one event of correlation id c5 (WARNING "Slow request",
agent work, duration_ms 3000, http.status 503, at 12:06:40.000) unless it says otherwise."""

from __future__ import annotations

import re

import orjson
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
        # the documentation's examples: the second argument is a set of characters
        ('ltrim("xyZxyfooxyZ", "xyZ")', "fooxyZ"),
        ('rtrim("xyZfooxyxyZ", "xyZ")', "xyZfoo"),
        ('trim("xyZxyfooxyxyZ", "xyZ")', "foo"),
        ('trim("\t x \n")', "x"),  # "white space", not only spaces
        ('ltrim("\t x")', "x"),
        ("trim(error_type)", None),
        ("substr(message, 0, 4)", "Slow"),  # zero-based start, as in CloudWatch
        ("substr(message, 5)", "request"),
        ('substr("xyZfooxyZ", 3, 3)', "foo"),
        ("substr(message, 5, -1)", ""),
        ("substr(error_type, 1)", None),
        ('replace(message, "Slow", "Fast")', "Fast request"),
        ('replace("a.b.c", ".", "-")', "a-b-c"),
        ('regexReplace(message, "[aeiou]", "_")', "Sl_w r_q__st"),
        ('regexReplace(message, "([A-Za-z]+) ([a-z]+)", "$2 $1")', "request Slow"),
        ('regexReplace(message, "(?<first>[A-Z])", "<${first}>")', "<S>low request"),
        ('regexReplace(message, "o", "\\\\$")', "Sl$w request"),  # a backslash makes $ literal
        ('regexReplace(error_type, "a", "b")', None),
        ('strcontains(message, "req")', 1),
        ('strcontains(message, "zzz")', 0),
        ('strcontains(message, "SLOW")', 0),
        ('strcontains(message, "SLOW", 1)', 1),  # the third argument: case-insensitive
        ('strcontains(message, "SLOW", 0)', 0),
        ('strcontains(error_type, "x")', 0),  # "Returns 1 if ... and 0 otherwise"
        ('startsWith(message, "Slow")', 1),
        ('startsWith(message, "request")', 0),
        ('endsWith(message, "request")', 1),
        ('endsWith(error_type, "x")', 0),
        ('concat(agent_type, "-", correlation_id)', "work-c5"),
        ("isempty(error_type)", 1),
        ("isempty(agent_type)", 0),
        ('isempty("")', 1),
        ('isblank("   ")', 1),
        ('isblank("\t \n")', 1),
        ("isblank(error_type)", 1),
        ("isblank(agent_type)", 0),
        ('urlencode("a b/é?")', "a%20b%2F%C3%A9%3F"),
        ('urldecode("a%20b%2F%C3%A9")', "a b/é"),
        ("urlencode(error_type)", None),
        ("base64encode(agent_type)", "d29yaw=="),
        ('base64decode("d29yaw==")', "work"),
        ('base64decode("not base64!")', None),
        ('base64decode("/w==")', None),  # the byte 0xff is no text
        ('hexToAscii("48656c6c6f")', "Hello"),
        ('hexToAscii("0x4869")', "Hi"),
        ('hexToAscii("486")', None),
        ('hexToAscii("zz")', None),
        ('hexToDec("0xff")', 255),
        ('hexToDec("FF")', 255),
        ('hexToDec("-0x10")', -16),
        ('hexToDec("0xfg")', None),
        ('hexToDec("0x10000000000000000")', None),  # beyond 64 bits
        ("hexToDec(error_type)", None),
        ("decToHex(255)", "0xff"),
        ("decToHex(0 - 255)", "-0xff"),  # "Negative numbers produce -0x prefix"
        ("decToHex(255.9)", "0xff"),  # "Non-integers are truncated"
        ("decToHex(http.status)", "0x1f7"),
        ("decToHex(error_type)", None),
        ("messageSize(message)", 12),
        ('messageSize("é")', 2),  # bytes, where strlen counts characters
        ('strlen("é")', 1),
        # number
        ("abs(-3)", 3),
        ("abs(0 - duration_ms)", 3000),
        ("abs(error_type)", None),
        ("ceil(2.1)", 3),
        ("floor(2.9)", 2),
        ("greatest(1, duration_ms, 5)", 3000),
        ("least(1, duration_ms, 5)", 1),
        ("least(1, error_type)", 1),
        ("log(1)", 0),
        ("log(0)", None),  # no logarithm of 0 or less
        ("log(error_type)", None),
        ("sqrt(16)", 4),
        ("sqrt(0 - 1)", None),
        ("round(2.5)", 3),
        ("round(2.345, 2)", 2.35),
        ("round(duration_ms / 7, 1)", 428.6),
        ("round(error_type)", None),
        ("haversine(0, 0, 0, 1)", pytest.approx(111.195, abs=0.001)),  # one degree of the equator, in km
        ("haversine(48.8566, 2.3522, 51.5074, -0.1278)", pytest.approx(343.6, abs=0.5)),  # Paris to London
        ("haversine(0, 0, error_type, 1)", None),
        ('toNumber("3.5")', 3.5),
        ("toNumber(http.status)", 503),
        ('toNumber("3 apples")', None),
        ('toNumber("nan")', None),
        ('toDouble("1e3")', 1000),
        ('toInt("3.7")', 3),
        ('toInt("-3.7")', -3),
        ("toInt(http.status)", 503),
        ('toInt("99999999999")', None),  # beyond 32 bits
        ('toLong("99999999999")', 99999999999),
        ('toLong("9007199254740993")', 9007199254740993),  # exact beyond a double's 53 bits
        ("toLong(error_type)", None),
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
        ("coalesce(nope, http.status)", 503),
        ("http.status + 1", 504),
        ('if(duration_ms > 1000, "slow", "fast")', "slow"),
        ('if(nope, "yes", "no")', "no"),  # a missing condition is not true
        ("if(duration_ms > 1000, http.status, 0)", 503),
        ('case(duration_ms < 100, "fast", duration_ms < 1000, "ok", "slow")', "slow"),
        ('case(duration_ms < 100, "fast", duration_ms < 5000, "ok", "slow")', "ok"),
        ('case(duration_ms < 100, "fast")', None),  # no true condition, no default
        ("isNumeric(duration_ms)", 1),
        ("isNumeric(http.status)", 1),
        ('isNumeric("12.5")', 1),
        ("isNumeric(agent_type)", 0),
        ('isNumeric("nan")', 0),
        ("isNumeric(error_type)", 0),
    ],
)
def test_function(query, expression, value):
    """The value of `expression` for the c5 event."""
    result = query(f"filter correlation_id = 'c5' | fields {expression} as v")
    assert result["rows"] == [[value]]


def test_numbers_come_out_as_json_numbers(query):
    """A literal such as 2.1 is a DECIMAL in DuckDB; results are numbers the API can write as JSON."""
    result = query("filter correlation_id = 'c5' | fields ceil(2.1) as a, abs(-2.5) as b, greatest(1.5, 2) as c,"
                   " round(2.25, 1) as d, floor(duration_ms / 7) as e")
    assert orjson.loads(orjson.dumps(result["rows"])) == [[3, 2.5, 2, 2.3, 428]]


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
        ('fields regexReplace(message, "a(b", "x")', "invalid regular expression: missing )"),
        ('fields regexReplace(message, "(a)", "$2")', "the replacement's '$2' names no group of the pattern"),
        ('fields regexReplace(message, "(?<x>a)", "${y}")', "the replacement's '${y}' names no group"),
        ('fields regexReplace(message, level, "x")', "the pattern must be a quoted string"),
        ('fields regexReplace(message, "a", level)', "the replacement must be a quoted string"),
        ("fields case(a)", "case() takes 2 to 21 arguments, got 1"),
        ("fields if(a, b)", "if() takes 3 arguments, got 2"),
        ("fields haversine(1, 2, 3)", "haversine() takes 4 arguments, got 3"),
    ],
)
def test_misuse_is_a_query_error(query, query_text, message):
    """Wrong arguments name the function and what it takes."""
    with pytest.raises(InsightsQueryError, match=re.escape(message)):
        query(query_text)
