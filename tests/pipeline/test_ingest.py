from __future__ import annotations

import orjson
import pytest

from whispersync.domain import MemoStatus, Transcript
from whispersync.errors import EmptyTranscript, NotUtf8, QueueError, TranscriptTooLarge, UnknownAgent
from whispersync.pipeline.ingest import decode_transcript


class TestAccept:
    def test_it_stores_records_and_enqueues_an_accepted_transcript(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="Need to ship the release", agent="work", title="standup"))

        assert receipt.key == f"transcripts/work/{receipt.id}.txt"
        assert runtime.blobs.get(receipt.key) == b"Need to ship the release"
        memo = runtime.records.get(receipt.id)
        assert (memo.status, memo.agent, memo.title, memo.correlation_id) == (
            MemoStatus.QUEUED, "work", "standup", receipt.correlation_id)
        [message] = runtime.queue.receive(10)
        assert orjson.loads(message.body) == {"memo_id": receipt.id, "key": receipt.key, "agent": "work"}
        assert message.attributes["correlationId"] == receipt.correlation_id
        assert message.attributes["traceparent"].split("-")[1] == receipt.trace_id

    def test_it_honours_the_callers_correlation_id(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="hello"), correlation_id="req-42")
        assert receipt.correlation_id == "req-42"

    def test_a_transcript_without_agent_goes_under_transcripts(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="hello"))
        assert receipt.key == f"transcripts/{receipt.id}.txt"

    def test_the_same_memo_id_is_accepted_once(self, runtime) -> None:
        first = runtime.ingestor.accept(Transcript(text="hello"), memo_id="a" * 32)
        second = runtime.ingestor.accept(Transcript(text="hello"), memo_id="a" * 32)
        assert first == second
        assert runtime.queue.counts().visible == 1

    def test_a_retry_after_a_failed_enqueue_enqueues_the_memo(self, runtime, monkeypatch) -> None:
        """A send that fails leaves the memo unqueued; the retry with the same id must enqueue it."""
        send = runtime.queue.send

        def broken_send(*args, **kwargs):
            raise QueueError("database is locked")

        monkeypatch.setattr(runtime.queue, "send", broken_send)
        with pytest.raises(QueueError):
            runtime.ingestor.accept(Transcript(text="hello"), memo_id="b" * 32)
        monkeypatch.setattr(runtime.queue, "send", send)

        receipt = runtime.ingestor.accept(Transcript(text="hello"), memo_id="b" * 32)

        [message] = runtime.queue.receive(1)
        assert orjson.loads(message.body)["memo_id"] == receipt.id == "b" * 32
        assert message.attributes["correlationId"] == receipt.correlation_id
        assert runtime.records.get(receipt.id).error is None
        assert runtime.ingestor.accept(Transcript(text="hello"), memo_id="b" * 32) == receipt
        assert runtime.queue.counts().in_flight == 1 and runtime.queue.counts().visible == 0

    @pytest.mark.parametrize(
        ("transcript", "error"),
        [
            (Transcript(text=""), EmptyTranscript),
            (Transcript(text=" \n\t "), EmptyTranscript),
            (Transcript(text="x" * (1024 * 1024 + 1)), TranscriptTooLarge),
            (Transcript(text="hello", agent="poetry"), UnknownAgent),
        ],
    )
    def test_bad_input_is_refused_and_nothing_is_stored(self, runtime, transcript, error) -> None:
        with pytest.raises(error):
            runtime.ingestor.accept(transcript)
        assert runtime.queue.counts().visible == 0
        assert runtime.records.list() == []

    def test_an_unknown_agent_error_names_the_known_agents(self, runtime) -> None:
        with pytest.raises(UnknownAgent, match="work, memory, github_ideas"):
            runtime.ingestor.accept(Transcript(text="hello", agent="poetry"))


class TestDecodeTranscript:
    def test_it_decodes_utf8(self) -> None:
        assert decode_transcript("café ☕".encode(), max_bytes=100) == "café ☕"

    def test_it_refuses_bytes_that_are_not_utf8(self) -> None:
        with pytest.raises(NotUtf8, match="byte 1"):
            decode_transcript(b"a\xff\xfe", max_bytes=100)

    def test_it_refuses_more_than_the_limit(self) -> None:
        with pytest.raises(TranscriptTooLarge, match="limit is 4 bytes"):
            decode_transcript(b"hello", max_bytes=4)
