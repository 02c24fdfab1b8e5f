from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from whispersync.agents import ElevenLabsVoice
from whispersync.domain import MemoStatus, Transcript
from whispersync.errors import ProcessingError, QueueError

from helpers import wait_until


def _process_all(runtime, limit: int = 100) -> int:
    done = 0
    for _ in range(limit):
        messages = runtime.queue.receive(1)
        if not messages:
            break
        runtime.processor.process(messages[0])
        done += 1
    return done


class TestMemoProcessor:
    def test_it_runs_a_memo_through_its_agent_and_acknowledges_it(self, runtime) -> None:
        receipt = runtime.ingestor.accept(
            Transcript(text="Standup. Need to fix the flaky deploy test. Will follow up with Sam.", agent="work",
                       recorded_at="2026-11-25T09:00:00Z"))
        _process_all(runtime)

        memo = runtime.records.get(receipt.id)
        assert memo.status is MemoStatus.DONE
        assert memo.routing == {"agent": "work", "confidence": 1.0, "reasons": memo.routing["reasons"]}
        journal = runtime.settings.outputs_dir / "work" / "journal" / "2026-W48.md"
        assert receipt.id in journal.read_text()
        assert any(o.endswith("_response.json") for o in memo.result["outputs"])
        counts = runtime.queue.counts()
        assert (counts.visible, counts.in_flight) == (0, 0)

    def test_the_router_picks_an_agent_when_none_is_given(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(
            text="App idea: a GitHub bot that builds a Python CLI to track houseplants, with a REST API."))
        _process_all(runtime)
        memo = runtime.records.get(receipt.id)
        assert memo.agent == "github_ideas"
        assert memo.routing["reasons"]

    def test_one_trace_holds_ingest_queue_and_worker_spans(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"),
                                          correlation_id="corr-trace-1")
        _process_all(runtime)
        runtime.telemetry.flush()

        spans = runtime.store.spans(trace_id=receipt.trace_id)
        names = {s["name"] for s in spans}
        assert {"ingest", "queue", "worker", "transcript_download", "agent_processing"} <= names
        assert {s["correlation_id"] for s in spans} == {"corr-trace-1"}
        by_name = {s["name"]: s for s in spans}
        assert by_name["worker"]["parent_span_id"] == by_name["queue"]["span_id"]
        assert by_name["agent_processing"]["parent_span_id"] == by_name["worker"]["span_id"]
        assert by_name["agent_processing"]["annotations"]["agent_type"] == "work"
        assert by_name["agent_processing"]["annotations"]["success"] is True
        assert by_name["transcript_download"]["metadata"]["transcript_length"] == len("Need to review the PR")
        assert runtime.store.trace_ids_for("corr-trace-1") == [receipt.trace_id]

    def test_every_log_line_of_a_memo_carries_its_correlation_id(self, runtime) -> None:
        runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"), correlation_id="corr-logs-1")
        _process_all(runtime)
        runtime.telemetry.flush()
        lines = runtime.store.logs(correlation_id="corr-logs-1")
        # Timestamps have millisecond precision, so lines of the same millisecond may come in any order.
        by_message = {line["message"]: line for line in lines}
        assert sorted(by_message) == ["Processing successful", "Processing transcript", "Transcript accepted"]
        assert len(lines) == 3
        done = by_message["Processing successful"]
        assert done["agent_type"] == "work" and done["duration_ms"] > 0

    def test_it_publishes_the_business_and_worker_metrics(self, runtime) -> None:
        runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"))
        runtime.ingestor.accept(Transcript(text="Need to merge it", agent="work"))
        _process_all(runtime)
        runtime.telemetry.flush()
        now_ms = int(time.time() * 1000)
        window = {"start_ms": now_ms - 600_000, "end_ms": now_ms + 60_000, "period": 3600}

        def total(namespace, name, dims, stat="Sum"):
            series = runtime.store.metric_statistics(namespace, name, dimensions=dims, statistic=stat, **window)
            return sum(series.values)

        assert total("WhisperSync/Business", "TranscriptsProcessed", {"AgentType": "work", "Status": "Success"}) == 2
        assert total("WhisperSync/Business", "TranscriptsProcessed", {}) == 2
        assert total("WhisperSync/Business", "ProcessingDuration", {"AgentType": "work"}, "SampleCount") == 2
        assert total("WhisperSync/Worker", "Invocations", {"FunctionName": "whispersync-worker"}) == 2
        assert total("WhisperSync/Worker", "Errors", {"FunctionName": "whispersync-worker"}) == 0
        assert total("WhisperSync/Queue", "NumberOfMessagesSent", {"QueueName": "transcripts"}) == 2

    def test_memo_latency_runs_from_acceptance_to_done(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"))
        # The memo waited in the queue: 2.5 s are on the user's clock, not the worker's.
        runtime.records.update(receipt.id, created_at=runtime.records.get(receipt.id).created_at - 2.5)
        _process_all(runtime)
        runtime.telemetry.flush()
        now_ms = int(time.time() * 1000)
        [latency] = runtime.store.metric_statistics("WhisperSync/Business", "MemoLatency", statistic="Maximum",
                                                    period=3600, start_ms=now_ms - 600_000,
                                                    end_ms=now_ms + 60_000).values
        [processing] = runtime.store.metric_statistics("WhisperSync/Business", "ProcessingDuration",
                                                       statistic="Maximum", period=3600, start_ms=now_ms - 600_000,
                                                       end_ms=now_ms + 60_000).values
        assert 2500 <= latency < 2500 + 10_000
        assert latency - processing >= 2400

    def test_a_synthetic_memo_is_left_out_of_the_business_metrics(self, runtime) -> None:
        runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work", source="synthetic"))
        _process_all(runtime)
        runtime.telemetry.flush()
        now_ms = int(time.time() * 1000)
        window = {"start_ms": now_ms - 600_000, "end_ms": now_ms + 60_000, "period": 3600}
        for name in ("TranscriptsProcessed", "ProcessingDuration", "MemoLatency"):
            assert runtime.store.metric_statistics("WhisperSync/Business", name, statistic="SampleCount",
                                                   **window).values == []
        invocations = runtime.store.metric_statistics("WhisperSync/Worker", "Invocations", statistic="Sum",
                                                      dimensions={"FunctionName": "whispersync-worker"}, **window)
        assert invocations.values == [1]  # the worker did the work: its technical metrics count it

    def test_reprocessing_a_message_does_not_duplicate_the_journal_entry(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="Need to ship it", agent="work",
                                                     recorded_at="2026-11-25T09:00:00Z"))
        [message] = runtime.queue.receive(1)
        runtime.processor.process(message)
        # A crash after the agent wrote but before the record said done:
        runtime.records.update(receipt.id, status=MemoStatus.PROCESSING)
        runtime.processor.process(message)
        journal = (runtime.settings.outputs_dir / "work" / "journal" / "2026-W48.md").read_text()
        assert journal.count(receipt.id) == 1
        assert runtime.records.get(receipt.id).status is MemoStatus.DONE

    def test_a_failed_acknowledgement_does_not_undo_a_finished_memo(self, runtime, monkeypatch) -> None:
        """The memo is done even if deleting its message fails; the redelivery is acknowledged."""
        receipt = runtime.ingestor.accept(Transcript(text="Need to ship it", agent="work"))
        [message] = runtime.queue.receive(1, visibility_timeout=0.5)

        def broken_delete(receipt_handle):
            raise QueueError("database is locked")

        monkeypatch.setattr(runtime.queue, "delete", broken_delete)
        runtime.processor.process(message)
        monkeypatch.undo()

        memo = runtime.records.get(receipt.id)
        assert memo.status is MemoStatus.DONE and memo.error is None
        [again] = wait_until(lambda: runtime.queue.receive(1), timeout=10)
        assert runtime.processor.process(again) is True
        assert runtime.queue.counts().in_flight == 0

    def test_a_failing_agent_is_retried_then_dead_lettered(self, runtime) -> None:
        class Broken:
            name = "work"

            def process(self, memo):
                raise ProcessingError("disk on fire")

        runtime.processor.agents = {**runtime.agents, "work": Broken()}
        receipt = runtime.ingestor.accept(Transcript(text="Need to ship it", agent="work"))
        for attempt in range(1, 4):
            [message] = wait_until(lambda: runtime.queue.receive(1), timeout=10)
            assert message.receive_count == attempt
            assert runtime.processor.process(message) is False
        assert runtime.queue.receive(1) == []   # the 4th receive moves it to the DLQ
        assert runtime.dlq.counts().visible == 1
        memo = runtime.records.get(receipt.id)
        assert memo.status is MemoStatus.FAILED
        assert memo.error == "ProcessingError: disk on fire"
        runtime.telemetry.flush()
        errors = runtime.store.logs(level="ERROR", correlation_id=receipt.correlation_id)
        assert errors and errors[0]["error_type"] == "ProcessingError"
        assert "exception" in errors[0]
        now_ms = int(time.time() * 1000)
        failed = runtime.store.metric_statistics("WhisperSync/Business", "MemosFailed", statistic="Sum", period=3600,
                                                 start_ms=now_ms - 600_000, end_ms=now_ms + 60_000)
        assert failed.values == [1]  # three failed attempts, one memo lost: one bad event for the SLO


