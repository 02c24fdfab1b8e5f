"""`GET /metrics`: the pipeline's metrics for Prometheus, on the API port.

What is counted, and how. The runtime's telemetry hands every metric datapoint it emits to
its sink, the telemetry store; ``/metrics`` listens on that same path
(``Telemetry.add_listener``) and keeps, per series, what Prometheus asks of a client library:
a counter's running total, a gauge's last value, a histogram's buckets. There is no second
bookkeeping in the producers: the worker, the collector and the API record a datapoint once,
and the store and ``/metrics`` are two views of it. Reading the store at each scrape was the
other choice; it was not taken because a counter must never go down (retention drops old
partitions) and a DuckDB query per scrape costs far more than a dictionary of totals.

So ``/metrics`` is this process's view, as with any Prometheus client: totals start at zero
when ``up`` starts (``rate`` and ``increase`` handle the reset), and datapoints that other
processes write to the store (a CLI's ``metrics put``, OTLP received from other services,
metric filters run on the store's writer thread) are not in it; the store has them. With
telemetry off nothing is emitted, so nothing is counted. Names and labels are the table in
``monitoring.export``; a roll-up datapoint (TranscriptsProcessed with {Status} only) is not
exposed, as ``sum by (status)`` gives it.

The exposition is prometheus_client's: text format 0.0.4 by default, OpenMetrics 1.0 when
the ``Accept`` header asks for ``application/openmetrics-text`` (``choose_encoder``). With an
API token set, a scrape needs ``Authorization: Bearer TOKEN`` (Prometheus's ``authorization``
scrape setting), as every ``/v1`` route does.
"""

from __future__ import annotations

import hmac
import threading
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from whispersync.app import Runtime
from whispersync.monitoring.export import BUCKETS, PrometheusMetric, prometheus_labels, prometheus_metric

_INF = float("inf")


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, not cumulative; the last is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(BUCKETS, value)] += 1
        self.count += 1
        self.sum += value


class TelemetryCollector(Collector):
    """A prometheus_client collector over the metric datapoints a Telemetry emits.

    ``listen`` is the telemetry listener (quick: one dictionary update under a lock);
    ``collect`` builds the metric families at scrape time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # family -> label pairs -> a total (counter), a last value (gauge) or a _Histogram.
        self._series: dict[PrometheusMetric, dict[tuple[tuple[str, str], ...], Any]] = {}
        self._metrics: dict[tuple[str, str, str], PrometheusMetric] = {}  # CloudWatch identity -> family

    def listen(self, stream: str, record: Mapping[str, Any]) -> None:
        if stream != "metrics":
            return
        identity = (record["namespace"], record["name"], record.get("unit") or "None")
        metric = self._metrics.get(identity)
        if metric is None:
            metric = self._metrics[identity] = prometheus_metric(*identity)
        dimensions = record.get("dimensions") or {}
        if not metric.exposes(dimensions):
            return
        if metric.in_table:
            key = tuple((label, dimensions[d]) for d, label in metric.labels)
        else:
            key = tuple(sorted(prometheus_labels(dimensions).items()))
        value = record["value"] * metric.scale
        with self._lock:
            series = self._series.setdefault(metric, {})
            if metric.kind == "counter":
                series[key] = series.get(key, 0.0) + value
            elif metric.kind == "gauge":
                series[key] = value
            else:
                histogram = series.get(key)
                if histogram is None:
                    histogram = series[key] = _Histogram()
                histogram.observe(value)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot = [(m, [(k, _copy(v)) for k, v in series.items()]) for m, series in self._series.items()]
        seen: set[str] = set()
        for metric, series in sorted(snapshot, key=lambda item: item[0].name):
            family = _family(metric, series)
            if family.name in seen:  # two CloudWatch metrics outside the table named alike: keep the first
                continue
            seen.add(family.name)
            yield family

    def describe(self) -> list[Metric]:
        return []  # the families come and go with the data: no describe-time registration checks


def _copy(value: Any) -> Any:
    if isinstance(value, _Histogram):
        copy = _Histogram()
        copy.buckets, copy.count, copy.sum = list(value.buckets), value.count, value.sum
        return copy
    return value


def _family(metric: PrometheusMetric, series: list[tuple[tuple[tuple[str, str], ...], Any]]) -> Metric:
    if metric.kind == "counter":
        family = Metric(metric.name.removesuffix("_total"), metric.help, "counter")
        for key, total in series:
            family.add_sample(metric.name, dict(key), total)
    elif metric.kind == "gauge":
        family = Metric(metric.name, metric.help, "gauge")
        for key, value in series:
            family.add_sample(metric.name, dict(key), value)
    else:
        family = Metric(metric.name, metric.help, "histogram")
        for key, histogram in series:
            labels = dict(key)
            cumulative = 0
            for bound, count in zip((*BUCKETS, _INF), histogram.buckets):
                cumulative += count
                family.add_sample(f"{metric.name}_bucket", {**labels, "le": _le(bound)}, cumulative)
            family.add_sample(f"{metric.name}_count", labels, histogram.count)
            family.add_sample(f"{metric.name}_sum", labels, histogram.sum)
    return family


def _le(bound: float) -> str:
    return "+Inf" if bound == _INF else repr(float(bound))


def build_router(runtime: Runtime) -> APIRouter:
    """``GET /metrics`` over a TelemetryCollector listening to ``runtime.telemetry`` from now on."""
    settings = runtime.settings
    token = settings.api_token.get_secret_value() if settings.api_token else None
    collector = TelemetryCollector()
    runtime.telemetry.add_listener(collector.listen)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, process_resident_memory_bytes, ...

    router = APIRouter()

    # A plain def: FastAPI runs it on a worker thread, so encoding a large exposition never blocks the loop.
    @router.get("/metrics", response_class=Response,
                responses={200: {"content": {"text/plain": {}, "application/openmetrics-text": {}}}})
    def metrics(request: Request) -> Response:
        if token is not None and not _bearer_ok(request.headers.get("authorization", ""), token):
            return JSONResponse({"error": {"code": "unauthorized", "message": "missing or wrong bearer token"}},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        runtime.telemetry.drain()  # records built off the hot path, made before this scrape, count
        return Response(encoder(registry), headers={"Content-Type": content_type})

    return router


def _bearer_ok(authorization: str, token: str) -> bool:
    """The check the API's /v1 routes make (web/api.py): ``Bearer`` and the token, compared in constant time."""
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    return scheme.lower() == "bearer" and bool(credential) and hmac.compare_digest(credential.encode(),
                                                                                 token.encode())
