"""OTLP metrics, spans and logs mapped onto our records, on real OTLP messages (built as OTLP JSON)."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from whispersync.monitoring.otlp import OtlpIngest, unit_of
from whispersync.telemetry import MemorySink

T = 1_700_000_000_000_000_000  # ns


def _metrics(*metrics: dict, service: str = "svc") -> ExportMetricsServiceRequest:
    doc = {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name",
                                                             "value": {"stringValue": service}}]},
                                "scopeMetrics": [{"metrics": list(metrics)}]}]}
    return json_format.ParseDict(doc, ExportMetricsServiceRequest())


def _point(value, at: int = 0, start: int = T, **attrs) -> dict:
    return {"startTimeUnixNano": str(start), "timeUnixNano": str(T + at * 1_000_000_000),
            "asInt" if isinstance(value, int) else "asDouble": value,
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}


def _ingest(*requests) -> tuple[list[dict], list[tuple[int, str]]]:
    sink = MemorySink()
    ingest = OtlpIngest(sink)
    answers = [ingest.metrics(r) for r in requests]
    return sink.records["metrics"], answers


def test_a_cumulative_counter_becomes_deltas_and_a_reset_starts_again() -> None:
    def counter(value, at, start=T):
        return _metrics({"name": "requests", "unit": "{request}", "sum": {
            "aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [_point(value, at, start, route="/a")]}})

    records, _ = _ingest(counter(5, 1), counter(8, 2), counter(8, 3), counter(2, 4, start=T + 4))
    assert [r["value"] for r in records] == [5, 3, 0, 2]
    first = records[0]
    assert first["namespace"] == "OTel/svc" and first["unit"] == "Count" and first["dimensions"] == {"route": "/a"}
    assert first["timestamp"] == T // 1_000_000 + 1000


def test_delta_sums_and_gauges_are_values_as_sent_and_an_updown_counter_is_a_gauge() -> None:
    records, _ = _ingest(_metrics(
        {"name": "d", "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": [_point(4)]}},
        {"name": "g", "unit": "%", "gauge": {"dataPoints": [_point(0.5)]}},
        {"name": "u", "sum": {"aggregationTemporality": 2, "isMonotonic": False, "dataPoints": [_point(-3)]}},
    ))
    assert [(r["name"], r["value"], r["unit"]) for r in records] == [("d", 4, "None"), ("g", 0.5, "Percent"),
                                                                     ("u", -3, "None")]


def test_histograms_and_summaries_become_statistic_sets() -> None:
    hist = {"name": "latency", "unit": "ms", "histogram": {"aggregationTemporality": 1, "dataPoints": [
        {"timeUnixNano": str(T), "count": "4", "sum": 100, "min": 5, "max": 60,
         "bucketCounts": ["1", "3"], "explicitBounds": [10]},
        {"timeUnixNano": str(T), "count": "2", "sum": 10},  # no min/max: the mean stands in
        {"timeUnixNano": str(T), "count": "0", "sum": 0},  # nothing observed: nothing written
    ]}}
    summary = {"name": "size", "summary": {"dataPoints": [
        {"timeUnixNano": str(T), "count": "3", "sum": 30,
         "quantileValues": [{"quantile": 0, "value": 1}, {"quantile": 1, "value": 20}]}]}}
    records, _ = _ingest(_metrics(hist, summary))
    assert [r["statistic_values"] for r in records] == [
        {"SampleCount": 4, "Sum": 100, "Minimum": 5, "Maximum": 60},
        {"SampleCount": 2, "Sum": 10, "Minimum": 5, "Maximum": 5},
        {"SampleCount": 3, "Sum": 30, "Minimum": 1, "Maximum": 20},
    ]
    assert records[0]["value"] == 25 and records[0]["unit"] == "Milliseconds"


def test_points_that_cannot_be_cloudwatch_datapoints_are_rejected_and_counted() -> None:
    many = {f"k{i}": "v" for i in range(31)}
    records, answers = _ingest(_metrics({"name": "wide", "gauge": {"dataPoints": [_point(1, **many), _point(2)]}},
                                        {"name": "nan", "gauge": {"dataPoints": [{"asDouble": "NaN"}]}}))
    assert [r["value"] for r in records] == [2]
    rejected, message = answers[0]
    assert rejected == 2 and "30" in message and "finite" in message


@pytest.mark.parametrize(("ucum", "unit"), [("s", "Seconds"), ("By", "Bytes"), ("{packet}", "Count"),
                                            ("1", "None"), ("furlong", "None"), ("", "None")])
def test_units(ucum: str, unit: str) -> None:
    assert unit_of(ucum) == unit


def test_log_attributes_are_redacted_and_severity_maps_to_our_levels() -> None:
    doc = {"resourceLogs": [{"scopeLogs": [{"scope": {"name": "auth"}, "logRecords": [
        {"timeUnixNano": str(T), "severityNumber": 13, "body": {"stringValue": "slow"},
         "attributes": [{"key": "password", "value": {"stringValue": "hunter2"}}]},
        {"observedTimeUnixNano": str(T), "severityNumber": 21, "body": {"kvlistValue": {"values": [
            {"key": "a", "value": {"intValue": "1"}}]}}},
    ]}]}]}
    sink = MemorySink()
    OtlpIngest(sink).logs(json_format.ParseDict(doc, ExportLogsServiceRequest()))
    first, second = sink.records["logs"]
    assert first["level"] == "WARNING" and first["password"] != "hunter2" and first["logger"] == "auth"
    assert first["timestamp"] == "2023-11-14T22:13:20.000Z" and first["service"] == "unknown_service"
    assert second["level"] == "ERROR" and second["message"] == '{"a":1}'
