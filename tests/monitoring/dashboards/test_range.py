"""A body's start/end as the CLI and the console both read them."""

from __future__ import annotations

import pytest

from whispersync.errors import InputError
from whispersync.monitoring.dashboards import DEFAULT_RANGE_SECONDS, body_range, relative_seconds

NOW = 1_800_000_000_000


@pytest.mark.parametrize(("text", "seconds"), [
    ("-PT3H", 3 * 3600), ("-P1D", 86400), ("-P2W", 14 * 86400), ("-PT15M", 900), ("-P1DT12H", 36 * 3600),
    ("-P1M", 30 * 86400),  # CloudWatch leaves a month's length open: 30 days
])
def test_relative_times_reach_back_that_far(text, seconds):
    assert relative_seconds(text) == seconds
    assert body_range(text, None, NOW) == (NOW - seconds * 1000, NOW)


@pytest.mark.parametrize("text", [None, "", "-P", "PT3H", "2026-01-01T00:00:00Z"])
def test_anything_else_is_not_relative(text):
    assert relative_seconds(text) is None


def test_without_start_a_body_shows_the_last_three_hours_and_absolute_times_are_read():
    assert body_range(None, None, NOW) == (NOW - DEFAULT_RANGE_SECONDS * 1000, NOW)
    assert body_range("2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z", NOW) == (1796083200000, 1796086800000)


def test_a_start_that_is_neither_form_names_itself():
    with pytest.raises(InputError, match="start 'yesterday' is neither"):
        body_range("yesterday", None, NOW)
