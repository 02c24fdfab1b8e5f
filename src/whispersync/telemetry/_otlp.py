"""OTLP out: our records also sent to an OpenTelemetry collector over OTLP/HTTP.

:class:`OtlpExporter` is a sink. ``emit`` only appends to a bounded buffer (the oldest
record is dropped when it is full, and counted); a daemon thread batches the buffer
every ``interval`` seconds into ``Export*ServiceRequest``s and POSTs them to
``<endpoint>/v1/traces``, ``/v1/logs``, ``/v1/metrics``, as protobuf or OTLP JSON. The thread
encodes each record as it takes it from the buffer, with the hand-written encoder of
:mod:`._otlp_wire` (message objects cost that thread, and through the GIL the memo's, ~100 µs
a memo).
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

httpx is imported when an exporter is built, and opentelemetry-proto only for JSON (read back
from our protobuf and written by its JSON serialiser): telemetry without OTLP loads neither.
"""

from __future__ import annotations

import base64
import collections
import email.utils
import random
import threading
import time
from collections.abc import Mapping
from typing import Any

from ._otlp_wire import WireEncoder, rejected_count
from ._sink import Sink

RETRYABLE = frozenset({429, 502, 503, 504})
PROTOCOLS = ("http/protobuf", "http/json")
_SIGNAL_OF = {"spans": "traces", "logs": "logs", "metrics": "metrics"}
_STREAM_OF = {signal: stream for stream, signal in _SIGNAL_OF.items()}
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

        if protocol == "http/json":  # protobuf is written by hand (_otlp_wire); JSON goes through the proto package
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
        self._wire = WireEncoder(service, service_version)
        self._encoders = {"spans": self._wire.span, "logs": self._wire.log, "metrics": self._wire.metric}

    # -- the sink ---------------------------------------------------------------------------

    def emit(self, stream: str, record: dict) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            self.dropped += 1  # the append below pushes the oldest out
        buffer.append((stream, record))
        if self._thread is None:
            self._start()
        elif len(buffer) >= self.batch_size and not self._wake.is_set():
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
            woken = self._wake.wait(self.interval)
            self._wake.clear()
            with self._rounds:
                round_ = self._asked
                flushing = round_ > self._done
                self._kick.clear()
            # One round sends what is buffered when it begins: all of it on the interval or a flush, only
            # whole batches when a full batch woke it. Draining until empty instead would chase the memo
            # threads with a stream of tiny requests, each costing them GIL time.
            budget = len(self._buffer)
            if woken and not flushing:
                budget -= budget % self.batch_size
            delivered = True
            try:
                while delivered and budget > 0 and not self._stop.is_set():
                    size = min(budget, self.batch_size)
                    delivered = self._send_batch(size)
                    budget -= size
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

    def _send_batch(self, size: int) -> bool:
        """Send up to ``size`` records; False when a request failed for good.

        Each record is encoded as it is taken from the buffer (emit only appends): one that cannot be
        encoded is lost and counted, not its batch."""
        delivered = True
        batch: dict[str, dict[str, list[bytes]]] = {}
        counts: dict[str, int] = {}
        buffer, encoders = self._buffer, self._encoders
        for _ in range(size):
            try:
                stream, record = buffer.popleft()
            except IndexError:
                break
            try:
                scope, item = encoders[stream](record)
            except Exception:  # noqa: BLE001 - an unknown stream or a record we cannot encode is lost, not the thread
                self.failed += 1
                continue
            scopes = batch.get(stream)
            if scopes is None:
                scopes = batch[stream] = {}
                counts[stream] = 0
            items = scopes.get(scope)
            if items is None:
                scopes[scope] = [item]
            else:
                items.append(item)
            counts[stream] += 1
        for stream, scopes in batch.items():
            signal = _SIGNAL_OF[stream]
            try:
                body = self._body(signal, scopes)
            except Exception:  # noqa: BLE001 - counted, the thread goes on
                self.failed += counts[stream]
                continue
            if self._post(signal, body):
                self.sent += counts[stream]
            else:
                self.failed += counts[stream]
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
            return rejected_count(answer.content)
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
        encode_one = self._encoders[_STREAM_OF[signal]]
        scopes: dict[str, list[bytes]] = {}
        for record in records:
            scope, item = encode_one(record)
            scopes.setdefault(scope, []).append(item)
        return self._body(signal, scopes)

    def _body(self, signal: str, scopes: dict[str, list[bytes]]) -> bytes:
        body = self._wire.request(signal, scopes)
        if self.protocol == "http/protobuf":
            return body
        # OTLP JSON: the same message, read back by opentelemetry-proto and written as JSON.
        import orjson
        from google.protobuf import json_format

        message = _request_type(signal).FromString(body)
        return orjson.dumps(_ids_to_hex(json_format.MessageToDict(message, use_integers_for_enums=True)))


def _request_type(signal: str) -> Any:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
    )
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    return {"traces": ExportTraceServiceRequest, "logs": ExportLogsServiceRequest,
            "metrics": ExportMetricsServiceRequest}[signal]


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

