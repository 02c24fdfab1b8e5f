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
     │    ├── QueryTimeout       a query ran past its time budget
     │    └── QuerySyntaxError   a query, expression, pattern or rule that does not parse:
     │                           Insights, metric math, filter patterns, trace filters, AlarmRules
     ├── NotFound               no memo / trace / message with that id
     ├── QueueError             the durable queue refused an operation
     ├── StorageFull            the disk under the home is full (HTTP 507)
     └── ProcessingError        an agent or adapter failed on a memo
          └── ExternalServiceError   a third-party call failed (TTS, webhooks, alert channels)

Each language's QuerySyntaxError lives next to its parser and keeps the code
clients know: InsightsQueryError ("bad_query"), MetricMathError, FilterPatternError
("invalid_filter_pattern"), TraceFilterError ("invalid_filter"), RuleSyntaxError.
AlarmInputError (a PutMetricAlarm field) and MetricQueryError (a GetMetricData
request) are InputErrors too. A plain ValueError is never the caller's fault: the
web layer answers it 500, as the bug it is.

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


def line_and_column(text: str, position: int) -> tuple[int, int]:
    """The 1-based line and column of the 0-based offset `position` in `text`."""
    before = text[:position]
    line_start = before.rfind("\n") + 1
    return before.count("\n") + 1, position - line_start + 1


class QuerySyntaxError(InputError):
    """A query (or expression, pattern, rule) that cannot be accepted at one place in it.

    ``position`` is the 0-based offset in ``text``; ``line`` and ``column`` are
    1-based; ``reason`` is the message without the place. ``str()`` reads like
    ``line 1, column 18: expected a field name after 'by'``, whichever language it is.
    """

    code = "invalid_syntax"

    def __init__(self, reason: str, text: str = "", position: int = 0) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        self.line, self.column = line_and_column(text, position)
        super().__init__(f"line {self.line}, column {self.column}: {reason}")


class NotFound(WhisperSyncError):
    """The thing asked for does not exist."""


class RecordExists(WhisperSyncError):
    """A memo with this id is already recorded; a record store's `create` never overwrites one.

    Both stores raise it (SQLite's primary key, DynamoDB's conditional put), so a memo
    processed twice is written once whichever store backs the pipeline."""


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
