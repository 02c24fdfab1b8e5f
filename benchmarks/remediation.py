"""Remediation and canaries, each against the alternative measured in the same run.

    python benchmarks/remediation.py [--memos 5000] [--workers 2] [--latency-ms 80] [--quick]

1. Draining a backlog. N memos are submitted at once to a real runtime (`up`'s services: collector,
   alarm evaluation, remediation) and drained by a fixed pool of W workers, then by the same pool under
   the plan's §8 rule: HighQueueDepth (visible ≥ 1000) calls `remediation:scale_up`, and the scaler
   doubles the pool after each cooldown while the alarm holds, up to its maximum. Every memo's agent
   also asks an external service for its spoken reply (the ElevenLabs adapter against a local HTTP
   server that answers after --latency-ms): the work waits on the network as a real agent's does,
   which is what more workers help with. The alarm keeps CloudWatch's timing (a 60 s period, evaluated
   on complete periods), so scaling starts one to two minutes into the backlog.
2. Canary overhead. Pipeline throughput with no canary running, and with the plan's canaries run
   back to back in a second thread; the overhead at the plan's schedules is the measured one scaled
   by (run time of one round of canaries) / (the shortest schedule's interval). Target < 1 %.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from whispersync.app import build_runtime, run_health_check
from whispersync.domain import MemoStatus, Transcript
from whispersync.monitoring.synthetics import SyntheticsStore
from whispersync.settings import Settings

TEXT = ("Standup notes. Need to fix the flaky deploy test before Friday. Will follow up with Sam about the API"
        " review. Remember to update the release checklist.")

# The rule under test: HighQueueDepth at its documented threshold, a 60 s period (CloudWatch's shortest for
# standard-resolution metrics) and one evaluation period, so the benchmark does not wait ten minutes; a short
# cooldown so the doubling is visible within the run.
PLAN = """
[[alarms]]
name = "HighQueueDepth"
namespace = "WhisperSync/Queue"
metric_name = "ApproximateNumberOfMessagesVisible"
dimensions = { QueueName = "transcripts" }
statistic = "Maximum"
period = 60
evaluation_periods = 1
threshold = 1000
comparison_operator = "GreaterThanOrEqualToThreshold"
treat_missing_data = "missing"
priority = "P2"
alarm_actions = ["remediation:scale_up"]

[[remediation]]
name = "scale_up"
alarm = "HighQueueDepth"
action = "remediation:scale_up"
minimum = 1
maximum = %(maximum)d
cooldown_seconds = 10
stabilization_seconds = 60
max_actions_per_hour = 20
"""


class _SlowSpeech(BaseHTTPRequestHandler):
    """ElevenLabs' text-to-speech endpoint, answering after ``latency`` seconds."""

    latency = 0.08

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        time.sleep(self.latency)
        self.send_response(200)
        self.send_header("content-type", "audio/mpeg")
        self.send_header("content-length", "9")
        self.end_headers()
        self.wfile.write(b"ID3-audio")

    def log_message(self, *args):
        pass


def drain(memos: int, workers: int, *, remediation: bool, speech_url: str, maximum: int, workdir: Path) -> dict:
    """Seconds to drain ``memos`` submitted at once, and the pool sizes the scaler set on the way."""
    with tempfile.TemporaryDirectory(dir=workdir) as home:
        plan_file = Path(home) / "plan.toml"
        plan_file.write_text(PLAN % {"maximum": maximum})
        settings = Settings.load(home=Path(home), workers=workers, voice="elevenlabs", elevenlabs_api_key="bench",
                                 elevenlabs_url=speech_url, plan_file=plan_file, collector_interval=1,
                                 alarm_interval=1, compaction_interval=3600)
        runtime = build_runtime(settings)
        for n in range(memos):
            runtime.ingestor.accept(Transcript(text=f"{TEXT} ({n})", agent="work"))
        started = time.perf_counter()
        runtime.start(inbox=False, maintenance=False, sweep=False, checks=False, notifications=False,
                      alarms=remediation)
        sizes = [workers]
        while True:
            counts = runtime.records.count_by_status()
            if counts[MemoStatus.DONE.value] + counts[MemoStatus.FAILED.value] >= memos:
                break
            if runtime.pool.concurrency != sizes[-1]:
                sizes.append(runtime.pool.concurrency)
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        runtime.close()
        assert counts[MemoStatus.FAILED.value] == 0, counts
        return {"seconds": elapsed, "sizes": sizes}


