"""A real memo through the runtime, metered from its own telemetry, against units counted by hand."""

from __future__ import annotations

import math

import orjson
import pytest

from whispersync.domain import Transcript
from whispersync.errors import ProcessingError
from whispersync.monitoring.cost import list_price, load_price_table, meter_memos

from helpers import wait_until


def _process_all(runtime) -> None:
    while messages := runtime.queue.receive(1):
        runtime.processor.process(messages[0])


def _memo_and_spans(runtime, receipt):
    runtime.telemetry.flush()
    spans = runtime.store.spans(trace_id=receipt.trace_id)
    memo = runtime.records.get(receipt.id)
    return memo, spans


class TestAWorkMemo:
    @pytest.fixture
    def metered(self, runtime):
        receipt = runtime.ingestor.accept(
            Transcript(text="Standup. Need to fix the flaky deploy test. Will follow up with Sam.", agent="work"),
            correlation_id="corr-cost-1")
        _process_all(runtime)
        memo, spans = _memo_and_spans(runtime, receipt)
        [usage] = meter_memos(spans, {memo.id: memo}, load_price_table())
        return memo, spans, usage

    def test_it_is_found_by_memo_id_and_correlation_id(self, metered) -> None:
        memo, _, usage = metered
        assert (usage.memo_id, usage.correlation_id, usage.agent) == (memo.id, "corr-cost-1", "work")
        assert not usage.synthetic and usage.deliveries == 1 and usage.notes == ()

    def test_lambda_is_one_invocation_of_the_worker_spans_duration_rounded_up_to_1_ms(self, metered) -> None:
        _, spans, usage = metered
        [worker] = [s for s in spans if s["name"] == "worker"]
        by_hand = math.ceil((worker["end_time_unix_nano"] - worker["start_time_unix_nano"]) / 1e6)
        assert (usage.usage.lambda_requests, usage.usage.lambda_billed_ms) == (1, by_hand)

    def test_sqs_s3_and_dynamodb_units_are_the_ones_counted_by_hand(self, metered) -> None:
        memo, _, usage = metered
        # The item stays under 1 KB (its JSON, which is longer than DynamoDB's count, plus the two index keys),
        # so every write is 1 unit and every read 1 unit.
        assert len(orjson.dumps(memo.to_dict())) + 100 < 1024
        outputs = memo.result["outputs"]
        assert len(outputs) == 2  # the journal and the response file
        units = usage.usage
        assert units.sqs_requests == 3  # SendMessage, ReceiveMessage, DeleteMessage: one 64 KB chunk each
        assert (units.s3_puts, units.s3_gets) == (1 + 2, 1)  # transcript + 2 outputs; transcript download
        # Reads: ingest's idempotency GetItem (missing item: still 1), the worker's GetItem.
        assert units.dynamodb_read_units == 2
        # Writes: PutItem → table + by_status (ALL) + by_id (KEYS_ONLY) = 3;
        # two UpdateItems that change status → table 1 + by_status 2 (delete old entry, put new) = 3 each.
        assert units.dynamodb_write_units == 3 + 3 + 3
        assert units.tts_characters == 0

    def test_its_list_price_is_the_hand_computed_one(self, metered) -> None:
        _, _, usage = metered
        billed_ms = usage.usage.lambda_billed_ms
        cost = list_price(usage.usage, load_price_table(), memory_mb=512)
        assert cost["Lambda"] == pytest.approx(0.20 / 1e6 + billed_ms / 1000 * 0.5 * 0.0000166667)
        assert cost["SQS"] == pytest.approx(3 * 0.40 / 1e6)
        assert cost["S3"] == pytest.approx(3 * 0.005 / 1e3 + 0.0004 / 1e3)
        assert cost["DynamoDB"] == pytest.approx(9 * 0.625 / 1e6 + 2 * 0.125 / 1e6)
        assert 2.2e-5 < sum(cost.values()) < 2.4e-5 + billed_ms / 1000 * 0.5 * 0.0000166667


class TestDeliveriesAndSizes:
    def test_a_failed_delivery_is_a_second_invocation_with_its_own_units(self, runtime) -> None:
        class FailsOnce:
            """An agent (the port) that fails its first memo, then is the real work agent."""

            name = "work"

            def __init__(self, real) -> None:
                self.real, self.calls = real, 0

            def process(self, item):
                self.calls += 1
                if self.calls == 1:
                    raise ProcessingError("transient")
                return self.real.process(item)

        runtime.processor.agents = {**runtime.agents, "work": FailsOnce(runtime.agents["work"])}
        receipt = runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"))
        assert runtime.processor.process(runtime.queue.receive(1)[0]) is False
        [retry] = wait_until(lambda: runtime.queue.receive(1), timeout=10)  # after the 1 s backoff
        assert runtime.processor.process(retry) is True
        memo, spans = _memo_and_spans(runtime, receipt)
        [usage] = meter_memos(spans, {memo.id: memo}, load_price_table())
        assert usage.deliveries == 2 and usage.usage.lambda_requests == 2
        # send; failed delivery: receive + ChangeMessageVisibility; good one: receive + delete.
        assert usage.usage.sqs_requests == 5
        assert usage.usage.s3_gets == 2  # the transcript was downloaded twice
        # ingest 3; failure: processing update 3 + error update 3; success: 3 + 3.
        assert usage.usage.dynamodb_write_units == 15
        assert usage.usage.dynamodb_read_units == 3

    def test_a_record_over_1_kb_costs_more_write_units(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work", title="t" * 255))
        _process_all(runtime)
        memo, spans = _memo_and_spans(runtime, receipt)
        memo.result["data"]["padding"] = "x" * 3000  # as if the agent had returned a 3 KB result
        [usage] = meter_memos(spans, {memo.id: memo}, load_price_table())
        # The done update is sized at the larger (after: 4 KB → 4 units), its index entry put 4 more.
        assert usage.usage.dynamodb_write_units == 3 + 3 + (4 + 1 + 4)

    def test_spans_without_a_memo_are_not_memos(self, runtime) -> None:
        assert meter_memos([{"name": "resend", "trace_id": "t", "span_id": "s", "annotations": {}}], {},
                           load_price_table()) == []
