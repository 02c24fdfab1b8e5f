"""OTLP out: our records also sent to an OpenTelemetry collector over OTLP/HTTP.

:class:`OtlpExporter` is a sink. ``emit`` only appends to a bounded buffer (the oldest
record is dropped when it is full, and counted); a daemon thread batches the buffer
every ``interval`` seconds into ``Export*ServiceRequest``s and POSTs them to
``<endpoint>/v1/traces``, ``/v1/logs``, ``/v1/metrics``, as protobuf or OTLP JSON.
So a collector that is slow or down costs a memo nothing: its records wait, are
retried, and at worst are dropped and counted. :class:`TeeSink` writes to the store
and the exporter alike.

Retries follow the OTLP/HTTP spec ("Failures"): 429, 502, 503 and 504 and connection
errors are retried with exponential backoff, waiting what ``Retry-After`` asks when
the answer carries it; any other failure is final. What could not be sent (dropped
from a full buffer, or failed for good) is written to ``loss_sink`` as metric
``WhisperSync/Health TelemetryExportLost`` (dimensions Exporter=otlp, Reason=
buffer_full|send_failed), and kept in ``dropped`` and ``failed``. The catalog declares that metric
(``catalog.TELEMETRY_EXPORT_LOST``); telemetry may not import the catalog, so a test holds the
two spellings together.

OTLP JSON (opentelemetry-proto's specification.md, "JSON Protobuf Encoding"): ids are
hex, not proto3 JSON's base64; enums are integers; 64-bit integers are decimal strings.
The generic protobuf JSON serialiser gets the first two wrong, so its output is fixed
here (``_ids_to_hex``, ``use_integers_for_enums``).

The proto package and httpx are imported when an exporter is built: telemetry without
OTLP does not load them.
"""

from __future__ import annotations

import base64
import collections
import email.utils
import random
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._sink import Sink

RETRYABLE = frozenset({429, 502, 503, 504})
PROTOCOLS = ("http/protobuf", "http/json")
_SIGNAL_OF = {"spans": "traces", "logs": "logs", "metrics": "metrics"}
_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
# SeverityNumber (OTel logs data model) of our levels: the first of each range.
_SEVERITY = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17}
# CloudWatch units -> UCUM, as OTel semantic conventions write units.
_UCUM = {
    "Seconds": "s", "Milliseconds": "ms", "Microseconds": "us", "Bytes": "By", "Kilobytes": "KiBy",
    "Megabytes": "MiBy", "Gigabytes": "GiBy", "Terabytes": "TiBy", "Bits": "bit", "Kilobits": "kbit",
    "Megabits": "Mbit", "Gigabits": "Gbit", "Terabits": "Tbit", "Percent": "%", "Count": "1",
    "Bytes/Second": "By/s", "Bits/Second": "bit/s", "Count/Second": "1/s", "None": "",
}
_LOG_OWN_KEYS = frozenset({"level", "message", "timestamp", "service", "trace_id", "span_id", "logger"})
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


