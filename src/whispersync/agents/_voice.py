"""The voice port: speak a short reply after a memo is processed.

Adapters: `ElevenLabsVoice` (HTTP API, mp3) and `EspeakVoice` (espeak-ng, wav).
Voice off is `None` from `build_voice`, so the worker asks once whether to speak.

    Voice.synthesize(text) -> bytes   raises ExternalServiceError / ProcessingError
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from whispersync.domain import AgentResult
from whispersync.errors import ExternalServiceError, ProcessingError

from . import _text

if TYPE_CHECKING:
    import httpx  # imported when an ElevenLabsVoice is built: the Lambda worker's cold start does without it

MAX_REPLY_CHARS = 300
"""Spoken replies are a sentence or two; ElevenLabs bills per character."""


@runtime_checkable
class Voice(Protocol):
    """Turns a short text into audio bytes (mp3 or wav; a wav starts with b"RIFF")."""

    name: str

    def synthesize(self, text: str) -> bytes: ...


class ElevenLabsVoice:
    """ElevenLabs text-to-speech: `POST /v1/text-to-speech/{voice_id}`, mp3 back.

    Failures become `ExternalServiceError`: permanent for 4xx (bad key, bad voice id,
    quota) except 429, retryable for 429, 5xx, timeouts and connection errors. The API
    key is sent in the `xi-api-key` header only and never appears in an error message.
    """

    name = "elevenlabs"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.elevenlabs.io",
        voice_id: str = "21m00Tcm4TlvDq8ikWAM",
        model_id: str = "eleven_multilingual_v2",
        output_format: str = "mp3_44100_128",
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("ElevenLabsVoice needs an API key")
        self._api_key = api_key
        self.url = f"{base_url.rstrip('/')}/v1/text-to-speech/{voice_id}"
        self.model_id = model_id
        self.output_format = output_format
        self.timeout = timeout
        import httpx

        self._client = client or httpx.Client(timeout=timeout)
        self._owns_client = client is None

    def __repr__(self) -> str:
        return f"ElevenLabsVoice(url={self.url!r}, model_id={self.model_id!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def synthesize(self, text: str) -> bytes:
        import httpx

        if not text.strip():
            raise ValueError("nothing to say: text is empty")
        try:
            response = self._client.post(
                self.url,
                params={"output_format": self.output_format},
                headers={"xi-api-key": self._api_key, "Accept": "audio/mpeg"},
                json={"text": text[:MAX_REPLY_CHARS], "model_id": self.model_id},
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise ExternalServiceError(
                f"ElevenLabs timed out after {self.timeout:g}s", permanent=False
            ) from exc
        except httpx.HTTPError as exc:
            # The key travels in a header, which httpx never puts in a message; scrub anyway.
            raise ExternalServiceError(
                self._scrub(f"ElevenLabs request failed: {type(exc).__name__}: {exc}"), permanent=False
            ) from exc
        status = response.status_code
        if status >= 400:
            permanent = 400 <= status < 500 and status != 429
            raise ExternalServiceError(
                self._scrub(f"ElevenLabs returned HTTP {status}: {_detail(response)}"), permanent=permanent
            )
        if not response.content:
            raise ExternalServiceError("ElevenLabs returned no audio", permanent=False)
        return response.content

    def _scrub(self, message: str) -> str:
        return message.replace(self._api_key, "***")


def _detail(response: httpx.Response) -> str:
    """The API's own explanation, e.g. {"detail": {"status": "invalid_api_key", "message": "..."}}."""
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        return _text.shorten(response.reason_phrase or "", 200)
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("status") or ""
    return _text.shorten(str(detail), 200) or (response.reason_phrase or "")


class EspeakVoice:
    """espeak-ng, reading the text on stdin and writing a WAV file to stdout."""

    name = "espeak"

    def __init__(self, executable: str | None = None, *, voice: str = "en", timeout: float = 10.0) -> None:
        found = executable or shutil.which("espeak-ng")
        if not found:
            raise ValueError("espeak-ng is not installed (apt-get install espeak-ng), or choose voice 'off'")
        self.executable = found
        self.voice = voice
        self.timeout = timeout

    def synthesize(self, text: str) -> bytes:
        if not text.strip():
            raise ValueError("nothing to say: text is empty")
        try:
            # Text on stdin, not argv: a reply starting with "-" is not an option.
            proc = subprocess.run(
                [self.executable, "--stdout", "-v", self.voice, "--stdin"],
                input=text[:MAX_REPLY_CHARS].encode("utf-8"),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProcessingError(f"espeak-ng timed out after {self.timeout:g}s", permanent=False) from None
        except OSError as exc:
            raise ProcessingError(f"espeak-ng could not run: {exc}", permanent=True) from exc
        if proc.returncode != 0 or not proc.stdout.startswith(b"RIFF"):
            err = proc.stderr.decode("utf-8", "replace").strip()
            raise ProcessingError(f"espeak-ng failed (exit {proc.returncode}): {_text.shorten(err, 200)}",
                                  permanent=True)
        return proc.stdout


def build_voice(
    mode: str, *, elevenlabs_api_key: str | None, elevenlabs_url: str, voice_id: str
) -> Voice | None:
    """The voice for a `Settings.voice` mode, or None when replies are off.

    "auto" picks ElevenLabs when a key is set, else espeak-ng when installed, else None.
    """
    if mode == "off":
        return None
    if mode == "elevenlabs":
        if not elevenlabs_api_key:
            raise ValueError("voice 'elevenlabs' needs an API key: set WHISPERSYNC_ELEVENLABS_API_KEY")
        return ElevenLabsVoice(elevenlabs_api_key, base_url=elevenlabs_url, voice_id=voice_id)
    if mode == "espeak":
        return EspeakVoice()
    if mode == "auto":
        if elevenlabs_api_key:
            return ElevenLabsVoice(elevenlabs_api_key, base_url=elevenlabs_url, voice_id=voice_id)
        if shutil.which("espeak-ng"):
            return EspeakVoice()
        return None
    raise ValueError(f"unknown voice mode {mode!r}; choose off, auto, espeak or elevenlabs")


def reply_text(result: AgentResult) -> str:
    """The sentence spoken back: what was done, in a few words."""
    data = result.data
    if result.agent == "work":
        n = len(data.get("action_items", []))
        items = "no action items" if n == 0 else "one action item" if n == 1 else f"{n} action items"
        return f"Added to your work journal for {data.get('week', 'this week')}, with {items}."
    if result.agent == "memory":
        return f"Saved the memory: {_text.shorten(str(data.get('title', 'untitled')), 80)}."
    if result.agent == "github_ideas":
        n = len(data.get("features", []))
        return (f"Drafted a project spec for {_text.shorten(str(data.get('name', 'your idea')), 60)}, "
                f"with {n} feature{'s' if n != 1 else ''}.")
    return _text.shorten(f"Done. {result.summary}", MAX_REPLY_CHARS)
