"""Datetime functions beyond bin/datefloor/dateceil (those are in test_functions.py), on the
c5 event of conftest.py (at 2026-11-27 12:06:40.000 UTC) unless it says otherwise.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
("Datetime functions").
"""

from __future__ import annotations

import time

import pytest

from whispersync.monitoring.logs.insights import InsightsQueryError

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC, as in conftest.py
C5 = T0 + 400_000


def value(query, expression: str):
    return query(f"filter correlation_id = 'c5' | fields {expression} as v")["rows"][0][0]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # parseDate: a Java DateTimeFormatter pattern, epoch milliseconds, UTC unless told
        ('parseDate("2026-11-27 12:06:40", "yyyy-MM-dd HH:mm:ss")', C5),
        ('parseDate("2026-11-27 07:06:40", "yyyy-MM-dd HH:mm:ss", "America/New_York")', C5),
        ('parseDate("27/Nov/2026:12:06:40.250", "dd/MMM/yyyy:HH:mm:ss.SSS")', C5 + 250),
        ("parseDate(\"2026-11-27T12:06:40Z\", \"yyyy-MM-dd'T'HH:mm:ssX\")", C5),
        ("parseDate(\"2026-11-27T17:36:40+05:30\", \"yyyy-MM-dd'T'HH:mm:ssXXX\")", C5),  # its own offset wins
        ('parseDate("2026-11-27", "yyyy-MM-dd")', T0 - 12 * 3_600_000),
        ('parseDate("27.11.26", "dd.MM.yy")', T0 - 12 * 3_600_000),
        ('parseDate("not a date", "yyyy-MM-dd")', None),
        ('parseDate(nope, "yyyy-MM-dd")', None),
        # formatDate / strftime: strftime-style, in UTC unless told
        ('formatDate(@timestamp, "%Y-%m-%d")', "2026-11-27"),
        ('formatDate(@timestamp, "%H:%M:%S.%g %z %Z")', "12:06:40.000 +0000 UTC"),
        ('formatDate(@timestamp, "%H:%M %z %Z", "Asia/Kolkata")', "17:36 +0530 Asia/Kolkata"),
        ('formatDate(@timestamp, "%d %b %H:%M %z", "America/New_York")', "27 Nov 07:06 -0500"),
        ('strftime(@timestamp, "%j, 100%%")', "331, 100%"),
        (f'formatDate({C5}, "%H:%M:%S")', "12:06:40"),  # a number is epoch milliseconds, as fromMillis reads it
        ('formatDate(nope, "%Y")', None),
        # fromMillis / toMillis on bad input
        ("fromMillis(1e20)", None),  # beyond any timestamp
        ("fromMillis(nope)", None),
        ('toMillis("2026-11-27 12:06:40")', C5),
        ('toMillis("yesterday")', None),
        ("toMillis(nope)", None),
    ],
)
def test_datetime(query, expression, expected):
    assert value(query, expression) == expected


def test_now_is_when_the_query_ran_in_epoch_seconds(query):
    """now() "returns the time that the query processing was started, in epoch seconds"."""
    before = int(time.time())
    now = value(query, "now()")
    assert before - 1 <= now <= int(time.time()) + 1


def test_now_in_the_documented_filter(query):
    """The documentation's pattern: events of the last N milliseconds; all fixture events are older than a day."""
    older = query("filter toMillis(@timestamp) <= (now() * 1000 - 86400000) | stats count() as n")
    assert older["rows"] == [[11]]


@pytest.mark.parametrize(
    ("query_text", "message"),
    [
        ('fields parseDate(a, "yyyy-MM-dd Q")', "the date format's 'Q' is not supported"),
        ('fields parseDate(a, "yyyy-MM-dd \'T")', "the date format has an unclosed quote"),
        ('fields parseDate(a, "yyyy", "Mars/Olympus")', "unknown time zone 'Mars/Olympus'"),
        ("fields parseDate(a, b)", "the date format must be a quoted string"),
        ('fields formatDate(@timestamp, "%Q")', "the date format's '%Q' is not supported"),
        ('fields formatDate(@timestamp, "%Y", zone)', "the time zone must be a quoted string"),
        ("fields now(1)", "now() takes 0 arguments, got 1"),
    ],
)
def test_misuse_is_a_query_error(query, query_text, message):
    """A format or zone that cannot be used is a query error, not a null per event."""
    with pytest.raises(InsightsQueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        query(query_text)
