"""The open-standards exporters: OTLP out on the memo path, and `/metrics` with 10,000 series.

    python benchmarks/exporters.py [--memos 5000] [--rounds 5] [--runs 7] [--workers 4] [--quick]

Prints, each beside a peer measured in the same run:

  1. per-memo telemetry cost with OTLP export off and on. The telemetry one memo emits in
     the real pipeline (captured and replayed as benchmarks/pipeline.py does) goes through
     WhisperSync's SDK into the telemetry store (off), or into TeeSink(store, OtlpExporter)
     with the exporter sending to a real OTLP/HTTP receiver on loopback that accepts and
     discards (on; a tiny http.server in its own process, so it does not share our GIL).
     Rounds alternate off/on (which goes first alternates too); medians.
       memo path: the replay loop plus the store's flush, what a memo's thread pays;
                  the exporter's thread batches, encodes and sends meanwhile.
       drain:     then the wait until the exporter has sent everything buffered.
     The exporter has `up`'s settings but a buffer that holds the whole replay: a tight loop
     of memos outruns the sender, and what a full buffer drops is never encoded, which
     would make export look cheaper than it is (with the default 20,000 records, about
     40 % of a 5,000-memo replay is dropped and counted).
     Target: memo path on / off <= 1.10. Also printed: the exporter thread's encoding
     cost per memo (protobuf), and what the exporter sent, dropped and failed; then memos/s
     through the whole local pipeline (benchmarks/pipeline.py's run) with
     WHISPERSYNC_OTLP_ENDPOINT unset and set to the same receiver, alternating.
  2. `/metrics` with 10,000 series (5,000 counter series of TranscriptsProcessed{AgentType,
     Status}, 5,000 gauge series of ApproximateNumberOfMessagesVisible{QueueName}): our
     TelemetryCollector, filled through the telemetry listener, rendered by prometheus_client's
     generate_latest, beside prometheus_client's own Counter and Gauge holding the same
     series rendered by generate_latest (both in this process; the peer's `_created` series
     are turned off, as ours has none, so both render the same 10,000 samples). Then a real
     `GET /metrics` over one keep-alive loopback connection to the API app (uvicorn in a
     thread of this process) whose collector holds the same series. Target < 100 ms.

Benchmarks report, they do not gate: the exit code is 0; misses are marked MISSED.
`--quick` (1,000 memos, 3 rounds, 3 runs) is a smoke run.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline import capture_one_memo, pipeline_throughput, replay_ours, time_per_memo  # benchmarks/pipeline.py
from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from whispersync import catalog
from whispersync.app import build_runtime
from whispersync.monitoring.store import TelemetryStore
from whispersync.settings import Settings
from whispersync.telemetry import MemorySink, OtlpExporter, TeeSink, Telemetry
from whispersync.web import create_app
from whispersync.web.prometheus import TelemetryCollector

OVERHEAD_TARGET = 1.10
SCRAPE_TARGET_MS = 100.0
SERIES = 10_000

# The receiver: answers every POST with an empty 200 (a valid OTLP/HTTP success: no partial_success).
RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", self.headers.get("content-type") or "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# ------------------------------------------------------------------ 1. OTLP on vs off


def otlp_costs(memos: int, rounds: int) -> None:
    records = capture_one_memo()
    per_memo = {stream: len(rs) for stream, rs in records.items()}
    print(f"one memo's telemetry: {per_memo['logs']} log lines, {per_memo['metrics']} metric datapoints, "
          f"{per_memo['spans']} spans")
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        wait_listening(port)
        endpoint = f"http://127.0.0.1:{port}"
        off: list[float] = []
        on: list[float] = []
        drain: list[float] = []
        totals = {"sent": 0, "dropped": 0, "failed": 0}
        with tempfile.TemporaryDirectory(prefix="exporters-bench-") as tmp:
            for r in range(rounds):
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                for mode in order:
                    store = TelemetryStore(Path(tmp) / f"{mode}-{r}")
                    if mode == "off":
                        tel = Telemetry(store)
                        off.append(time_per_memo(replay_ours(tel, records), memos, store.flush))
                        tel.close()
                        continue
                    # `up`'s defaults but a buffer for the whole replay: a tight loop of memos outruns the
                    # sender, and a record dropped from a full buffer is never encoded, which would hide cost.
                    exporter = OtlpExporter(endpoint, loss_sink=store, max_buffer=memos * sum(per_memo.values()))
                    tel = Telemetry(TeeSink(store, exporter))
                    on.append(time_per_memo(replay_ours(tel, records), memos, store.flush))
                    started = time.perf_counter()
                    exporter.flush(timeout=120)
                    drain.append((time.perf_counter() - started) / memos * 1e6)
                    tel.close()
                    for key in totals:
                        totals[key] += getattr(exporter, key)
            encode_us = encoding_cost(records, endpoint)
        emitted = sum(per_memo.values()) * memos * rounds
        ratio = statistics.median(on) / statistics.median(off)
        print(f"runs (µs/memo): off {[round(v, 1) for v in off]}  on {[round(v, 1) for v in on]}")
        print(f"store only (export off)          : {statistics.median(off):8.1f} µs/memo")
        print(f"store + OTLP export, memo path   : {statistics.median(on):8.1f} µs/memo")
        print(f"  then the exporter's drain      : {statistics.median(drain):8.1f} µs/memo (off the memo path)")
        both = statistics.median([a + b for a, b in zip(on, drain)])
        print(f"  memo path + drain              : {both:8.1f} µs/memo   "
              f"(/ off: {both / statistics.median(off):.3f})")
        print(f"  exporter thread encoding       : {encode_us:8.1f} µs/memo (protobuf, off the memo path)")
        print(f"  records: {emitted:,} emitted, {totals['sent']:,} sent, {totals['dropped']:,} dropped "
              f"(buffer full), {totals['failed']:,} failed")
        if totals["dropped"]:
            print("  (records were dropped, never encoded: the on figures are then too low)")
        print(f"memo path on / off: {ratio:.3f}   (target ≤ {OVERHEAD_TARGET:.2f})  "
              f"{'ok' if ratio <= OVERHEAD_TARGET else 'MISSED'}")
    finally:
        receiver.terminate()
        receiver.wait(10)


def pipeline_rate(memos: int, workers: int, endpoint: str | None, workdir: Path) -> float:
    """memos/s through the whole local pipeline (benchmarks/pipeline.py's loop), OTLP export to
    ``endpoint`` when given; the exporter's drain at the end (telemetry flush) is counted."""
    return pipeline_throughput(memos, workers, True, workdir, otlp_endpoint=endpoint)


def pipeline_rates(memos: int, workers: int, rounds: int, workdir: Path) -> None:
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        wait_listening(port)
        runs: dict[str, list[float]] = {"off": [], "on": []}
        for r in range(rounds):
            for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
                endpoint = f"http://127.0.0.1:{port}" if mode == "on" else None
                runs[mode].append(pipeline_rate(memos, workers, endpoint, workdir))
    finally:
        receiver.terminate()
        receiver.wait(10)
    off, on = statistics.median(runs["off"]), statistics.median(runs["on"])
    print(f"runs (memos/s): off {[round(v) for v in runs['off']]}  on {[round(v) for v in runs['on']]}")
    print(f"whole pipeline, export off: {off:7.0f} memos/s")
    print(f"whole pipeline, export on : {on:7.0f} memos/s   (off / on: {off / on:.3f})")


def encoding_cost(records: dict[str, list[dict]], endpoint: str, memos: int = 200) -> float:
    """µs per memo the exporter's thread spends building the Export*ServiceRequests (median of 5).

    The records are those of `memos` replayed memos, each with its own trace, span and correlation ids,
    as the exporter gets them: copies of one memo's records would make every id repeat, which flatters
    an encoder that keeps what repeats."""
    sink = MemorySink()
    tel = Telemetry(sink)
    replay = replay_ours(tel, records)
    for n in range(memos):
        replay(f"encoding-{n}")
    tel.close()
    exporter = OtlpExporter(endpoint)
    batches = [("traces", sink.records["spans"]), ("logs", sink.records["logs"]),
               ("metrics", sink.records["metrics"])]
    times = []
    for _ in range(5):
        started = time.perf_counter()
        for signal, batch in batches:
            exporter.encode(signal, batch)
        times.append((time.perf_counter() - started) / memos * 1e6)
    exporter.close()
    return statistics.median(times)


# ------------------------------------------------------------------ 2. /metrics with 10,000 series


def datapoints(n: int) -> list[tuple[catalog.Metric, float, dict[str, str]]]:
    """n distinct series: half TranscriptsProcessed{AgentType, Status}, half queue depths by QueueName."""
    half = n // 2
    points = []
    for i in range(half):
        points.append((catalog.TRANSCRIPTS_PROCESSED, float(i % 7 + 1),
                       {"AgentType": f"agent-{i // 2:05d}", "Status": ("Success", "Failure")[i % 2]}))
    for i in range(n - half):
        points.append((catalog.QUEUE_VISIBLE, float(i % 100), {"QueueName": f"queue-{i:05d}"}))
    return points


class Discard:
    """A sink that keeps nothing (NullSink would turn the telemetry off, listeners included)."""

    def emit(self, stream: str, record: dict) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def fill(telemetry: Telemetry, points) -> None:
    for metric, value, dimensions in points:
        telemetry.metrics.record(metric, value, dimensions)


def peer_registry(points) -> CollectorRegistry:
    """prometheus_client's own Counter and Gauge holding the same series."""
    registry = CollectorRegistry()
    processed = Counter("whispersync_business_transcripts_processed", "TranscriptsProcessed",
                        ["agent_type", "status"], registry=registry)
    visible = Gauge("whispersync_queue_approximate_number_of_messages_visible", "ApproximateNumberOfMessagesVisible",
                    ["queue_name"], registry=registry)
    for metric, value, dims in points:
        if metric is catalog.TRANSCRIPTS_PROCESSED:
            processed.labels(agent_type=dims["AgentType"], status=dims["Status"]).inc(value)
        else:
            visible.labels(queue_name=dims["QueueName"]).set(value)
    return registry


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if not s.name.startswith(("process_", "python_"))}


