"""OTLP messages -> the records our own telemetry writes, so every reader sees them alike.

- A span becomes our span record (telemetry/_tracer.py ``Span.end``): hex ids, the
  parent id (None for a root), kind and status as names, times in Unix ns. Its
  attributes are *metadata*, as OTel attributes are for our own spans (and for
  X-Ray's exporter by default); ``correlation_id`` and an exception event's type
  become annotations, which ``traces search`` indexes. The resource's
  ``service.name`` is the span's service; the scope and the other resource
  attributes are kept in metadata (``otel.scope``, ``otel.resource``).
- A log record becomes our log line (Powertools keys, telemetry/_logger.py):
  ``level`` from the severity number, ``message`` from the body, ``timestamp`` ISO
  8601, ``logger`` the scope name, ``trace_id``/``span_id`` hex, attributes flat.
- A metric data point becomes a CloudWatch datapoint: namespace ``OTel/<service.name>``,
  the metric's name, its UCUM unit mapped onto CloudWatch's units (``_UNITS``), the
  point's attributes as dimensions. Gauges and non-monotonic sums are values as they
  are; monotonic sums are deltas (a cumulative sum is turned into the increase since
  the series' previous point, as CloudWatch sums per period); histograms, exponential
  histograms and summaries become statistic sets (PutMetricData's StatisticValues:
  SampleCount, Sum, Minimum, Maximum) of the period's observations.

What cannot be stored (an invalid id, more than 30 dimensions, a non-finite value) is
rejected item by item and counted, as OTLP's partial success reports it.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import orjson

from whispersync.telemetry import MAX_DIMENSION_VALUE, MAX_DIMENSIONS, redact

_KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUSES = {0: "UNSET", 1: "OK", 2: "ERROR"}
_TEMPORALITY_CUMULATIVE = 2
_MAX_NAME = 255  # PutMetricData's namespace and metric name
_MAX_MAGNITUDE = 2.0 ** 360  # PutMetricData's value range
_MAX_SERIES_STATE = 100_000  # cumulative series remembered for deltas; beyond it, forgotten and restarted
# UCUM units (OTel semantic conventions) -> CloudWatch StandardUnit; anything else is "None".
_UNITS = {
    "s": "Seconds", "ms": "Milliseconds", "us": "Microseconds",
    "By": "Bytes", "kBy": "Kilobytes", "KiBy": "Kilobytes", "MBy": "Megabytes", "MiBy": "Megabytes",
    "GBy": "Gigabytes", "GiBy": "Gigabytes", "TBy": "Terabytes", "TiBy": "Terabytes",
    "bit": "Bits", "kbit": "Kilobits", "Mbit": "Megabits", "Gbit": "Gigabits", "Tbit": "Terabits",
    "%": "Percent", "1": "None", "By/s": "Bytes/Second", "bit/s": "Bits/Second",
}
# Keys our log records own (telemetry/_logger.py); an attribute so named is kept as "extra_<key>".
_RESERVED_LOG_KEYS = frozenset({"level", "location", "message", "timestamp", "service", "logger",
                                "trace_id", "span_id", "correlation_id"})


class RecordSink(Protocol):
    def emit(self, stream: str, record: dict) -> None: ...


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a JSON value (bytes as base64, as OTLP JSON writes them)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, which)


def attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def unit_of(ucum: str) -> str:
    """The CloudWatch unit for an OTel (UCUM) unit: ``{request}`` counts are Count."""
    if ucum in _UNITS:
        return _UNITS[ucum]
    if ucum.startswith("{") and ucum.endswith("}"):
        return "Count"
    if ucum.startswith("{") and ucum.endswith("}/s"):
        return "Count/Second"
    return "None"


def _iso_ms(unix_ns: int) -> str:
    seconds, rest = divmod(unix_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}Z"


def _level(severity_number: int, severity_text: str) -> str:
    # SeverityNumber ranges (OTel logs data model): 1-4 TRACE, 5-8 DEBUG, 9-12 INFO,
    # 13-16 WARN, 17-20 ERROR, 21-24 FATAL; our levels are DEBUG, INFO, WARNING, ERROR.
    if severity_number <= 0:
        text = severity_text.upper()
        return {"WARN": "WARNING", "FATAL": "ERROR", "CRITICAL": "ERROR", "TRACE": "DEBUG"}.get(
            text, text if text in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    if severity_number <= 8:
        return "DEBUG"
    if severity_number <= 12:
        return "INFO"
    if severity_number <= 16:
        return "WARNING"
    return "ERROR"


def _service(resource: Any) -> tuple[str, dict[str, Any]]:
    attrs = attributes(resource.attributes)
    service = attrs.get("service.name")
    return (service if isinstance(service, str) and service else "unknown_service"), attrs


class OtlpIngest:
    """Writes OTLP export requests into a telemetry sink (the store) as our own records.

    One per receiver: it remembers the last point of each cumulative series, to write
    deltas. Each ``*_request`` method returns ``(rejected, message)`` for the answer's
    partial success.
    """

    def __init__(self, sink: RecordSink, *, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._sink = sink
        self._clock_ns = clock_ns
        self._cumulative: dict[tuple, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def write(self, signal: str, request: Any) -> tuple[int, str]:
        if signal == "traces":
            return self.traces(request)
        if signal == "logs":
            return self.logs(request)
        return self.metrics(request)

    # -- traces -------------------------------------------------------------------------------

    def traces(self, request: Any) -> tuple[int, str]:
        rejected, reasons = 0, set()
        for resource_spans in request.resource_spans:
            service, resource = _service(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope.name
                for span in scope_spans.spans:
                    try:
                        record = self._span(span, service, resource, scope)
                    except ValueError as exc:
                        rejected += 1
                        reasons.add(str(exc))
                        continue
                    self._sink.emit("spans", record)
        return rejected, "; ".join(sorted(reasons))

    def _span(self, span: Any, service: str, resource: dict[str, Any], scope: str) -> dict:
        if len(span.trace_id) != 16 or not any(span.trace_id):
            raise ValueError("a span's traceId must be 16 bytes, not all zero")
        if len(span.span_id) != 8 or not any(span.span_id):
            raise ValueError("a span's spanId must be 8 bytes, not all zero")
        parent = span.parent_span_id.hex() if len(span.parent_span_id) == 8 and any(span.parent_span_id) else None
        metadata = attributes(span.attributes)
        correlation_id = metadata.get("correlation_id")
        correlation_id = correlation_id if isinstance(correlation_id, str) and correlation_id else None
        annotations: dict[str, Any] = {"correlation_id": correlation_id} if correlation_id else {}
        events = []
        for event in span.events:
            event_attrs = attributes(event.attributes)
            events.append({"name": event.name, "time_unix_nano": event.time_unix_nano, "attributes": event_attrs})
            if event.name == "exception" and isinstance(event_attrs.get("exception.type"), str):
                annotations.setdefault("error_type", event_attrs["exception.type"])
        if scope:
            metadata["otel.scope"] = scope
        extra_resource = {k: v for k, v in resource.items() if k != "service.name"}
        if extra_resource:
            metadata["otel.resource"] = extra_resource
        if span.links:
            metadata["links"] = [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
                                 for link in span.links]
        start, end = span.start_time_unix_nano, span.end_time_unix_nano
        return {
            "trace_id": span.trace_id.hex(),
            "span_id": span.span_id.hex(),
            "parent_span_id": parent,
            "name": span.name,
            "kind": _KINDS.get(span.kind, "INTERNAL"),
            "start_time_unix_nano": start,
            "end_time_unix_nano": end,
            "duration_ms": max(0, end - start) / 1e6,
            "status": _STATUSES.get(span.status.code, "UNSET"),
            "status_message": span.status.message or None,
            "service": service,
            "correlation_id": correlation_id,
            "annotations": annotations,
            "metadata": redact(metadata),
            "events": redact(events),
        }

    # -- logs ---------------------------------------------------------------------------------

    def logs(self, request: Any) -> tuple[int, str]:
        for resource_logs in request.resource_logs:
            service, _ = _service(resource_logs.resource)
            for scope_logs in resource_logs.scope_logs:
                logger = scope_logs.scope.name or "otel"
                for log in scope_logs.log_records:
                    self._sink.emit("logs", self._log(log, service, logger))
        return 0, ""

    def _log(self, log: Any, service: str, logger: str) -> dict:
        unix_ns = log.time_unix_nano or log.observed_time_unix_nano or self._clock_ns()
        body = any_value(log.body) if log.HasField("body") else ""
        message = body if isinstance(body, str) else orjson.dumps(body).decode()
        record: dict[str, Any] = {
            "level": _level(log.severity_number, log.severity_text),
            "message": message,
            "timestamp": _iso_ms(unix_ns),
            "service": service,
            "logger": logger,
        }
        fields = attributes(log.attributes)
        correlation_id = fields.pop("correlation_id", None)
        if isinstance(correlation_id, str) and correlation_id:
            record["correlation_id"] = correlation_id
        if len(log.trace_id) == 16 and any(log.trace_id):
            record["trace_id"] = log.trace_id.hex()
        if len(log.span_id) == 8 and any(log.span_id):
            record["span_id"] = log.span_id.hex()
        if log.severity_text:
            fields.setdefault("severity_text", log.severity_text)
        if log.event_name:
            fields.setdefault("event_name", log.event_name)
        for key, value in fields.items():
            record["extra_" + key if key in _RESERVED_LOG_KEYS else key] = value
        return redact(record)

    # -- metrics ------------------------------------------------------------------------------

    def metrics(self, request: Any) -> tuple[int, str]:
        rejected, reasons = 0, set()
        for resource_metrics in request.resource_metrics:
            service, _ = _service(resource_metrics.resource)
            namespace = f"OTel/{service}"[:_MAX_NAME]
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point, outcome in self._points(namespace, metric):
                        try:
                            record = self._datapoint(namespace, metric, point, outcome)
                        except ValueError as exc:
                            rejected += 1
                            reasons.add(str(exc))
                            continue
                        if record is not None:
                            self._sink.emit("metrics", record)
        return rejected, "; ".join(sorted(reasons))

    def _points(self, namespace: str, metric: Any) -> Iterable[tuple[Any, Any]]:
        """(data point, its value or statistic set or None) for each point of *metric*."""
        which = metric.WhichOneof("data")
        if which == "gauge":
            for p in metric.gauge.data_points:
                yield p, _number(p)
        elif which == "sum":
            data = metric.sum
            cumulative = data.aggregation_temporality == _TEMPORALITY_CUMULATIVE and data.is_monotonic
            for p in data.data_points:
                yield p, self._delta((namespace, metric.name), p, (_number(p),))[0] if cumulative else _number(p)
        elif which in ("histogram", "exponential_histogram"):
            data = getattr(metric, which)
            cumulative = data.aggregation_temporality == _TEMPORALITY_CUMULATIVE
            for p in data.data_points:
                count, total = float(p.count), p.sum if p.HasField("sum") else 0.0
                if cumulative:
                    count, total = self._delta((namespace, metric.name), p, (count, total))
                low = p.min if p.HasField("min") else None
                high = p.max if p.HasField("max") else None
                yield p, _statistic_set(count, total, low, high)
        elif which == "summary":
            # Summaries are cumulative by definition (OTLP metrics.proto).
            for p in metric.summary.data_points:
                count, total = self._delta((namespace, metric.name), p, (float(p.count), p.sum))
                quantiles = {q.quantile: q.value for q in p.quantile_values}
                yield p, _statistic_set(count, total, quantiles.get(0.0), quantiles.get(1.0))

    def _delta(self, series: tuple[str, str], point: Any, values: tuple[float, ...]) -> tuple[float, ...]:
        """The increase of a cumulative point since its series' previous one; its full value the
        first time (it counts from the series' start) or after a reset."""
        key = (series, tuple(sorted((kv.key, str(any_value(kv.value))) for kv in point.attributes)),
               point.start_time_unix_nano)
        with self._lock:
            previous = self._cumulative.get(key)
            if len(self._cumulative) >= _MAX_SERIES_STATE and previous is None:
                self._cumulative.clear()
            self._cumulative[key] = values
        if previous is None or any(now < before for now, before in zip(values, previous)):
            return values
        return tuple(now - before for now, before in zip(values, previous))

    def _datapoint(self, namespace: str, metric: Any, point: Any, outcome: Any) -> dict | None:
        if outcome is None:  # a histogram period without observations: nothing to record
            return None
        name = metric.name
        if not 1 <= len(name) <= _MAX_NAME:
            raise ValueError(f"a metric name must be 1-{_MAX_NAME} characters")
        dimensions = {}
        for key, value in attributes(point.attributes).items():
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            if key and text:  # CloudWatch has no empty dimension names or values
                dimensions[key[:250]] = text[:MAX_DIMENSION_VALUE]
        if len(dimensions) > MAX_DIMENSIONS:
            raise ValueError(f"a data point has {len(dimensions)} attributes; CloudWatch allows {MAX_DIMENSIONS}")
        record: dict[str, Any] = {
            "timestamp": (point.time_unix_nano or self._clock_ns()) // 1_000_000,
            "namespace": namespace,
            "name": name,
            "unit": unit_of(metric.unit),
            "dimensions": dimensions,
        }
        if isinstance(outcome, dict):
            for value in outcome.values():
                _check(value)
            record["value"] = outcome["Sum"] / outcome["SampleCount"]
            record["statistic_values"] = outcome
        else:
            _check(outcome)
            record["value"] = float(outcome)
        return record


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def _statistic_set(count: float, total: float, low: float | None, high: float | None) -> dict | None:
    if count <= 0:
        return None
    mean = total / count
    # Without min/max (optional in OTLP), the mean is the one value known to lie between them.
    low = mean if low is None or not math.isfinite(low) else min(low, mean)
    high = mean if high is None or not math.isfinite(high) else max(high, mean)
    return {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high}


def _check(value: float) -> None:
    if not math.isfinite(value) or abs(value) > _MAX_MAGNITUDE:
        raise ValueError("a data point's value must be finite and within CloudWatch's range (2^360)")
