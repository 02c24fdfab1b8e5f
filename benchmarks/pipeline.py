"""Pipeline throughput and the per-memo cost of telemetry, against peers in the same run.

    python benchmarks/pipeline.py [--memos 5000] [--workers 4] [--telemetry-only]

Prints:
  1. memos/s through the whole local pipeline (ingest → SQLite queue → workers →
     agents → outputs) with telemetry on and off, a run of each per round (the order
     alternating); the overhead is the median of the rounds' overheads.
  2. the CPU time telemetry adds to a memo in place: two runtimes, one with telemetry
     and one without, take memos in turn in one thread, each memo timed; the load
     of the moment on a shared machine falls on both alike. User and system time
     apart: telemetry's code is user time, and the system time (the pipeline's own
     file work) differs between the two runtimes by hundreds of µs a memo from run
     to run, most of the spread of the total.
  3. the telemetry one memo emits (the same logs, metrics and spans, replayed)
     through WhisperSync's SDK into its store, through aws-lambda-powertools
     Logger + single_metric and the OpenTelemetry SDK (batch span processor), and
     through the floor: orjson.dumps + a buffered write of the same records;
     the three take chunks of 200 memos in turn, each chunk ending with its flush;
     a ratio is the median of the chunks' ratios (a load coming and going moves
     both sides of neighbouring chunks alike).
     The worker's metric points go through metrics.record_many, as the worker
     records them.
Targets (2 cores; issue 15): ≥ 300 memos/s with telemetry on; overhead ≤ 5 %;
our per-memo cost ≤ 0.15 × Powertools + OTel and ≤ 8 × the floor.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import logging
import resource
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from whispersync import catalog
from whispersync.app import build_runtime
from whispersync.domain import MemoStatus, Transcript
from whispersync.monitoring.store import TelemetryStore
from whispersync.settings import Settings
from whispersync.telemetry import MemorySink, Telemetry, correlation_scope

TARGET_OVERHEAD_PCT = 5
TARGET_VS_PEER = 0.15  # ours / Powertools + OTel, per memo
TARGET_VS_FLOOR = 8  # ours / floor, per memo


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


TEXTS = {
    "work": "Standup notes. Need to fix the flaky deploy test before Friday. Will follow up with Sam about "
            "the API review. Remember to update the release checklist.",
    "memory": "Today I walked along the river in Porto with my sister Ana. We had coffee at a tiny cafe "
              "and laughed about our childhood. A lovely, calm afternoon.",
    "github_ideas": "Project idea: a command line tool in Python that watches a folder of voice memos and "
                    "publishes a static website with a search box. Features: tagging, RSS feed, dark mode.",
}


# --------------------------------------------------------------------- throughput


@contextlib.contextmanager
def frozen_start_up():
    """What `whispersync up` does once started: the objects made so far are frozen out of the
    garbage collector's full collections. Undone after the run, so rounds do not pile up."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def pipeline_throughput(memos: int, workers: int, telemetry: bool, workdir: Path, **settings_overrides) -> float:
    """memos/s through the whole local pipeline; ``settings_overrides`` (e.g. ``otlp_endpoint``) go to Settings."""
    return pipeline_run(memos, workers, telemetry, workdir, **settings_overrides)[0]


def pipeline_run(memos: int, workers: int, telemetry: bool, workdir: Path,
                 **settings_overrides) -> tuple[float, float, float]:
    """(memos/s, this process's user and system CPU µs per memo) through the whole local pipeline."""
    with tempfile.TemporaryDirectory(dir=workdir) as home:
        settings = Settings.load(home=Path(home), telemetry=telemetry, workers=workers,
                                 collector_interval=3600, compaction_interval=3600, **settings_overrides)
        runtime = build_runtime(settings)
        agents = list(TEXTS)
        with frozen_start_up():
            started, usage_started = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            runtime.start(inbox=False, collector=False, maintenance=False)
            for n in range(memos):
                agent = agents[n % len(agents)]
                runtime.ingestor.accept(Transcript(text=f"{TEXTS[agent]} ({n})", agent=agent,
                                                   recorded_at="2026-11-25T10:00:00Z"))
            while True:
                counts = runtime.records.count_by_status()
                finished = counts[MemoStatus.DONE.value] + counts[MemoStatus.FAILED.value]
                if finished >= memos:
                    break
                time.sleep(0.05)
            runtime.pool.stop()
            runtime.telemetry.flush()
            elapsed, usage = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
            assert counts[MemoStatus.FAILED.value] == 0, counts
            runtime.close()
        user, system = usage.ru_utime - usage_started.ru_utime, usage.ru_stime - usage_started.ru_stime
        return memos / elapsed, user / memos * 1e6, system / memos * 1e6


