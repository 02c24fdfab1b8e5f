"""Metric statistics and metric math over 7 days x 200 series of 1-minute data.

Writes ~2 M datapoints straight into the telemetry store's on-disk layout (one
merged, time-sorted Parquet file per day, exactly what compaction produces), then
times, median of RUNS:

* a 24 h p99 at a 1-minute period for one series, through ``get_metric_data``;
* ``errors/invocations*100`` over two series for 24 h, through ``get_metric_data``;

each against a hand-written DuckDB SQL query over the same Parquet files (the peer,
measured in the same run). Target: each < 50 ms median.

    .venv/bin/python benchmarks/metrics_query.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from whispersync.monitoring.store import _schema
from whispersync.monitoring.store import _segments
from whispersync.monitoring.metrics import get_metric_data
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import MetricDataQuery, MetricStat

DAYS = 7
SERIES = 200  # 100 functions x (Errors, Invocations)
RUNS = 7
NS = "AWS/Lambda"
DAY_S = 86_400
END_S = 1_767_225_600 + DAYS * DAY_S  # 2026-01-08T00:00:00Z
START_S = END_S - DAYS * DAY_S


def write_data(root: Path) -> int:
    """One Parquet file per UTC day, typed like the compacted store, sorted by ts."""
    con = duckdb.connect(":memory:")
    total = 0
    for day in range(DAYS):
        day_start = START_S + day * DAY_S
        part = root / "metrics" / _segments.partition_name(day_start)
        part.mkdir(parents=True, exist_ok=True)
        target = part / f"{_segments.merged_name(day_start, day_start + DAY_S)}.parquet"
        # Deterministic pseudo-random values: hash of (series, minute).
        con.execute(f"""
            COPY (
                SELECT CAST(({day_start} + m * 60) * 1000 AS BIGINT) AS ts,
                       '{NS}' AS namespace,
                       CASE WHEN s % 2 = 0 THEN 'Invocations' ELSE 'Errors' END AS name,
                       'Count' AS unit,
                       'FunctionName=fn' || lpad(CAST(s // 2 AS VARCHAR), 3, '0') AS dims,
                       '{{"FunctionName":"fn' || lpad(CAST(s // 2 AS VARCHAR), 3, '0') || '"}}' AS dimensions,
                       CAST(CASE WHEN s % 2 = 0 THEN 100 + hash(s, m, {day}) % 900
                                 ELSE hash(s, m, {day}) % 20 END AS DOUBLE) AS value
                FROM range(1440) AS t(m), range({SERIES}) AS u(s)
                ORDER BY ts
            ) TO '{target}' (FORMAT parquet, COMPRESSION zstd)
        """)
        total += 1440 * SERIES
    con.close()
    return total


def median_ms(fn, runs: int = RUNS) -> float:
    fn()  # warm up (file metadata, imports)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "telemetry"
        t = time.perf_counter()
        points = write_data(root)
        print(f"wrote {points:,} datapoints ({SERIES} series x {DAYS} days x 1440 min) "
              f"in {time.perf_counter() - t:.1f} s")
        store = TelemetryStore(root)
        start_ms, end_ms = (END_S - DAY_S) * 1000, END_S * 1000
        now_ms = end_ms
        fn_dims = {"FunctionName": "fn042"}

        def ours_p99():
            return get_metric_data(store, [MetricDataQuery("d", MetricStat(NS, "Invocations", fn_dims, "p99", 60))],
                                   start_ms=start_ms, end_ms=end_ms, now_ms=now_ms)

        def ours_math():
            return get_metric_data(store, [
                MetricDataQuery("errors", MetricStat(NS, "Errors", fn_dims, "Sum", 60), return_data=False),
                MetricDataQuery("invocations", MetricStat(NS, "Invocations", fn_dims, "Sum", 60), return_data=False),
                MetricDataQuery("rate", expression="errors/invocations*100"),
            ], start_ms=start_ms, end_ms=end_ms, now_ms=now_ms)

        files = sorted(str(p) for p in (root / "metrics").rglob("*.parquet"))
        source = _schema.from_parquet("metrics", files)

        def peer_p99():
            with duckdb.connect(":memory:") as con:
                return con.execute(f"""
                    SELECT ts // 60000 * 60000 AS b, quantile_disc(value, 0.99)
                    FROM ({source}) WHERE namespace = ? AND name = 'Invocations' AND dims = 'FunctionName=fn042'
                      AND ts >= ? AND ts < ? GROUP BY b ORDER BY b
                """, [NS, start_ms, end_ms]).fetchall()

        def peer_math():
            with duckdb.connect(":memory:") as con:
                return con.execute(f"""
                    SELECT ts // 60000 * 60000 AS b,
                           sum(value) FILTER (WHERE name = 'Errors') * 100
                             / nullif(sum(value) FILTER (WHERE name = 'Invocations'), 0)
                    FROM ({source}) WHERE namespace = ? AND name IN ('Errors', 'Invocations')
                      AND dims = 'FunctionName=fn042' AND ts >= ? AND ts < ? GROUP BY b ORDER BY b
                """, [NS, start_ms, end_ms]).fetchall()

        assert len(ours_p99()[0].values) == 1440 and len(peer_p99()) == 1440
        ours_rate = sorted(zip(ours_math()[0].timestamps, ours_math()[0].values))
        peer_rate = [(b, v) for b, v in peer_math() if v is not None]
        assert [round(v, 9) for _, v in ours_rate] == [round(v, 9) for _, v in peer_rate]

        for name, ours, peer in (("24h p99 @ 1 min, one series", ours_p99, peer_p99),
                                 ("24h errors/invocations*100", ours_math, peer_math)):
            a, b = median_ms(ours), median_ms(peer)
            verdict = "OK" if a < 50 else "OVER TARGET"
            print(f"{name:32s} ours {a:6.1f} ms   DuckDB SQL peer {b:6.1f} ms   ratio {a / b:4.2f}x"
                  f"   (target < 50 ms: {verdict})")
        store.close()


if __name__ == "__main__":
    main()
