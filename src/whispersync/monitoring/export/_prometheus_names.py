"""CloudWatch metric identities as Prometheus metric names and labels: one table, both ways.

    WhisperSync/Business TranscriptsProcessed{AgentType, Status} (Count)
        -> whispersync_business_transcripts_processed_total{agent_type, status}   (counter)
    WhisperSync/Worker Duration{FunctionName} (Milliseconds)
        -> whispersync_worker_duration_seconds{function_name}                     (histogram)

The rule, after Prometheus's "Metric and label naming" (https://prometheus.io/docs/practices/naming/):
the namespace and the metric name in snake_case, joined by ``_`` (``WhisperSync`` is the one-word
application prefix ``whispersync``); base units with the unit as a plural suffix (Milliseconds and
Microseconds become ``_seconds``, Percent becomes a 0-1 ``_ratio``, Bytes ``_bytes``); an
accumulating count ends in ``_total``. Dimension names become snake_case labels.

What each catalog metric *is* cannot be read off its unit, so ``TABLE`` says it: a counter (events
added up: ``rate``/``increase`` work on it), a gauge (a level: queue depths, concurrency, memory) or
a histogram (durations, with ``BUCKETS``). The table's names are the rule's output, written out so
that they can be read and searched; a test checks the two agree, and that every catalog metric is
in the table and comes back from its Prometheus name. A metric that is not in the catalog (a
user's metric filter, ``metrics put``) is named by the same rule, its kind guessed from its unit
(``Count`` a counter, a time unit a histogram, anything else a gauge).

CloudWatch cannot aggregate across dimensions, so producers publish roll-ups: TranscriptsProcessed
goes out with {AgentType, Status}, with {Status} and with no dimension at all. Prometheus aggregates
at query time (``sum by (status)``), and exposing the roll-ups beside the full series would count
each memo three times in any ``sum``. So only datapoints that carry all of a table metric's
dimensions are exposed (``PrometheusMetric.exposes``); every roll-up is a PromQL ``sum by``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from whispersync import catalog

__all__ = [
    "BUCKETS",
    "LABEL_NAME",
    "METRIC_NAME",
    "TABLE",
    "PrometheusMetric",
    "cloudwatch_metric",
    "dimension_name",
    "label_name",
    "prometheus_labels",
    "prometheus_metric",
]

# The Prometheus data model (https://prometheus.io/docs/concepts/data_model/).
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Histogram buckets in seconds, for memo processing (milliseconds to minutes); +Inf is implied.
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                              300.0)

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"

# CloudWatch unit -> (suffix in base units, factor from the CloudWatch value to the base unit).
_UNIT_SUFFIX: dict[str, tuple[str, float]] = {
    "Seconds": ("seconds", 1.0), "Milliseconds": ("seconds", 1e-3), "Microseconds": ("seconds", 1e-6),
    "Bytes": ("bytes", 1.0), "Kilobytes": ("bytes", 1e3), "Megabytes": ("bytes", 1e6),
    "Gigabytes": ("bytes", 1e9), "Terabytes": ("bytes", 1e12), "Percent": ("ratio", 1e-2),
}
_TIME_UNITS = ("Seconds", "Milliseconds", "Microseconds")
_RESERVED_LABELS = ("le", "quantile")  # histogram and summary labels; a dimension of that name is prefixed


@dataclass(frozen=True)
class PrometheusMetric:
    """One CloudWatch metric identity and its Prometheus family.

    ``name`` is the family name as exposed (a counter's ends in ``_total``; a histogram's
    series add ``_bucket``, ``_sum`` and ``_count``). ``labels`` pairs each dimension with
    its label, fixed dimensions first. ``scale`` turns a CloudWatch value into the
    Prometheus one (milliseconds to seconds: 0.001).
    """

    namespace: str
    metric_name: str
    unit: str
    name: str
    kind: str
    labels: tuple[tuple[str, str], ...] = ()
    scale: float = 1.0
    in_table: bool = True

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(dimension for dimension, _ in self.labels)

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label for _, label in self.labels)

    def exposes(self, dimensions: Mapping[str, str]) -> bool:
        """Whether a datapoint with these dimensions is exposed: a table metric's full set only
        (its roll-ups are PromQL aggregations); any set for a metric outside the table."""
        if not self.in_table:
            return True
        return len(dimensions) == len(self.labels) and all(d in dimensions for d in self.dimensions)

    @property
    def help(self) -> str:
        dims = ", ".join(self.dimensions)
        return f"CloudWatch {self.namespace} {self.metric_name}{{{dims}}} ({self.unit})"


def _snake(text: str) -> str:
    """``ApproximateAgeOfOldestMessage`` -> ``approximate_age_of_oldest_message``; ``5XXError`` -> ``5xx_error``."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([a-z])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([0-9])([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return text.lower()


