"""ANOMALY_DETECTION_BAND at a daily period: 14 training points a model, as the built-in CostAnomaly alarm sees.

Seeded daily series (level 10, 5 % Gaussian noise; flat, or with a weekday/weekend pattern) are evaluated day
by day, each day's band trained on the 14 days before it. Several seeds are pooled so a breach rate is
measured on hundreds of days, not on a handful.
"""

from __future__ import annotations

import math
import random

import pytest

from whispersync.monitoring.metrics import Series, anomaly_band
from whispersync.monitoring.metrics._query import MetricDataQuery, get_metric_data
from whispersync.monitoring.store._store import MetricStat, TelemetryStore

DAY = 86_400_000
T0 = 1_767_225_600_000 + 4 * DAY  # Monday 2026-01-05T00:00:00Z
DAYS = 60
TRAINING = 14
SEEDS = range(30)  # 30 x 46 evaluated days per variant
WEEKEND = 0.5  # Saturday and Sunday at half the weekday level


def daily(seed: int, weekly: bool) -> list[float]:
    rng = random.Random(seed)
    out = []
    for d in range(DAYS):
        level = 10.0 * (WEEKEND if weekly and d % 7 >= 5 else 1.0)
        out.append(level * (1 + rng.gauss(0, 0.05)))
    return out


def times() -> list[int]:
    return [T0 + d * DAY for d in range(DAYS)]


def breaches(values: list[float], k: float = 2) -> tuple[int, int, int]:
    """(upper breaches, lower breaches, days evaluated) with each day trained on the 14 before it."""
    ts = times()
    upper, lower = anomaly_band(Series(ts, values), ts[TRAINING:], period=86_400, k=k, unit="None")
    assert upper.timestamps == ts[TRAINING:]  # every evaluated day has a band
    above = sum(values[(t - T0) // DAY] > u for t, u in zip(upper.timestamps, upper.values))
    below = sum(values[(t - T0) // DAY] < lo for t, lo in zip(lower.timestamps, lower.values))
    return above, below, len(upper.timestamps)


class TestDailyCalibration:
    """On clean daily data a k=2 band breaches about as often as 2 sigma should (2.3 % a side)."""

    @pytest.mark.parametrize("weekly", [False, True], ids=["flat", "weekday-weekend"])
    def test_k2_breach_rates_on_clean_days(self, weekly):
        above = below = n = 0
        for seed in SEEDS:
            a, b, m = breaches(daily(seed, weekly))
            above, below, n = above + a, below + b, n + m
        print(f"daily k=2 ({'weekly' if weekly else 'flat'}): upper {above / n:.3f},"
              f" two-sided {(above + below) / n:.3f} over {n} days")
        assert above / n <= 0.06
        assert (above + below) / n <= 0.10
        assert (above + below) / n >= 0.01  # calibrated, not merely wide

    @pytest.mark.parametrize("weekly", [False, True], ids=["flat", "weekday-weekend"])
    def test_a_5x_spike_day_is_flagged(self, weekly):
        for seed in SEEDS:
            values = daily(seed, weekly)
            spike = TRAINING + 3 + seed  # a different weekday for each seed
            values[spike] *= 5
            ts = times()
            upper, _ = anomaly_band(Series(ts, values), [ts[spike]], period=86_400, k=2, unit="None")
            assert values[spike] > upper.values[0]


def test_at_an_hourly_period_the_k2_band_breaches_as_often_as_2_sigma_should():
    """The same small-sample case by the hour: two points a cell of the week (14 days x 24 hours)."""
    hour = 3_600_000
    above = below = n = 0
    for seed in range(10):
        rng = random.Random(seed)
        ts = [T0 + i * hour for i in range(21 * 24)]
        values = [100 * (1 + 0.5 * math.cos(2 * math.pi * (i % 24 - 9) / 24)) + rng.gauss(0, 5) for i in range(len(ts))]
        upper, lower = anomaly_band(Series(ts, values), ts[TRAINING * 24:], period=3600, k=2)
        above += sum(values[(t - T0) // hour] > u for t, u in zip(upper.timestamps, upper.values))
        below += sum(values[(t - T0) // hour] < lo for t, lo in zip(lower.timestamps, lower.values))
        n += len(upper.timestamps)
    print(f"hourly k=2: upper {above / n:.3f}, two-sided {(above + below) / n:.3f} over {n} hours")
    assert n == 10 * 7 * 24
    assert above / n <= 0.04 and 0.02 <= (above + below) / n <= 0.08


def test_the_cost_alarm_query_flags_a_spike_day_and_not_the_clean_ones(tmp_path):
    """Through the store and GetMetricData, as CostAnomaly asks: Sum at a period of 86400, k=2."""
    values = daily(seed=42, weekly=False)
    spike = DAYS - 5
    values[spike] *= 5
    store = TelemetryStore(tmp_path / "telemetry")
    try:
        store.put_metrics([{"namespace": "WhisperSync/Cost", "name": "EstimatedCostUSD", "value": v,
                            "timestamp": t, "unit": "None"} for t, v in zip(times(), values)])
        start, end = T0 + TRAINING * DAY, T0 + DAYS * DAY
        results = get_metric_data(store, [
            MetricDataQuery("m1", MetricStat("WhisperSync/Cost", "EstimatedCostUSD", {}, "Sum", 86_400)),
            MetricDataQuery("ad1", expression="ANOMALY_DETECTION_BAND(m1, 2)"),
        ], start_ms=start, end_ms=end, scan_by="TimestampAscending", now_ms=end)
    finally:
        store.close()
    data, upper, _ = (dict(zip(r.timestamps, r.values)) for r in results)
    above = {t for t, v in data.items() if t in upper and v > upper[t]}
    assert len(upper) == DAYS - TRAINING
    assert T0 + spike * DAY in above
    assert len(above - {T0 + spike * DAY}) <= 0.06 * (DAYS - TRAINING)