def throughput(memos: int, workers: int, *, canaries: bool, workdir: Path) -> dict:
    """memos/s through the pipeline, with the plan's canaries run back to back alongside or not."""
    with tempfile.TemporaryDirectory(dir=workdir) as home:
        settings = Settings.load(home=Path(home), workers=workers, collector_interval=3600,
                                 compaction_interval=3600)
        runtime = build_runtime(settings)
        runs = SyntheticsStore(settings.monitoring_db)
        stop = threading.Event()
        rounds: list[float] = []

        def run_canaries() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                for check in runtime.health_checks:
                    run_health_check(runtime, check, runs)
                rounds.append(time.perf_counter() - t0)

        started = time.perf_counter()
        runtime.start(inbox=False, collector=False, maintenance=False, checks=False)
        thread = threading.Thread(target=run_canaries, daemon=True) if canaries else None
        if thread:
            thread.start()
        for n in range(memos):
            runtime.ingestor.accept(Transcript(text=f"{TEXT} ({n})", agent="work"))
        while True:
            counts = runtime.records.count_by_status()
            if counts[MemoStatus.DONE.value] + counts[MemoStatus.FAILED.value] >= memos:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        stop.set()
        if thread:
            thread.join()
        intervals = [c.interval_seconds for c in runtime.health_checks]
        runtime.close()
        runs.close()
        return {"rate": memos / elapsed, "rounds": rounds, "elapsed": elapsed, "shortest_interval": min(intervals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memos", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="the fixed pool, and the scaler's starting size")
    parser.add_argument("--maximum", type=int, default=16, help="the remediation rule's maximum pool size")
    parser.add_argument("--latency-ms", type=float, default=80.0, help="the external speech service's latency")
    parser.add_argument("--quick", action="store_true", help="2,000 memos and one throughput round")
    parser.add_argument("--dir", type=Path, default=Path(".bench-tmp"),
                        help="where the state goes (a real disk; /tmp may be much slower here)")
    args = parser.parse_args()
    memos = 2000 if args.quick else args.memos
    args.dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger().setLevel(logging.WARNING)

    _SlowSpeech.latency = args.latency_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowSpeech)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    print(f"== draining {memos} memos, {args.workers} workers, speech service {args.latency_ms:g} ms ==")
    fixed = drain(memos, args.workers, remediation=False, speech_url=url, maximum=args.maximum, workdir=args.dir)
    print(f"fixed pool of {args.workers}       : {fixed['seconds']:7.1f} s")
    scaled = drain(memos, args.workers, remediation=True, speech_url=url, maximum=args.maximum, workdir=args.dir)
    print(f"with remediation (max {args.maximum}): {scaled['seconds']:7.1f} s   pool sizes {scaled['sizes']}")
    print(f"remediation / fixed: {scaled['seconds'] / fixed['seconds']:.2f}")
    server.shutdown()

    print("\n== canary overhead ==")
    rounds = 1 if args.quick else 3
    off, on, per_round = [], [], []
    for _ in range(rounds):
        off.append(throughput(memos, 4, canaries=False, workdir=args.dir)["rate"])
        run = throughput(memos, 4, canaries=True, workdir=args.dir)
        on.append(run["rate"])
        per_round += run["rounds"]
    off_rate, on_rate = statistics.median(off), statistics.median(on)
    round_s = statistics.median(per_round) if per_round else 0.0
    measured = max(0.0, off_rate / on_rate - 1)
    interval = run["shortest_interval"]
    # Back to back, the canaries ran all the time; on their schedule they run round_s of every interval.
    scheduled = measured * round_s / interval
    print(f"no canaries           : {off_rate:8.0f} memos/s   {[round(r) for r in off]}")
    print(f"canaries back to back : {on_rate:8.0f} memos/s   {[round(r) for r in on]}"
          f"   ({len(per_round)} rounds of {round_s * 1000:.0f} ms)")
    print(f"overhead back to back : {measured * 100:6.2f} %")
    print(f"overhead on schedule  : {scheduled * 100:6.4f} %  (one round every {interval} s; target < 1 %)")


if __name__ == "__main__":
    main()