def label_name(dimension: str) -> str:
    """The label a dimension becomes: ``AgentType`` -> ``agent_type``."""
    label = _snake(dimension) or "dimension"
    if label[0].isdigit() or label in _RESERVED_LABELS:
        label = "dim_" + label
    return label


def _prefix(namespace: str) -> str:
    segments = [s for s in namespace.split("/") if s]
    return "_".join("whispersync" if s == "WhisperSync" else _snake(s) for s in segments)


def derived_name(namespace: str, metric_name: str, unit: str, kind: str) -> str:
    """The naming rule: prefix from the namespace, snake_case name, base-unit suffix, ``_total`` for counters."""
    name = f"{_prefix(namespace)}_{_snake(metric_name)}"
    if name[0].isdigit():
        name = "_" + name
    suffix = _UNIT_SUFFIX.get(unit, ("", 1.0))[0]
    if suffix and not name.endswith("_" + suffix):
        name += "_" + suffix
    return name + "_total" if kind == COUNTER else name


def _entry(metric: catalog.Metric, kind: str, name: str) -> PrometheusMetric:
    dimensions = (*metric.dimensions, *metric.varying)
    scale = _UNIT_SUFFIX.get(metric.unit, ("", 1.0))[1]
    return PrometheusMetric(metric.namespace, metric.name, metric.unit, name, kind,
                            tuple((d, label_name(d)) for d in dimensions), scale)


# The table: every catalog metric, its kind and its Prometheus name (the rule's output, written out).
TABLE: tuple[PrometheusMetric, ...] = (
    _entry(catalog.TRANSCRIPTS_PROCESSED, COUNTER, "whispersync_business_transcripts_processed_total"),
    _entry(catalog.PROCESSING_DURATION, HISTOGRAM, "whispersync_business_processing_duration_seconds"),
    _entry(catalog.MEMO_LATENCY, HISTOGRAM, "whispersync_business_memo_latency_seconds"),
    _entry(catalog.MEMOS_FAILED, COUNTER, "whispersync_business_memos_failed_total"),
    _entry(catalog.WORKER_INVOCATIONS, COUNTER, "whispersync_worker_invocations_total"),
    _entry(catalog.WORKER_ERRORS, COUNTER, "whispersync_worker_errors_total"),
    _entry(catalog.WORKER_DURATION, HISTOGRAM, "whispersync_worker_duration_seconds"),
    # The collector publishes the peak concurrency since its last report: a level.
    _entry(catalog.WORKER_CONCURRENT_EXECUTIONS, GAUGE, "whispersync_worker_concurrent_executions"),
    # ...and the throttles since its last report: events, so a counter.
    _entry(catalog.WORKER_THROTTLES, COUNTER, "whispersync_worker_throttles_total"),
    _entry(catalog.WORKER_MEMORY_UTILIZATION, GAUGE, "whispersync_worker_memory_utilization_ratio"),
    _entry(catalog.QUEUE_VISIBLE, GAUGE, "whispersync_queue_approximate_number_of_messages_visible"),
    _entry(catalog.QUEUE_NOT_VISIBLE, GAUGE, "whispersync_queue_approximate_number_of_messages_not_visible"),
    _entry(catalog.QUEUE_DELAYED, GAUGE, "whispersync_queue_approximate_number_of_messages_delayed"),
    _entry(catalog.QUEUE_OLDEST_AGE, GAUGE, "whispersync_queue_approximate_age_of_oldest_message_seconds"),
    _entry(catalog.QUEUE_SENT, COUNTER, "whispersync_queue_number_of_messages_sent_total"),
    # The record store's operation counts since the collector's last report.
    _entry(catalog.STORE_READS, COUNTER, "whispersync_store_consumed_read_capacity_units_total"),
    _entry(catalog.STORE_WRITES, COUNTER, "whispersync_store_consumed_write_capacity_units_total"),
    _entry(catalog.STORE_USER_ERRORS, COUNTER, "whispersync_store_user_errors_total"),
    _entry(catalog.STORE_SYSTEM_ERRORS, COUNTER, "whispersync_store_system_errors_total"),
    _entry(catalog.API_5XX, COUNTER, "whispersync_api_5xx_error_total"),
    _entry(catalog.LOG_ERRORS, COUNTER, "whispersync_logs_log_errors_total"),
    _entry(catalog.NOTIFICATION_ATTEMPTS, COUNTER, "whispersync_health_notification_attempts_total"),
    _entry(catalog.UNSENT_REENQUEUED, COUNTER, "whispersync_ingest_unsent_memos_reenqueued_total"),
    _entry(catalog.TELEMETRY_EXPORT_LOST, COUNTER, "whispersync_health_telemetry_export_lost_total"),
    _entry(catalog.REMEDIATION_EXECUTED, COUNTER, "whispersync_health_remediation_executed_total"),
    _entry(catalog.SYSTEM_HEALTH, GAUGE, "whispersync_health_system_health"),
    _entry(catalog.CANARY_SUCCESS_PERCENT, GAUGE, "whispersync_synthetics_success_percent_ratio"),
    _entry(catalog.CANARY_DURATION, HISTOGRAM, "whispersync_synthetics_duration_seconds"),
    _entry(catalog.AUTH_FAILURES, COUNTER, "whispersync_security_auth_failures_total"),
    _entry(catalog.REJECTED_INPUTS, COUNTER, "whispersync_security_rejected_inputs_total"),
    # Dollars of the memos metered in each period: added up over time, so a counter.
    _entry(catalog.ESTIMATED_COST, COUNTER, "whispersync_cost_estimated_cost_usd_total"),
    # The month's total so far: a level that drops to 0 when a month starts, so a gauge.
    _entry(catalog.MONTH_TO_DATE_COST, GAUGE, "whispersync_cost_month_to_date_cost_usd"),
    # A baseline's hourly expected value and bounds: levels, so gauges.
    _entry(catalog.BASELINE_EXPECTED, GAUGE, "whispersync_baselines_expected"),
    _entry(catalog.BASELINE_LOWER, GAUGE, "whispersync_baselines_lower_bound"),
    _entry(catalog.BASELINE_UPPER, GAUGE, "whispersync_baselines_upper_bound"),
)

