"""OTLP out: our exporter sends to a small loopback collector that decodes with opentelemetry-proto."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

pytest.importorskip("opentelemetry.proto")

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from whispersync.telemetry import MemorySink, OtlpExporter, TeeSink, Telemetry

LOSS_METRIC = OtlpExporter.LOSS_METRIC

_REQUESTS = {"/v1/traces": ExportTraceServiceRequest, "/v1/logs": ExportLogsServiceRequest,
             "/v1/metrics": ExportMetricsServiceRequest}


class Collector:
    """A loopback OTLP/HTTP collector: records each request; answers from ``statuses`` first, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []  # (path, content type, body)
        self.statuses: list[tuple[int, dict]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status, headers = collector.statuses.pop(0) if collector.statuses else (200, {})
                collector.received.append((self.path, self.headers["content-type"], body))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def decoded(self, path: str) -> list:
        out = []
        for got_path, content_type, body in self.received:
            if got_path != path:
                continue
            message = _REQUESTS[path]()
            if content_type == "application/json":
                json_format.ParseDict(_hex_to_b64(orjson.loads(body)), message)
            else:
                message.ParseFromString(body)
            out.append(message)
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hex_to_b64(value):
    import base64

    if isinstance(value, dict):
        return {k: base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId")
                else _hex_to_b64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hex_to_b64(v) for v in value]
    return value


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def _telemetry(exporter: OtlpExporter) -> tuple[Telemetry, MemorySink]:
    local = MemorySink()
    return Telemetry(TeeSink(local, exporter), service="whispersync"), local


def _work(telemetry: Telemetry) -> tuple:
    with telemetry.tracer.span("process_memo", kind="CONSUMER", annotations={"agent_type": "work"}) as parent:
        parent.put_metadata("memo", {"words": 12})
        telemetry.logger("whispersync.worker").info("Processing transcript", transcript_key="k1")
        with pytest.raises(RuntimeError), telemetry.tracer.span("agent_call") as child:
            raise RuntimeError("agent down")
    telemetry.metrics.put("WhisperSync/Business", "TranscriptsProcessed", 1, unit="Count",
                          dimensions={"AgentType": "work"})
    telemetry.metrics.put("WhisperSync/Business", "ProcessingDuration", 12.5, unit="Milliseconds")
    return parent, child


def test_protobuf_export_keeps_ids_parentage_attributes_and_status(collector) -> None:
    exporter = OtlpExporter(collector.url, service="whispersync", service_version="9.9.9")
    telemetry, local = _telemetry(exporter)
    parent, child = _work(telemetry)
    telemetry.close()
    assert len(local.records["spans"]) == 2  # the tee still writes locally
    (traces,) = collector.decoded("/v1/traces")
    resource = {kv.key: kv.value.string_value for kv in traces.resource_spans[0].resource.attributes}
    assert resource == {"service.name": "whispersync", "service.version": "9.9.9"}
    spans = {s.span_id.hex(): s for s in traces.resource_spans[0].scope_spans[0].spans}
    sent_parent, sent_child = spans[parent.span_id], spans[child.span_id]
    assert sent_parent.trace_id.hex() == parent.trace_id == sent_child.trace_id.hex()
    assert sent_child.parent_span_id.hex() == parent.span_id and sent_parent.parent_span_id == b""
    assert sent_parent.kind == 5  # CONSUMER
    attrs = {kv.key: json_format.MessageToDict(kv.value) for kv in sent_parent.attributes}
    assert attrs["agent_type"] == {"stringValue": "work"}
    assert attrs["memo"] == {"kvlistValue": {"values": [{"key": "words", "value": {"intValue": "12"}}]}}
    assert sent_child.status.code == 2 and sent_child.status.message == "agent down"
    assert sent_parent.status.code == 1
    assert [e.name for e in sent_child.events] == ["exception"]
    (logs,) = collector.decoded("/v1/logs")
    log = logs.resource_logs[0].scope_logs[0].log_records[0]
    assert log.body.string_value == "Processing transcript" and log.severity_number == 9
    assert log.trace_id.hex() == parent.trace_id and log.span_id.hex() == parent.span_id
    assert logs.resource_logs[0].scope_logs[0].scope.name == "whispersync.worker"
    (metrics,) = collector.decoded("/v1/metrics")
    scope = metrics.resource_metrics[0].scope_metrics[0]
    assert scope.scope.name == "WhisperSync/Business"
    by_name = {m.name: m for m in scope.metrics}
    processed = by_name["TranscriptsProcessed"]
    assert processed.sum.is_monotonic and processed.sum.aggregation_temporality == 1
    assert processed.sum.data_points[0].as_double == 1
    assert processed.sum.data_points[0].attributes[0].key == "AgentType"
    duration = by_name["ProcessingDuration"]
    assert duration.unit == "ms" and duration.gauge.data_points[0].as_double == 12.5
    assert exporter.sent == 5 and exporter.failed == 0 and exporter.dropped == 0


def test_json_export_has_hex_ids_and_integer_enums(collector) -> None:
    exporter = OtlpExporter(collector.url, protocol="http/json")
    telemetry, _ = _telemetry(exporter)
    parent, child = _work(telemetry)
    telemetry.close()
    ((_, content_type, body),) = [r for r in collector.received if r[0] == "/v1/traces"]
    assert content_type == "application/json"
    doc = orjson.loads(body)
    spans = {s["spanId"]: s for s in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]}
    assert set(spans) == {parent.span_id, child.span_id}  # hex, as OTLP JSON requires (not base64)
    assert spans[child.span_id]["traceId"] == parent.trace_id
    assert spans[child.span_id]["parentSpanId"] == parent.span_id
    assert spans[parent.span_id]["kind"] == 5 and spans[child.span_id]["status"]["code"] == 2  # integers
    assert isinstance(spans[parent.span_id]["startTimeUnixNano"], str)  # int64 as a decimal string
    ((_, _, log_body),) = [r for r in collector.received if r[0] == "/v1/logs"]
    log = orjson.loads(log_body)["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert log["traceId"] == parent.trace_id and log["severityNumber"] == 9


def test_retryable_answers_are_retried_honouring_retry_after(collector) -> None:
    collector.statuses = [(503, {"retry-after": "1"}), (429, {})]
    exporter = OtlpExporter(collector.url, backoff=0.01)
    telemetry, _ = _telemetry(exporter)
    with telemetry.tracer.span("one"):
        pass
    started = time.monotonic()
    telemetry.flush()
    telemetry.close()
    assert len(collector.received) == 3 and exporter.sent == 1 and exporter.failed == 0
    assert time.monotonic() - started >= 0.9  # the Retry-After second was waited


def test_a_refusal_is_final_and_counted(collector) -> None:
    collector.statuses = [(400, {})]
    loss = MemorySink()
    exporter = OtlpExporter(collector.url, backoff=0.01, loss_sink=loss)
    telemetry, _ = _telemetry(exporter)
    with telemetry.tracer.span("one"):
        pass
    telemetry.close()
    assert len(collector.received) == 1 and exporter.failed == 1
    (lost,) = [m for m in loss.records["metrics"] if m["name"] == LOSS_METRIC]
    assert lost["dimensions"] == {"Exporter": "otlp", "Reason": "send_failed"} and lost["value"] == 1


def _dead_endpoint() -> str:
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _burst(telemetry: Telemetry, n: int = 3000) -> float:
    started = time.perf_counter()
    for i in range(n):
        with telemetry.tracer.span("memo", annotations={"i": i}):
            telemetry.logger("w").info("done", i=i)
    return time.perf_counter() - started


def test_a_dead_collector_never_slows_the_memo_path_and_losses_are_counted() -> None:
    loss = MemorySink()
    exporter = OtlpExporter(_dead_endpoint(), max_buffer=500, batch_size=100, interval=0.01, backoff=0.05,
                            max_attempts=3, loss_sink=loss)
    telemetry = Telemetry(TeeSink(MemorySink(), exporter))
    # Interleaved, best of three each: on a shared 2-core machine one burst can lose the CPU for a
    # second; the best of three says what the code costs.
    baselines, deads = [], []
    for _ in range(3):
        baselines.append(_burst(Telemetry(MemorySink())))
        deads.append(_burst(telemetry))
    baseline, dead = min(baselines), min(deads)
    # Generous: a correctness check (no waiting on the network in emit), not a benchmark.
    assert dead < baseline * 3 + 0.5, (deads, baselines)
    assert exporter.dropped >= 18000 - 500 - 200  # the buffer holds 500; the rest pushed the oldest out
    started = time.monotonic()
    telemetry.close()
    assert time.monotonic() - started < 15
    assert exporter.sent == 0 and exporter.failed > 0
    reasons = {m["dimensions"]["Reason"] for m in loss.records["metrics"] if m["name"] == LOSS_METRIC}
    assert reasons == {"buffer_full", "send_failed"}


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="protocol"):
        OtlpExporter("http://127.0.0.1:1", protocol="grpc")


