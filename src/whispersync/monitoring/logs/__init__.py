"""Logs: CloudWatch filter patterns and metric filters (the plan's and stored ones),
Logs Insights (``insights``), importing logs other programs wrote, and CloudWatch Logs'
log groups and streams (``LogGroupStore``, ``write_log_events``, ``read_log_events``)."""

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
from whispersync.monitoring.logs._log_groups import (
    LogEvent,
    LogGroupStore,
    LogStreamStats,
    discovered_streams,
    read_log_events,
    write_log_events,
)

__all__ = [
    "CompiledFilter",
    "FilterImportReport",
    "FilterPattern",
    "FilterPatternError",
    "ImportReport",
    "LogEvent",
    "LogGroupStore",
    "LogStreamStats",
    "Match",
    "MetricFilterInputError",
    "MetricFilterListener",
    "MetricFilterStore",
    "PutOutcome",
    "StoredFilter",
    "check_metric_filter",
    "discovered_streams",
    "import_logs",
    "import_metric_filters",
    "metric_filter_from_request",
    "metric_filter_to_cloudwatch",
    "parse_pattern",
    "read_log_events",
    "test_metric_filter",
    "write_log_events",
]
