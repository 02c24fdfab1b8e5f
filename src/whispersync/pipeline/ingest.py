"""Ingest: validate a transcript, store its blob, record it, enqueue it.

All three ways in (HTTP, CLI, inbox) go through `Ingestor.accept`, so they share
one set of rules and one error vocabulary. Order matters for "nothing lost":
blob, then record, then message; the caller is told "accepted" only after the
message is durably enqueued.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import secrets
import stat
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from whispersync import catalog
from whispersync import sqlite_db
from whispersync.domain import AGENTS, Memo, MemoStatus, Transcript
from whispersync.errors import (
    EmptyTranscript,
    InputError,
    InvalidRecordedAt,
    NotText,
    NotFound,
    NotUtf8,
    TitleTooLong,
    TranscriptTooLarge,
    UnknownAgent,
)
from whispersync.pipeline.blobs import BlobStore
from whispersync.pipeline.queue import Queue
from whispersync.pipeline.records import RecordStore
from whispersync.telemetry import Telemetry, correlation_scope, resolve_correlation_id

# The "stored, not sent" sweep: how often `up` runs it, and how long a queued record
# must have been left untouched first, so an accept still between its record and
# its message (a send may wait ~10 s on a busy SQLite lock) is never sent twice.
SWEEP_INTERVAL_SECONDS = 60.0
SWEEP_GRACE_SECONDS = 120.0
LINK_REASON = "it is a symbolic link; links are not followed (copy the file itself instead)"
NOT_REGULAR_REASON = "it is not a regular file (a device, FIFO or socket); only regular files are read"
# Prefix of a memo's error while its record exists but its message was never sent.
_NOT_ENQUEUED = "not enqueued: "

# A title becomes a file name's stem (inbox, `submit`) and a Markdown heading. 255
# characters is the longest stem a file name can have (NAME_MAX is 255 bytes), so
# every file the inbox takes still fits, and a 900 KB "title" does not.
MAX_TITLE_CHARS = 255
# How much of a client's value an error message repeats: the message is logged
# ("Transcript rejected") and returned, so it must stay short whatever was sent.
_ECHO_CHARS = 64
# recorded_at must be an instant at least a day inside datetime's range (years
# 1..9999), so converting it to UTC or to any local time can never overflow.
_EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)
_LATEST = datetime(9999, 12, 31, tzinfo=timezone.utc) - timedelta(microseconds=1) - timedelta(days=1)
_MAX_RECORDED_AT_CHARS = 64  # the longest ISO 8601 form fromisoformat reads is ~40
# Whitespace and control characters (Unicode category Cc: C0, DEL, C1) only.
_NO_TEXT = re.compile(r"[\s\x00-\x1f\x7f-\x9f]*")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a submitter gets back: enough to follow the memo everywhere."""

    id: str
    key: str
    correlation_id: str
    trace_id: str
    # W3C traceparent of the ingest span of the request that got this receipt, for the
    # answer's header; not in to_dict (the JSON body is unchanged).
    traceparent: str = dataclasses.field(default="", compare=False)  # two receipts of one memo are equal

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


def _echo(value: str) -> str:
    """`value` repr'd for an error message, cut to its first characters: it may be any length."""
    return repr(value) if len(value) <= _ECHO_CHARS else repr(value[:_ECHO_CHARS] + "…")


