"""The worker pool: receive a message, run its memo through an agent, acknowledge.

Each worker is a thread that receives one message at a time, so `concurrency`
is exactly the number of memos in flight (ConcurrentExecutions). A failure leaves
the message to reappear (after a short backoff) until the queue's redrive policy
moves it to the DLQ; re-processing is safe because a finished memo is recognised
and the agents are idempotent per memo id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import orjson

from whispersync import catalog
from whispersync.agents import Agent, AgentInput, Router, Voice, reply_text
from whispersync.domain import SYNTHETIC_SOURCE, AgentResult, Memo, MemoStatus
from whispersync.errors import NotFound
from whispersync.pipeline import dead_letters
from whispersync.pipeline.blobs import BlobStore
from whispersync.pipeline.queue import Message, Queue
from whispersync.pipeline.records import RecordStore
from whispersync.telemetry import Telemetry, correlation_scope, resolve_correlation_id



class MemoProcessor:
    """Processes one message; the unit the pool runs and the AWS Lambda handler reuses."""

    def __init__(
        self,
        *,
        queue: Queue,
        blobs: BlobStore,
        records: RecordStore,
        router: Router,
        agents: Mapping[str, Agent],
        telemetry: Telemetry,
        outputs_dir: Path,
        voice: Voice | None = None,
        max_receive_count: int = 3,
        dead_letter_queue: Queue | None = None,
    ) -> None:
        self.queue = queue
        self.dead_letter_queue = dead_letter_queue
        self.blobs = blobs
        self.records = records
        self.router = router
        self.agents = agents
        self.telemetry = telemetry
        self.outputs_dir = outputs_dir
        self.voice = voice
        self.max_receive_count = max_receive_count
        self._log = telemetry.logger("whispersync.worker")

    def process(self, message: Message) -> bool:
        """Process one message; True when the memo is done (the message is deleted)."""
        started = time.perf_counter()
        tel = self.telemetry
        cid = resolve_correlation_id(attributes=message.attributes)
        agent_type = "unknown"
        memo: Memo | None = None
        with correlation_scope(cid), tel.tracer.span(
            "worker", kind="CONSUMER", parent=message.attributes.get("traceparent") or None
        ) as span:
            span.put_annotation("receive_count", message.receive_count)
            try:
                body = orjson.loads(message.body)
                memo_id, key = body["memo_id"], body["key"]
                span.put_annotation("memo_id", memo_id)
                memo = self._memo(memo_id, key, cid, span.trace_id, body.get("agent"))
                if memo.status is MemoStatus.DONE:
                    # Finished before a crash kept the message from being deleted.
                    self._log.info("Memo already processed; acknowledging", memo_id=memo_id)
                    self.queue.delete(message.receipt_handle)
                    return True
                self.records.update(memo_id, status=MemoStatus.PROCESSING, attempts=message.receive_count,
                                    updated_at=time.time())
                self._log.info("Processing transcript", memo_id=memo_id, transcript_key=key,
                               agent_type=memo.agent, receive_count=message.receive_count)

                with tel.tracer.span("transcript_download") as download:
                    text = self.blobs.get(key).decode("utf-8")
                    download.put_metadata("transcript_length", len(text))

                route = self.router.route(text, requested=memo.agent)
                agent_type = route.agent
                span.put_annotation("agent_type", agent_type)
                with tel.tracer.span("agent_processing") as processing:
                    processing.put_annotation("agent_type", agent_type)
                    processing.put_metadata("routing", {"confidence": route.confidence, "reasons": route.reasons})
                    result = self.agents[agent_type].process(
                        AgentInput(memo_id=memo_id, text=text, title=memo.title,
                                   recorded_at=_recorded_at(memo), correlation_id=cid)
                    )
                    processing.put_annotation("success", True)
                outputs = list(result.outputs)
                if self.voice is not None:
                    reply = self._speak(result)
                    if reply:
                        outputs.append(reply)

                duration_ms = (time.perf_counter() - started) * 1000
                self.records.update(
                    memo_id, status=MemoStatus.DONE, agent=agent_type, error=None, updated_at=time.time(),
                    routing={"agent": route.agent, "confidence": route.confidence, "reasons": route.reasons},
                    result={"summary": result.summary, "outputs": outputs, "data": result.data},
                )
                try:
                    self.queue.delete(message.receipt_handle)
                except Exception as exc:  # noqa: BLE001 - the memo is done; its redelivery is acknowledged
                    self._log.exception("Could not acknowledge a processed message", memo_id=memo_id,
                                        error_type=type(exc).__name__)
                span.put_annotation("success", True)
                self._log.info("Processing successful", memo_id=memo_id, agent_type=agent_type,
                               duration_ms=round(duration_ms, 3), result_size=len(result.summary))
                self._publish(agent_type, memo, success=True, duration_ms=duration_ms)
                return True
            except Exception as exc:
                span.put_annotation("success", False)
                span.set_error(exc)
                final = self._fail(message, exc, agent_type)
                self._publish(agent_type, memo, success=False, duration_ms=(time.perf_counter() - started) * 1000,
                              final=final)
                return False

    def _memo(self, memo_id: str, key: str, cid: str, trace_id: str, agent: str | None) -> Memo:
        try:
            return self.records.get(memo_id)
        except NotFound:
            # A blob that arrived without the ingest API (the S3 upload path on AWS).
            now = time.time()
            memo = Memo(id=memo_id, key=key, correlation_id=cid, trace_id=trace_id,
                        status=MemoStatus.QUEUED, created_at=now, updated_at=now, agent=agent, source="queue")
            self.records.create(memo)
            return memo

    def _speak(self, result: AgentResult) -> str | None:
        """Synthesize the spoken reply; a voice failure is logged, never fails the memo."""
        assert self.voice is not None
        with self.telemetry.tracer.span("tts", kind="CLIENT") as tts:
            tts.put_annotation("voice", self.voice.name)
            try:
                audio = self.voice.synthesize(reply_text(result))
            except Exception as exc:
                tts.set_error(exc)
                self._log.exception("Voice reply failed", error_type=type(exc).__name__, voice=self.voice.name)
                return None
            tts.put_metadata("audio_bytes", len(audio))
        response = next((o for o in result.outputs if o.endswith("_response.json")), None)
        stem = response[: -len("_response.json")] if response else f"{result.agent}/reply"
        suffix = ".wav" if audio[:4] == b"RIFF" else ".mp3"
        relative = f"{stem}_reply{suffix}"
        path = self.outputs_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(audio)
        return relative

    def _fail(self, message: Message, exc: Exception, agent_type: str) -> bool:
        """Record the failure and release or dead-letter the message; True when it was the memo's last attempt."""
        permanent = bool(getattr(exc, "permanent", False))
        self._log.exception("Processing failed", error_type=type(exc).__name__, agent_type=agent_type,
                            receive_count=message.receive_count, permanent=permanent)
        # A permanent failure cannot heal, so it goes to the DLQ now instead of
        # waiting out maxReceiveCount retries (what a Lambda handler does by hand on AWS).
        dead_letter_now = permanent and self.dead_letter_queue is not None
        final = dead_letter_now or message.receive_count >= self.max_receive_count
        try:
            memo_id = orjson.loads(message.body)["memo_id"]
            self.records.update(memo_id, status=MemoStatus.FAILED if final else MemoStatus.QUEUED,
                                error=f"{type(exc).__name__}: {exc}", updated_at=time.time())
        except Exception:  # noqa: BLE001 - a malformed body has no record to update
            pass
        try:
            if dead_letter_now:
                # Marked permanent, so that automatic redrive (dead_letters.redrive_transient) leaves it there.
                self.dead_letter_queue.send(message.body, attributes=dead_letters.marked_permanent(message.attributes))
                self.queue.delete(message.receipt_handle)
            else:
                # Retry soon rather than after the whole visibility timeout: 1 s, 2 s, 4 s...
                # A final failure is released at once so the next receive moves it to the DLQ.
                backoff = 0 if final else min(2 ** (message.receive_count - 1), 60)
                self.queue.change_visibility(message.receipt_handle, backoff)
        except Exception:  # noqa: BLE001 - the visibility timeout will release it anyway
            self._log.exception("Could not release a failed message", error_type=type(exc).__name__)
        return final

    def _publish(self, agent_type: str, memo: Memo | None, *, success: bool, duration_ms: float,
                 final: bool = False) -> None:
        """The worker's metrics for every memo; the business ones (and the SLO's) for real memos only:
        a canary's synthetic memo must not count as a transcript processed or move the SLO."""
        points = []  # recorded in one call: one pass, one timestamp (issue 15)
        if memo is None or memo.source != SYNTHETIC_SOURCE:
            status = "Success" if success else "Failed"
            for dims in ({"AgentType": agent_type, "Status": status}, {"Status": status}, {}):
                points.append((catalog.TRANSCRIPTS_PROCESSED, 1, dims))
            if success:
                for dims in ({"AgentType": agent_type}, {}):
                    points.append((catalog.PROCESSING_DURATION, duration_ms, dims))
            if success and memo is not None:
                latency_ms = max(0.0, (time.time() - memo.created_at) * 1000)
                for dims in ({"AgentType": agent_type}, {}):
                    points.append((catalog.MEMO_LATENCY, latency_ms, dims))
            if final:
                points.append((catalog.MEMOS_FAILED, 1, None))
        points.append((catalog.WORKER_INVOCATIONS, 1, None))
        points.append((catalog.WORKER_ERRORS, 0 if success else 1, None))
        points.append((catalog.WORKER_DURATION, duration_ms, None))
        self.telemetry.metrics.record_many(points)


