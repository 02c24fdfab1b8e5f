"""The telemetry store: where logs, metrics and spans land, and what every query reads.

Writers append JSON-lines segments (``_segments``); the store compacts them to
Parquet and answers reads and metric statistics with DuckDB (``_schema``, ``_store``).
"""

from whispersync.monitoring.store._footers import FileFacts
from whispersync.monitoring.store._imports import ImportLedger, content_key
from whispersync.monitoring.store._schema import HEX_CHARS, PROMOTED_LOG_FIELDS, SPLIT_BOUNDARY
from whispersync.monitoring.store._store import (
    DEFAULT_QUERY_TIMEOUT,
    MetricKey,
    MetricSeries,
    StatisticGroup,
    TelemetryStore,
    close_to_files,
    dims_key,
    metric_key,
    run_with_deadline,
)

__all__ = [
    "DEFAULT_QUERY_TIMEOUT",
    "FileFacts",
    "HEX_CHARS",
    "SPLIT_BOUNDARY",
    "ImportLedger",
    "PROMOTED_LOG_FIELDS",
    "MetricKey",
    "MetricSeries",
    "StatisticGroup",
    "TelemetryStore",
    "close_to_files",
    "content_key",
    "dims_key",
    "metric_key",
    "run_with_deadline",
]
