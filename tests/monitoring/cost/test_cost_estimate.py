"""Units and prices against figures computed by hand, and AWS's own worked example."""

from __future__ import annotations

import dataclasses

import pytest

from whispersync.monitoring.cost import (
    Usage,
    cloudwatch_overhead,
    dynamodb_item_bytes,
    gb_seconds,
    list_price,
    load_price_table,
    monthly_cost,
    read_units,
    sqs_requests,
    write_units,
)


@pytest.fixture(scope="module")
def table():
    return load_price_table()


def with_price(table, service: str, name: str, value: float):
    prices = {s: dict(p) for s, p in table.prices.items()}
    prices[service][name] = value
    return dataclasses.replace(table, prices=prices)


class TestAwsLambdaExample:
    """https://aws.amazon.com/lambda/pricing/ Example 1: 512 MB, 3 M invocations of 1 s in a month."""

    usage = Usage(lambda_requests=3_000_000, lambda_billed_ms=3_000_000 * 1000)

    def test_compute_is_one_and_a_half_million_gb_seconds(self) -> None:
        assert gb_seconds(self.usage, 512) == 1_500_000

    def test_at_the_pages_rounded_rate_it_is_18_74_a_month(self, table) -> None:
        # The page multiplies by $0.00001667: 1.1 M GB-s → $18.34 (18.337), requests 2 M × $0.20/M = $0.40.
        page = with_price(table, "lambda", "usd_per_gb_second", 0.00001667)
        cost = monthly_cost(self.usage, page, memory_mb=512)
        assert cost["Lambda"] == pytest.approx(18.337 + 0.40)
        assert round(sum(cost.values()), 2) == 18.74

    def test_at_the_full_rate_it_is_18_73(self, table) -> None:
        # $0.0000166667 × 1.1 M = $18.33337; + $0.40 = $18.73337: a cent under the page's rounded figure.
        cost = monthly_cost(self.usage, table, memory_mb=512)
        assert cost["Lambda"] == pytest.approx(18.73337)
        assert round(cost["Lambda"], 2) == 18.73

    def test_without_the_free_tier_it_is_25_60(self, table) -> None:
        # 3 M × $0.20/M = $0.60; 1.5 M GB-s × $0.0000166667 = $25.00005.
        assert list_price(self.usage, table, memory_mb=512)["Lambda"] == pytest.approx(25.60005)

    def test_below_the_free_tier_a_month_costs_nothing(self, table) -> None:
        small = Usage(lambda_requests=1_000_000, lambda_billed_ms=1_000_000 * 800, sqs_requests=999_999)
        cost = monthly_cost(small, table, memory_mb=512)  # 400,000 GB-s exactly
        assert (cost["Lambda"], cost["SQS"]) == (0, 0)


class TestPrices:
    def test_each_service_at_list_price(self, table) -> None:
        usage = Usage(lambda_requests=1, lambda_billed_ms=2000, sqs_requests=3, s3_puts=3, s3_gets=1,
                      dynamodb_write_units=9, dynamodb_read_units=2, tts_characters=1500)
        cost = list_price(usage, table, memory_mb=1024, elevenlabs_usd_per_1k_characters=0.30)
        assert cost["Lambda"] == pytest.approx(0.0000002 + 2 * 1 * 0.0000166667)
        assert cost["SQS"] == pytest.approx(3 * 0.0000004)
        assert cost["S3"] == pytest.approx(3 * 0.000005 + 0.0000004)
        assert cost["DynamoDB"] == pytest.approx(9 * 0.000000625 + 2 * 0.000000125)
        assert cost["ElevenLabs"] == pytest.approx(0.45)

    def test_voice_is_unpriced_until_a_rate_is_configured(self, table) -> None:
        assert list_price(Usage(tts_characters=10_000), table, memory_mb=512)["ElevenLabs"] == 0

    def test_a_memory_lambda_cannot_have_is_refused(self, table) -> None:
        with pytest.raises(ValueError, match="memory_mb must be 128..10240"):
            list_price(Usage(), table, memory_mb=64)

    def test_cloudwatch_overhead_after_the_free_allowance_prorated_by_the_hour(self, table) -> None:
        # 12 alarms (2 over 10 free) × $0.10, 5 dashboards (2 over 3) × $3, 30 metrics (20 over 10) × $0.30;
        # 365 hours: half a month.
        cost = cloudwatch_overhead(table, alarms=12, dashboards=5, custom_metrics=30, hours=365)
        assert cost == pytest.approx({"alarms": 0.10, "dashboards": 3.00, "custom_metrics": 3.00})


class TestUnits:
    @pytest.mark.parametrize(("size", "requests"), [(0, 1), (1, 1), (65_536, 1), (65_537, 2), (262_144, 4)])
    def test_each_64_kb_chunk_is_an_sqs_request(self, size: int, requests: int) -> None:
        assert sqs_requests(size) == requests

    @pytest.mark.parametrize(("size", "units"), [(0, 1), (500, 1), (1024, 1), (1025, 2), (3 * 1024, 3)])
    def test_a_write_unit_is_1_kb_rounded_up(self, size: int, units: int) -> None:
        assert write_units(size) == units

    def test_a_read_unit_is_4_kb_and_an_eventually_consistent_read_half(self) -> None:
        assert (read_units(3500), read_units(4097), read_units(8192, consistent=False)) == (1, 2, 1)
        assert read_units(100, consistent=False) == 0.5

    def test_item_size_by_dynamodbs_rules(self) -> None:
        # "id"+"abc" = 5; "n"+123 = 1 + (2 digit pairs → 2) + 1 = 4; "big"+1000 (trimmed to 1 digit) = 3 + 2 = 5;
        # "ok"+True = 3; "m"+{"a": "b"} = 1 + 3 + (1 + 1 + 1) = 7; "l"+["xy"] = 1 + 3 + (1 + 2) = 7; None: not stored.
        item = {"id": "abc", "n": 123, "big": 1000, "ok": True, "m": {"a": "b"}, "l": ["xy"], "gone": None}
        assert dynamodb_item_bytes(item) == 5 + 4 + 5 + 3 + 7 + 7

    def test_a_float_timestamp_is_sized_by_its_significant_digits(self) -> None:
        # 1796240119.9737892: 17 significant digits → 9 bytes + 1.
        assert dynamodb_item_bytes({"t": 1796240119.9737892}) == 1 + 10

    def test_usage_adds_up(self) -> None:
        assert Usage(s3_puts=1, lambda_billed_ms=3) + Usage(s3_puts=2, sqs_requests=1) == Usage(
            s3_puts=3, lambda_billed_ms=3, sqs_requests=1)