def test_the_loss_metric_is_the_catalog_s() -> None:
    """What the exporter writes when it loses records is catalog.TELEMETRY_EXPORT_LOST (telemetry
    may not import the catalog, so the two spellings are held together here)."""
    from whispersync import catalog

    declared = catalog.TELEMETRY_EXPORT_LOST
    loss = MemorySink()
    exporter = OtlpExporter(_dead_endpoint(), max_buffer=1, interval=0.01, backoff=0.01, max_attempts=1,
                            loss_sink=loss)
    for i in range(50):  # a buffer of one: the others are pushed out (buffer_full); the last fails to send
        exporter.emit("logs", {"message": f"m{i}", "level": "INFO", "timestamp": 0})
    exporter.close()
    written = loss.records["metrics"]
    assert {m["dimensions"]["Reason"] for m in written} == {"buffer_full", "send_failed"}
    for record in written:
        assert (record["namespace"], record["name"], record["unit"]) == (declared.namespace, declared.name,
                                                                          declared.unit)
        assert set(record["dimensions"]) == set(declared.dimensions) | set(declared.varying)


def _spans_received(collector: Collector) -> list[int]:
    return [len(m.resource_spans[0].scope_spans[0].spans) for m in collector.decoded("/v1/traces")]


def _span_record(i: int, trace_id: str = "0af7651916cd43dd8448eb211c80319c") -> dict:
    return {"trace_id": trace_id, "span_id": f"{i + 1:016x}", "parent_span_id": None, "name": f"s{i}",
            "kind": "INTERNAL", "start_time_unix_nano": 1, "end_time_unix_nano": 2, "status": "OK"}


