"""The CloudWatch <-> Prometheus name table: every catalog metric both ways, valid names, the documented rule."""

from __future__ import annotations

import pytest

from whispersync import catalog
from whispersync.monitoring.export import (
    TABLE,
    cloudwatch_metric,
    dimension_name,
    label_name,
    prometheus_labels,
    prometheus_metric,
)
from whispersync.monitoring.export._prometheus_names import LABEL_NAME, METRIC_NAME, derived_name


@pytest.mark.parametrize("metric", catalog.METRICS, ids=lambda m: f"{m.namespace}/{m.name}")
def test_every_catalog_metric_maps_and_maps_back(metric: catalog.Metric) -> None:
    prom = prometheus_metric(metric.namespace, metric.name, metric.unit)
    assert prom.in_table, f"{metric.namespace} {metric.name} is not in the table"
    assert METRIC_NAME.match(prom.name) and not prom.name.startswith("__")
    assert all(LABEL_NAME.match(label) and not label.startswith("__") for label in prom.label_names)
    assert prom.dimensions == (*metric.dimensions, *metric.varying)
    back = cloudwatch_metric(prom.name)
    assert (back.namespace, back.metric_name, back.unit) == (metric.namespace, metric.name, metric.unit)
    assert {dimension_name(label) for label in prom.label_names} == set(prom.dimensions)
    if prom.kind == "histogram":
        for series in ("_bucket", "_sum", "_count"):
            assert cloudwatch_metric(prom.name + series) is back


def test_the_table_is_the_naming_rule_written_out() -> None:
    assert len({m.name for m in TABLE}) == len(TABLE) == len(catalog.METRICS)
    for m in TABLE:
        assert derived_name(m.namespace, m.metric_name, m.unit, m.kind) == m.name
        assert m.name.endswith("_total") == (m.kind == "counter")
        if m.unit == "Milliseconds":
            assert m.name.endswith("_seconds") and m.scale == 0.001 and m.kind == "histogram"


def test_the_issue_examples() -> None:
    processed = prometheus_metric("WhisperSync/Business", "TranscriptsProcessed", "Count")
    assert processed.name == "whispersync_business_transcripts_processed_total"
    assert processed.label_names == ("agent_type", "status")
    depth = prometheus_metric(catalog.QUEUE_VISIBLE.namespace, catalog.QUEUE_VISIBLE.name, "Count")
    assert depth.kind == "gauge" and depth.label_names == ("queue_name",)
    assert prometheus_labels({"AgentType": "work", "QueueName": "q"}) == {"agent_type": "work", "queue_name": "q"}


@pytest.mark.parametrize(("namespace", "name", "unit", "expected", "kind"), [
    ("MyApp", "RequestLatency", "Milliseconds", "my_app_request_latency_seconds", "histogram"),
    ("Custom/Jobs", "JobsDone", "Count", "custom_jobs_jobs_done_total", "counter"),
    ("Custom/Disk", "Used", "Percent", "custom_disk_used_ratio", "gauge"),
    ("Custom/Disk", "Free", "Megabytes", "custom_disk_free_bytes", "gauge"),
    ("9Lives", "Cats", "None", "_9_lives_cats", "gauge"),
    ("a.b-c", "x y", "Count/Second", "a_b_c_x_y", "gauge"),
])
def test_metrics_outside_the_table_follow_the_rule(namespace, name, unit, expected, kind) -> None:
    prom = prometheus_metric(namespace, name, unit)
    assert (prom.name, prom.kind, prom.in_table) == (expected, kind, False)
    assert METRIC_NAME.match(prom.name)
    assert cloudwatch_metric(prom.name) is None


@pytest.mark.parametrize(("dimension", "label"), [
    ("AgentType", "agent_type"), ("5XX", "dim_5xx"), ("le", "dim_le"), ("Quantile", "dim_quantile"),
    ("__Reserved", "reserved"), ("Host.Name", "host_name"), ("", "dimension"),
])
def test_dimension_names_become_valid_labels(dimension, label) -> None:
    assert label_name(dimension) == label
    assert LABEL_NAME.match(label) and not label.startswith("__")


def test_only_the_full_label_set_is_exposed_for_a_table_metric() -> None:
    processed = prometheus_metric("WhisperSync/Business", "TranscriptsProcessed", "Count")
    assert processed.exposes({"AgentType": "work", "Status": "Success"})
    assert not processed.exposes({"Status": "Success"}) and not processed.exposes({})
    assert prometheus_metric("Custom/X", "Y", "Count").exposes({})
