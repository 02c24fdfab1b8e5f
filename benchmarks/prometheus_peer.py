"""A private Prometheus holding the metric benchmark's points: the peer of benchmarks/metrics_query.py.

    prom = PrometheusPeer.start(parquet_files, workdir, expect_points=1440, probe=..., probe_range=(start, end))
    try:  # prom is None (with a message printed) when prometheus is not installed
        prom.query_range('quantile_over_time(0.99, invocations{function_name="fn042"}[1m])', start, end, 60)
    finally:
        prom.stop()

The points are read back from the benchmark's own Parquet files (so both engines hold the
very same values), written as OpenMetrics text with timestamps in seconds, one metric family
per metric name (``Invocations`` -> ``invocations``), the dimension as the label
``function_name``, and backfilled with ``promtool tsdb create-blocks-from openmetrics``.
``--max-block-duration`` is set wide so the 7 days land in one or two blocks: what Prometheus's
own compaction would make of old data, and nothing is left for it to compact while timing.

Then ``prometheus`` (Debian's package, 2.42) runs on a free loopback port with that directory
as its storage, a 100-year retention (the data is from 2026-01) and a config without scrape
jobs, so nothing but our queries touches it. ``start`` waits for ``/-/ready``, then until the
block directories stop changing and a query sees every point. ``stop()`` ends it by its PID
(the caller calls it in a ``finally``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

from console import free_port  # noqa: E402  (benchmarks/ is on sys.path when a benchmark runs)

READY_TIMEOUT_S = 120


def write_openmetrics(parquet_files: list[str], target: Path) -> int:
    """Every point of the Parquet files as OpenMetrics text: families contiguous, each series in time order."""
    files = ", ".join(f"'{f}'" for f in parquet_files)
    con = duckdb.connect(":memory:")
    count = 0
    with target.open("w") as out:
        names = [n for (n,) in con.execute(f"SELECT DISTINCT name FROM read_parquet([{files}]) ORDER BY name")
                 .fetchall()]
        for name in names:
            family = name.lower()
            out.write(f"# TYPE {family} gauge\n")
            cursor = con.execute(f"""
                SELECT '{family}{{function_name="' || split_part(dims, '=', 2) || '"}} '
                       || CAST(value AS VARCHAR) || ' ' || CAST(ts // 1000 AS VARCHAR)
                FROM read_parquet([{files}]) WHERE name = ? ORDER BY dims, ts""", [name])
            while rows := cursor.fetchmany(200_000):
                out.write("\n".join(r[0] for r in rows))
                out.write("\n")
                count += len(rows)
        out.write("# EOF\n")
    con.close()
    return count


class PrometheusPeer:
    """A running private Prometheus over a backfilled TSDB; ``query_range`` keeps one connection alive."""

    def __init__(self, proc: subprocess.Popen, port: int, data_dir: Path) -> None:
        self.proc = proc
        self.data_dir = data_dir
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)

    @classmethod
    def start(cls, parquet_files: list[str], workdir: Path, *, expect_points: int,
              probe: str, probe_range: tuple[float, float]) -> PrometheusPeer | None:
        """Backfill, start and wait until ``probe`` over ``probe_range`` returns ``expect_points`` points.

        None (with a message) when prometheus or promtool is not installed."""
        prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
        if prometheus is None or promtool is None:
            print("Prometheus peer skipped: `prometheus`/`promtool` not found (Debian: apt install prometheus)")
            return None
        workdir.mkdir(parents=True, exist_ok=True)
        text, data_dir = workdir / "points.om.txt", workdir / "tsdb"
        t = time.perf_counter()
        points = write_openmetrics(parquet_files, text)
        written = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                        "--max-block-duration=1000h", str(text), str(data_dir)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"Prometheus: {points:,} points as OpenMetrics in {written:.1f} s, "
              f"backfilled by promtool in {time.perf_counter() - t:.1f} s")
        text.unlink()
        config = workdir / "prometheus.yml"
        config.write_text("global: {}\n")  # no scrape jobs: only our queries touch it
        port = free_port()
        log = (workdir / "prometheus.log").open("ab")
        proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
                                 "--storage.tsdb.retention.time=100y",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT)
        peer = cls(proc, port, data_dir)
        try:
            peer._settle(expect_points, probe, probe_range, log_path=workdir / "prometheus.log")
        except BaseException:
            peer.stop()
            raise
        return peer

    def _settle(self, expect_points: int, probe: str, probe_range: tuple[float, float], log_path: Path) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        t = time.perf_counter()
        blocks_before: list[str] | None = None
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("prometheus did not get ready (or never answered the probe with every point):\n"
                                 + log_path.read_text()[-3000:])
            try:
                ready = self.client.get("/-/ready").status_code == 200
            except httpx.TransportError:
                ready = False
            if ready:
                # Settled: the same blocks as a second ago (no compaction at work), and every point visible.
                blocks = sorted(p.name for p in self.data_dir.iterdir() if (p / "meta.json").exists())
                if blocks == blocks_before:
                    series = self.query_range(probe, *probe_range, 60)
                    if series and len(series[0]["values"]) == expect_points:
                        print(f"Prometheus: ready and settled in {time.perf_counter() - t:.1f} s "
                              f"({len(blocks)} block(s))")
                        return
                blocks_before = blocks
            time.sleep(1)

    def query_range(self, query: str, start: float, end: float, step: int) -> list[dict[str, Any]]:
        """``/api/v1/query_range``'s matrix: ``[{"metric": {...}, "values": [[t, "v"], ...]}]``."""
        response = self.client.get("/api/v1/query_range",
                                   params={"query": query, "start": start, "end": end, "step": step})
        response.raise_for_status()
        return response.json()["data"]["result"]

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()  # by PID: SIGTERM, Prometheus's clean shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