_BY_IDENTITY = {(m.namespace, m.metric_name): m for m in TABLE}
_BY_NAME = {m.name: m for m in TABLE}
_DIMENSIONS = {label: dimension for m in TABLE for dimension, label in m.labels}


def prometheus_metric(namespace: str, metric_name: str, unit: str = "None") -> PrometheusMetric:
    """The Prometheus family of a CloudWatch metric: the table's entry, else the rule's (kind by unit)."""
    found = _BY_IDENTITY.get((namespace, metric_name))
    if found is not None:
        return found
    kind = COUNTER if unit == "Count" else HISTOGRAM if unit in _TIME_UNITS else GAUGE
    scale = _UNIT_SUFFIX.get(unit, ("", 1.0))[1]
    return PrometheusMetric(namespace, metric_name, unit, derived_name(namespace, metric_name, unit, kind), kind,
                            scale=scale, in_table=False)


def cloudwatch_metric(name: str) -> PrometheusMetric | None:
    """The table's entry for a Prometheus family name (or one of its series: ``_bucket``,
    ``_sum``, ``_count``; a counter's ``_created``), None when the name is not WhisperSync's."""
    found = _BY_NAME.get(name)
    if found is not None:
        return found
    for series_suffix in ("_bucket", "_sum", "_count", "_created"):
        if name.endswith(series_suffix):
            base = _BY_NAME.get(name[: -len(series_suffix)])
            if base is not None and (base.kind == HISTOGRAM or series_suffix == "_created"):
                return base
    return None


def dimension_name(label: str) -> str | None:
    """The dimension a table label stands for (``agent_type`` -> ``AgentType``), None if unknown."""
    return _DIMENSIONS.get(label)


def prometheus_labels(dimensions: Mapping[str, str]) -> dict[str, str]:
    """Dimensions as labels: ``{"AgentType": "work"}`` -> ``{"agent_type": "work"}``."""
    return {label_name(d): v for d, v in dimensions.items()}