def test_a_busy_producer_gets_whole_batches_not_a_stream_of_small_requests(collector) -> None:
    """A full batch wakes the thread, which sends whole batches only; the rest waits for the interval
    or a flush (draining until empty would chase the producer with tiny requests, each costing it GIL time)."""
    exporter = OtlpExporter(collector.url, batch_size=100, interval=60)
    for i in range(100):
        exporter.emit("spans", _span_record(i))
    for i in range(100, 180):  # keeps coming while the first batch is sent
        exporter.emit("spans", _span_record(i))
        time.sleep(0.002)
    time.sleep(0.3)
    assert _spans_received(collector) == [100]
    exporter.flush()
    assert _spans_received(collector) == [100, 80]
    exporter.close()
    assert exporter.sent == 180 and exporter.failed == 0


def test_a_record_that_cannot_be_encoded_is_lost_alone(collector) -> None:
    exporter = OtlpExporter(collector.url)
    exporter.emit("spans", _span_record(0))
    exporter.emit("spans", _span_record(1, trace_id="not hex"))
    exporter.emit("logs", {"level": "INFO", "message": "kept", "timestamp": 1, "logger": 7})  # not a logger name
    exporter.emit("logs", {"level": "INFO", "message": "kept", "timestamp": 1})
    exporter.close()
    assert _spans_received(collector) == [1]
    (logs,) = collector.decoded("/v1/logs")
    assert [r.body.string_value for r in logs.resource_logs[0].scope_logs[0].log_records] == ["kept"]
    assert exporter.sent == 2 and exporter.failed == 2


def test_rejected_items_of_a_partial_success_are_counted_as_failed() -> None:
    """A 200 whose ExportTraceServiceResponse says partial_success.rejected_spans=2 (read without the proto package)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    answer = ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
        rejected_spans=2, error_message="too old")).SerializeToString()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exporter = OtlpExporter(f"http://127.0.0.1:{server.server_address[1]}")
        for i in range(3):
            exporter.emit("spans", _span_record(i))
        exporter.close()
    finally:
        server.shutdown()
        server.server_close()
    assert exporter.sent == 3 and exporter.failed == 2
