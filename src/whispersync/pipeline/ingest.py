"""Ingest: validate a transcript, store its blob, record it, enqueue it.

All three ways in (HTTP, CLI, inbox) go through `Ingestor.accept`, so they share
one set of rules and one error vocabulary. Order matters for "nothing lost":
blob, then record, then message; the caller is told "accepted" only after the
message is durably enqueued.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import orjson

from whispersync.domain import AGENTS, Memo, MemoStatus, Transcript
from whispersync.errors import (
    EmptyTranscript,
    NotFound,
    NotUtf8,
    TranscriptTooLarge,
    UnknownAgent,
)
from whispersync.pipeline.blobs import BlobStore
from whispersync.pipeline.queue import Queue
from whispersync.pipeline.records import RecordStore
from whispersync.telemetry import Telemetry, correlation_scope, resolve_correlation_id

QUEUE_NAMESPACE = "WhisperSync/Queue"
# Prefix of a memo's error while its record exists but its message was never sent.
_NOT_ENQUEUED = "not enqueued: "


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a submitter gets back: enough to follow the memo everywhere."""

    id: str
    key: str
    correlation_id: str
    trace_id: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "key": self.key, "correlation_id": self.correlation_id, "trace_id": self.trace_id}


def decode_transcript(data: bytes, *, max_bytes: int) -> str:
    """Bytes → text, or the InputError that says why not."""
    if len(data) > max_bytes:
        raise TranscriptTooLarge(f"transcript is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(f"transcript is not valid UTF-8 (byte {exc.start}: {exc.reason})") from None
    return text


class Ingestor:
    def __init__(
        self,
        *,
        blobs: BlobStore,
        records: RecordStore,
        queue: Queue,
        telemetry: Telemetry,
        max_bytes: int,
        agents: tuple[str, ...] = AGENTS,
    ) -> None:
        self.blobs = blobs
        self.records = records
        self.queue = queue
        self.telemetry = telemetry
        self.max_bytes = max_bytes
        self.agents = agents
        self._log = telemetry.logger("whispersync.ingest")

    def validate(self, transcript: Transcript) -> None:
        if transcript.agent is not None and transcript.agent not in self.agents:
            raise UnknownAgent(
                f"unknown agent {transcript.agent!r}; known agents: {', '.join(self.agents)}"
            )
        size = len(transcript.text.encode("utf-8"))
        if size > self.max_bytes:
            raise TranscriptTooLarge(f"transcript is {size} bytes; the limit is {self.max_bytes} bytes")
        if not transcript.text.strip():
            raise EmptyTranscript("transcript is empty")

    def accept(
        self,
        transcript: Transcript,
        *,
        correlation_id: str | None = None,
        memo_id: str | None = None,
    ) -> Receipt:
        """Store and enqueue one transcript; raises InputError (nothing stored) if it is bad.

        `memo_id` makes a retried submission idempotent (the inbox derives it from the
        file); a second accept of the same id returns the first receipt.
        """
        cid = resolve_correlation_id(header=correlation_id)
        tracer = self.telemetry.tracer
        with correlation_scope(cid), tracer.span("ingest", kind="SERVER") as span:
            span.put_annotation("source", transcript.source)
            try:
                self.validate(transcript)
            except Exception as exc:
                span.put_annotation("rejected", True)
                self._log.warning("Transcript rejected", error_type=type(exc).__name__, reason=str(exc),
                                  source=transcript.source)
                raise
            memo_id = memo_id or uuid.uuid4().hex
            existing = self._existing(memo_id)
            if existing is not None:
                return existing
            folder = f"transcripts/{transcript.agent}" if transcript.agent else "transcripts"
            key = f"{folder}/{memo_id}.txt"
            span.put_annotation("memo_id", memo_id)
            if transcript.agent:
                span.put_annotation("agent_type", transcript.agent)
            span.put_metadata("transcript_length", len(transcript.text))

            self.blobs.put(key, transcript.text.encode("utf-8"))
            now = time.time()
            self.records.create(
                Memo(
                    id=memo_id, key=key, correlation_id=cid, trace_id=span.trace_id,
                    status=MemoStatus.QUEUED, created_at=now, updated_at=now,
                    agent=transcript.agent, title=transcript.title,
                    recorded_at=transcript.recorded_at, source=transcript.source,
                )
            )
            try:
                self._enqueue(memo_id, key, transcript.agent, cid)
            except Exception as exc:
                # The record exists but no message does: say so on the record, so a
                # retry with this memo id enqueues it instead of reporting it accepted.
                try:
                    self.records.update(memo_id, error=f"{_NOT_ENQUEUED}{type(exc).__name__}: {exc}",
                                        updated_at=time.time())
                except Exception:  # noqa: BLE001 - the send error is the one to raise
                    pass
                raise
            self._log.info("Transcript accepted", memo_id=memo_id, transcript_key=key,
                           agent_type=transcript.agent, source=transcript.source,
                           transcript_size=len(transcript.text))
            return Receipt(memo_id, key, cid, span.trace_id)

    def _enqueue(self, memo_id: str, key: str, agent: str | None, cid: str) -> None:
        tracer = self.telemetry.tracer
        with tracer.span("queue", kind="PRODUCER") as send_span:
            send_span.put_annotation("queue", self.queue.name)
            attributes = {"correlationId": cid, "traceparent": tracer.current_traceparent() or ""}
            body = orjson.dumps({"memo_id": memo_id, "key": key, "agent": agent}).decode()
            message_id = self.queue.send(body, attributes=attributes)
            send_span.put_metadata("message_id", message_id)
        self.telemetry.metrics.put(
            QUEUE_NAMESPACE, "NumberOfMessagesSent", 1, unit="Count",
            dimensions={"QueueName": self.queue.name},
        )

    def _existing(self, memo_id: str) -> Receipt | None:
        try:
            memo = self.records.get(memo_id)
        except NotFound:
            return None
        if memo.status is MemoStatus.QUEUED and (memo.error or "").startswith(_NOT_ENQUEUED):
            # An earlier accept stored it but its send failed: enqueue it now.
            self._enqueue(memo.id, memo.key, memo.agent, memo.correlation_id)
            self.records.update(memo.id, error=None, updated_at=time.time())
        return Receipt(memo.id, memo.key, memo.correlation_id, memo.trace_id)