class TeeSink:
    """Sends every record to each sink in turn; one failing does not stop the others."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = sinks

    def emit(self, stream: str, record: dict) -> None:
        failed = None
        for sink in self.sinks:
            try:
                sink.emit(stream, record)
            except Exception as exc:  # noqa: BLE001 - counted by Telemetry when re-raised below
                failed = exc
        if failed is not None:
            raise failed

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        # Last first: an exporter may still report its losses to the store before it.
        for sink in reversed(self.sinks):
            sink.close()


class OtlpExporter:
    """A sink exporting records over OTLP/HTTP from a background thread; see the module docstring."""

    # catalog.TELEMETRY_EXPORT_LOST, spelled here as the layers require (tests/telemetry check they agree).
    LOSS_NAMESPACE = "WhisperSync/Health"
    LOSS_METRIC = "TelemetryExportLost"

    def __init__(
        self,
        endpoint: str,
        *,
        protocol: str = "http/protobuf",
        service: str = "whispersync",
        service_version: str = "",
        headers: Mapping[str, str] | None = None,
        max_buffer: int = 20_000,
        batch_size: int = 2_000,
        interval: float = 1.0,
        timeout: float = 10.0,
        max_attempts: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        loss_sink: Sink | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"OTLP protocol must be one of {list(PROTOCOLS)}, not {protocol!r}")
        import httpx  # noqa: F401 - fail at start-up, not in the thread, when a package is missing
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: F401

        self.endpoint = endpoint.rstrip("/")
        self.protocol = protocol
        self.service = service
        self.service_version = service_version
        self.headers = {"content-type": "application/json" if protocol == "http/json" else "application/x-protobuf",
                        **(headers or {})}
        self.batch_size = batch_size
        self.interval = interval
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.loss_sink = loss_sink
        self.dropped = 0  # records pushed out of a full buffer
        self.failed = 0  # records whose export failed for good (or the collector rejected)
        self.sent = 0
        self._reported = (0, 0)
        self._buffer: collections.deque[tuple[str, dict]] = collections.deque(maxlen=max_buffer)
        self._wake = threading.Event()
        self._stop = threading.Event()
        # flush() asks for round n and waits until a round that began after the ask is done.
        self._rounds = threading.Condition()
        self._asked = 0
        self._done = 0
        self._kick = threading.Event()
        self._pause = 0.0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._client: Any = None

    # -- the sink ---------------------------------------------------------------------------

    def emit(self, stream: str, record: dict) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            self.dropped += 1  # the append below pushes the oldest out
        buffer.append((stream, record))
        if self._thread is None:
            self._start()
        elif len(buffer) >= self.batch_size:
            self._wake.set()

    def flush(self, timeout: float | None = None) -> None:
        """Send what is buffered now; wait for it at most ``timeout`` seconds (default: the request timeout)."""
        if self._thread is None or not self._thread.is_alive():
            return
        with self._rounds:
            self._asked += 1
            wanted = self._asked
            self._wake.set()
            self._kick.set()
            self._rounds.wait_for(lambda: self._done >= wanted, self.timeout if timeout is None else timeout)

    def close(self) -> None:
        self.flush()
        self._stop.set()
        self._kick.set()
        with self._rounds:
            self._asked += 1
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout)
            if not thread.is_alive():  # what is still buffered will never be sent: count it
                self.failed += len(self._buffer)
                self._buffer.clear()
                self._report_loss()
        if self._client is not None:
            self._client.close()

    # -- the thread -------------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="whispersync-otlp-export", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        import httpx

        self._client = httpx.Client(timeout=self.timeout)
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._rounds:
                round_ = self._asked
                self._kick.clear()
            delivered = True
            try:
                while delivered and self._buffer and not self._stop.is_set():
                    delivered = self._send_batch()
            except Exception:  # noqa: BLE001 - the exporter thread must not die
                self.failed += 1
            self._report_loss()
            with self._rounds:
                self._done = self._asked if self._stop.is_set() else round_
                self._rounds.notify_all()
            if self._stop.is_set():
                return
            # A collector that failed a batch for good is left alone for a while (doubling, up to
            # max_backoff): encoding batches only to fail them would cost the memo path CPU. Its
            # records wait in the buffer, and what overflows is dropped and counted.
            self._pause = 0.0 if delivered else min(self.max_backoff, max(self.backoff, self._pause * 2))
            if self._pause:
                self._kick.wait(self._pause)  # a flush or close ends the pause

    def _send_batch(self) -> bool:
        """Send up to ``batch_size`` records; False when a request failed for good."""
        delivered = True
        batch: dict[str, list[dict]] = {}
        for _ in range(self.batch_size):
            try:
                stream, record = self._buffer.popleft()
            except IndexError:
                break
            batch.setdefault(stream, []).append(record)
        for stream, records in batch.items():
            signal = _SIGNAL_OF.get(stream)
            if signal is None:
                self.failed += len(records)
                continue
            try:
                body = self.encode(signal, records)
            except Exception:  # noqa: BLE001 - a record we cannot encode is lost, not the batch's thread
                self.failed += len(records)
                continue
            if self._post(signal, body):
                self.sent += len(records)
            else:
                self.failed += len(records)
                delivered = False
        return delivered

    def _post(self, signal: str, body: bytes) -> bool:
        import httpx

        url = f"{self.endpoint}/v1/{signal}"
        for attempt in range(self.max_attempts):
            delay = min(self.max_backoff, self.backoff * 2 ** attempt) * random.uniform(0.5, 1.0)
            try:
                answer = self._client.post(url, content=body, headers=self.headers)
            except httpx.HTTPError:
                answer = None
            if answer is not None:
                if 200 <= answer.status_code < 300:
                    self.failed += self._rejected(signal, answer)
                    return True
                if answer.status_code not in RETRYABLE:
                    return False
                delay = _retry_after(answer.headers.get("retry-after"), delay, self.max_backoff)
            if attempt + 1 < self.max_attempts and self._stop.wait(delay):
                return False  # closing: no more waiting
        return False

    def _rejected(self, signal: str, answer: Any) -> int:
        """Items the collector refused in a partial success (they are not retried: the spec)."""
        if not answer.content:
            return 0
        try:
            if self.protocol == "http/json":
                partial = answer.json().get("partialSuccess") or {}
                return sum(int(v) for k, v in partial.items() if k.startswith("rejected"))
            response = _response_type(signal).FromString(answer.content)
            partial = response.partial_success
            return sum(getattr(partial, f.name) for f in partial.DESCRIPTOR.fields if f.name.startswith("rejected"))
        except Exception:  # noqa: BLE001 - an unreadable success is still a success
            return 0

    def _report_loss(self) -> None:
        dropped, failed = self.dropped, self.failed
        last_dropped, last_failed = self._reported
        if self.loss_sink is None or (dropped, failed) == self._reported:
            return
        self._reported = (dropped, failed)
        now_ms = int(time.time() * 1000)
        for reason, count in (("buffer_full", dropped - last_dropped), ("send_failed", failed - last_failed)):
            if count > 0:
                try:
                    self.loss_sink.emit("metrics", {
                        "timestamp": now_ms, "namespace": self.LOSS_NAMESPACE, "name": self.LOSS_METRIC,
                        "unit": "Count", "value": float(count), "dimensions": {"Exporter": "otlp", "Reason": reason}})
                except Exception:  # noqa: BLE001, S110 - the counters still hold it
                    pass

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, signal: str, records: list[dict]) -> bytes:
        """The ``Export*ServiceRequest`` body for *records*, in this exporter's protocol."""
        message = {"traces": self._traces, "logs": self._logs, "metrics": self._metrics}[signal](records)
        if self.protocol == "http/protobuf":
            return message.SerializeToString()
        import orjson
        from google.protobuf import json_format

        return orjson.dumps(_ids_to_hex(json_format.MessageToDict(message, use_integers_for_enums=True)))

    def _resource(self, target: Any) -> None:
        _put_attributes(target.attributes, {"service.name": self.service,
                                            **({"service.version": self.service_version} if self.service_version
                                               else {})})

    def _traces(self, records: list[dict]) -> Any:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        self._resource(resource_spans.resource)
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "whispersync"
        for record in records:
            span = scope_spans.spans.add()
            span.trace_id = bytes.fromhex(record["trace_id"])
            span.span_id = bytes.fromhex(record["span_id"])
            if record.get("parent_span_id"):
                span.parent_span_id = bytes.fromhex(record["parent_span_id"])
            span.name = record["name"]
            span.kind = _KIND.get(record.get("kind"), 1)
            span.start_time_unix_nano = record["start_time_unix_nano"]
            span.end_time_unix_nano = record["end_time_unix_nano"]
            # Annotations and metadata are both OTel attributes (the X-Ray split has no OTel equivalent).
            _put_attributes(span.attributes, {**(record.get("metadata") or {}), **(record.get("annotations") or {})})
            for event in record.get("events") or ():
                added = span.events.add()
                added.name = event["name"]
                added.time_unix_nano = event["time_unix_nano"]
                _put_attributes(added.attributes, event.get("attributes") or {})
            span.status.code = _STATUS.get(record.get("status"), 0)
            if record.get("status_message"):
                span.status.message = record["status_message"]
        return request

    def _logs(self, records: list[dict]) -> Any:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        request = ExportLogsServiceRequest()
        resource_logs = request.resource_logs.add()
        self._resource(resource_logs.resource)
        scopes: dict[str, Any] = {}
        for record in records:
            name = record.get("logger") or "whispersync"
            scope = scopes.get(name)
            if scope is None:
                scope = scopes[name] = resource_logs.scope_logs.add()
                scope.scope.name = name
            log = scope.log_records.add()
            log.time_unix_nano = _unix_ns(record.get("timestamp"))
            level = record.get("level", "INFO")
            log.severity_text = level
            log.severity_number = _SEVERITY.get(level, 9)
            log.body.string_value = str(record.get("message", ""))
            if record.get("trace_id") and len(record["trace_id"]) == 32:
                log.trace_id = bytes.fromhex(record["trace_id"])
            if record.get("span_id") and len(record["span_id"]) == 16:
                log.span_id = bytes.fromhex(record["span_id"])
            _put_attributes(log.attributes, {k: v for k, v in record.items() if k not in _LOG_OWN_KEYS})
        return request

    def _metrics(self, records: list[dict]) -> Any:
        """Each datapoint as one OTel point: a Count as a delta monotonic sum, a statistic set as a
        delta histogram without buckets, anything else as a gauge. The CloudWatch namespace is
        the instrumentation scope's name, the dimensions are the point's attributes."""
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
        )

        request = ExportMetricsServiceRequest()
        resource_metrics = request.resource_metrics.add()
        self._resource(resource_metrics.resource)
        scopes: dict[str, Any] = {}
        for record in records:
            namespace = record["namespace"]
            scope = scopes.get(namespace)
            if scope is None:
                scope = scopes[namespace] = resource_metrics.scope_metrics.add()
                scope.scope.name = namespace
            metric = scope.metrics.add()
            metric.name = record["name"]
            metric.unit = _UCUM.get(record.get("unit", "None"), "")
            time_ns = int(record["timestamp"]) * 1_000_000
            stats = record.get("statistic_values")
            value = float(record["value"])
            if stats:
                data = metric.histogram
                data.aggregation_temporality = 1  # delta
                point = data.data_points.add()
                point.count = int(stats["SampleCount"])
                point.sum, point.min, point.max = stats["Sum"], stats["Minimum"], stats["Maximum"]
            elif record.get("unit") == "Count" and value >= 0:
                data = metric.sum
                data.aggregation_temporality = 1
                data.is_monotonic = True
                point = data.data_points.add()
                point.as_double = value
            else:
                point = metric.gauge.data_points.add()
                point.as_double = value
            point.start_time_unix_nano = point.time_unix_nano = time_ns
            _put_attributes(point.attributes, record.get("dimensions") or {})
        return request


