"""The OTLP/HTTP receiver, fed by the real OpenTelemetry Python SDK over loopback HTTP;
what it wrote is read back with the same functions `traces search`, `logs query` and
`metrics get` use."""

from __future__ import annotations

import gzip
import time

import httpx
import orjson
import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from helpers import ServerThread
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from whispersync.monitoring.logs.insights import run_query
from whispersync.monitoring.metrics import get_metric_data
from whispersync.monitoring.otlp import OtlpReceiver
from whispersync.monitoring.store import TelemetryStore
from whispersync.monitoring.traces import get_trace, search_traces
from whispersync.plan import MetricDataQuery, MetricStat
from whispersync.web.otlp import create_otlp_app

RESOURCE = Resource.create({"service.name": "billing", "service.version": "1.2.3"})


@pytest.fixture
def receiver(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    with ServerThread(create_otlp_app(OtlpReceiver(store))) as server:
        yield store, server.url
    store.close()


def _spans_from_the_sdk(url: str) -> tuple[str, str, str]:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    tracer = provider.get_tracer("billing.checkout")
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER,
                                      attributes={"http.method": "POST", "items": 3}) as parent:
        parent.set_attribute("correlation_id", "corr-otlp-1")
        with tracer.start_as_current_span("charge-card", kind=SpanKind.CLIENT) as child:
            child.add_event("retrying", {"attempt": 2})
            child.record_exception(ValueError("card declined"))
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    provider.shutdown()
    ctx_parent, ctx_child = parent.get_span_context(), child.get_span_context()
    return f"{ctx_parent.trace_id:032x}", f"{ctx_parent.span_id:016x}", f"{ctx_child.span_id:016x}"


def test_sdk_spans_arrive_with_ids_parentage_attributes_events_and_status(receiver) -> None:
    store, url = receiver
    trace_id, parent_id, child_id = _spans_from_the_sdk(url)
    store.flush()
    found = search_traces(store, trace_id=trace_id)
    assert [t.trace_id for t in found] == [trace_id]
    assert found[0].has_error and found[0].span_count == 2 and found[0].correlation_id == "corr-otlp-1"
    spans = {s["span_id"]: s for s in get_trace(store, trace_id)["spans"]}
    assert set(spans) == {parent_id, child_id}
    parent, child = spans[parent_id], spans[child_id]
    assert parent["parent_span_id"] is None and child["parent_span_id"] == parent_id
    assert parent["kind"] == "SERVER" and child["kind"] == "CLIENT"
    assert parent["service"] == "billing"
    metadata = orjson.loads(parent["metadata"]) if isinstance(parent["metadata"], str) else parent["metadata"]
    assert metadata["http.method"] == "POST" and metadata["items"] == 3
    assert metadata["otel.scope"] == "billing.checkout"
    assert child["status"] == "ERROR" and child["status_message"] == "card declined"
    raw = orjson.loads(child["raw"]) if "raw" in child else child
    events = {e["name"]: e for e in raw["events"]}
    assert events["retrying"]["attributes"] == {"attempt": 2}
    assert events["exception"]["attributes"]["exception.type"] == "ValueError"
    assert raw["annotations"]["error_type"] == "ValueError"
    assert search_traces(store, filter='correlation_id = "corr-otlp-1"')[0].trace_id == trace_id


def test_sdk_logs_arrive_joined_to_their_trace(receiver) -> None:
    store, url = receiver
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs")))
    otel_logger = provider.get_logger("billing.ledger")
    tracer = TracerProvider(resource=RESOURCE).get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        otel_logger.emit(body="ledger out of balance", severity_number=otel_logger_severity("ERROR"),
                         severity_text="ERROR", attributes={"account": "acme", "level": "shadowed"})
    provider.shutdown()
    store.flush()
    trace_id = f"{span.get_span_context().trace_id:032x}"
    result = run_query(store, "fields @timestamp, level, message, service, account, trace_id, logger, extra_level"
                              " | filter service = 'billing'",
                       start_ms=int(time.time() * 1000) - 60_000, end_ms=int(time.time() * 1000) + 60_000)
    rows = [dict(zip(result["columns"], row)) for row in result["rows"]]
    assert len(rows) == 1
    row = rows[0]
    assert row["level"] == "ERROR" and row["message"] == "ledger out of balance"
    assert row["account"] == "acme" and row["trace_id"] == trace_id and row["logger"] == "billing.ledger"
    assert row["extra_level"] == "shadowed"  # an attribute never overwrites our own keys


def otel_logger_severity(name: str):
    from opentelemetry._logs import SeverityNumber

    return getattr(SeverityNumber, name)


def test_sdk_metrics_are_cloudwatch_datapoints(receiver) -> None:
    store, url = receiver
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{url}/v1/metrics"),
                                           export_interval_millis=3_600_000)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("billing")
    counter = meter.create_counter("orders", unit="{order}")
    histogram = meter.create_histogram("checkout.duration", unit="ms")
    counter.add(2, {"region": "eu"})
    histogram.record(10, {"region": "eu"})
    histogram.record(30, {"region": "eu"})
    provider.force_flush()
    counter.add(5, {"region": "eu"})  # cumulative 7: the second export must add 5, not 7
    provider.force_flush()
    provider.shutdown()
    store.flush()
    now = int(time.time() * 1000)
    queries = [
        MetricDataQuery("orders", MetricStat("OTel/billing", "orders", {"region": "eu"}, "Sum", 3600)),
        MetricDataQuery("n", MetricStat("OTel/billing", "checkout.duration", {"region": "eu"}, "SampleCount", 3600)),
        MetricDataQuery("hi", MetricStat("OTel/billing", "checkout.duration", {"region": "eu"}, "Maximum", 3600)),
        MetricDataQuery("avg", MetricStat("OTel/billing", "checkout.duration", {"region": "eu"}, "Average", 3600)),
    ]
    results = {r.id: r for r in get_metric_data(store, queries, start_ms=now - 3_600_000, end_ms=now + 3_600_000)}
    assert sum(results["orders"].values) == 7
    assert sum(results["n"].values) == 2
    assert max(results["hi"].values) == 30
    assert results["avg"].values == [20]
    assert results["avg"].unit == "Milliseconds" and results["orders"].unit == "Count"


