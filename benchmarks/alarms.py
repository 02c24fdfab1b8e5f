"""One alarm evaluation cycle for 100, 1,000 and 10,000 alarms over 7 days of 1-minute data.

Writes 200 series x 7 days x 1440 minutes (~2 M datapoints) straight into the
telemetry store's compacted layout (one Parquet file per day, sorted by series then time as
compaction writes it; ``--layout time``: sorted by time as before issue 15's cold-read work), then
declares alarms spread over the series with different statistics (Sum, Average,
Maximum, p99), periods (1 and 5 minutes), thresholds, M-out-of-N settings and
missing-data treatments, and times `AlarmEngine.evaluate` for each count of alarms:

* the first cycle: the per-series cache of metric statistics (store/_series.py) cleared
  first, so cold, and every initial state stored;
* the median of RUNS steady-state cycles (warm cache, as in `up`, which evaluates every
  minute in one process);
* one cold cycle: the cache cleared again, the states already stored.

Then, cold again (fresh store and caches): every series over all 7 days in one
``metric_statistics_batch`` call (Average at 300 s), the alarm-cycle-like read that decodes every
row of every file (an alarm cycle itself reads only the files its windows touch, here the last day).

Targets (issue 15): 1,000 alarms < 1 s and 10,000 < 5 s per cycle, judged on the median
(the first and cold cycles are printed beside it, judged too), and about linear growth.

The peer, measured in the same run when 100 is among the counts: the same 100 alarms read
one metric query per alarm (`TelemetryStore.metric_statistics`) instead of one query per
(period, statistic) group.

    .venv/bin/python benchmarks/alarms.py [--alarms 100,1000,10000] [--runs 5] [--series 200]
        [--layout compacted|time]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from whispersync.monitoring.store import _footers, _schema, _segments, _series
from whispersync.monitoring.alarms import AlarmStore
from whispersync.monitoring.alarms import AlarmEngine, decide, evaluation_window
from whispersync.plan import MetricAlarm, MetricStat
from whispersync.monitoring.store import TelemetryStore

DAYS = 7
SERIES = 200
RUNS = 5
NS = "WhisperSync/Bench"
DAY_S = 86_400
END_S = 1_767_225_600 + DAYS * DAY_S  # 2026-01-08T00:00:00Z
START_S = END_S - DAYS * DAY_S
TARGETS_S = {1_000: 1.0, 10_000: 5.0}
STATISTICS = ("Sum", "Average", "Maximum", "p99")
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")
# --layout: how the day files are written. "time": as before issue 15's cold-read work.
LAYOUTS = {"compacted": (_schema.COMPACTED_ORDER["metrics"], _schema.COMPACTED_OPTIONS["metrics"]),
           "time": ("ts", "")}
OPERATORS = ("GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
             "LessThanOrEqualToThreshold")


def write_data(root: Path, series: int = SERIES, layout: str = "compacted") -> int:
    order, options = LAYOUTS[layout]
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
                       'Series=s' || CAST(s AS VARCHAR) AS dims,
                       '{{"Series":"s' || CAST(s AS VARCHAR) || '"}}' AS dimensions,
                       CAST(hash(s, m, {day}) % 1000 AS DOUBLE) AS value
                FROM range(1440) AS t(m), range({series}) AS u(s)
                ORDER BY {order}
            ) TO '{target}' (FORMAT parquet, COMPRESSION zstd{options})
        """)
    con.close()
    return DAYS * 1440 * series


