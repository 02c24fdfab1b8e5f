from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from whispersync.agents import ElevenLabsVoice, EspeakVoice, Voice, build_voice, reply_text
from whispersync.domain import AgentResult
from whispersync.errors import ExternalServiceError, ProcessingError

KEY = "sk_test_secret_0123456789"
MP3 = b"ID3\x04\x00fake-mp3-bytes"


class FakeElevenLabs:
    """A real HTTP server on 127.0.0.1 that records requests and answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.body = MP3
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": json.loads(self.rfile.read(length))})
                time.sleep(fake.delay)
                self.send_response(fake.status)
                self.send_header("Content-Type", "audio/mpeg" if fake.status == 200 else "application/json")
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def fail(self, status: int, detail: dict) -> None:
        self.status, self.body = status, json.dumps({"detail": detail}).encode()


@pytest.fixture
def server() -> Iterator[FakeElevenLabs]:
    fake = FakeElevenLabs()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def voice(server: FakeElevenLabs) -> Iterator[ElevenLabsVoice]:
    v = ElevenLabsVoice(KEY, base_url=server.url, voice_id="voice123", timeout=0.5)
    yield v
    v.close()


class TestElevenLabsVoice:
    def test_it_posts_the_text_and_returns_the_audio(self, server, voice):
        assert voice.synthesize("Saved your memory.") == MP3
        (request,) = server.requests
        assert request["path"] == "/v1/text-to-speech/voice123?output_format=mp3_44100_128"
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["xi-api-key"] == KEY
        assert headers["accept"] == "audio/mpeg"
        assert headers["content-type"] == "application/json"
        assert request["body"] == {"text": "Saved your memory.", "model_id": "eleven_multilingual_v2"}

    def test_it_satisfies_the_voice_port(self, voice):
        assert isinstance(voice, Voice) and voice.name == "elevenlabs"

    def test_a_rejected_key_is_permanent_and_the_key_stays_secret(self, server, voice):
        """401 will not heal by retrying; the message quotes the API, never the key (echoed here)."""
        server.fail(401, {"status": "invalid_api_key", "message": f"Invalid API key {KEY}"})
        with pytest.raises(ExternalServiceError) as info:
            voice.synthesize("hello")
        assert info.value.permanent is True
        assert "HTTP 401" in str(info.value)
        assert "Invalid API key" in str(info.value)
        assert KEY not in str(info.value)

    @pytest.mark.parametrize("status", [429, 500, 503])
    def test_throttling_and_server_errors_are_retryable(self, server, voice, status):
        server.fail(status, {"status": "busy", "message": "try later"})
        with pytest.raises(ExternalServiceError) as info:
            voice.synthesize("hello")
        assert info.value.permanent is False
        assert f"HTTP {status}" in str(info.value) and KEY not in str(info.value)

    def test_other_client_errors_are_permanent(self, server, voice):
        server.fail(422, {"status": "invalid", "message": "text too long"})
        with pytest.raises(ExternalServiceError) as info:
            voice.synthesize("hello")
        assert info.value.permanent is True

    def test_a_timeout_is_retryable(self, server):
        server.delay = 0.3
        with pytest.raises(ExternalServiceError) as info:
            ElevenLabsVoice(KEY, base_url=server.url, timeout=0.1).synthesize("hello")
        assert info.value.permanent is False
        assert "timed out" in str(info.value) and KEY not in str(info.value)

    def test_a_refused_connection_is_retryable(self):
        voice = ElevenLabsVoice(KEY, base_url="http://127.0.0.1:9", timeout=0.5)
        with pytest.raises(ExternalServiceError) as info:
            voice.synthesize("hello")
        assert info.value.permanent is False and KEY not in str(info.value)

    def test_its_repr_hides_the_key(self, voice):
        assert KEY not in repr(voice)

    def test_empty_text_is_a_misuse(self, voice):
        with pytest.raises(ValueError):
            voice.synthesize("  ")


class TestEspeakVoice:
    def test_it_speaks_through_a_program_reading_stdin(self, tmp_path: Path):
        """A stand-in for espeak-ng: checks the flags and echoes stdin after a WAV header."""
        fake = tmp_path / "espeak-ng"
        fake.write_text('#!/bin/sh\n[ "$1" = --stdout ] || exit 3\nprintf RIFF; cat\n')
        fake.chmod(0o755)
        assert EspeakVoice(str(fake)).synthesize("-v hello") == b"RIFF-v hello"

    def test_a_failing_program_is_a_permanent_error(self, tmp_path: Path):
        fake = tmp_path / "espeak-ng"
        fake.write_text("#!/bin/sh\necho 'no voice' >&2\nexit 1\n")
        fake.chmod(0o755)
        with pytest.raises(ProcessingError) as info:
            EspeakVoice(str(fake)).synthesize("hello")
        assert info.value.permanent is True and "no voice" in str(info.value)

    @pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
    def test_the_real_espeak_ng_returns_wav(self):
        assert EspeakVoice().synthesize("Saved your memory.")[:4] == b"RIFF"


class TestBuildVoice:
    def _build(self, mode: str, key: str | None = None) -> Voice | None:
        return build_voice(mode, elevenlabs_api_key=key, elevenlabs_url="http://127.0.0.1:9", voice_id="v")

    def test_off_means_no_voice(self):
        assert self._build("off", KEY) is None

    def test_elevenlabs_needs_a_key(self):
        with pytest.raises(ValueError, match="API key"):
            self._build("elevenlabs")
        assert isinstance(self._build("elevenlabs", KEY), ElevenLabsVoice)

    def test_auto_prefers_elevenlabs_then_espeak_then_nothing(self, monkeypatch):
        assert isinstance(self._build("auto", KEY), ElevenLabsVoice)
        monkeypatch.setattr(shutil, "which", lambda name: None)
        assert self._build("auto") is None
        monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/espeak-ng")
        assert isinstance(self._build("auto"), EspeakVoice)

    def test_espeak_needs_espeak_ng(self, monkeypatch):
        monkeypatch.setattr(shutil, "which", lambda name: None)
        with pytest.raises(ValueError, match="espeak-ng is not installed"):
            self._build("espeak")

    def test_an_unknown_mode_is_refused(self):
        with pytest.raises(ValueError, match="unknown voice mode"):
            self._build("loud")


class TestReplyText:
    def test_work(self):
        result = AgentResult("work", "s", data={"week": "2024-W19", "action_items": ["a", "b"]})
        assert reply_text(result) == "Added to your work journal for 2024-W19, with 2 action items."

    def test_memory(self):
        assert reply_text(AgentResult("memory", "s", data={"title": "Lisbon"})) == "Saved the memory: Lisbon."

    def test_github_ideas(self):
        result = AgentResult("github_ideas", "s", data={"name": "PlantPal", "features": ["x"]})
        assert reply_text(result) == "Drafted a project spec for PlantPal, with 1 feature."

    def test_an_unknown_agent_reads_its_summary(self):
        assert reply_text(AgentResult("other", "Did a thing.")) == "Done. Did a thing."
