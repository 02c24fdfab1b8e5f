"""Logs: CloudWatch filter patterns and metric filters (the plan's and stored ones),
Logs Insights (``insights``), and importing logs other programs wrote."""

from whispersync.monitoring.logs._filter_requests import (
    MetricFilterInputError,
    check_metric_filter,
    metric_filter_from_request,
    metric_filter_to_cloudwatch,
)
from whispersync.monitoring.logs._filter_store import (
    FilterImportReport,
    MetricFilterStore,
    PutOutcome,
    StoredFilter,
    import_metric_filters,
)
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
    "FilterImportReport",
    "FilterPattern",
    "FilterPatternError",
    "ImportReport",
    "Match",
    "MetricFilterInputError",
    "MetricFilterListener",
    "MetricFilterStore",
    "PutOutcome",
    "StoredFilter",
    "check_metric_filter",
    "import_logs",
    "import_metric_filters",
    "metric_filter_from_request",
    "metric_filter_to_cloudwatch",
    "parse_pattern",
    "test_metric_filter",
]
