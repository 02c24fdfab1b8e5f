"""The decoded-series path of metric statistics (store/_series.py) answers exactly as the SQL does.

The reference is the statistic SQL itself (``_grouped_statistics_sql``) run over a fresh
connection's ``metrics`` view, per unit, as the store ran it for every query before the
series path existed. Data mixes compacted Parquet and live JSONL, several series and units,
statistic sets, high-resolution and negative points; answers are compared across compaction,
appends to a live segment and retention dropping a day.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FakeClock

from whispersync.monitoring.store import (
    MetricSeries,
    StatisticGroup,
    TelemetryStore,
    _series,
    metric_key,
)
from whispersync.monitoring.store import _store as store_module
from whispersync.plan import MetricStat

DAY = 86400
# 2026-11-27T00:00:00Z
D0 = 1795737600
NS = "Test/Series"
SERIES = [
    ("Latency", {"Service": "a"}),
    ("Latency", {"Service": "b"}),
    ("Latency", {}),
    ("Errors", {"Service": "a", "Region": "x"}),
    ("Skew", {"Service": "a"}),  # holds negative values: no percentiles
]
STATISTICS = ["Sum", "Average", "Minimum", "Maximum", "SampleCount",
              "p0", "p50", "p99", "p99.9", "p100", "p12.3456789012"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(D0 + 2 * DAY + 3600)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[TelemetryStore]:
    _series.clear()
    s = TelemetryStore(tmp_path / "telemetry", flush_interval=60, clock=clock, retention_days=1)
    yield s
    s.close()


def points(rng: random.Random, count: int, start_s: int, span_s: int) -> list[dict]:
    """Values exact in binary (multiples of 1/4), so sums do not depend on their order."""
    out = []
    for _ in range(count):
        name, dims = rng.choice(SERIES)
        value = rng.randrange(0, 4000) / 4 - (500 if name == "Skew" else 0)
        rec: dict = {"namespace": NS, "name": name, "dimensions": dims,
                     "timestamp": (start_s + rng.randrange(span_s)) * 1000 + rng.randrange(1000),
                     "unit": rng.choice(["Milliseconds", "Milliseconds", "Milliseconds", "Count"])}
        kind = rng.random()
        if kind < 0.08:
            rec["statistic_values"] = {"SampleCount": 1, "Sum": value, "Minimum": value, "Maximum": value}
        elif kind < 0.14:
            n = rng.randrange(2, 5)
            rec["statistic_values"] = {"SampleCount": n, "Sum": value * n, "Minimum": value, "Maximum": value}
        elif kind < 0.18:  # a set percentiles cannot use: its bucket has no percentile
            rec["statistic_values"] = {"SampleCount": 3, "Sum": 3 * value + 3, "Minimum": value,
                                       "Maximum": value + 2}
        else:
            rec["value"] = value
        if rng.random() < 0.1:
            rec["storage_resolution"] = 1
        out.append(rec)
    return out


def sql_answer(store: TelemetryStore, group: StatisticGroup) -> dict[tuple, tuple]:
    """What the SQL path answers for ``group``: {metric key: (unit, buckets, values, note)}."""
    sql, params = store_module._grouped_statistics_sql(group)
    con = store.connect()
    try:
        rows = con.execute(f"SELECT * FROM ({sql}) WHERE value IS NOT NULL ORDER BY bucket", params).fetchall()
    finally:
        con.close()
    per_unit: dict[tuple, dict[str, list]] = {}
    for namespace, name, dims, bucket, value, unit, count in rows:
        key = (namespace, name, dims or "")
        if key in group.metrics:
            series = per_unit.setdefault(key, {}).setdefault(unit, [[], [], 0])
            series[0].append(bucket)
            series[1].append(value)
            series[2] += count
    return {key: store_module._one_unit([(u, b, v, n) for u, (b, v, n) in units.items()])
            for key, units in per_unit.items()}


def check_all(store: TelemetryStore, start_ms: int, end_ms: int) -> int:
    """Every statistic, period and unit of every series through the store equals the SQL; the points compared."""
    compared = 0
    keys = frozenset(metric_key(NS, name, dims) for name, dims in SERIES)
    # Every statistic at every period; units and origins taken in turn (all of them would be slow).
    combos = [(statistic, period) for statistic in STATISTICS for period in (1, 10, 60, 300)]
    for i, (statistic, period) in enumerate(combos):
        unit = (None, "Milliseconds", "Count")[i % 3]
        origin = (None, start_ms + 7_000)[i // 3 % 2]
        group = StatisticGroup(keys, statistic, period, start_ms, end_ms, unit, origin)
        expected = sql_answer(store, group)
        [got] = store.grouped_statistics([group])
        assert set(got) == set(expected), (statistic, period, unit)
        for key, (u, buckets, values, _) in expected.items():
            assert [row[0] for row in got[key]] == buckets, (key, statistic, period, unit)
            assert [row[1] for row in got[key]] == values, (key, statistic, period, unit)
            assert all(row[2] == [u] for row in got[key])
            compared += len(values)
    return compared


def test_the_series_path_answers_as_the_sql_across_compaction_appends_and_retention(
        store: TelemetryStore, clock: FakeClock) -> None:
    rng = random.Random(15)
    start_ms, end_ms = (D0 - 3600) * 1000, (D0 + 3 * DAY) * 1000
    # Written on day 2 (its partition), timestamps over days 0-2; compacted into day 2's files.
    store.put_metrics(points(rng, 1500, D0, 3 * DAY))
    clock.now += 600
    store.compact()
    assert check_all(store, start_ms, end_ms) > 1000
    # Live segments beside the Parquet, including a second write to the same segment.
    store.put_metrics(points(rng, 400, D0 + DAY, 2 * DAY))
    assert check_all(store, start_ms, end_ms) > 1000
    store.put_metrics(points(rng, 50, D0 + 2 * DAY, 3600))
    check_all(store, start_ms, end_ms)
    # The next day: day 2 merged into one file, the segments compacted; new live points.
    clock.now = D0 + 3 * DAY + 1200
    store.compact()
    store.put_metrics(points(rng, 300, D0, 3 * DAY))
    before = check_all(store, start_ms, end_ms)
    # Two days on, retention (1 day) drops day 2's partition: its points leave every answer.
    clock.now = D0 + 4 * DAY + 600
    assert store.apply_retention() == 1
    after = check_all(store, start_ms, end_ms)
    assert 0 < after < before


def test_a_percentile_ranks_exactly_on_many_samples(store: TelemetryStore) -> None:
    # 1,000 samples in one bucket: p99.9 is the 999th (no float rounding up to the 1,000th).
    values = list(range(1000))
    random.Random(3).shuffle(values)
    store.put_metrics([{"namespace": NS, "name": "Many", "value": v, "timestamp": D0 * 1000 + i}
                       for i, v in enumerate(values)])
    for statistic, expected in (("p99.9", 998.0), ("p0", 0.0), ("p100", 999.0), ("p50", 499.0), ("p0.1", 0.0)):
        series = store.metric_statistics(NS, "Many", statistic=statistic, period=60,
                                         start_ms=D0 * 1000, end_ms=D0 * 1000 + 60_000)
        assert series.values == [expected], statistic


def test_rows_the_series_path_does_not_model_are_answered_by_sql(store: TelemetryStore) -> None:
    # A unit that is not a CloudWatch unit, and a set without a Sum, can only come from a raw emit.
    store.emit("metrics", {"namespace": NS, "name": "Odd", "value": 5, "unit": "Bananas", "timestamp": D0 * 1000})
    store.emit("metrics", {"namespace": NS, "name": "Odd", "value": 7, "unit": "Count", "timestamp": D0 * 1000 + 1,
                           "statistic_values": {"SampleCount": 2, "Minimum": 1, "Maximum": 6}})
    store.put_metrics([{"namespace": NS, "name": "Odd", "value": 3, "unit": "Count", "timestamp": D0 * 1000 + 2}])
    for statistic in ("Sum", "Average", "Minimum", "Maximum", "SampleCount", "p50"):
        group = StatisticGroup(frozenset({metric_key(NS, "Odd", {})}), statistic, 60, D0 * 1000, D0 * 1000 + 60_000)
        expected = sql_answer(store, group)
        [got] = store.grouped_statistics([group])
        assert {k: ([r[0] for r in v], [r[1] for r in v]) for k, v in got.items()} == {
            k: (b, v) for k, (_, b, v, _) in expected.items()}, statistic


def test_a_week_of_series_is_decoded_once_and_read_from_memory(store: TelemetryStore, clock: FakeClock) -> None:
    """After the first query a one-series query reads no file: the decoded series are kept per file."""
    rng = random.Random(7)
    store.put_metrics(points(rng, 2000, D0, 2 * DAY))
    clock.now += 600
    store.compact()
    request = [MetricStat(NS, "Latency", {"Service": "a"}, "p99", 60)]
    first = store.metric_statistics_batch(request, start_ms=D0 * 1000, end_ms=(D0 + 2 * DAY) * 1000)
    assert isinstance(first[0], MetricSeries) and first[0].values
    parquet = sorted(str(p) for p in (store.root / "metrics").rglob("*.parquet"))
    assert parquet and all(p in _series._CACHE for p in parquet)
    decoded = {p: _series._CACHE[p].keys for p in parquet}
    again = store.metric_statistics_batch(request, start_ms=D0 * 1000, end_ms=(D0 + 2 * DAY) * 1000)
    assert again[0].values == first[0].values
    assert all(_series._CACHE[p].keys is decoded[p] for p in parquet)
