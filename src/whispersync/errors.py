"""WhisperSync's exceptions, one tree so callers catch at the level they need.

    WhisperSyncError
     ├── ConfigError            bad settings; raised at start-up, never later
     ├── InputError             a caller's input cannot be accepted (HTTP 4xx, CLI error line)
     │    ├── EmptyTranscript
     │    ├── TranscriptTooLarge
     │    ├── NotUtf8
     │    ├── NotText            NUL characters: binary data, not speech-to-text output
     │    ├── UnknownAgent
     │    ├── TitleTooLong
     │    ├── InvalidRecordedAt
     │    └── QueryTimeout       a query ran past its time budget
     ├── NotFound               no memo / trace / message with that id
     ├── QueueError             the durable queue refused an operation
     ├── StorageFull            the disk under the home is full (HTTP 507)
     └── ProcessingError        an agent or adapter failed on a memo
          └── ExternalServiceError   a third-party call failed (TTS, webhooks)

`ProcessingError.permanent` tells the worker whether a retry can help: a
permanent failure still goes through the queue's receive count to the DLQ, but
it is logged as such so nobody waits for it to heal.
"""

from __future__ import annotations


class WhisperSyncError(Exception):
    """Base of every error WhisperSync raises on purpose."""


class ConfigError(WhisperSyncError):
    """The settings (environment, whispersync.toml, flags) are invalid."""


class InputError(WhisperSyncError):
    """Input from a user or client that cannot be accepted; nothing was stored."""

    code = "invalid_input"
    http_status = 400


class EmptyTranscript(InputError):
    code = "empty_transcript"


class TranscriptTooLarge(InputError):
    code = "transcript_too_large"
    http_status = 413


class NotUtf8(InputError):
    code = "not_utf8"


class NotText(InputError):
    """The transcript holds NUL characters: binary data, not the output of speech-to-text."""

    code = "not_text"


class TitleTooLong(InputError):
    code = "title_too_long"
    http_status = 422


class InvalidRecordedAt(InputError):
    code = "invalid_recorded_at"
    http_status = 422


class UnknownAgent(InputError):
    code = "unknown_agent"
    http_status = 422


class QueryTimeout(InputError):
    """A query (Insights, metric math, trace search...) ran past its time budget.

    The caller's query is what was too expensive, so it is a 4xx: it never counts
    towards the server's own 5xx alarm."""

    code = "query_timeout"
    http_status = 422


class NotFound(WhisperSyncError):
    """The thing asked for does not exist."""


class QueueError(WhisperSyncError):
    """The durable queue refused an operation (unknown queue, bad receipt handle...)."""


class StorageFull(WhisperSyncError):
    """No space left on the device that holds the home; nothing was stored."""


class ProcessingError(WhisperSyncError):
    """Processing one memo failed."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ExternalServiceError(ProcessingError):
    """A call to a third-party service (ElevenLabs, Slack...) failed."""
