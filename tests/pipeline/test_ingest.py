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


class TestDoomedInputIsRefusedAtIngest:
    """Inputs that used to be accepted (202) and then failed in the worker, or worse."""

    @pytest.mark.parametrize("recorded_at", [
        "0001-01-01T00:00:00+14:00",   # before year 1 in UTC: astimezone overflowed in every agent
        "9999-12-31T23:59:59-14:00",   # after year 9999 in UTC
        "0001-01-01T00:00:00-14:00",   # converts, but a day's margin keeps any local rendering in range
        "9999-12-31T23:59:59+14:00",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-05-01T09:00:00Z" + "x" * 10_000,
        "0001-01-02T00:00:00+14:00",   # 0001-01-01T10:00Z: inside year 1, but inside the margin
    ])
    def test_a_recorded_at_out_of_range_or_not_iso_8601_is_refused(self, runtime, recorded_at) -> None:
        from whispersync.errors import InvalidRecordedAt

        with pytest.raises(InvalidRecordedAt, match="recorded_at") as caught:
            runtime.ingestor.accept(Transcript(text="hello", agent="work", recorded_at=recorded_at))
        assert caught.value.http_status == 422 and len(str(caught.value)) < 400
        assert runtime.records.list() == [] and runtime.queue.counts().visible == 0

    @pytest.mark.parametrize(("given", "stored"), [
        ("2026-11-25T09:00:00Z", "2026-11-25T09:00:00+00:00"),
        ("2026-11-25T10:30:00+01:30", "2026-11-25T09:00:00+00:00"),
        ("2026-11-25T09:00:00", "2026-11-25T09:00:00+00:00"),   # no offset: UTC, as the worker always read it
        ("2026-11-25", "2026-11-25T00:00:00+00:00"),
        ("0001-01-02T09:00:00+09:00", "0001-01-02T00:00:00+00:00"),
    ])
    def test_an_accepted_recorded_at_is_stored_in_utc(self, runtime, given, stored) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="hello", agent="work", recorded_at=given))
        assert runtime.records.get(receipt.id).recorded_at == stored

    def test_a_memo_recorded_at_the_earliest_accepted_instant_is_processed(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="Ship it", agent="memory",
                                                     recorded_at="0001-01-02T00:00:00Z"))
        [message] = runtime.queue.receive(1)
        assert runtime.processor.process(message)
        assert runtime.records.get(receipt.id).status is MemoStatus.DONE

    @pytest.mark.parametrize("text", ["\x00", "\x00" * 1000, "hello\x00world", "\x01\x02\x1b\x7f", "\x00 \n\x03"])
    def test_a_body_with_nul_or_only_control_characters_is_refused(self, runtime, text) -> None:
        from whispersync.errors import NotText

        with pytest.raises((NotText, EmptyTranscript)) as caught:
            runtime.ingestor.accept(Transcript(text=text))
        assert 400 <= caught.value.http_status < 500
        assert runtime.records.list() == [] and runtime.queue.counts().visible == 0

    def test_text_with_ordinary_control_characters_is_accepted(self, runtime) -> None:
        runtime.ingestor.accept(Transcript(text="line one\r\n\tline two\x0c"))
        assert runtime.queue.counts().visible == 1

    def test_a_900_kb_title_is_refused_and_a_255_character_one_is_not(self, runtime) -> None:
        from whispersync.errors import TitleTooLong
        from whispersync.pipeline.ingest import MAX_TITLE_CHARS

        with pytest.raises(TitleTooLong, match=f"limit is {MAX_TITLE_CHARS} characters") as caught:
            runtime.ingestor.accept(Transcript(text="hello", title="t" * 900_000))
        assert len(str(caught.value)) < 200
        assert runtime.records.list() == []
        runtime.ingestor.accept(Transcript(text="hello", title="é" * 255))
        assert runtime.queue.counts().visible == 1

    def test_the_unknown_agent_message_repeats_a_bounded_prefix_of_the_name(self, runtime) -> None:
        with pytest.raises(UnknownAgent) as caught:
            runtime.ingestor.accept(Transcript(text="hello", agent="a" * 8000))
        message = str(caught.value)
        assert "a" * 64 + "…" in message and "a" * 65 not in message
        assert "work, memory, github_ideas" in message and len(message) < 200
