"""The error of a metric query the caller got wrong (syntax errors are MetricMathError)."""

from __future__ import annotations

from whispersync.errors import InputError


class MetricQueryError(InputError):
    """A GetMetricData request that cannot be answered as asked: a bad field, id,
    period, statistic or time range, references that form a cycle, or an expression
    whose values an operation cannot take (``SORT()`` of a scalar, a scalar result)."""

    code = "invalid_input"
