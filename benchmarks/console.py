"""The web console's pages and its charts' data requests over 7 days x 200 series of 1-minute data.

    python benchmarks/console.py [--runs 7] [--days 7] [--quick]

Builds a real home, then times a real `whispersync up` serving it:

* ~2 M datapoints written straight into the home's telemetry store in its on-disk layout
  (as benchmarks/metrics_query.py does; what compaction produces: one merged, time-sorted
  Parquet file per closed UTC day, one per hour of today), one point a minute for 200
  series: the 14 the plan's dashboards read (worker Invocations, Errors, Duration,
  MemoryUtilization, ConcurrentExecutions; each queue's depth, in-flight, oldest age, sent;
  TranscriptsProcessed and its Status roll-ups; ProcessingDuration) and, per agent (62
  agents), TranscriptsProcessed by AgentType and Status and ProcessingDuration by AgentType;
* a CloudWatch dashboard body stored as `whispersync dashboards import` stores it
  (DashboardStore.put), over the last 7 days, whose three graphs read 186 of those series,
  so the number of series matters.

Then, median of RUNS after one warm-up, run alternately where two things are compared:

  page          GET of `/` and of each plan dashboard (worker-performance, queue-health,
                executive, cost) at its own range and at `?range=7d`, and of the imported one.
                Target < 300 ms.
  data request  each metric widget's GetMetricData request (the queries the dashboard
                builds for that widget, from monitoring.dashboards) POSTed to
                `/v1/metrics/query` (web/metrics.py), beside `get_metric_data()` called in
                this process with the same queries over the same home: the function
                `whispersync metrics get` calls, called in-process rather than as a
                subprocess, so the comparison is query vs query + HTTP + JSON (the CLI's
                own start-up is left out). Target: ratio <= 1.2x.

Why a real `whispersync up` process, not the ASGI app in this process: it is what a person
runs (its settings, its threads, its server), and the client's work and the direct queries
then never share a GIL with the server being timed. Times are taken by the client, over one
keep-alive loopback connection with the session cookie kept, so they include the loopback
round trip: an upper bound of the server's time. The collector, the compactor and the alarm
loop run every hour here, so that none of them runs while timing (the machine has 2 cores).

Benchmarks report, they do not gate: the exit code is 0; misses are marked MISSED.
`--quick` (1 day, 3 runs) is a smoke run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson

from whispersync import catalog
from whispersync.app import list_dashboards, open_dashboards, open_store
from whispersync.monitoring.dashboards import parse_body, relative_seconds
from whispersync.monitoring.dashboards import _data as dashboard_data
from whispersync.monitoring.dashboards._range import DEFAULT_RANGE_SECONDS
from whispersync.monitoring.metrics import get_metric_data
from whispersync.monitoring.store import _schema, _segments
from whispersync.settings import Settings
from whispersync.web.console import COOKIE

SERIES = 200
AGENTS = 62  # 3 series each: 186, plus the plan's 14
DAY_S = 86_400
HOUR_S = 3600
PAGE_TARGET_MS = 300
RATIO_TARGET = 1.2
PLAN_DASHBOARDS = ("worker-performance", "queue-health", "executive", "cost")
IMPORTED = "agents-7d"


# --------------------------------------------------------------------- the data


def series_table() -> list[tuple[str, str, str, dict[str, str], int, int]]:
    """(namespace, name, unit, dimensions, low, spread) of each series: values are low + hash % spread."""
    queue, dlq = catalog.queue_dimensions(catalog.QUEUE), catalog.queue_dimensions(catalog.DEAD_LETTER_QUEUE)

    def of(metric: catalog.Metric, dims: dict[str, str] | None = None, low: int = 0, spread: int = 10):
        return (metric.namespace, metric.name, metric.unit, {**metric.dimensions, **(dims or {})}, low, spread)

    rows = [
        of(catalog.WORKER_INVOCATIONS, low=20, spread=40), of(catalog.WORKER_ERRORS, spread=3),
        of(catalog.WORKER_DURATION, low=80, spread=900), of(catalog.WORKER_MEMORY_UTILIZATION, low=20, spread=50),
        of(catalog.WORKER_CONCURRENT_EXECUTIONS, low=1, spread=4),
        of(catalog.QUEUE_VISIBLE, queue, spread=50), of(catalog.QUEUE_VISIBLE, dlq, spread=3),
        of(catalog.QUEUE_NOT_VISIBLE, queue, spread=8), of(catalog.QUEUE_OLDEST_AGE, queue, spread=120),
        of(catalog.QUEUE_SENT, queue, low=20, spread=40),
        of(catalog.TRANSCRIPTS_PROCESSED, low=20, spread=40),
        of(catalog.TRANSCRIPTS_PROCESSED, {"Status": "Success"}, low=18, spread=38),
        of(catalog.TRANSCRIPTS_PROCESSED, {"Status": "Failure"}, spread=3),
        of(catalog.PROCESSING_DURATION, low=80, spread=900),
    ]
    for n in range(AGENTS):
        agent = f"agent{n:02d}"
        rows += [of(catalog.TRANSCRIPTS_PROCESSED, {"AgentType": agent, "Status": "Success"}, spread=5),
                 of(catalog.TRANSCRIPTS_PROCESSED, {"AgentType": agent, "Status": "Failure"}, spread=2),
                 of(catalog.PROCESSING_DURATION, {"AgentType": agent}, low=50, spread=2000)]
    assert len(rows) == SERIES, len(rows)
    return rows


def write_data(metrics_dir: Path, start_s: int, end_s: int) -> int:
    """Every series one point a minute over [start_s, end_s), as compacted Parquet files."""
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE series (s INTEGER, namespace VARCHAR, name VARCHAR, unit VARCHAR, dims VARCHAR,"
                " dimensions VARCHAR, low DOUBLE, spread BIGINT)")
    con.executemany("INSERT INTO series VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        (i, ns, name, unit, ",".join(f"{k}={v}" for k, v in sorted(dims.items())), orjson.dumps(dims).decode(),
         low, spread) for i, (ns, name, unit, dims, low, spread) in enumerate(series_table())])
    today_s = end_s // DAY_S * DAY_S
    # Closed days: one file each; today: one per hour (compaction merges a day once it is closed).
    pieces = [(d, min(d + DAY_S, end_s)) for d in range(start_s // DAY_S * DAY_S, today_s, DAY_S)]
    pieces += [(h, h + HOUR_S) for h in range(today_s, end_s, HOUR_S)]
    columns = {name: typ for name, typ, _ in _schema.SCHEMAS["metrics"]}
    total = 0
    for lo, hi in pieces:
        first, last = max(lo, start_s), min(hi, end_s)
        if first >= last:
            continue
        part = metrics_dir / _segments.partition_name(lo)
        part.mkdir(parents=True, exist_ok=True)
        span = DAY_S if hi - lo > HOUR_S else HOUR_S
        target = part / f"{_segments.merged_name(lo, lo + span)}.parquet"
        # Every column of the store's schema, typed as it types them; raw points have no statistic set.
        select = {
            "ts": "CAST(m * 60000 AS BIGINT)", "namespace": "namespace", "name": "name", "unit": "unit",
            "dims": "dims", "dimensions": "dimensions",
            "value": "low + CAST(hash(s, m) % spread AS DOUBLE)",
        }
        cols = ", ".join(f"CAST({select.get(name, 'NULL')} AS {typ}) AS {name}" for name, typ in columns.items())
        con.execute(f"""
            COPY (SELECT {cols} FROM range({first // 60}, {last // 60}) AS t(m), series ORDER BY m, s)
            TO '{target}' (FORMAT parquet, COMPRESSION zstd)""")
        total += (last - first) // 60 * SERIES
    con.close()
    return total


def imported_body() -> dict[str, Any]:
    """A CloudWatch dashboard body, as `aws cloudwatch get-dashboard` holds it: `"."` repeats the entry above."""
    def per_agent(name: str, dims: list[str]) -> list[list[Any]]:
        entries: list[list[Any]] = []
        for n in range(AGENTS):
            first = [catalog.BUSINESS, name] if not entries else [".", "."]
            entries.append([*first, "AgentType", f"agent{n:02d}", *dims])
        return entries

    def graph(y: int, title: str, stat: str, metrics: list) -> dict[str, Any]:
        return {"type": "metric", "x": 0, "y": y, "width": 24, "height": 6,
                "properties": {"title": title, "view": "timeSeries", "stat": stat, "period": 300,
                               "region": "us-east-1", "metrics": metrics}}

    return {"start": "-P7D", "widgets": [
        graph(0, "Processing time by agent", "Average", per_agent("ProcessingDuration", [])),
        graph(6, "Transcripts by agent", "Sum", per_agent("TranscriptsProcessed", ["Status", "Success"])),
        graph(12, "Failures by agent", "Sum", per_agent("TranscriptsProcessed", ["Status", "Failure"])),
    ]}


# --------------------------------------------------------------------- the server


class Client:
    """One keep-alive HTTP/1.1 connection to the server, keeping the console's session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie: str | None = None
        self.con = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        for attempt in range(2):
            try:
                self.con.request(method, path, body=body, headers=headers)
                response = self.con.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                # The server closed an idle keep-alive connection: open another, once.
                self.con.close()
                self.con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        cookie = response.getheader("Set-Cookie")
        if cookie and cookie.startswith(COOKIE + "="):
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(root: Path, home: Path, port: int) -> subprocess.Popen:
    (root / "empty-whispersync.toml").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    env.update(WHISPERSYNC_HOME=str(home), WHISPERSYNC_CONFIG=str(root / "empty-whispersync.toml"),
               WHISPERSYNC_PORT=str(port), WHISPERSYNC_WORKERS="1", WHISPERSYNC_COLLECTOR_INTERVAL="3600",
               WHISPERSYNC_COMPACTION_INTERVAL="3600", WHISPERSYNC_ALARM_INTERVAL="3600",
               XDG_DATA_HOME=str(root / "xdg-data"))
    log = (root / "server.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "whispersync", "up", "--quiet"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if Client(port).request("GET", "/healthz")[0] == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"whispersync up did not start:\n{(root / 'server.log').read_text()}")
        time.sleep(0.1)


# --------------------------------------------------------------------- timing


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def medians_ms(a: Callable[[], Any], b: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median times of ``a`` and ``b``, run alternately so load from other processes hits both alike."""
    a(), b()  # warm up both
    times_a, times_b = [], []
    for _ in range(runs):
        for fn, times in ((a, times_a), (b, times_b)):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times_a), statistics.median(times_b)


def widget_requests(settings: Settings, now_ms: int) -> list[tuple[str, list, int, int]]:
    """(row name, MetricDataQuerys, start ms, end ms) of each metric widget of each dashboard,
    at the dashboard's own range and, for the plan's, at 7 days: the queries the dashboard
    page runs for that widget (monitoring.dashboards builds them, periodOverride auto)."""
    out = []
    for listed in list_dashboards(settings):
        body, _ = parse_body(listed.body, name=listed.name)
        ranges = [("", relative_seconds(body.start) or DEFAULT_RANGE_SECONDS)]
        if listed.name in PLAN_DASHBOARDS and ranges[0][1] != 7 * DAY_S:
            ranges.append((" 7d", 7 * DAY_S))
        for suffix, seconds in ranges:
            start_ms = now_ms - seconds * 1000
            for n, widget in enumerate(w for w in body.widgets if w.type == "metric"):
                view = widget.prop("view", "timeSeries")
                whole = dashboard_data._whole_range(widget, view, start_ms, now_ms, now_ms)
                floor = dashboard_data.auto_period(now_ms - start_ms)
                queries, _ = dashboard_data._queries(widget, widget.prop("stat", "Average"),
                                                     widget.prop("period", 300), whole, floor)
                title = widget.prop("title") or f"widget {n}"
                out.append((f"{listed.name}{suffix}: {title}", queries, start_ms, now_ms))
    return out


def request_json(queries: list, start_ms: int, end_ms: int) -> bytes:
    """Our JSON shape of /v1/metrics/query (monitoring.metrics.parse_request reads MetricDataQuery.to_dict())."""
    return orjson.dumps({"queries": [q.to_dict() for q in queries], "start": start_ms, "end": end_ms,
                         "scan_by": "TimestampAscending"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per row, after one warm-up (>= 7)")
    parser.add_argument("--days", type=int, default=7, help="days of 1-minute data")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 day of data, 3 runs")
    args = parser.parse_args()
    days, runs = (1, 3) if args.quick else (args.days, args.runs)

    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        root = Path(tmp)
        home = root / "home"
        settings = Settings.load(home=home)
        end_s = int(time.time()) // 60 * 60
        t = time.perf_counter()
        points = write_data(settings.telemetry_dir / "metrics", end_s - days * DAY_S, end_s)
        print(f"wrote {points:,} datapoints ({SERIES} series x {days} days x 1440 min) "
              f"in {time.perf_counter() - t:.1f} s")
        with open_dashboards(settings) as stored:
            stored.put(IMPORTED, orjson.dumps(imported_body()).decode())

        port = free_port()
        server = start_server(root, home, port)
        store = open_store(settings)  # what `metrics get` opens, opened once
        try:
            client = Client(port)
            print(f"whispersync up (pid {server.pid}) on 127.0.0.1:{port}; {runs} runs per row, after a warm-up\n")
            missed = 0

            print(f"{'page':44} {'median ms':>10} {'target':>8}  ok")
            paths = ["/"] + [f"/dashboards/{name}{r}" for name in PLAN_DASHBOARDS for r in ("", "?range=7d")]
            paths.append(f"/dashboards/{IMPORTED}")
            for path in paths:
                status, html = client.request("GET", path)
                assert status == 200, (path, status, html[:500])
                if path.startswith(("/dashboards/worker", f"/dashboards/{IMPORTED}")):
                    assert b'data-testid="chart" data-points="0"' not in html and b'data-testid="chart"' in html, path
                ms = median_ms(lambda path=path: client.request("GET", path), runs)
                ok = ms < PAGE_TARGET_MS
                missed += not ok
                print(f"{path:44} {ms:10.1f} {'< 300':>8}  {'ok' if ok else 'MISSED'}")

            print(f"\n{'data request (POST /v1/metrics/query)':58} {'median ms':>10} {'direct ms':>10} "
                  f"{'ratio':>7} {'target':>7}  ok")
            now_ms = end_s * 1000
            for name, queries, start_ms, end_ms in widget_requests(settings, now_ms):
                body = request_json(queries, start_ms, end_ms)

                def over_http(body=body) -> bytes:
                    status, data = client.request("POST", "/v1/metrics/query", body)
                    assert status == 200, (status, data[:500])
                    return data  # parsed once below, not while timing: the client's work is not the server's

                def direct(queries=queries, start_ms=start_ms, end_ms=end_ms) -> list:
                    return get_metric_data(store, queries, start_ms=start_ms, end_ms=end_ms,
                                           scan_by="TimestampAscending", now_ms=end_ms)

                served, read = orjson.loads(over_http())["results"], direct()
                assert [len(r["values"]) for r in served] == [len(r.values) for r in read], name
                http_ms, direct_ms = medians_ms(over_http, direct, runs)
                ratio = http_ms / direct_ms
                ok = ratio <= RATIO_TARGET
                missed += not ok
                points = sum(len(r.values) for r in read)
                label = f"{name[:44]} ({points:,} pts)"
                print(f"{label:58} {http_ms:10.1f} {direct_ms:10.1f} {ratio:6.2f}x {'<= 1.2x':>7}  "
                      f"{'ok' if ok else 'MISSED'}")
            print(f"\n{missed} row(s) missed their target" if missed else "\nevery row met its target")
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            store.close()


if __name__ == "__main__":
    main()
