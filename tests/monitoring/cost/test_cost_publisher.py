"""EstimatedCostUSD per Service, published from a real memo's telemetry, with a fake clock."""

from __future__ import annotations

import time

import pytest

from whispersync import catalog
from whispersync.domain import Transcript
from whispersync.errors import NotFound
from whispersync.monitoring.cost import CostPublisher, Usage, list_price, load_price_table, meter_memos


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_it_publishes_each_settled_memo_once_per_service(runtime) -> None:
    def find(memo_id):
        try:
            return runtime.records.get(memo_id)
        except NotFound:
            return None

    clock = Clock(time.time())
    table = load_price_table()
    publisher = CostPublisher(runtime.store, find, runtime.telemetry, table, memory_mb=512, settle=60, clock=clock)
    receipt = runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"))
    while messages := runtime.queue.receive(1):
        runtime.processor.process(messages[0])
    runtime.telemetry.flush()
    assert publisher.publish()["memos"] == 0  # not settled yet
    clock.now += 120
    published = publisher.publish()
    assert published["memos"] == 1
    memo = runtime.records.get(receipt.id)
    [usage] = meter_memos(runtime.store.spans(trace_id=receipt.trace_id), {memo.id: memo}, table)
    assert published["by_service"] == pytest.approx(list_price(usage.usage, table, memory_mb=512))
    runtime.telemetry.flush()
    stored = runtime.store.list_metrics(namespace=catalog.COST, name="EstimatedCostUSD")
    assert sorted(m["dimensions"]["Service"] for m in stored) == ["DynamoDB", "ElevenLabs", "Lambda", "S3", "SQS"]
    clock.now += 120
    again = publisher.publish()
    assert again["memos"] == 0 and again["by_service"] == list_price(Usage(), table, memory_mb=512)
