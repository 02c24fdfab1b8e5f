"""One alarm evaluation cycle for 100, 1,000 and 5,000 alarms over 7 days of 1-minute data.

Writes 200 series x 7 days x 1440 minutes (~2 M datapoints) straight into the
telemetry store's compacted layout (one time-sorted Parquet file per day), then
declares alarms spread over the series with different statistics (Sum, Average,
Maximum, p99), periods (1 and 5 minutes), thresholds, M-out-of-N settings and
missing-data treatments, and times `AlarmEngine.evaluate` (median of RUNS
steady-state cycles; the first cycle, which also stores every initial state, is
printed separately). Target: 1,000 alarms < 1 s, about linear growth.

The peer, measured in the same run: the same 100 alarms read one metric query per
alarm (`TelemetryStore.metric_statistics`) instead of one query per
(period, statistic) group.

    .venv/bin/python benchmarks/alarms.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from whispersync.monitoring.store import _segments
from whispersync.monitoring.alarms import AlarmStore
from whispersync.monitoring.alarms import AlarmEngine, decide, evaluation_window
from whispersync.plan import MetricAlarm
from whispersync.monitoring.store import TelemetryStore

DAYS = 7
SERIES = 200
RUNS = 5
NS = "WhisperSync/Bench"
DAY_S = 86_400
END_S = 1_767_225_600 + DAYS * DAY_S  # 2026-01-08T00:00:00Z
START_S = END_S - DAYS * DAY_S
STATISTICS = ("Sum", "Average", "Maximum", "p99")
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")
OPERATORS = ("GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
             "LessThanOrEqualToThreshold")


def write_data(root: Path) -> int:
    con = duckdb.connect(":memory:")
    for day in range(DAYS):
        day_start = START_S + day * DAY_S
        part = root / "metrics" / _segments.partition_name(day_start)
        part.mkdir(parents=True, exist_ok=True)
        target = part / f"{_segments.merged_name(day_start, day_start + DAY_S)}.parquet"
        con.execute(f"""
            COPY (
                SELECT CAST(({day_start} + m * 60) * 1000 AS BIGINT) AS ts, '{NS}' AS namespace,
                       'Latency' AS name, 'Milliseconds' AS unit,
                       'Series=s' || lpad(CAST(s AS VARCHAR), 3, '0') AS dims,
                       '{{"Series":"s' || lpad(CAST(s AS VARCHAR), 3, '0') || '"}}' AS dimensions,
                       CAST(hash(s, m, {day}) % 1000 AS DOUBLE) AS value
                FROM range(1440) AS t(m), range({SERIES}) AS u(s)
                ORDER BY ts
            ) TO '{target}' (FORMAT parquet, COMPRESSION zstd)
        """)
    con.close()
    return DAYS * 1440 * SERIES


def make_alarms(count: int) -> list[MetricAlarm]:
    alarms = []
    for i in range(count):
        n = (1, 3, 5)[i % 3]
        alarms.append(MetricAlarm(
            name=f"alarm-{i:05d}", namespace=NS, metric_name="Latency",
            dimensions={"Series": f"s{i % SERIES:03d}"}, statistic=STATISTICS[(i // SERIES) % 4],
            period=(60, 300)[(i // 7) % 2], evaluation_periods=n, datapoints_to_alarm=max(1, n - (i % 2)),
            threshold=float(100 + (i * 37) % 900), comparison_operator=OPERATORS[i % 4],
            treat_missing_data=TREATMENTS[(i // 3) % 4], priority=("P1", "P2", "P3", "P4")[i % 4]))
    return alarms


def per_alarm_reads(store: TelemetryStore, alarms: list[MetricAlarm], at_ms: int) -> None:
    """The peer: one metric_statistics query per alarm, then the same decision."""
    for alarm in alarms:
        start, end, periods = evaluation_window(alarm, at_ms)
        s = store.metric_statistics(alarm.namespace, alarm.metric_name, dimensions=alarm.dimensions,
                                    statistic=alarm.statistic, period=alarm.period, start_ms=start, end_ms=end)
        points = dict(zip(s.timestamps, s.values))
        decide([points.get(start + k * alarm.period * 1000) for k in range(periods)], alarm)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "telemetry"
        t = time.perf_counter()
        points = write_data(root)
        print(f"wrote {points:,} datapoints ({SERIES} series x {DAYS} days x 1440 min) in {time.perf_counter() - t:.1f} s")
        store = TelemetryStore(root)
        at_ms = END_S * 1000 - 30_000  # evaluate inside the last day's data
        results = {}
        for count in (100, 1_000, 5_000):
            alarms = make_alarms(count)
            engine = AlarmEngine(store, AlarmStore(Path(tmp) / f"alarms-{count}.sqlite3"),
                                 definitions=lambda alarms=alarms: alarms)
            t = time.perf_counter()
            first = engine.evaluate(at_ms)
            first_s = time.perf_counter() - t
            times = []
            for run in range(RUNS):
                t = time.perf_counter()
                engine.evaluate(at_ms + run * 60_000)
                times.append(time.perf_counter() - t)
            results[count] = statistics.median(times)
            states = {s: sum(1 for r in first if r.state == s) for s in ("OK", "ALARM", "INSUFFICIENT_DATA")}
            print(f"{count:>5,} alarms: one cycle {results[count] * 1000:7.1f} ms median of {RUNS}"
                  f" (first cycle, storing every initial state: {first_s * 1000:.0f} ms; states {states})")
        peer_alarms = make_alarms(100)
        t = time.perf_counter()
        per_alarm_reads(store, peer_alarms, at_ms)
        peer = time.perf_counter() - t
        print(f"peer, 100 alarms with one query per alarm: {peer * 1000:.1f} ms -> batched reads are "
              f"{peer / results[100]:.1f}x faster")
        print(f"growth: 1,000/100 = {results[1_000] / results[100]:.1f}x, 5,000/1,000 = "
              f"{results[5_000] / results[1_000]:.1f}x (linear would be 10x and 5x)")
        print(f"target 1,000 alarms < 1 s: {'met' if results[1_000] < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