def normalise_recorded_at(value: str) -> str:
    """ISO 8601 → the same instant in UTC ("2026-11-25T09:00:00+00:00"), or InvalidRecordedAt.

    Accepted: what `datetime.fromisoformat` reads (a date, or a date and time with an
    optional fraction and "Z" or ±HH:MM offset); no offset means UTC, as the worker
    has always read it. The instant must lie within 0001-01-02 .. 9999-12-30 UTC.
    """
    rule = "recorded_at must be an ISO 8601 date-time such as 2026-11-25T09:00:00Z"
    if len(value) > _MAX_RECORDED_AT_CHARS:
        raise InvalidRecordedAt(f"{rule}; got {len(value)} characters")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRecordedAt(f"{rule}; got {_echo(value)}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        utc = when.astimezone(timezone.utc)
    except OverflowError:  # the offset pushed it out of years 1..9999
        utc = None
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise InvalidRecordedAt(
            f"recorded_at {_echo(value)} is out of range; it must be between "
            f"{_EARLIEST.date()} and {_LATEST.date()} (UTC)"
        )
    return utc.isoformat()


def _check_is_text(text: str) -> None:
    # No speech-to-text writes NUL, and NULs are what binary data (/dev/zero, UTF-16
    # read as UTF-8) looks like, so a NUL anywhere means this is not a transcript.
    nul = text.find("\x00")
    if nul >= 0:
        raise NotText(f"transcript contains a NUL character (at character {nul}); it must be text")
    # Whitespace and control characters (C0/C1, DEL) alone say nothing: refuse as empty.
    if _NO_TEXT.fullmatch(text):
        raise EmptyTranscript("transcript is empty (only whitespace or control characters)")


def read_transcript_file(
    path: str | Path, *, max_bytes: int, dir_fd: int | None = None, follow_symlinks: bool = False
) -> bytes:
    """A transcript file's bytes, or the InputError that says why not.

    Reads at most `max_bytes + 1` bytes whatever the file claims to be; a file whose
    size is over the limit is refused before reading; a link (unless
    `follow_symlinks`) or a device, FIFO or socket is refused without reading it.
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer that never comes.
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InputError(LINK_REASON) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(NOT_REGULAR_REASON)
        if info.st_size > max_bytes:
            raise TranscriptTooLarge(f"file is {info.st_size} bytes; the limit is {max_bytes} bytes")
        chunks: list[bytes] = []
        remaining = max_bytes + 1  # one byte more than allowed tells "too large" from "exactly the limit"
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew after fstat, or (like /proc files) does not report its size
        raise TranscriptTooLarge(f"file is more than {max_bytes} bytes; the limit is {max_bytes} bytes")
    return data


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

    def read_file(self, path: str | Path, *, follow_symlinks: bool = False) -> bytes:
        """A transcript file's bytes, read with the ingest limit (see `read_transcript_file`)."""
        return read_transcript_file(path, max_bytes=self.max_bytes, follow_symlinks=follow_symlinks)

    def decode(self, data: bytes) -> str:
        """Bytes to text with the ingest limit, or the InputError that says why not."""
        return decode_transcript(data, max_bytes=self.max_bytes)

    def validate(self, transcript: Transcript) -> Transcript:
        """The transcript as it will be stored (recorded_at in UTC), or the InputError saying why not.

        Everything the worker would later fail on is refused here, while the client
        can still be told (a 4xx) rather than after a 202.
        """
        if transcript.agent is not None and transcript.agent not in self.agents:
            raise UnknownAgent(f"unknown agent {_echo(transcript.agent)}; known agents: {', '.join(self.agents)}")
        try:
            size = len(transcript.text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate: it could never be stored as UTF-8
            raise NotText("transcript contains a lone surrogate; it must be text") from None
        if size > self.max_bytes:
            raise TranscriptTooLarge(f"transcript is {size} bytes; the limit is {self.max_bytes} bytes")
        _check_is_text(transcript.text)
        if transcript.title is not None and len(transcript.title) > MAX_TITLE_CHARS:
            raise TitleTooLong(f"title is {len(transcript.title)} characters; the limit is {MAX_TITLE_CHARS} characters")
        if transcript.recorded_at is not None:
            transcript = dataclasses.replace(transcript, recorded_at=normalise_recorded_at(transcript.recorded_at))
        return transcript

    def accept(
        self,
        transcript: Transcript,
        *,
        correlation_id: str | None = None,
        memo_id: str | None = None,
        traceparent: str | None = None,
    ) -> Receipt:
        """Store and enqueue one transcript; raises InputError (nothing stored) if it is bad.

        `memo_id` makes a retried submission idempotent (the inbox derives it from the
        file); a second accept of the same id returns the first receipt.
        `traceparent` (a caller's W3C trace context) makes the ingest span a child of
        the caller's span, so the memo's trace is the caller's; a malformed one is
        ignored and a new trace starts, as W3C Trace Context asks.
        """
        cid = resolve_correlation_id(header=correlation_id)
        tracer = self.telemetry.tracer
        with correlation_scope(cid), tracer.span("ingest", kind="SERVER", parent=traceparent) as span:
            span.put_annotation("source", transcript.source)
            try:
                transcript = self.validate(transcript)
            except Exception as exc:
                span.put_annotation("rejected", True)
                self._log.warning("Transcript rejected", error_type=type(exc).__name__, reason=str(exc),
                                  source=transcript.source)
                raise
            memo_id = memo_id or uuid.uuid4().hex
            existing = self._existing(memo_id)
            if existing is not None:
                # The body names the first memo's trace; the header names this request's span.
                return dataclasses.replace(existing, traceparent=span.traceparent)
            folder = f"{catalog.TRANSCRIPTS_PREFIX}/{transcript.agent}" if transcript.agent else catalog.TRANSCRIPTS_PREFIX
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
            return Receipt(memo_id, key, cid, span.trace_id, span.traceparent)

    def resend(self, memo: Memo) -> None:
        """Send the message of a stored memo that has none (the sweeper found it), in its own trace."""
        # Continue the memo's trace so its processing shows under the same trace id;
        # the ingest span's id was never stored, so the parent id here is a fresh one.
        parent = f"00-{memo.trace_id}-{secrets.token_hex(8)}-01"
        with correlation_scope(memo.correlation_id), self.telemetry.tracer.span("resend", parent=parent) as span:
            span.put_annotation("memo_id", memo.id)
            self._enqueue(memo.id, memo.key, memo.agent, memo.correlation_id)
            if (memo.error or "").startswith(_NOT_ENQUEUED):
                self.records.update(memo.id, error=None, updated_at=time.time())
            self._log.warning("Stored memo had no message; re-enqueued", memo_id=memo.id, transcript_key=memo.key,
                              created_at=memo.created_at)
        self.telemetry.metrics.record(catalog.UNSENT_REENQUEUED, 1)

    def _enqueue(self, memo_id: str, key: str, agent: str | None, cid: str) -> None:
        tracer = self.telemetry.tracer
        with tracer.span("queue", kind="PRODUCER") as send_span:
            send_span.put_annotation("queue", self.queue.name)
            attributes = {"correlationId": cid, "traceparent": tracer.current_traceparent() or ""}
            body = orjson.dumps({"memo_id": memo_id, "key": key, "agent": agent}).decode()
            message_id = self.queue.send(body, attributes=attributes)
            send_span.put_metadata("message_id", message_id)
        self.telemetry.metrics.record(catalog.QUEUE_SENT, 1, catalog.queue_dimensions(self.queue.name))

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


def memo_ids_with_messages(queue_db: Path, queue_names: Sequence[str]) -> set[str]:
    """Ids of the memos with a message in any of `queue_names`: visible, in flight or delayed.

    The Queue port cannot list bodies without receiving them, so this reads the
    SQLite queue's `messages` table directly, in one statement: one consistent
    snapshot across the queue and its DLQ (a message moved between them is seen once).
    """
    conn = sqlite_db.connect(queue_db, timeout=10, read_only=True)
    try:
        placeholders = ", ".join("?" * len(queue_names))
        rows = conn.execute(
            "SELECT DISTINCT json_extract(body, '$.memo_id') FROM messages"
            f" WHERE queue IN ({placeholders}) AND json_valid(body)",
            tuple(queue_names),
        ).fetchall()
    finally:
        conn.close()
    return {memo_id for (memo_id,) in rows if isinstance(memo_id, str)}


class UnsentSweeper:
    """Sends the message of every memo that was stored but never sent.

    Ingest writes blob, then record, then message; a `kill -9` between the last two
    leaves a `queued` record that no message will ever bring to a worker. `up` runs
    `sweep` at start and every SWEEP_INTERVAL_SECONDS.
    """

    def __init__(self, ingestor: Ingestor, *, queue_db: Path, queue_names: Sequence[str],
                 grace_seconds: float = SWEEP_GRACE_SECONDS) -> None:
        self.ingestor = ingestor
        self.queue_db = Path(queue_db)
        self.queue_names = tuple(queue_names)
        self.grace_seconds = grace_seconds

    def sweep(self) -> list[str]:
        """Re-enqueue queued memos older than the grace period that have no message; returns their ids."""
        # Messages first, records second. A worker marks a memo done before it
        # deletes the message, so a memo whose message vanishes between the two reads
        # is no longer `queued` in the second. Read the other way round, it would be
        # re-sent (harmless, as a done memo is only acknowledged, but a duplicate).
        with_messages = memo_ids_with_messages(self.queue_db, self.queue_names)
        records = self.ingestor.records
        stale = records.queued_ids_before(time.time() - self.grace_seconds)
        resent = []
        for memo_id in stale:
            if memo_id in with_messages:
                continue
            memo = records.get(memo_id)
            if memo.status is MemoStatus.QUEUED:  # read again: the id list is a moment old
                self.ingestor.resend(memo)
                resent.append(memo_id)
        return resent