def _response_type(signal: str) -> Any:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceResponse,
    )
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    return {"traces": ExportTraceServiceResponse, "logs": ExportLogsServiceResponse,
            "metrics": ExportMetricsServiceResponse}[signal]


def _put_attributes(target: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if value is None:
            continue
        _set_any(target.add(key=str(key)).value, value)


def _set_any(target: Any, value: Any) -> None:
    """An OTLP ``AnyValue`` from a JSON value; anything else as its str()."""
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int) and -(2 ** 63) <= value < 2 ** 63:
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, (list, tuple)):
        array = target.array_value
        for item in value:
            _set_any(array.values.add(), item)
    elif isinstance(value, dict):
        _put_attributes(target.kvlist_value.values, value)
    else:
        target.string_value = str(value)


def _unix_ns(timestamp: Any) -> int:
    if isinstance(timestamp, (int, float)):  # epoch ms
        return int(timestamp * 1_000_000)
    if isinstance(timestamp, str):
        try:
            return int(datetime.fromisoformat(timestamp).timestamp() * 1e9)
        except ValueError:
            pass
    return time.time_ns()


def _ids_to_hex(value: Any) -> Any:
    """proto3 JSON's base64 ids as OTLP JSON's hex (in place)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _ID_KEYS and isinstance(item, str):
                value[key] = base64.b64decode(item).hex()
            else:
                _ids_to_hex(item)
    elif isinstance(value, list):
        for item in value:
            _ids_to_hex(item)
    return value


def _retry_after(header: str | None, default: float, limit: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), within ``limit``."""
    if not header:
        return default
    header = header.strip()
    if header.isdigit():
        return min(limit, float(header))
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return default
    return min(limit, max(0.0, when.timestamp() - time.time()))

