"""EstimatedCostUSD per Service, published from a real memo's telemetry, with a fake clock."""

from __future__ import annotations

import time

import pytest
from helpers import FakeClock

from whispersync import catalog
from whispersync.domain import Transcript
from whispersync.errors import NotFound
from whispersync.monitoring.cost import CostPublisher, Usage, list_price, load_price_table, meter_memos


def test_it_publishes_each_settled_memo_once_per_service(runtime) -> None:
    def find(memo_id):
        try:
            return runtime.records.get(memo_id)
        except NotFound:
            return None

    clock = FakeClock(time.time())
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
    stored = [m["dimensions"] for m in runtime.store.list_metrics(namespace=catalog.COST, name="EstimatedCostUSD")]
    services = ["DynamoDB", "ElevenLabs", "Lambda", "S3", "SQS"]
    # Full {AgentType, Service} and the roll-ups CloudWatch cannot make: {Service}, {AgentType}, none.
    assert sorted(map(sorted, map(dict.items, stored))) == sorted(
        [[("AgentType", "work"), ("Service", s)] for s in services] + [[("Service", s)] for s in services]
        + [[("AgentType", "work")], []])
    end = int(clock.now * 1000) + 60_000
    total = runtime.store.metric_statistics(catalog.COST, "EstimatedCostUSD", dimensions={"AgentType": "work"},
                                            start_ms=0, end_ms=end, period=86400)
    assert sum(total.values) == pytest.approx(sum(published["by_service"].values()))
    clock.now += 120
    again = publisher.publish()
    assert again["memos"] == 0 and again["by_service"] == list_price(Usage(), table, memory_mb=512)
    # Month to date: the running total, read back from the store by a restarted publisher.
    runtime.telemetry.flush()
    restarted = CostPublisher(runtime.store, find, runtime.telemetry, table, memory_mb=512, settle=60, clock=clock)
    clock.now += 120
    restarted.publish()
    runtime.telemetry.flush()
    stats = {stat: runtime.store.metric_statistics(catalog.COST, "MonthToDateCostUSD", dimensions={}, statistic=stat,
                                                   period=86400, start_ms=0, end_ms=end + 600_000).values
             for stat in ("SampleCount", "Minimum", "Maximum")}
    total = sum(published["by_service"].values())
    assert sum(stats["SampleCount"]) == 3
    assert min(stats["Minimum"]) == pytest.approx(total) and max(stats["Maximum"]) == pytest.approx(total)


def test_a_started_runtime_publishes_the_cost_of_a_processed_memo(settings) -> None:
    from whispersync.app import build_cost_publisher, build_runtime

    runtime = build_runtime(settings)
    try:
        assert runtime.cost is not None and runtime.cost.memory_mb == settings.lambda_memory_mb
        # `up`'s publisher, on a short schedule: every 0.1 s, a memo priced 0.5 s after it arrived.
        runtime.cost = build_cost_publisher(settings, runtime.store, runtime.records, runtime.telemetry,
                                            interval=0.1, settle=0.5)
        runtime.start(workers=1, inbox=False, collector=False, maintenance=False, notifications=False,
                      alarms=False, sweep=False, checks=False)
        receipt = runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runtime.telemetry.flush()
            stored = runtime.store.list_metrics(namespace=catalog.COST, name="EstimatedCostUSD")
            if any(m["dimensions"] == {"AgentType": "work"} for m in stored):
                break
            time.sleep(0.1)
        else:
            pytest.fail("no EstimatedCostUSD{AgentType=work} within 10 s")
        now_ms = int(time.time() * 1000) + 60_000
        series = runtime.store.metric_statistics(catalog.COST, "EstimatedCostUSD", dimensions={"Service": "Lambda"},
                                                 start_ms=0, end_ms=now_ms, period=86400)
        assert sum(series.values) > 0
        assert runtime.records.get(receipt.id).status.value == "done"
    finally:
        runtime.close(timeout=5)
