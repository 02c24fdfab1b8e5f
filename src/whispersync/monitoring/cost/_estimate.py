"""Units × list prices: a memo's cost at list price, a month's with the free tier, the shared overhead.

Why not the seed plan's formula (§7), ``invocations*0.0000002 + (duration/1000 * memory/1024)*0.0000166667``
with ``duration`` the Average of Duration and ``memory`` the metric MemorySize:
- GB-seconds are Σ(each invocation's duration, rounded up to 1 ms) × memory; the Average
  multiplied once by memory is the cost of *one* average invocation, not of the period.
- MemorySize is not a CloudWatch metric: it is the function's configuration (here the
  `lambda_memory_mb` setting, 512 MB like the CDK stack's).
- AWS/S3 has no NumberOfRequests metric (there are AllRequests, GetRequests, PutRequests…,
  opt-in and "best effort", https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html),
  so S3 requests are counted from our own spans instead.
Prices: https://aws.amazon.com/lambda/pricing/ (incl. its worked example: 512 MB, 3 M × 1 s →
$18.74 a month with the free tier), https://aws.amazon.com/sqs/pricing/, https://aws.amazon.com/s3/pricing/,
https://aws.amazon.com/dynamodb/pricing/on-demand/, https://aws.amazon.com/cloudwatch/pricing/.

The free tier is per account per month, so it is never split per memo: a memo's cost is
its list price, and only `monthly_cost` subtracts the free allowances.
"""

from __future__ import annotations

from whispersync.monitoring.cost._prices import PriceTable
from whispersync.monitoring.cost._units import Usage

__all__ = ["SERVICES", "cloudwatch_overhead", "gb_seconds", "list_price", "monthly_cost"]

SERVICES = ("Lambda", "SQS", "S3", "DynamoDB", "ElevenLabs")
# AWS prorates monthly CloudWatch charges by the hour; a month is 730 hours in its calculator.
HOURS_PER_MONTH = 730


def gb_seconds(usage: Usage, memory_mb: int) -> float:
    """Lambda compute: billed milliseconds × configured memory, in GB-seconds."""
    return usage.lambda_billed_ms / 1000 * memory_mb / 1024


def list_price(usage: Usage, table: PriceTable, *, memory_mb: int,
               elevenlabs_usd_per_1k_characters: float = 0.0) -> dict[str, float]:
    """USD per service at list price, no free tier (what one memo costs)."""
    return _priced(usage, table, memory_mb, elevenlabs_usd_per_1k_characters, free_tier=False)


def monthly_cost(usage: Usage, table: PriceTable, *, memory_mb: int,
                 elevenlabs_usd_per_1k_characters: float = 0.0) -> dict[str, float]:
    """USD per service for one calendar month's usage, after that month's free tier."""
    return _priced(usage, table, memory_mb, elevenlabs_usd_per_1k_characters, free_tier=True)


def _priced(usage: Usage, table: PriceTable, memory_mb: int, elevenlabs_rate: float, *,
            free_tier: bool) -> dict[str, float]:
    if not 128 <= memory_mb <= 10_240:
        raise ValueError(f"memory_mb must be 128..10240 (Lambda's range), got {memory_mb!r}")
    if elevenlabs_rate < 0:
        raise ValueError(f"elevenlabs_usd_per_1k_characters must be >= 0, got {elevenlabs_rate!r}")
    lam, sqs, s3, ddb = (table.prices[s] for s in ("lambda", "sqs", "s3", "dynamodb"))
    requests, compute, sqs_requests = usage.lambda_requests, gb_seconds(usage, memory_mb), usage.sqs_requests
    if free_tier:
        requests = max(0.0, requests - lam["free_requests_per_month"])
        compute = max(0.0, compute - lam["free_gb_seconds_per_month"])
        sqs_requests = max(0.0, sqs_requests - sqs["free_requests_per_month"])
    return {
        "Lambda": requests * lam["usd_per_million_requests"] / 1e6 + compute * lam["usd_per_gb_second"],
        "SQS": sqs_requests * sqs["usd_per_million_requests"] / 1e6,
        "S3": usage.s3_puts * s3["usd_per_thousand_put"] / 1e3 + usage.s3_gets * s3["usd_per_thousand_get"] / 1e3,
        "DynamoDB": (usage.dynamodb_write_units * ddb["usd_per_million_write_units"] / 1e6
                     + usage.dynamodb_read_units * ddb["usd_per_million_read_units"] / 1e6),
        "ElevenLabs": usage.tts_characters * elevenlabs_rate / 1e3,
    }


def cloudwatch_overhead(table: PriceTable, *, alarms: int, dashboards: int, custom_metrics: int,
                        hours: float) -> dict[str, float]:
    """CloudWatch's monthly charges for ``hours`` of the window, after the free allowance (shared: overhead)."""
    cw = table.prices["cloudwatch"]
    share = max(0.0, hours) / HOURS_PER_MONTH
    return {
        "alarms": max(0, alarms - cw["free_alarms"]) * cw["usd_per_alarm_month"] * share,
        "dashboards": max(0, dashboards - cw["free_dashboards"]) * cw["usd_per_dashboard_month"] * share,
        "custom_metrics": max(0, custom_metrics - cw["free_metrics"]) * cw["usd_per_metric_month"] * share,
    }
