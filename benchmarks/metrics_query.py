"""Metric statistics and metric math over 7 days x 200 series of 1-minute data, beside their peers.

    .venv/bin/python benchmarks/metrics_query.py [--runs 15] [--quick] [--layout compacted|time]

Writes ~2 M datapoints straight into a WhisperSync home's telemetry store in its on-disk
layout (one merged Parquet file per day, laid out exactly as compaction writes it: sorted by
series then time, ``_schema.COMPACTED_ORDER``; ``--layout time`` writes the layout before
issue 15's cold-read work, sorted by time in DuckDB's default row groups, to compare), and
times two queries over the last 24 h of one function's series:

* a p99 at a 1-minute period of ``Invocations``;
* ``errors/invocations*100`` at a 1-minute period (Sum of ``Errors`` and ``Invocations``);

each by four engines, called in turn in every round (so load from other processes hits all
alike), one warm-up call each first:

  ours           ``get_metric_data`` in this process (what `whispersync metrics get` calls);
  ours HTTP      ``POST /v1/metrics/query`` of a real `whispersync up` serving that home;
  DuckDB SQL     a hand-written DuckDB query over the same Parquet files;
  Prometheus     a private Prometheus (Debian's 2.42) holding the same points, backfilled with
                 promtool (benchmarks/prometheus_peer.py), via ``/api/v1/query_range``.

HTTP engines are timed by the client over one keep-alive loopback connection (httpx), so
their figures include the round trip and the JSON. Printed: median, min-max, and the ratios
of each engine's median over ours in process and over ours via HTTP (below 1: that engine is
faster; the issue's target is Prometheus / ours >= 1 for both).

Cold reads, measured first, before anything has read the data (the OS page cache is warm: the
files were just written):

* the first p99 query of a series: a fresh store (its own DuckDB) and the decoded-series cache
  (store/_series.py) and Parquet footer cache cleared, then ``get_metric_data`` as above; each
  round another function's series; median and min-max of COLD_ROUNDS;
* every series over all 7 days in one ``metric_statistics_batch`` (Average at 300 s), cold
  likewise: the first alarm-cycle-like read, which decodes every row of every file.

Before timing, every engine's answer is checked against ours, point by point:

* PromQL ranges include both ends, ``m[1m]`` at t is [t - 60 s, t], while a CloudWatch period
  is [t, t + 60 s). So Prometheus evaluates at each bucket start + 59 s (step 60 s), where the
  window holds exactly that minute's one point, and its answer at b + 59 s is compared with
  ours at b.
* p99: ours is CloudWatch's nearest-rank percentile, ``quantile_over_time(0.99, ...)``
  interpolates between ranks. Over a window of one point both are that point (and DuckDB's
  ``quantile_disc`` too), so the answers must be equal; they would differ with several points
  per period.
* the rate: ``sum_over_time(errors[1m]) / sum_over_time(invocations[1m]) * 100``, the Sums of
  CloudWatch's periods; both label sets are {function_name}, so the division matches
  one-to-one. Invocations are never 0 here, so no period is dropped by either engine.

Memory (issue 15's target: peak < 1 GiB), printed after the timings:

* ``whispersync up`` idle: VmRSS of a real `up` on a fresh, empty home, read IDLE_S seconds
  after /healthz first answers;
* the 2 M-point query: each query by ours in process, run alone in a fresh spawned process
  over the data already written (benchmarks/rss.py), its VmHWM, so the data generation and
  the other engines do not count; beside it that process's RSS before the query;
* the `up` that served the HTTP timings: its VmRSS and VmHWM after them.

If ``prometheus``/``promtool`` are not installed, that peer is skipped with a message.
Benchmarks report, they do not gate: the exit code is 0. ``--quick`` (20 series, 5 runs)
is a smoke run.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).parent))
from console import free_port  # noqa: E402
from prometheus_peer import PrometheusPeer  # noqa: E402
from rss import mib, peak_in_child, status_kib, verdict  # noqa: E402

from whispersync.monitoring.metrics import get_metric_data  # noqa: E402
from whispersync.monitoring.store import TelemetryStore, _footers, _schema, _segments, _series  # noqa: E402
from whispersync.plan import MetricDataQuery, MetricStat  # noqa: E402

DAYS = 7
SERIES = 200  # 100 functions x (Errors, Invocations)
RUNS = 15
NS = "AWS/Lambda"
DAY_S = 86_400
END_S = 1_767_225_600 + DAYS * DAY_S  # 2026-01-08T00:00:00Z
START_S = END_S - DAYS * DAY_S
BUCKETS = DAY_S // 60  # the 24 h queried, one point a minute
IDLE_S = 5  # how long a fresh `up` idles before its RSS is read
COLD_ROUNDS = 5
# --layout: how the day files are written. "time": as before issue 15's cold-read work.
LAYOUTS = {"compacted": (_schema.COMPACTED_ORDER["metrics"], _schema.COMPACTED_OPTIONS["metrics"]),
           "time": ("ts", "")}


def write_data(metrics_dir: Path, series: int, layout: str = "compacted") -> int:
    """One Parquet file per UTC day, typed like the compacted store, in the ``layout`` of LAYOUTS."""
    order, options = LAYOUTS[layout]
    con = duckdb.connect(":memory:")
    total = 0
    for day in range(DAYS):
        day_start = START_S + day * DAY_S
        part = metrics_dir / _segments.partition_name(day_start)
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
                FROM range(1440) AS t(m), range({series}) AS u(s)
                ORDER BY {order}
            ) TO '{target}' (FORMAT parquet, COMPRESSION zstd{options})
        """)
        total += 1440 * series
    con.close()
    return total