class _FakeElevenLabs(BaseHTTPRequestHandler):
    """ElevenLabs' text-to-speech endpoint as seen from our adapter: returns audio bytes."""

    requests: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).requests.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("content-type", "audio/mpeg")
        self.end_headers()
        self.wfile.write(b"ID3fake-mp3-audio")

    def log_message(self, *args):
        pass


class TestVoiceReply:
    @pytest.fixture
    def elevenlabs(self):
        server = HTTPServer(("127.0.0.1", 0), _FakeElevenLabs)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}"
        server.shutdown()

    def test_a_spoken_reply_is_saved_and_traced(self, runtime, elevenlabs) -> None:
        runtime.processor.voice = ElevenLabsVoice("xi-test-key", base_url=elevenlabs)
        receipt = runtime.ingestor.accept(Transcript(text="Need to call the plumber", agent="work"))
        _process_all(runtime)
        memo = runtime.records.get(receipt.id)
        reply = next(o for o in memo.result["outputs"] if "_reply" in o)
        assert (runtime.settings.outputs_dir / reply).read_bytes() == b"ID3fake-mp3-audio"
        runtime.telemetry.flush()
        [tts] = [s for s in runtime.store.spans(trace_id=receipt.trace_id) if s["name"] == "tts"]
        assert tts["kind"] == "CLIENT" and tts["status"] != "ERROR"
        assert all("xi-test-key" not in str(line) for line in runtime.store.logs())

    def test_a_failing_voice_does_not_fail_the_memo(self, runtime) -> None:
        runtime.processor.voice = ElevenLabsVoice("xi-test-key", base_url="http://127.0.0.1:9")  # nothing listens
        receipt = runtime.ingestor.accept(Transcript(text="Need to call the plumber", agent="work"))
        _process_all(runtime)
        assert runtime.records.get(receipt.id).status is MemoStatus.DONE
        runtime.telemetry.flush()
        [tts] = [s for s in runtime.store.spans(trace_id=receipt.trace_id) if s["name"] == "tts"]
        assert tts["status"] == "ERROR"


