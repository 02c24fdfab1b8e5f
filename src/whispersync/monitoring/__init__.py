"""The local monitoring engine: the telemetry store and the queries over it.

`TelemetryStore` is where logs, metrics and spans land (it is the local telemetry
sink) and what every monitoring query reads; `MetricSeries` is what a metric
statistics query returns.
"""

from whispersync.monitoring.store import MetricSeries, TelemetryStore

__all__ = ["MetricSeries", "TelemetryStore"]
