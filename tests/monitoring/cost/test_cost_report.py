"""The report keeps overhead apart from direct cost, and applies the free tier per month only."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from whispersync.monitoring.cost import MemoUsage, Usage, cost_report, load_price_table, meter_memos

DEC = datetime(2026, 12, 2, tzinfo=timezone.utc).timestamp()
MEMO = Usage(lambda_requests=1, lambda_billed_ms=5, sqs_requests=3, s3_puts=3, s3_gets=1,
             dynamodb_write_units=9, dynamodb_read_units=2)
# By hand: 2e-7 + 0.005 s × 0.5 GB × 1.66667e-5; 3 × 4e-7; 3 × 5e-6 + 4e-7; 9 × 6.25e-7 + 2 × 1.25e-7.
MEMO_USD = 2e-7 + 0.0025 * 0.0000166667 + 1.2e-6 + 1.54e-5 + 5.875e-6


def memo(memo_id: str, agent: str = "work", synthetic: bool = False, started: float = DEC) -> MemoUsage:
    return MemoUsage(memo_id, f"c-{memo_id}", agent, started, synthetic, MEMO, deliveries=1)


def report(memos, **kwargs):
    return cost_report(memos, load_price_table(), memory_mb=512, elevenlabs_usd_per_1k_characters=0.0,
                       start=DEC - 86400, end=DEC + 86400, **kwargs)


class TestReport:
    def test_a_memo_costs_its_hand_computed_list_price(self) -> None:
        result = report([memo("a"), memo("b", agent="memory")], by="agent")
        assert result["direct"]["per_memo_usd"] == pytest.approx(MEMO_USD)
        assert {g["key"]: g["per_memo_usd"] for g in result["groups"]} == pytest.approx(
            {"work": MEMO_USD, "memory": MEMO_USD})

    def test_canary_memos_are_overhead_not_direct_cost(self) -> None:
        result = report([memo("a"), memo("canary", synthetic=True)], alarms=11, dashboards=3)
        assert result["memos"] == 1
        assert result["direct"]["total_usd"] == pytest.approx(MEMO_USD)
        assert result["overhead"]["canary_memos"] == 1
        assert result["overhead"]["canary_usd"] == pytest.approx(MEMO_USD)
        # 1 alarm over the free 10, for 48 of 730 hours; dashboards within the free 3.
        assert result["overhead"]["cloudwatch"]["alarms"] == pytest.approx(0.10 * 48 / 730)
        assert result["overhead"]["total_usd"] == pytest.approx(MEMO_USD + 0.10 * 48 / 730)

    def test_the_free_tier_applies_to_each_month_not_to_memos(self) -> None:
        nov = datetime(2026, 11, 30, tzinfo=timezone.utc).timestamp()
        result = report([memo("a", started=nov), memo("b")])
        assert [m["month"] for m in result["monthly"]] == ["2026-11", "2026-12"]
        for month in result["monthly"]:
            assert month["list_price_usd"] == pytest.approx(MEMO_USD)
            assert month["with_free_tier_by_service"]["Lambda"] == 0  # inside 1 M requests and 400,000 GB-s
            assert month["with_free_tier_usd"] == pytest.approx(1.54e-5 + 5.875e-6)

    def test_an_unknown_grouping_is_refused(self) -> None:
        with pytest.raises(ValueError, match="by must be one of agent, service, day"):
            report([], by="colour")


class TestVoice:
    def spans(self, tts_metadata: dict) -> list[dict]:
        worker = {"name": "worker", "trace_id": "t", "span_id": "w", "parent_span_id": None,
                  "start_time_unix_nano": 1_000_000_000, "end_time_unix_nano": 1_002_500_000,
                  "annotations": {"memo_id": "m", "success": True}}
        kids = [{"name": name, "trace_id": "t", "span_id": name, "parent_span_id": "w",
                 "start_time_unix_nano": 1_000_000_000, "annotations": {}, "metadata": meta}
                for name, meta in (("agent_processing", {}), ("transcript_download", {}), ("tts", tts_metadata))]
        return [worker, *kids]

    def test_recorded_characters_are_counted(self) -> None:
        [usage] = meter_memos(self.spans({"characters": 57}), {}, load_price_table())
        assert usage.usage.tts_characters == 57
        assert usage.usage.lambda_billed_ms == 3  # 2.5 ms rounded up to the next 1 ms

    def test_unrecorded_characters_count_as_the_upper_bound_and_say_so(self) -> None:
        [usage] = meter_memos(self.spans({"audio_bytes": 1000}), {}, load_price_table())
        assert usage.usage.tts_characters == 300
        assert any("upper bound" in note for note in usage.notes)