def start_whispersync(root: Path, home: Path, port: int) -> subprocess.Popen:
    """`whispersync up` over ``home``, as benchmarks/console.py starts it, but keeping 2026's data.

    The retention is raised (the data is from 2026-01; the default 30 days would drop it at
    start); the collector, compaction and alarm loops run hourly, so none runs while timing."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "empty-whispersync.toml"
    config.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    env.update(WHISPERSYNC_HOME=str(home), WHISPERSYNC_CONFIG=str(config), WHISPERSYNC_PORT=str(port),
               WHISPERSYNC_WORKERS="1", WHISPERSYNC_COLLECTOR_INTERVAL="3600",
               WHISPERSYNC_COMPACTION_INTERVAL="3600", WHISPERSYNC_ALARM_INTERVAL="3600",
               WHISPERSYNC_RETENTION_DAYS="36500", XDG_DATA_HOME=str(root / "xdg-data"))
    log_path = root / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "whispersync", "up", "--quiet"], env=env,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return proc
        except (OSError, httpx.HTTPError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"whispersync up did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)


def idle_rss_kib(root: Path) -> int:
    """VmRSS of a real `whispersync up` on a fresh home, IDLE_S seconds after it is ready."""
    server = start_whispersync(root / "idle", root / "idle" / "home", free_port())
    try:
        time.sleep(IDLE_S)
        return status_kib(server.pid)["VmRSS"]
    finally:
        stop(server)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Each engine's answer, normalised for the check: {bucket start ms: value rounded to 9 digits}.
Answer = dict[int, float]


def normal(pairs: Any) -> Answer:
    return {int(t): round(float(v), 9) for t, v in pairs}


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class Engines:
    """The two queries, each as a zero-argument call per engine, plus what each call answers."""

    def __init__(self, store: TelemetryStore, files: list[str], ws: httpx.Client | None,
                 prom: PrometheusPeer | None, function: str) -> None:
        self.store, self.ws, self.prom, self.function = store, ws, prom, function
        self.source = _schema.from_parquet("metrics", files)
        self.start_ms, self.end_ms = (END_S - DAY_S) * 1000, END_S * 1000
        self.dims = {"FunctionName": function}

    def queries(self, name: str) -> list[MetricDataQuery]:
        if name == "p99":
            return [MetricDataQuery("d", MetricStat(NS, "Invocations", self.dims, "p99", 60))]
        return [
            MetricDataQuery("errors", MetricStat(NS, "Errors", self.dims, "Sum", 60), return_data=False),
            MetricDataQuery("invocations", MetricStat(NS, "Invocations", self.dims, "Sum", 60), return_data=False),
            MetricDataQuery("rate", expression="errors/invocations*100"),
        ]

    def ours(self, name: str) -> Callable[[], Answer]:
        queries = self.queries(name)

        def call() -> Answer:
            [result] = get_metric_data(self.store, queries, start_ms=self.start_ms, end_ms=self.end_ms,
                                       now_ms=self.end_ms)
            return normal(zip(result.timestamps, result.values))
        return call

    def ours_http(self, name: str) -> Callable[[], Answer]:
        body = {"start": self.start_ms, "end": self.end_ms, "queries": [
            {"id": q.id, "return_data": q.return_data, **({"expression": q.expression} if q.expression else {
                "metric_stat": {"namespace": NS, "name": q.metric_stat.name, "dimensions": self.dims,
                                "stat": q.metric_stat.statistic, "period": q.metric_stat.period}})}
            for q in self.queries(name)]}

        def call() -> Answer:
            response = self.ws.post("/v1/metrics/query", json=body)
            response.raise_for_status()
            [result] = response.json()["results"]
            return normal((iso_ms(t), v) for t, v in zip(result["timestamps"], result["values"]))
        return call

    def duckdb(self, name: str) -> Callable[[], Answer]:
        if name == "p99":
            sql = f"""
                SELECT ts // 60000 * 60000 AS b, quantile_disc(value, 0.99)
                FROM ({self.source}) WHERE namespace = ? AND name = 'Invocations'
                  AND dims = 'FunctionName={self.function}'
                  AND ts >= ? AND ts < ? GROUP BY b ORDER BY b"""
        else:
            sql = f"""
                SELECT ts // 60000 * 60000 AS b,
                       sum(value) FILTER (WHERE name = 'Errors') * 100
                         / nullif(sum(value) FILTER (WHERE name = 'Invocations'), 0)
                FROM ({self.source}) WHERE namespace = ? AND name IN ('Errors', 'Invocations')
                  AND dims = 'FunctionName={self.function}' AND ts >= ? AND ts < ? GROUP BY b ORDER BY b"""

        def call() -> Answer:
            with duckdb.connect(":memory:") as con:
                rows = con.execute(sql, [NS, self.start_ms, self.end_ms]).fetchall()
            return normal((b, v) for b, v in rows if v is not None)
        return call

    def prometheus(self, name: str) -> Callable[[], Answer]:
        query = promql(name, self.function)
        # Evaluated at bucket start + 59 s: [t - 60 s, t] then holds exactly the bucket's point.
        first, last = END_S - DAY_S + 59, END_S - 60 + 59

        def call() -> Answer:
            [series] = self.prom.query_range(query, first, last, 60)
            return normal(((t - 59) * 1000, v) for t, v in series["values"])
        return call


def promql(name: str, function: str) -> str:
    selector = f'{{function_name="{function}"}}'
    if name == "p99":
        return f"quantile_over_time(0.99, invocations{selector}[1m])"
    return f"sum_over_time(errors{selector}[1m]) / sum_over_time(invocations{selector}[1m]) * 100"


def query_in_child(home: str, files: list[str], function: str, name: str) -> int:
    """One query by ours in process, for rss.peak_in_child (a fresh process): the points answered."""
    store = TelemetryStore(Path(home) / "telemetry")
    try:
        return len(Engines(store, files, None, None, function).ours(name)())
    finally:
        store.close()


def fresh_store(home: Path) -> TelemetryStore:
    """A store as a new process opens it: no decoded series, no cached Parquet columns, its own DuckDB."""
    _series.clear()
    _footers.forget()
    return TelemetryStore(home / "telemetry")


def cold_reads(home: Path, files: list[str], series: int) -> list[str]:
    """The cold-read lines: the first query of a series, then every series over 7 days in one batch."""
    first = []
    for i in range(COLD_ROUNDS):
        function = f"fn{(7 + 13 * i) % (series // 2):03d}"
        store = fresh_store(home)
        try:
            call = Engines(store, files, None, None, function).ours("p99")
            t = time.perf_counter()
            answered = len(call())
            first.append((time.perf_counter() - t) * 1000)
        finally:
            store.close()
        assert answered == BUCKETS, f"cold p99 of {function}: {answered} points, not {BUCKETS}"
    requests = [MetricStat(NS, name, {"FunctionName": f"fn{s:03d}"}, "Average", 300)
                for s in range(series // 2) for name in ("Invocations", "Errors")]
    store = fresh_store(home)
    try:
        t = time.perf_counter()
        found = store.metric_statistics_batch(requests, start_ms=START_S * 1000, end_ms=END_S * 1000)
        batch = (time.perf_counter() - t) * 1000
    finally:
        store.close()
    assert all(len(s.values) == DAYS * 288 for s in found), "cold batch: a series lacks points"
    return [f"first p99 query of a series (24 h at 60 s), fresh store and caches:"
            f" median {statistics.median(first):.1f} ms (min-max {min(first):.1f}-{max(first):.1f})"
            f" of {COLD_ROUNDS}, each another series",
            f"all {len(requests)} series x {DAYS} days (Average at 300 s) in one metric_statistics_batch, cold:"
            f" {batch:.0f} ms"]


def timed(engines: dict[str, Callable[[], Answer]], runs: int) -> dict[str, list[float]]:
    """Every engine once per round, in turn; ms per call."""
    times: dict[str, list[float]] = {e: [] for e in engines}
    for _ in range(runs):
        for engine, call in engines.items():
            t = time.perf_counter()
            call()
            times[engine].append((time.perf_counter() - t) * 1000)
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    base, base_http = statistics.median(times["ours"]), statistics.median(times["ours HTTP"])
    print(f"\n{title}")
    print(f"  {'engine':12}{'median ms':>11}{'min-max ms':>18}{'/ ours':>9}{'/ ours HTTP':>13}")
    for engine, ms in times.items():
        median = statistics.median(ms)
        print(f"  {engine:12}{median:11.1f}{f'{min(ms):.1f}-{max(ms):.1f}':>18}{median / base:9.2f}"
              f"{median / base_http:13.2f}")


def run(series: int, runs: int, layout: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ws-metrics-bench-") as tmp:
        root = Path(tmp)
        home = root / "home"
        t = time.perf_counter()
        points = write_data(home / "telemetry" / "metrics", series, layout)
        print(f"wrote {points:,} datapoints ({series} series x {DAYS} days x 1440 min, {layout} layout) "
              f"in {time.perf_counter() - t:.1f} s")
        files = sorted(str(p) for p in (home / "telemetry" / "metrics").rglob("*.parquet"))
        print("\ncold reads\n  " + "\n  ".join(cold_reads(home, files, series)) + "\n")
        function = f"fn{min(42, series // 2 - 1):03d}"
        prom = server = ws = None
        store = TelemetryStore(home / "telemetry")
        memory = [f"whispersync up idle ({IDLE_S} s after ready, fresh home): VmRSS {mib(idle_rss_kib(root))}"]
        try:
            prom = PrometheusPeer.start(files, root / "prometheus", expect_points=BUCKETS,
                                        probe=promql("p99", function),
                                        probe_range=(END_S - DAY_S + 59, END_S - 60 + 59))
            port = free_port()
            server = start_whispersync(root, home, port)
            ws = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
            engines = Engines(store, files, ws, prom, function)
            for name, title in (("p99", f"24 h p99 at 60 s, one series ({function} Invocations), 1,440 points"),
                                ("rate", "24 h errors/invocations*100 at 60 s, one function, 1,440 points")):
                calls = {"ours": engines.ours(name), "ours HTTP": engines.ours_http(name),
                         "DuckDB SQL": engines.duckdb(name)}
                if prom is not None:
                    calls["Prometheus"] = engines.prometheus(name)
                expected = calls["ours"]()  # also the warm-up of each engine
                assert len(expected) == BUCKETS, f"{name}: ours answered {len(expected)} points, not {BUCKETS}"
                for engine, call in calls.items():
                    answer = call()
                    if answer != expected:
                        differ = sorted(b for b in expected.keys() | answer.keys()
                                        if expected.get(b) != answer.get(b))
                        raise SystemExit(f"{name}: {engine} disagrees with ours at {len(differ)} buckets, "
                                         f"first {differ[:3]}: ours {[expected.get(b) for b in differ[:3]]}, "
                                         f"{engine} {[answer.get(b) for b in differ[:3]]}")
                print(f"{name}: all {len(calls)} engines agree on {BUCKETS} points")
                report(f"{title}, median of {runs}", timed(calls, runs))
                answered, before, peak = peak_in_child(query_in_child, str(home), files, function, name)
                assert answered == BUCKETS, f"{name}: the child answered {answered} points"
                memory.append(f"{name} over {points:,} points, alone in a fresh process: peak {mib(peak)} "
                              f"(before the query {mib(before)}); {verdict(peak)}")
            served = status_kib(server.pid)
            memory.append(f"whispersync up after serving the HTTP timings: VmRSS {mib(served['VmRSS'])}, "
                          f"peak {mib(served['VmHWM'])}; {verdict(served['VmHWM'])}")
        finally:
            if ws is not None:
                ws.close()
            if server is not None:
                stop(server)
            if prom is not None:
                prom.stop()
            store.close()
    print("\n/ ours, / ours HTTP: each engine's median over ours in process, over ours via HTTP"
          " (below 1: that engine is faster)")
    print("\nmemory\n  " + "\n  ".join(memory))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed calls per engine and query")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 series, 5 runs")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="compacted",
                        help="how the day files are laid out (time: as before issue 15's cold-read work)")
    args = parser.parse_args()
    series, runs = (20, 5) if args.quick else (SERIES, args.runs)
    run(series, runs, args.layout)


if __name__ == "__main__":
    main()
