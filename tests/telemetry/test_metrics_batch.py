"""Metrics.record_many: a memo's datapoints in one call, landing exactly as one record() each."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from whispersync import catalog
from whispersync.monitoring.store import TelemetryStore
from whispersync.telemetry import MemorySink, NullSink, Telemetry

POINTS = [
    (catalog.TRANSCRIPTS_PROCESSED, 1, {"AgentType": "work", "Status": "Success"}),
    (catalog.TRANSCRIPTS_PROCESSED, 1, {"Status": "Success"}),
    (catalog.TRANSCRIPTS_PROCESSED, 1, {}),
    (catalog.PROCESSING_DURATION, 12.5, {"AgentType": "work"}),
    (catalog.WORKER_INVOCATIONS, 1, None),
    (catalog.WORKER_DURATION, 3.25, None),
]


def test_it_records_what_one_record_call_per_point_records(clock):
    one, batch = MemorySink(), MemorySink()
    singles = Telemetry(one, clock_ns=clock)
    for metric, value, dims in POINTS:
        singles.metrics.record(metric, value, dims)
    Telemetry(batch, clock_ns=clock).metrics.record_many(POINTS)
    # One clock reading for the batch: the points of one memo share a timestamp.
    stamp = batch.records["metrics"][0]["timestamp"]
    assert [r["timestamp"] for r in batch.records["metrics"]] == [stamp] * len(POINTS)
    expected = [{**r, "timestamp": stamp} for r in one.records["metrics"]]
    assert batch.records["metrics"] == expected
    assert batch.records["metrics"][4]["dimensions"] == {"FunctionName": "whispersync-worker"}


def test_the_fixed_dimensions_of_a_metric_are_not_shared_with_its_records():
    sink = MemorySink()
    Telemetry(sink).metrics.record_many([(catalog.WORKER_INVOCATIONS, 1, None)])
    sink.records["metrics"][0]["dimensions"]["FunctionName"] = "changed"
    assert catalog.WORKER_INVOCATIONS.dimensions == {"FunctionName": "whispersync-worker"}


@pytest.mark.parametrize("sink", [MemorySink(), NullSink()], ids=["on", "off"])
@pytest.mark.parametrize(
    "bad",
    [
        (catalog.WORKER_DURATION, math.nan, None),
        (catalog.WORKER_DURATION, "1", None),
        (catalog.WORKER_DURATION, True, None),
        (catalog.WORKER_DURATION, 1, {"": "x"}),
        (catalog.WORKER_DURATION, 1, {"Status": ""}),
        (catalog.WORKER_DURATION, 1, {"Duration": "x"}),
        (catalog.WORKER_DURATION, 1, {f"D{i}": "v" for i in range(30)}),
    ],
)
def test_a_bad_point_raises_and_nothing_of_the_batch_is_recorded(sink, bad):
    with pytest.raises(ValueError):
        Telemetry(sink).metrics.record_many([POINTS[0], bad])
    if isinstance(sink, MemorySink):
        assert sink.records["metrics"] == []


def test_a_failing_sink_is_counted_not_raised():
    class Broken:
        def emit(self, stream, record):
            raise OSError("disk full")

        def flush(self):
            pass

        def close(self):
            pass

    telemetry = Telemetry(Broken())
    telemetry.metrics.record_many(POINTS)
    assert telemetry.faults == len(POINTS)


def test_each_point_lands_as_a_metric_row_the_store_reads(tmp_path: Path):
    store = TelemetryStore(tmp_path / "store")
    telemetry = Telemetry(store)
    telemetry.metrics.record_many(POINTS)
    telemetry.flush()
    lines = [p for p in (tmp_path / "store" / "metrics").rglob("*.jsonl")]
    assert sum(path.read_bytes().count(b"\n") for path in lines) == len(POINTS)
    rows = store.list_metrics(namespace=catalog.TRANSCRIPTS_PROCESSED.namespace)
    names = {(m["name"], tuple(sorted(m["dimensions"].items()))) for m in rows}
    assert ("TranscriptsProcessed", (("AgentType", "work"), ("Status", "Success"))) in names
    assert ("TranscriptsProcessed", ()) in names
    telemetry.close()
