"""Records built off the hot path (issue 15): with the telemetry store as its sink, Telemetry
keeps a log line, a finished span or a batch of metric points as the values they were made
of, and builds their records when the store flushes. What lands must be what an immediate
build would have written, as the caller saw it at the call."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson

from whispersync import catalog
from whispersync.monitoring.store import TelemetryStore
from whispersync.telemetry import MemorySink, Telemetry, correlation_scope

CID = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def written(root: Path, stream: str) -> list[dict]:
    return [orjson.loads(line) for path in sorted((root / stream).rglob("*.jsonl"))
            for line in path.read_bytes().splitlines()]


def some_telemetry(tel: Telemetry) -> None:
    """One memo's worth: spans with annotations, log lines, metric points (batched and single)."""
    log = tel.logger("whispersync.worker")
    with correlation_scope(CID), tel.tracer.span("worker", kind="CONSUMER") as span:
        span.put_annotation("memo_id", "m-1")
        log.info("Processing transcript", memo_id="m-1", receive_count=1, api_key="sk-live-0123456789abcdef")
        with tel.tracer.span("agent_processing") as inner:
            inner.put_metadata("transcript_length", 42)
        tel.metrics.record_many([(catalog.TRANSCRIPTS_PROCESSED, 1, {"Status": "Success"}),
                                 (catalog.WORKER_DURATION, 12.5, None)])
        tel.metrics.put("WhisperSync/Test", "Single", 3, unit="Count", dimensions={"Queue": "q"})
        log.warning("token=hunter22 in a message")


def without_volatile(record: dict) -> dict:
    volatile = {"timestamp", "trace_id", "span_id", "parent_span_id", "start_time_unix_nano",
                "end_time_unix_nano", "duration_ms"}
    return {k: v for k, v in record.items() if k not in volatile}


def test_a_store_gets_the_records_an_immediate_sink_gets(tmp_path):
    clock = iter(range(1_795_787_101_000_000_000, 1_795_787_200_000_000_000, 1_000_000))
    memory = MemorySink()
    some_telemetry(Telemetry(memory, clock_ns=lambda: next(clock)))
    store = TelemetryStore(tmp_path)
    tel = Telemetry(store, clock_ns=lambda: next(clock))
    assert tel._deferred is not None  # the store takes producers: records are deferred
    some_telemetry(tel)
    tel.flush()
    for stream in ("logs", "spans", "metrics"):
        got = [without_volatile(r) for r in written(tmp_path, stream)]
        assert got == [without_volatile(r) for r in memory.records[stream]], stream
    logs = written(tmp_path, "logs")
    assert logs[0]["api_key"] == "***" and logs[1]["message"] == "token=*** in a message"
    assert logs[0]["location"].startswith("some_telemetry:")
    assert logs[0]["trace_id"] == written(tmp_path, "spans")[-1]["trace_id"]
    store.close()


def test_nothing_is_built_until_the_store_flushes_and_then_everything_is(tmp_path):
    store = TelemetryStore(tmp_path, flush_interval=3600)
    tel = Telemetry(store)
    some_telemetry(tel)
    assert len(tel._deferred) == 6  # two log lines, two spans, one record_many batch, one put
    assert not list(tmp_path.rglob("*.jsonl"))
    store.flush()  # the store's own flush drains the producer first
    assert [len(written(tmp_path, s)) for s in ("logs", "spans", "metrics")] == [2, 2, 3]
    assert tel._deferred == [] and tel.faults == 0 and store.faults == 0
    store.close()


def test_the_writer_thread_writes_deferred_records_with_no_emit_to_wake_it(tmp_path):
    store = TelemetryStore(tmp_path, flush_interval=0.05)
    tel = Telemetry(store)  # add_producer starts the writer thread
    tel.logger("t").info("only a deferred line")
    deadline = time.monotonic() + 10
    while not written(tmp_path, "logs") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r["message"] for r in written(tmp_path, "logs")] == ["only a deferred line"]
    store.close()


def test_closing_the_store_writes_what_was_deferred(tmp_path):
    store = TelemetryStore(tmp_path, flush_interval=3600)
    tel = Telemetry(store)
    tel.logger("t").info("before close")
    store.close()
    assert [r["message"] for r in written(tmp_path, "logs")] == ["before close"]
    assert store.faults == 0


def test_a_record_shows_its_values_at_the_call_not_at_the_flush(tmp_path):
    store = TelemetryStore(tmp_path, flush_interval=3600)
    tel = Telemetry(store)
    tags = ["a"]
    tel.logger("t").info("a container is copied now", tags=tags, size=1)
    tags.append("b")
    with tel.tracer.span("s") as span:
        span.put_annotation("stage", "first")
        span.put_metadata("routing", {"reasons": tags})
    span.put_annotation("stage", "after the end")  # an ended span's fields are not its record's
    span.update_name("renamed after the end")
    tags.append("c")
    tel.flush()
    [line] = written(tmp_path, "logs")
    assert line["tags"] == ["a"]
    [record] = written(tmp_path, "spans")
    assert record["name"] == "s"
    assert record["annotations"]["stage"] == "first"
    assert record["metadata"]["routing"] == {"reasons": ["a", "b"]}
    store.close()