def interleaved_cost(memos: int, workdir: Path, flush_every: int = 200) -> dict[bool, tuple[float, float]]:
    """{telemetry: (user, system)}: thread CPU µs per memo, ingest to done, with memos
    alternating between a runtime with telemetry and one without. Each side's telemetry
    is flushed in its own timed part every ``flush_every`` memos (the writer thread is
    held back), so writing the lines and the metric filters are counted too.

    User and system time apart: the pipeline's own file work (SQLite, the agents'
    outputs) is most of a memo's system time here, and it moves by hundreds of µs
    between the two runtimes' files (a checkpoint, a directory's growth) where
    telemetry's code runs in user time."""
    with tempfile.TemporaryDirectory(dir=workdir) as home:
        runtimes = {}
        for telemetry in (True, False):
            settings = Settings.load(home=Path(home) / ("on" if telemetry else "off"), telemetry=telemetry,
                                     workers=1, collector_interval=3600, compaction_interval=3600)
            runtimes[telemetry] = build_runtime(settings)
            runtimes[telemetry].store.flush_interval = 3600  # flushed below, inside the timed part
        time.sleep(0.6)  # the writer threads' first wait (flush_interval 0.5 s) ends; the next is an hour
        with frozen_start_up():  # as `up` does once started
            cpu = {True: [0.0, 0.0], False: [0.0, 0.0]}
            agents = list(TEXTS)
            usage, this_thread = resource.getrusage, resource.RUSAGE_THREAD
            for n in range(memos):
                agent = agents[n % len(agents)]
                transcript = Transcript(text=f"{TEXTS[agent]} ({n})", agent=agent, recorded_at="2026-11-25T10:00:00Z")
                for telemetry in (True, False) if n % 2 == 0 else (False, True):
                    runtime = runtimes[telemetry]
                    before = usage(this_thread)
                    runtime.ingestor.accept(transcript)
                    for message in runtime.queue.receive(1):
                        runtime.processor.process(message)
                    if n % flush_every == flush_every - 1:
                        runtime.telemetry.flush()
                    after = usage(this_thread)
                    side = cpu[telemetry]
                    side[0] += after.ru_utime - before.ru_utime
                    side[1] += after.ru_stime - before.ru_stime
        for runtime in runtimes.values():
            counts = runtime.records.count_by_status()
            assert counts[MemoStatus.DONE.value] == memos, counts
            runtime.close()
        return {k: (user / memos * 1e6, system / memos * 1e6) for k, (user, system) in cpu.items()}


# ------------------------------------------------------------------ per-memo cost


def capture_one_memo() -> dict[str, list[dict]]:
    """The exact telemetry records one memo produces in the real pipeline."""
    with tempfile.TemporaryDirectory() as home:
        runtime = build_runtime(Settings.load(home=Path(home)))
        sink = MemorySink()
        tel = Telemetry(sink)
        runtime.ingestor.telemetry = runtime.processor.telemetry = tel
        runtime.ingestor._log = tel.logger("whispersync.ingest")
        runtime.processor._log = tel.logger("whispersync.worker")
        runtime.ingestor.accept(Transcript(text=TEXTS["work"], agent="work"))
        [message] = runtime.queue.receive(1)
        runtime.processor.process(message)
        runtime.close()
        return sink.records


_LOG_KEYS = {"level", "location", "message", "timestamp", "service", "logger", "correlation_id", "trace_id",
             "span_id"}