class TestWorkerPool:
    def test_it_drains_the_queue_with_several_workers_and_stops_gracefully(self, runtime) -> None:
        receipts = [runtime.ingestor.accept(Transcript(text=f"Need to do task {n}", agent="work")) for n in range(40)]
        runtime.start(workers=4, inbox=False, collector=False, maintenance=False)
        wait_until(lambda: all(runtime.records.get(r.id).status is MemoStatus.DONE for r in receipts))
        assert runtime.pool.stop(timeout=10) is True
        assert runtime.pool.take_peak_concurrency() >= 1
        counts = runtime.queue.counts()
        assert (counts.visible, counts.in_flight) == (0, 0)



class _GatedAgent:
    """The real "work" agent, held until `gate` opens: memos stay in flight as long as a test needs."""

    name = "work"

    def __init__(self, real) -> None:
        self.real = real
        self.gate = threading.Event()

    def process(self, memo):
        assert self.gate.wait(30), "the test never opened the gate"
        return self.real.process(memo)


class TestWorkerPoolResize:
    def test_growing_starts_workers_at_once_and_they_take_memos(self, runtime) -> None:
        gated = _GatedAgent(runtime.agents["work"])
        runtime.processor.agents = {**runtime.agents, "work": gated}
        runtime.start(workers=1, inbox=False, collector=False, maintenance=False, alarms=False)
        pool = runtime.pool
        receipts = [runtime.ingestor.accept(Transcript(text=f"Need to do task {n}", agent="work")) for n in range(3)]
        wait_until(lambda: pool.in_flight == 1)
        assert pool.resize(3) == 1
        assert pool.concurrency == 3 and pool.alive() == 3
        wait_until(lambda: pool.in_flight == 3)   # the new workers picked up the other memos
        gated.gate.set()
        wait_until(lambda: all(runtime.records.get(r.id).status is MemoStatus.DONE for r in receipts))
        assert pool.stop(timeout=10) is True

    def test_shrinking_lets_a_retiring_worker_finish_its_memo_then_leave(self, runtime) -> None:
        gated = _GatedAgent(runtime.agents["work"])
        runtime.processor.agents = {**runtime.agents, "work": gated}
        runtime.start(workers=3, inbox=False, collector=False, maintenance=False, alarms=False)
        pool = runtime.pool
        held = [runtime.ingestor.accept(Transcript(text=f"Need to do task {n}", agent="work")) for n in range(3)]
        wait_until(lambda: pool.in_flight == 3)
        assert pool.resize(1) == 3
        time.sleep(pool.poll_seconds + 0.2)
        # The two retiring workers still hold their memos: nothing is abandoned or handed back.
        assert pool.alive() == 3 and pool.in_flight == 3
        assert runtime.queue.counts().visible == 0
        gated.gate.set()
        wait_until(lambda: all(runtime.records.get(r.id).status is MemoStatus.DONE for r in held))
        wait_until(lambda: pool.alive() == 1)
        # The one worker left keeps working.
        later = runtime.ingestor.accept(Transcript(text="Need to do one more", agent="work"))
        wait_until(lambda: runtime.records.get(later.id).status is MemoStatus.DONE)
        assert pool.take_throttles() == 0
        assert pool.stop(timeout=10) is True

    def test_a_size_below_one_is_refused(self, runtime) -> None:
        runtime.start(workers=1, inbox=False, collector=False, maintenance=False, alarms=False)
        for bad in (0, -1, 1.5, "2"):
            with pytest.raises(ValueError, match="concurrency: must be an integer >= 1"):
                runtime.pool.resize(bad)
        assert runtime.pool.concurrency == 1 and runtime.pool.alive() == 1
        assert runtime.pool.stop(timeout=10) is True