def make_alarms(count: int, series: int = SERIES) -> list[MetricAlarm]:
    alarms = []
    for i in range(count):
        n = (1, 3, 5)[i % 3]
        alarms.append(MetricAlarm(
            name=f"alarm-{i:05d}", namespace=NS, metric_name="Latency",
            dimensions={"Series": f"s{i % series}"}, statistic=STATISTICS[(i // series) % 4],
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


def timed_cycle(engine: AlarmEngine, at_ms: int, cold: bool = False) -> tuple[float, list]:
    """Seconds for one evaluation cycle, and its results; ``cold`` clears the series cache first."""
    if cold:
        _series.clear()
    t = time.perf_counter()
    results = engine.evaluate(at_ms)
    return time.perf_counter() - t, results


def cold_batch(root: Path, series: int) -> tuple[float, int]:
    """Seconds for every series over all 7 days in one metric_statistics_batch, as a fresh process reads it."""
    _series.clear()
    _footers.forget()
    store = TelemetryStore(root)
    requests = [MetricStat(NS, "Latency", {"Series": f"s{s}"}, "Average", 300) for s in range(series)]
    try:
        t = time.perf_counter()
        found = store.metric_statistics_batch(requests, start_ms=START_S * 1000, end_ms=END_S * 1000)
        return time.perf_counter() - t, sum(len(s.values) for s in found)
    finally:
        store.close()


def verdict(count: int, seconds: float) -> str:
    if count not in TARGETS_S:
        return ""
    return f"< {TARGETS_S[count]:g} s {'met' if seconds < TARGETS_S[count] else 'NOT met'}"


def counts_arg(text: str) -> list[int]:
    try:
        counts = [int(part.replace("_", "")) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts like 1000,10000; got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("every count must be at least 1")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alarms", type=counts_arg, default=[100, 1_000, 10_000],
                        help="alarm counts, comma-separated (default 100,1000,10000)")
    parser.add_argument("--runs", type=int, default=RUNS, help="steady-state cycles per count (median)")
    parser.add_argument("--series", type=int, default=SERIES, help="series the alarms watch")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="compacted",
                        help="how the day files are laid out (time: as before issue 15's cold-read work)")
    args = parser.parse_args()
    if args.runs < 1 or args.series < 1:
        parser.error("--runs and --series must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "telemetry"
        t = time.perf_counter()
        points = write_data(root, args.series, args.layout)
        print(f"wrote {points:,} datapoints ({args.series} series x {DAYS} days x 1440 min, {args.layout} layout) "
              f"in {time.perf_counter() - t:.1f} s")
        store = TelemetryStore(root)
        at_ms = END_S * 1000 - 30_000  # evaluate inside the last day's data
        results, verdicts = {}, []
        for count in args.alarms:
            alarms = make_alarms(count, args.series)
            engine = AlarmEngine(store, AlarmStore(Path(tmp) / f"alarms-{count}.sqlite3"),
                                 definitions=lambda alarms=alarms: alarms)
            first_s, first = timed_cycle(engine, at_ms, cold=True)
            times = [timed_cycle(engine, at_ms + run * 60_000)[0] for run in range(args.runs)]
            cold_s, _ = timed_cycle(engine, at_ms + args.runs * 60_000, cold=True)
            results[count] = statistics.median(times)
            states = {s: sum(1 for r in first if r.state == s) for s in ("OK", "ALARM", "INSUFFICIENT_DATA")}
            print(f"{count:>6,} alarms: one cycle {results[count] * 1000:7.1f} ms median of {args.runs} warm"
                  f" (min-max {min(times) * 1000:.0f}-{max(times) * 1000:.0f}); cold cache {cold_s * 1000:.0f} ms;"
                  f" first cycle, cold and storing every initial state, {first_s * 1000:.0f} ms; states {states}")
            if count in TARGETS_S:
                verdicts.append(f"target {count:,} alarms {verdict(count, results[count])} (median)"
                                f"; cold cycle {verdict(count, cold_s)}; first cycle {verdict(count, first_s)}")
        if 100 in results:
            peer_alarms = make_alarms(100, args.series)
            t = time.perf_counter()
            per_alarm_reads(store, peer_alarms, at_ms)
            peer = time.perf_counter() - t
            print(f"peer, 100 alarms with one query per alarm: {peer * 1000:.1f} ms -> batched reads are "
                  f"{peer / results[100]:.1f}x faster")
        ordered = sorted(results)
        if len(ordered) > 1:
            print("growth: " + ", ".join(f"{b:,}/{a:,} = {results[b] / results[a]:.1f}x (linear {b / a:g}x)"
                                         for a, b in zip(ordered, ordered[1:])))
        for line in verdicts:
            print(line)
        seconds, buckets = cold_batch(root, args.series)
        assert buckets == args.series * DAYS * 288, f"cold batch answered {buckets} buckets"
        print(f"cold read of all {args.series} series x {DAYS} days (Average at 300 s) in one"
              f" metric_statistics_batch: {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