def _span_tree(spans: list[dict]) -> list[tuple[dict, list]]:
    children: dict[str | None, list[dict]] = {}
    ids = {s["span_id"] for s in spans}
    for s in sorted(spans, key=lambda s: s["start_time_unix_nano"]):
        parent = s["parent_span_id"] if s["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(s)

    def build(parent):
        return [(s, build(s["span_id"])) for s in children.get(parent, [])]

    return build(None)


@dataclasses.dataclass(frozen=True)
class _Identity:
    """A metric as the catalog declares it, for record_many."""
    namespace: str
    name: str
    unit: str
    dimensions: dict = dataclasses.field(default_factory=dict)


_WORKER_METRICS = {(m.namespace, m.name) for m in (
    catalog.TRANSCRIPTS_PROCESSED, catalog.PROCESSING_DURATION, catalog.MEMO_LATENCY, catalog.MEMOS_FAILED,
    catalog.WORKER_INVOCATIONS, catalog.WORKER_ERRORS, catalog.WORKER_DURATION)}


def replay_ours(tel: Telemetry, records: dict[str, list[dict]]):
    """Emit one memo's telemetry through WhisperSync's SDK, in the pipeline's order."""
    log = tel.logger("whispersync.worker")
    logs = [(r["message"], {k: v for k, v in r.items() if k not in _LOG_KEYS}) for r in records["logs"]]
    # The worker records its points in one record_many call, the ingester puts its own: replay both so.
    batched = [(_Identity(m["namespace"], m["name"], m["unit"]), m["value"], m["dimensions"])
               for m in records["metrics"] if (m["namespace"], m["name"]) in _WORKER_METRICS]
    metrics = [(m["namespace"], m["name"], m["value"], m["unit"], m["dimensions"]) for m in records["metrics"]
               if (m["namespace"], m["name"]) not in _WORKER_METRICS]
    tree = _span_tree(records["spans"])
    put, record_many = tel.metrics.put, tel.metrics.record_many
    span = tel.tracer.span

    def emit_spans(nodes):
        for record, kids in nodes:
            with span(record["name"], kind=record["kind"]) as s:
                for k, v in record["annotations"].items():
                    if k != "correlation_id":
                        s.put_annotation(k, v)
                for k, v in record["metadata"].items():
                    s.put_metadata(k, v)
                emit_spans(kids)

    def one_memo(cid: str) -> None:
        with correlation_scope(cid):
            emit_spans(tree)
            for message, fields in logs:
                log.info(message, **fields)
            for namespace, name, value, unit, dims in metrics:
                put(namespace, name, value, unit=unit, dimensions=dims)
            record_many(batched)

    return one_memo


_POWERTOOLS: dict = {}


def replay_powertools_otel(records: dict[str, list[dict]], out):
    """The same telemetry with aws-lambda-powertools Logger/single_metric and the OTel SDK."""
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind

    class FileExporter(SpanExporter):
        def export(self, spans):
            for s in spans:
                out.write(s.to_json(indent=None) + "\n")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    processor = BatchSpanProcessor(FileExporter())
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("whispersync")
    # Powertools configures a service's logger once per process; later rounds re-point its stream.
    if "logger" not in _POWERTOOLS:
        _POWERTOOLS["handler"] = logging.StreamHandler(out)
        _POWERTOOLS["logger"] = Logger(service="whispersync", logger_handler=_POWERTOOLS["handler"])
    _POWERTOOLS["handler"].stream = out  # not setStream(): it flushes the previous, closed file
    logger = _POWERTOOLS["logger"]
    logs = [(r["message"], {k: v for k, v in r.items() if k not in _LOG_KEYS}) for r in records["logs"]]
    metrics = [(m["namespace"], m["name"], m["value"], MetricUnit(m["unit"]), m["dimensions"])
               for m in records["metrics"]]
    tree = _span_tree(records["spans"])
    kinds = {k.name: k for k in SpanKind}

    def emit_spans(nodes):
        for record, kids in nodes:
            with tracer.start_as_current_span(record["name"], kind=kinds[record["kind"]]) as s:
                for k, v in record["annotations"].items():
                    s.set_attribute(k, v)
                for k, v in record["metadata"].items():
                    s.set_attribute(f"metadata.{k}", orjson.dumps(v).decode())
                emit_spans(kids)

    def one_memo(cid: str) -> None:
        logger.append_keys(correlation_id=cid)
        emit_spans(tree)
        for message, fields in logs:
            logger.info(message, extra=fields)
        with contextlib.redirect_stdout(out):
            for namespace, name, value, unit, dims in metrics:
                with single_metric(name=name, unit=unit, value=value, namespace=namespace) as metric:
                    for k, v in dims.items():
                        metric.add_dimension(name=k, value=v)

    return one_memo, provider.force_flush, provider.shutdown


def replay_floor(records: dict[str, list[dict]], out):
    flat = [r for stream in ("logs", "metrics", "spans") for r in records[stream]]
    dumps = orjson.dumps

    def one_memo(cid: str) -> None:
        for record in flat:
            out.write(dumps(record) + b"\n")

    return one_memo


def time_per_memo(one_memo, n: int, finish=lambda: None) -> float:
    """µs per memo, including a final flush so deferred work is counted."""
    cids = [f"bench-{i}" for i in range(n)]
    started = time.perf_counter()
    for cid in cids:
        one_memo(cid)
    finish()
    return (time.perf_counter() - started) / n * 1e6


WARM_UP = 20


def per_memo_costs(n: int, chunk: int = 200) -> dict[str, list[float]]:
    """µs per memo of each engine in each chunk of *chunk* memos, each chunk ending with its flush.

    The engines take chunks in turn, the order rotating, so a load that comes and goes on a
    shared machine falls on all three alike: timed in a round of its own (3,000 memos,
    ~50 ms), one busy moment moved the floor's time, and the round's ratio, twofold. Each
    chunk follows WARM_UP untimed memos of the same engine: the others' chunks evict its
    code from the CPU's caches, and in a 5 ms chunk of the floor a cold start would count
    as much as the work.
    """
    records = capture_one_memo()
    results: dict[str, list[float]] = {"ours": [], "powertools_otel": [], "floor": []}
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "pt.log", "w", buffering=1 << 16) as pt_out, \
            open(Path(tmp) / "floor.log", "wb", buffering=1 << 16) as floor_out:
        tel = Telemetry(TelemetryStore(Path(tmp) / "store"))
        pt_one, pt_flush, pt_shutdown = replay_powertools_otel(records, pt_out)
        engines = {
            "ours": (replay_ours(tel, records), tel.flush),
            "powertools_otel": (pt_one, lambda: (pt_flush(), pt_out.flush())),
            "floor": (replay_floor(records, floor_out), floor_out.flush),
        }
        names = list(engines)
        for c in range(max(1, n // chunk)):
            for name in names[c % 3:] + names[:c % 3]:
                one, finish = engines[name]
                time_per_memo(one, WARM_UP, finish)  # untimed: each engine's chunk starts warm
                results[name].append(time_per_memo(one, chunk, finish))
        tel.close()
        pt_shutdown()
    counts = {k: len(v) for k, v in records.items()}
    print(f"one memo's telemetry: {counts['logs']} log lines, {counts['metrics']} metric datapoints, "
          f"{counts['spans']} spans")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memos", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of one run with telemetry and one without; the median round is reported")
    parser.add_argument("--dir", type=Path, default=Path(".bench-tmp"),
                        help="where the pipeline's state goes (a real disk; /tmp may be much slower here)")
    parser.add_argument("--telemetry-only", action="store_true",
                        help="skip the pipeline throughput runs; only the per-memo telemetry cost")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger().setLevel(logging.WARNING)
    if not args.telemetry_only:
        pipeline_overhead(args)
        print_interleaved_cost(args)
    print_per_memo_costs(args.memos)


def pipeline_overhead(args: argparse.Namespace) -> None:
    print(f"== pipeline: {args.memos} memos, {args.workers} workers, deterministic agents ==")
    runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    for r in range(args.rounds):
        # On then off, then off then on: neither side always runs first (a cold disk cache, a warm CPU).
        for telemetry in (True, False) if r % 2 == 0 else (False, True):
            runs[telemetry].append(pipeline_run(args.memos, args.workers, telemetry, args.dir))
    rates = {k: [run[0] for run in v] for k, v in runs.items()}
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    # The median of each round's overhead: the two runs of a round share the machine's load of the moment.
    overheads = [(f / o - 1) * 100 for o, f in zip(rates[True], rates[False])]
    overhead = statistics.median(overheads)
    print("runs (memos/s):", {("on" if k else "off"): [round(v) for v in vs] for k, vs in rates.items()})
    print("each round's overhead (%):", [round(v, 1) for v in overheads])
    print(f"telemetry on : {on:8.0f} memos/s   (target ≥ 300: {met(on >= 300)})")
    print(f"telemetry off: {off:8.0f} memos/s")
    print(f"telemetry overhead: {overhead:5.1f} %   (target ≤ {TARGET_OVERHEAD_PCT} %: "
          f"{met(overhead <= TARGET_OVERHEAD_PCT)})")
    # CPU time moves less than wall time when other jobs share the machine: a second view of
    # the same cost. Workers share one GIL, so the throughput overhead runs above the CPU share.
    user_on, user_off = (statistics.median(run[1] for run in runs[k]) for k in (True, False))
    sys_on, sys_off = (statistics.median(run[2] for run in runs[k]) for k in (True, False))
    cpu_on, cpu_off = user_on + sys_on, user_off + sys_off
    print(f"CPU per memo: on {cpu_on:.0f} µs, off {cpu_off:.0f} µs; telemetry {cpu_on - cpu_off:.0f} µs "
          f"({(cpu_on / cpu_off - 1) * 100:.1f} %): user {user_on - user_off:.0f} µs, system {sys_on - sys_off:.0f} µs")


def print_interleaved_cost(args: argparse.Namespace) -> None:
    print(f"\n== in place: {args.memos} memos in one thread, alternating between telemetry on and off ==")
    cost = interleaved_cost(args.memos, args.dir)
    (on_user, on_sys), (off_user, off_sys) = cost[True], cost[False]
    on, off = on_user + on_sys, off_user + off_sys
    print(f"CPU per memo: on {on:.0f} µs, off {off:.0f} µs; telemetry {on - off:.0f} µs ({(on / off - 1) * 100:.1f} %)")
    print(f"  user:   on {on_user:.0f}, off {off_user:.0f}; telemetry {on_user - off_user:.0f} µs "
          f"({(on_user - off_user) / off * 100:.1f} % of a memo's CPU)")
    print(f"  system: on {on_sys:.0f}, off {off_sys:.0f}; telemetry {on_sys - off_sys:.0f} µs "
          f"(the pipeline's file work; moves by hundreds of µs between runs)")


def print_per_memo_costs(memos: int, chunk: int = 200) -> None:
    print(f"\n== per-memo telemetry cost ({memos} memos replayed per engine, in chunks of {chunk} taken in turn) ==")
    costs = per_memo_costs(memos, chunk)
    for label, key in (("WhisperSync SDK + store", "ours"), ("Powertools Logger/Metrics+OTel", "powertools_otel"),
                       ("floor (orjson + buffered write)", "floor")):
        print(f"{label:31}: {statistics.median(costs[key]):8.1f} µs/memo  (min-max {min(costs[key]):.1f}-"
              f"{max(costs[key]):.1f})")
    # Each chunk's ratio, then their median: the engines took neighbouring chunks, so a load
    # that comes and goes on a shared machine moves both sides of a chunk's ratio alike.
    vs_peer = statistics.median(o / p for o, p in zip(costs["ours"], costs["powertools_otel"]))
    vs_floor = statistics.median(o / f for o, f in zip(costs["ours"], costs["floor"]))
    print("ratios: the median of each chunk's ratio")
    print(f"ours / Powertools+OTel: {vs_peer:.3f}   (target ≤ {TARGET_VS_PEER}: {met(vs_peer <= TARGET_VS_PEER)})")
    print(f"ours / floor:           {vs_floor:.2f}    (target ≤ {TARGET_VS_FLOOR}: {met(vs_floor <= TARGET_VS_FLOOR)})")


if __name__ == "__main__":
    main()
