"""Metric queries: GetMetricData (statistics per period) and metric math over them."""

from whispersync.monitoring.metrics._anomaly import AnomalySettings, anomaly_band, training_state
from whispersync.monitoring.metrics._errors import MetricQueryError
from whispersync.monitoring.metrics._math import MetricMathError, Series
from whispersync.monitoring.metrics._query import (
    MetricDataResult,
    get_metric_data,
    iso8601,
    parse_request,
    round_start,
    validate_queries,
)

__all__ = [
    "AnomalySettings",
    "MetricDataResult",
    "MetricMathError",
    "MetricQueryError",
    "Series",
    "anomaly_band",
    "get_metric_data",
    "iso8601",
    "parse_request",
    "round_start",
    "training_state",
    "validate_queries",
]
