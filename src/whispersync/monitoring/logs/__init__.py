"""Logs: CloudWatch filter patterns and metric filters, Logs Insights (``insights``),
and importing logs other programs wrote."""

from whispersync.monitoring.logs._filters import (
    CompiledFilter,
    FilterPattern,
    FilterPatternError,
    Match,
    MetricFilterListener,
    parse_pattern,
    test_metric_filter,
)
from whispersync.monitoring.logs._import import ImportReport, import_logs

__all__ = [
    "CompiledFilter",
    "FilterPattern",
    "FilterPatternError",
    "ImportReport",
    "Match",
    "MetricFilterListener",
    "import_logs",
    "parse_pattern",
    "test_metric_filter",
]