def _recorded_at(memo: Memo) -> datetime:
    if memo.recorded_at:
        try:
            when = datetime.fromisoformat(memo.recorded_at.replace("Z", "+00:00"))
            return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return datetime.fromtimestamp(memo.created_at, tz=timezone.utc)


class WorkerPool:
    """`concurrency` threads running MemoProcessor over the queue until stopped; `resize` changes it while running."""

    def __init__(self, processor: MemoProcessor, *, concurrency: int, poll_seconds: float = 1.0) -> None:
        self.processor = processor
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # The live workers' retire flags, oldest first: a set flag lets that worker finish its memo and leave.
        self._active: list[threading.Event] = []
        self._started = False
        self._next_id = 0
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0   # peak since the collector last read it
        self.throttles = 0       # messages handed back because the pool was stopping

    def start(self) -> None:
        with self._lock:
            self._started = True
            for _ in range(self.concurrency):
                self._spawn()

    def resize(self, concurrency: int) -> int:
        """Run `concurrency` workers from now on; the previous count is returned.

        Growing starts threads at once. Shrinking retires the newest workers
        gracefully: a retiring worker finishes the memo it holds (never abandons it)
        and leaves before receiving another, so the pool reaches the new size within
        one memo plus one receive wait. Before `start`, only the count changes.
        """
        if type(concurrency) is not int or concurrency < 1:
            raise ValueError(f"concurrency: must be an integer >= 1, got {concurrency!r}")
        with self._lock:
            previous, self.concurrency = self.concurrency, concurrency
            if not self._started or self._stop.is_set():
                return previous
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._active) < concurrency:
                self._spawn()
            while len(self._active) > concurrency:
                self._active.pop().set()
        return previous

    def alive(self) -> int:
        """Worker threads still running (retiring ones included, until their memo is done)."""
        with self._lock:
            return sum(t.is_alive() for t in self._threads)

    def _spawn(self) -> None:
        # Called with the lock held.
        retire = threading.Event()
        thread = threading.Thread(target=self._run, args=(retire,), name=f"worker-{self._next_id}", daemon=True)
        self._next_id += 1
        self._active.append(retire)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Let in-flight memos finish; True if every worker stopped within `timeout`."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def take_peak_concurrency(self) -> int:
        with self._lock:
            peak, self.max_in_flight = self.max_in_flight, self.in_flight
        return peak

    def take_throttles(self) -> int:
        with self._lock:
            throttles, self.throttles = self.throttles, 0
        return throttles

    def _run(self, retire: threading.Event) -> None:
        queue = self.processor.queue
        log = self.processor.telemetry.logger("whispersync.worker")
        # A retiring worker checks its flag only here, between memos: the one it holds is always finished.
        while not self._stop.is_set() and not retire.is_set():
            try:
                messages = queue.receive(1, wait_seconds=self.poll_seconds)
            except Exception as exc:  # noqa: BLE001 - keep the worker alive; the error is logged
                log.exception("Receive failed", error_type=type(exc).__name__)
                self._stop.wait(1.0)
                continue
            for message in messages:
                if self._stop.is_set():
                    # Shutting down: hand the message straight back rather than start it.
                    queue.change_visibility(message.receipt_handle, 0)
                    with self._lock:
                        self.throttles += 1
                    continue
                with self._lock:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    self.processor.process(message)
                finally:
                    with self._lock:
                        self.in_flight -= 1
