"""The hand-written OTLP protobuf encoder decodes, with opentelemetry-proto, into exactly what the
message-object path it replaced built from the same records.

``Reference`` below is that path as it was in _otlp.py (opentelemetry-proto message objects, filled
field by field): the oracle the new encoder is held to.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from whispersync.telemetry import OtlpExporter
from whispersync.telemetry._otlp_wire import WireEncoder, rejected_count

_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
_SEVERITY = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17}
_UCUM = {"Milliseconds": "ms", "Count": "1", "Bytes": "By", "None": ""}
_LOG_OWN_KEYS = frozenset({"level", "message", "timestamp", "service", "trace_id", "span_id", "logger"})
_REQUEST = {"traces": ExportTraceServiceRequest, "logs": ExportLogsServiceRequest,
            "metrics": ExportMetricsServiceRequest}


class Reference:
    """The message-object encoder the wire encoder replaced (as it was, less the JSON step)."""

    def __init__(self, service: str, service_version: str = "") -> None:
        self.service, self.service_version = service, service_version

    def request(self, signal: str, records: list[dict]) -> Any:
        return {"traces": self._traces, "logs": self._logs, "metrics": self._metrics}[signal](records)

    def _resource(self, target: Any) -> None:
        _put_attributes(target.attributes, {"service.name": self.service,
                                            **({"service.version": self.service_version} if self.service_version
                                               else {})})

    def _traces(self, records: list[dict]) -> Any:
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
                data.aggregation_temporality = 1
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


def _put_attributes(target: Any, values: dict) -> None:
    for key, value in values.items():
        if value is None:
            continue
        _set_any(target.add(key=str(key)).value, value)


def _set_any(target: Any, value: Any) -> None:
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
    if isinstance(timestamp, (int, float)):
        return int(timestamp * 1_000_000)
    return int(datetime.fromisoformat(timestamp).timestamp() * 1e9)


# -- helpers ------------------------------------------------------------------------------------


def _wire(signal: str, records: list[dict], service: str = "whispersync", version: str = "1.2.3") -> bytes:
    encoder = WireEncoder(service, version)
    encode = {"traces": encoder.span, "logs": encoder.log, "metrics": encoder.metric}[signal]
    scopes: dict[str, list[bytes]] = {}
    for record in records:
        scope, item = encode(record)
        scopes.setdefault(scope, []).append(item)
    return encoder.request(signal, scopes)


def assert_same(signal: str, records: list[dict], service: str = "whispersync", version: str = "1.2.3") -> None:
    expected = Reference(service, version).request(signal, records)
    got = _REQUEST[signal].FromString(_wire(signal, records, service, version))
    assert json_format.MessageToDict(got) == json_format.MessageToDict(expected)
    # Byte-exact after protobuf's own re-encoding: presence, NaN payloads, -0.0 and field order all agree.
    assert got.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)


TRACE = "0af7651916cd43dd8448eb211c80319c"  # 128 bits; the high bit set in the next one
TRACE_HIGH = "ffffffffffffffff0000000000000001"
NESTED = {"list": [1, "two", 3.5, True, None, [], {}, [[-1]]], "map": {"a": {"b": [None, {"c": ""}]}, "skip": None},
          "empty_list": [], "empty_map": {}, "only_none": {"x": None}}


def _span(**fields: Any) -> dict:
    span = {"trace_id": TRACE, "span_id": "b7ad6b7169203331", "parent_span_id": None, "name": "process_memo",
            "kind": "SERVER", "start_time_unix_nano": 1_796_225_019_423_772_240,
            "end_time_unix_nano": 1_796_225_019_425_501_755, "metadata": {"transcript_length": 151},
            "annotations": {"agent_type": "work"}, "events": [], "status": "OK", "status_message": None,
            "service": "whispersync", "duration_ms": 1.7}
    span.update(fields)
    return span


SPANS = [
    _span(),
    _span(trace_id=TRACE_HIGH, span_id="ffffffffffffffff", parent_span_id="0000000000000001", kind="CONSUMER",
          status="ERROR", status_message="agent down: ünïcödé ✓ 🎙", name="agent_call ✓",
          events=[{"name": "exception", "time_unix_nano": 1_796_225_019_424_000_000,
                   "attributes": {"exception.type": "RuntimeError", "exception.message": ""}},
                  {"name": "", "time_unix_nano": 0, "attributes": {}}]),
    _span(name="", kind=None, status="UNSET", metadata=None, annotations=None, start_time_unix_nano=0,
          end_time_unix_nano=0, events=None),
    _span(kind="bogus", status="bogus", metadata={"same": 1, "n": -5, "big": 2 ** 63, "small": -(2 ** 63)},
          annotations={"same": "annotation wins", "f": -0.0, "nan": math.nan, "inf": math.inf,
                       "ninf": -math.inf, "t": True, "fa": False, "zero": 0, "e": ""}),
    _span(metadata=NESTED, annotations={}, status_message=""),
    _span(trace_id="", span_id="", kind="PRODUCER"),
]

LOGS = [
    {"level": "INFO", "message": "Transcript accepted", "timestamp": "2026-12-02T15:23:39.425Z",
     "logger": "whispersync.ingest", "service": "whispersync", "trace_id": TRACE, "span_id": "7eb51464f4b02cce",
     "agent_type": "work", "transcript_size": 151, "memo_id": "c6ec2a2f", "correlation_id": "ce258b73"},
    {"level": "ERROR", "message": "Ünïcödé failure ✓", "timestamp": 1_796_225_019_444,
     "logger": "whispersync.worker",
     "trace_id": TRACE_HIGH, "span_id": "ffffffffffffffff", "duration_ms": 16.555, "nested": NESTED,
     "negative": -42, "nan": math.nan},
    {"level": "WARNING", "message": "", "timestamp": 0.5, "logger": "", "trace_id": "short", "span_id": "",
     "none": None, "empty": ""},
    {"level": "DEBUG", "message": 12345, "timestamp": "2026-12-02T15:23:39+02:00", "logger": "whispersync.ingest"},
    {"level": "", "timestamp": 1, "unknown_level": True},
    {"level": "TRACE", "message": "unknown level is INFO's number", "timestamp": 2, "logger": "w", "obj": object},
]

METRICS = [
    {"namespace": "WhisperSync/Queue", "name": "NumberOfMessagesSent", "unit": "Count", "value": 1.0,
     "timestamp": 1_796_225_019_425, "dimensions": {"QueueName": "transcripts"}},
    {"namespace": "WhisperSync/Business", "name": "TranscriptsProcessed", "unit": "Count", "value": 0,
     "timestamp": 1_796_225_019_444, "dimensions": {"AgentType": "work", "Status": "Success"}},
    {"namespace": "WhisperSync/Business", "name": "Delta", "unit": "Count", "value": -3.0,
     "timestamp": 1_796_225_019_444, "dimensions": {}},
    {"namespace": "WhisperSync/Queue", "name": "ProcessingDuration", "unit": "Milliseconds", "value": 12.5,
     "timestamp": 1_796_225_019_444, "dimensions": None},
    {"namespace": "WhisperSync/Business", "name": "Latency", "unit": "Milliseconds", "value": 7.0,
     "timestamp": 1_796_225_019_444, "statistic_values": {"SampleCount": 4, "Sum": 28, "Minimum": 0.0,
                                                          "Maximum": math.inf},
     "dimensions": {"Stage": "ünïcödé"}},
    {"namespace": "WhisperSync/Business", "name": "Empty", "unit": "Milliseconds", "value": math.nan,
     "timestamp": 0, "statistic_values": {"SampleCount": 0, "Sum": -0.0, "Minimum": math.nan, "Maximum": 1}},
    {"namespace": "", "name": "", "unit": "Furlongs", "value": "2.5", "timestamp": "17"},
    {"namespace": "Custom/ünï", "name": "Bytes", "unit": "Bytes", "value": 1e300, "timestamp": 5,
     "dimensions": {"k": "v"}},
]


class TestDecodesAsTheMessageObjectPathBuilt:
    """Every message kind, over records that reach the corners of each field."""

    @pytest.mark.parametrize("signal, records", [("traces", SPANS), ("logs", LOGS), ("metrics", METRICS)])
    def test_a_representative_batch(self, signal: str, records: list[dict]) -> None:
        assert_same(signal, records)

    @pytest.mark.parametrize("signal, records", [("traces", SPANS), ("logs", LOGS), ("metrics", METRICS)])
    def test_each_record_alone(self, signal: str, records: list[dict]) -> None:
        for record in records:
            assert_same(signal, [record])

    @pytest.mark.parametrize("signal", ["traces", "logs", "metrics"])
    def test_an_empty_batch(self, signal: str) -> None:
        assert_same(signal, [])

    def test_the_resource_without_a_version_and_with_an_empty_name(self) -> None:
        assert_same("traces", SPANS[:1], service="", version="")
        assert_same("logs", LOGS[:1], service="ünï ✓", version="")

    def test_a_large_batch_needs_multi_byte_lengths(self) -> None:
        records = [_span(span_id=f"{i:016x}", annotations={"i": i, "text": "x" * (i % 300)}) for i in range(500)]
        assert_same("traces", records)

    def test_the_high_bit_of_a_128_bit_trace_id_survives(self) -> None:
        request = ExportTraceServiceRequest.FromString(_wire("traces", [SPANS[1]]))
        span = request.resource_spans[0].scope_spans[0].spans[0]
        assert span.trace_id.hex() == TRACE_HIGH and span.parent_span_id.hex() == "0000000000000001"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_any_attribute_values_encode_as_the_message_objects_did(values: dict) -> None:
    assert_same("traces", [_span(metadata=values, annotations=None,
                                 events=[{"name": "e", "time_unix_nano": 1, "attributes": values}])])
    assert_same("metrics", [dict(METRICS[0], dimensions=values)])
    attributes = {k: v for k, v in values.items() if k not in _LOG_OWN_KEYS}
    assert_same("logs", [{**attributes, "level": "INFO", "message": "m", "timestamp": 1}])


def test_a_record_that_cannot_be_encoded_raises() -> None:
    """The exporter counts such a record as failed; the encoder must not write something wrong."""
    encoder = WireEncoder("whispersync")
    with pytest.raises(ValueError):
        encoder.span(_span(trace_id="not hex"))
    with pytest.raises(Exception):  # noqa: B017, PT011 - struct.error: fixed64 cannot hold it
        encoder.span(_span(start_time_unix_nano=-1))
    with pytest.raises(UnicodeEncodeError):
        encoder.log({"level": "INFO", "message": "lone \ud800 surrogate", "timestamp": 1})


@pytest.mark.parametrize("response_type, partial_type, field", [
    (ExportTraceServiceResponse, ExportTracePartialSuccess, "rejected_spans"),
    (ExportLogsServiceResponse, ExportLogsPartialSuccess, "rejected_log_records"),
])
def test_rejected_counts_are_read_from_a_partial_success(response_type, partial_type, field) -> None:
    answer = response_type(partial_success=partial_type(**{field: 300, "error_message": "too old ✓"}))
    assert rejected_count(answer.SerializeToString()) == 300
    assert rejected_count(response_type().SerializeToString()) == 0
    assert rejected_count(b"") == 0
    metrics = ExportMetricsServiceResponse()
    metrics.partial_success.rejected_data_points = 7
    assert rejected_count(metrics.SerializeToString()) == 7


def test_the_exporter_sends_the_wire_encoders_bytes_and_json_reads_the_same() -> None:
    """OtlpExporter.encode: protobuf is the wire encoder's output; JSON is the same message, ids in hex."""
    import orjson

    protobuf = OtlpExporter("http://127.0.0.1:1", service="whispersync", service_version="1.2.3")
    json_exporter = OtlpExporter("http://127.0.0.1:1", protocol="http/json", service="whispersync",
                                 service_version="1.2.3")
    body = protobuf.encode("traces", SPANS)
    assert body == _wire("traces", SPANS)
    doc = orjson.loads(json_exporter.encode("traces", SPANS[:2]))
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [s["traceId"] for s in spans] == [TRACE, TRACE_HIGH] and spans[1]["kind"] == 5
    expected = Reference("whispersync", "1.2.3").request("metrics", METRICS)
    assert orjson.loads(json_exporter.encode("metrics", METRICS)) == orjson.loads(
        orjson.dumps(json_format.MessageToDict(expected, use_integers_for_enums=True)))