def test_a_span_with_plain_containers_waits_and_one_with_other_objects_is_built_now(tmp_path):
    """The worker's agent span carries its routing (a dict holding a list): copied at the end
    and built at the drain. An object of another kind could change unseen by a copy: that
    span is built at once, as before."""
    store = TelemetryStore(tmp_path, flush_interval=3600)
    tel = Telemetry(store)
    reasons = ["keyword: journal"]
    with tel.tracer.span("agent_processing") as span:
        span.put_metadata("routing", {"confidence": 0.9, "reasons": reasons, "pair": ("a", 1)})
    assert len(tel._deferred) == 1  # waiting, not built
    reasons.append("added after the end")

    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    with tel.tracer.span("other") as other:
        other.put_metadata("thing", {"value": Opaque()})
    assert len(tel._deferred) == 1  # built at once and handed to the store
    tel.flush()
    spans = {record["name"]: record for record in written(tmp_path, "spans")}  # the one built now lands first
    first, second = spans["agent_processing"], spans["other"]
    assert first["metadata"]["routing"] == {"confidence": 0.9, "reasons": ["keyword: journal"], "pair": ["a", 1]}
    assert second["metadata"]["thing"] == {"value": "opaque"}
    store.close()


def test_threads_logging_while_the_writer_drains_lose_and_repeat_nothing(tmp_path):
    store = TelemetryStore(tmp_path, flush_interval=0.001)
    tel = Telemetry(store)
    start = threading.Barrier(4)

    def work(n: int) -> None:
        log = tel.logger(f"thread-{n}")
        start.wait()
        for i in range(1500):
            log.info("line", n=n, i=i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tel.close()
    lines = written(tmp_path, "logs")
    assert sorted((r["n"], r["i"]) for r in lines) == [(n, i) for n in range(4) for i in range(1500)]
    for n in range(4):  # each thread's lines in the order it made them
        assert [r["i"] for r in lines if r["n"] == n] == list(range(1500))


def test_a_faulty_build_is_counted_and_the_rest_are_written(tmp_path):
    store = TelemetryStore(tmp_path, flush_interval=3600)
    tel = Telemetry(store)
    tel.logger("t").info("first")
    tel._defer(("logs", lambda: 1 / 0))
    tel.logger("t").info("second")
    tel.flush()
    assert [r["message"] for r in written(tmp_path, "logs")] == ["first", "second"]
    assert tel.faults == 1
    store.close()


def test_other_sinks_get_each_record_at_once():
    sink = MemorySink()
    tel = Telemetry(sink)
    assert tel._deferred is None
    tel.logger("t").info("now")
    assert [r["message"] for r in sink.records["logs"]] == ["now"]


def test_a_telemetry_dropped_without_a_flush_still_has_its_records_written(tmp_path):
    store = TelemetryStore(tmp_path, flush_interval=3600)
    Telemetry(store).logger("t").info("made by a Telemetry nobody keeps")
    import gc
    gc.collect()
    store.close()
    assert [r["message"] for r in written(tmp_path, "logs")] == ["made by a Telemetry nobody keeps"]


def test_the_thread_that_makes_a_full_batch_builds_it(tmp_path):
    """Records are built while still in the CPU's larger caches, and memory stays bounded
    when the sink has not flushed (DRAIN_AT)."""
    from whispersync.telemetry._telemetry import DRAIN_AT

    store = TelemetryStore(tmp_path, flush_interval=3600)
    tel = Telemetry(store)
    log = tel.logger("t")
    for i in range(DRAIN_AT - 1):
        log.info("line", i=i)
    assert len(tel._deferred) == DRAIN_AT - 1
    log.info("line", i=DRAIN_AT - 1)
    assert tel._deferred == []
    store.close()
    assert [r["i"] for r in written(tmp_path, "logs")] == list(range(DRAIN_AT))


def test_a_waiting_record_holds_few_objects_the_collector_counts(tmp_path, monkeypatch):
    """What deferred records hold counts towards the garbage collector's next collection,
    which promotes what is still alive towards full collections of the whole runtime (see
    DRAIN_AT): a waiting record keeps one flat tuple of values and the copies it needs, no
    span, no per-point tuples, no argument tuple beside its entry."""
    import gc

    from whispersync.telemetry import _telemetry

    monkeypatch.setattr(_telemetry, "DRAIN_AT", 10**9)
    store = TelemetryStore(tmp_path, flush_interval=3600)
    tel = Telemetry(store)
    some_telemetry(tel)  # warm: call-site and key caches fill once
    tel.drain()
    memos = 200
    gc.collect()
    gc.disable()
    try:
        start = gc.get_count()[0]
        for _ in range(memos):
            some_telemetry(tel)
        held = (gc.get_count()[0] - start) / memos
    finally:
        gc.enable()
    assert len(tel._deferred) == 6 * memos  # two lines, two spans, a batch, a point: all waiting
    # 16 today: 6 entries, 2 log field dicts, 3 span annotation and metadata copies, the
    # batch list and its 2 dimension dicts, the point's record and dimensions. The
    # nested design before held ~34 (argument tuples, the spans and their containers).
    assert held <= 20, held
    tel.drain()
    store.close()