def medians_ms(first: Callable[[], object], second: Callable[[], object], runs: int) -> tuple[float, float]:
    """Interleaved: first, second, first, second...; one warm-up each; the medians in ms."""
    first(), second()
    a, b = [], []
    for _ in range(runs):
        for fn, out in ((first, a), (second, b)):
            started = time.perf_counter()
            fn()
            out.append((time.perf_counter() - started) * 1e3)
    return statistics.median(a), statistics.median(b)


def scrape_times(runs: int) -> None:
    disable_created_metrics()  # the peer's Counter would add a _created sample per series; ours has none
    points = datapoints(SERIES)
    collector = TelemetryCollector()
    telemetry = Telemetry(Discard())
    telemetry.add_listener(collector.listen)
    started = time.perf_counter()
    fill(telemetry, points)
    fill_ms = (time.perf_counter() - started) * 1e3
    ours = CollectorRegistry(auto_describe=False)
    ours.register(collector)
    peer = peer_registry(points)
    ours_text, peer_text = generate_latest(ours).decode(), generate_latest(peer).decode()
    ours_samples, peer_samples = samples(ours_text), samples(peer_text)
    assert len(ours_samples) == SERIES and ours_samples == peer_samples, (len(ours_samples), len(peer_samples))
    ours_ms, peer_ms = medians_ms(lambda: generate_latest(ours), lambda: generate_latest(peer), runs)
    print(f"{SERIES:,} series filled through the telemetry listener in {fill_ms:.0f} ms "
          f"({fill_ms / SERIES * 1e3:.1f} µs/datapoint); {len(ours_text):,} bytes of exposition")
    print(f"generate_latest, our TelemetryCollector        : {ours_ms:7.1f} ms")
    print(f"generate_latest, prometheus_client Counter/Gauge: {peer_ms:7.1f} ms")
    print(f"ours / prometheus_client: {ours_ms / peer_ms:.2f}")

    with tempfile.TemporaryDirectory(prefix="exporters-bench-") as tmp:
        runtime = build_runtime(Settings.load(home=Path(tmp) / "home", collector_interval=3600,
                                              compaction_interval=3600))
        app = create_app(runtime)  # attaches its collector to runtime.telemetry
        fill(runtime.telemetry, points)
        import uvicorn

        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            wait_listening(port)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def scrape() -> bytes:
                connection.request("GET", "/metrics", headers={"Accept": "text/plain"})
                answer = connection.getresponse()
                body = answer.read()
                assert answer.status == 200, (answer.status, body[:300])
                return body

            served = samples(scrape().decode())
            assert served == ours_samples, (len(served), len(ours_samples))
            http_ms, direct_ms = medians_ms(scrape, lambda: generate_latest(ours), runs)
            ok = http_ms < SCRAPE_TARGET_MS
            print(f"GET /metrics over loopback (uvicorn, keep-alive): {http_ms:7.1f} ms   "
                  f"(target < {SCRAPE_TARGET_MS:.0f} ms)  {'ok' if ok else 'MISSED'}")
            print(f"  beside generate_latest in process, same run   : {direct_ms:7.1f} ms")
            connection.close()
        finally:
            server.should_exit = True
            thread.join(10)
            runtime.close(timeout=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memos", type=int, default=5000, help="memos replayed per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating off/on rounds; medians")
    parser.add_argument("--runs", type=int, default=7, help="timed scrapes per row, after one warm-up")
    parser.add_argument("--workers", type=int, default=4, help="worker threads in the whole-pipeline rows")
    parser.add_argument("--dir", type=Path, default=Path(".bench-tmp"),
                        help="where the pipeline's state goes (a real disk; /tmp may be much slower here)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 memos, 3 rounds, 3 runs")
    args = parser.parse_args()
    memos, rounds, runs = (1000, 3, 3) if args.quick else (args.memos, args.rounds, args.runs)
    logging.getLogger().setLevel(logging.WARNING)
    args.dir.mkdir(parents=True, exist_ok=True)

    print(f"== per-memo telemetry cost, OTLP export off vs on ({memos} memos x {rounds} rounds) ==")
    otlp_costs(memos, rounds)
    pipeline_memos = min(memos, 2000)
    print(f"\n== whole pipeline, OTLP export off vs on ({pipeline_memos} memos, {args.workers} workers, "
          f"{min(rounds, 3)} rounds) ==")
    pipeline_rates(pipeline_memos, args.workers, min(rounds, 3), args.dir)
    print(f"\n== /metrics with {SERIES:,} series ({runs} runs per row, interleaved) ==")
    scrape_times(runs)


if __name__ == "__main__":
    main()