def _request_json(trace_id: str, span_id: str, **span) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                            "value": {"stringValue": "json-svc"}}]},
                               "scopeSpans": [{"scope": {"name": "s"}, "spans": [{
                                   "traceId": trace_id, "spanId": span_id, "name": "op", "kind": 2,
                                   "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000500000000",
                                   "status": {"code": 2, "message": "boom"}, "unknownField": 1, **span}]}]}]}


def test_otlp_json_with_hex_ids_string_int64s_and_gzip(receiver) -> None:
    store, url = receiver
    trace_id, span_id = "5759E988BD862E3FE1BE46A994272793", "53995c3f42cd8ad8"
    body = gzip.compress(orjson.dumps(_request_json(trace_id, span_id, parentSpanId="")))
    answer = httpx.post(f"{url}/v1/traces", content=body,
                        headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {}
    store.flush()
    (span,) = get_trace(store, trace_id.lower())["spans"]
    assert span["span_id"] == span_id and span["duration_ms"] == 500 and span["status"] == "ERROR"
    assert span["kind"] == "SERVER" and span["service"] == "json-svc"


def test_enum_names_are_accepted_too(receiver) -> None:
    store, url = receiver
    doc = _request_json("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", kind="SPAN_KIND_CONSUMER")
    assert httpx.post(f"{url}/v1/traces", json=doc).status_code == 200
    store.flush()
    assert get_trace(store, "0af7651916cd43dd8448eb211c80319c")["spans"][0]["kind"] == "CONSUMER"


def test_invalid_spans_are_a_partial_success(receiver) -> None:
    _, url = receiver
    good = _request_json("0af7651916cd43dd8448eb211c80319d", "b7ad6b7169203331")
    bad = _request_json("00000000000000000000000000000000", "b7ad6b7169203332")
    good["resourceSpans"] += bad["resourceSpans"]
    answer = httpx.post(f"{url}/v1/traces", json=good)
    assert answer.status_code == 200
    assert answer.json()["partialSuccess"]["rejectedSpans"] == 1
    assert "traceId" in answer.json()["partialSuccess"]["errorMessage"]
    # The same over protobuf: an ExportTraceServiceResponse with partial_success.
    proto = ExportTraceServiceRequest()
    from google.protobuf import json_format

    no_ids = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "", "spanId": "", "name": "x"}]}]}]}
    json_format.ParseDict(no_ids, proto)
    answer = httpx.post(f"{url}/v1/traces", content=proto.SerializeToString(),
                        headers={"content-type": "application/x-protobuf"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_spans == 1


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"content-type": "application/json"}, b"{not json", 400),
    ({"content-type": "application/json"}, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
     400),
    ({"content-type": "application/json"}, b'{"resourceSpans": "nope"}', 400),
    ({"content-type": "application/x-protobuf"}, b"\xff\xff\xff", 400),
    ({"content-type": "application/json", "content-encoding": "gzip"}, b"not gzip", 400),
    ({"content-type": "text/plain"}, b"hello", 415),
    ({"content-type": "application/json", "content-encoding": "br"}, b"{}", 415),
])
def test_bad_requests_get_a_status_not_a_crash(receiver, headers, body, status) -> None:
    _, url = receiver
    answer = httpx.post(f"{url}/v1/traces", content=body, headers=headers)
    assert answer.status_code == status
    if headers["content-type"] == "application/json":
        assert answer.json()["code"] == 3 and answer.json()["message"]


def test_size_limit_holds_after_inflating(tmp_path) -> None:
    store = TelemetryStore(tmp_path / "telemetry")
    with ServerThread(create_otlp_app(OtlpReceiver(store, max_bytes=10_000))) as server:
        bomb = gzip.compress(b"{" + b" " * 1_000_000 + b"}")
        assert len(bomb) < 10_000
        answer = httpx.post(f"{server.url}/v1/traces", content=bomb,
                            headers={"content-type": "application/json", "content-encoding": "gzip"})
        assert answer.status_code == 413
        answer = httpx.post(f"{server.url}/v1/traces", content=b" " * 20_000,
                            headers={"content-type": "application/json"})
        assert answer.status_code == 413
    store.close()


def test_a_token_is_required_when_set(tmp_path) -> None:
    store = TelemetryStore(tmp_path / "telemetry")
    token = "t" * 32
    with ServerThread(create_otlp_app(OtlpReceiver(store), api_token=token)) as server:
        doc = _request_json("0af7651916cd43dd8448eb211c80319e", "b7ad6b7169203331")
        assert httpx.post(f"{server.url}/v1/traces", json=doc).status_code == 401
        ok = httpx.post(f"{server.url}/v1/traces", json=doc, headers={"authorization": f"Bearer {token}"})
        assert ok.status_code == 200
    store.close()


def test_unknown_signal_is_404(receiver) -> None:
    _, url = receiver
    assert httpx.post(f"{url}/v1/profiles", json={}).status_code == 404
