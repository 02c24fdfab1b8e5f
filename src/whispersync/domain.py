"""The nouns every layer shares: memos, their status, the agents' names."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from whispersync.errors import InputError

AGENTS: tuple[str, ...] = ("work", "memory", "github_ideas")
"""Agents a memo can be routed to. Voice is a reply, not an agent."""

TEXT_SUFFIXES: tuple[str, ...] = (".txt", ".text", ".md", ".markdown")
"""The file names read as transcripts (case-insensitive), by the inbox and by `submit` of a folder alike."""


class MemoStatus(str, enum.Enum):
    QUEUED = "queued"          # accepted and enqueued; not yet finished
    PROCESSING = "processing"  # a worker has it
    DONE = "done"              # the agent's outputs are written
    FAILED = "failed"          # gave up after max receives; the message is in the DLQ


@dataclass(frozen=True, slots=True)
class Transcript:
    """A transcript as ingested: text plus what the submitter said about it."""

    text: str
    agent: str | None = None
    title: str | None = None
    recorded_at: str | None = None  # ISO 8601, as given
    source: str = "api"             # api | cli | inbox | synthetic (a canary's memo)

    @classmethod
    def from_json(cls, body: bytes, agent: str | None = None) -> Transcript:
        """A JSON submission (`{"text", "agent", "title", "recorded_at"}`, strings only) as POST
        /v1/transcripts and the Lambda function URL take it; ``agent`` is the ``?agent=`` fallback.
        InputError says what is wrong."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InputError("JSON body must be an object with a 'text' field")
        unknown = set(data) - JSON_FIELDS
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(sorted(unknown))[:200]}; "
                             f"allowed: {', '.join(sorted(JSON_FIELDS))}")
        for name in JSON_FIELDS:
            if data.get(name) is not None and not isinstance(data[name], str):
                raise InputError(f"field '{name}' must be a string")
        if data.get("text") is None:
            raise InputError("field 'text' is required")
        return cls(text=data["text"], agent=data.get("agent") or agent, title=data.get("title"),
                   recorded_at=data.get("recorded_at"), source="api")


# A canary's memo: processed like any other, left out of the business metrics and the SLO.
SYNTHETIC_SOURCE = "synthetic"
JSON_FIELDS = frozenset({"text", "agent", "title", "recorded_at"})  # what a JSON submission may carry


@dataclass(slots=True)
class Memo:
    """The record of one accepted transcript and what became of it."""

    id: str
    key: str                        # blob key of the transcript text
    correlation_id: str
    trace_id: str
    status: MemoStatus
    created_at: float               # epoch seconds
    updated_at: float
    agent: str | None = None        # requested, or chosen by the router
    title: str | None = None
    recorded_at: str | None = None
    source: str = "api"
    routing: dict[str, Any] | None = None   # classifier's choice, confidence, reasons
    result: dict[str, Any] | None = None    # what the agent produced (paths, summary)
    error: str | None = None
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The memo as the CLI's --json and the HTTP API show it (docs/json.md): times ISO 8601 UTC."""
        return {
            "id": self.id,
            "key": self.key,
            "correlation_id": self.correlation_id,
            "trace_id": self.trace_id,
            "status": self.status.value,
            "agent": self.agent,
            "title": self.title,
            "recorded_at": self.recorded_at,
            "source": self.source,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
            "routing": self.routing,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
        }


def iso_utc(epoch_seconds: float) -> str:
    """Epoch seconds → ISO 8601 UTC with milliseconds, as every JSON answer writes a point in time."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What an agent did with a memo: files written and a short human summary."""

    agent: str
    summary: str
    outputs: list[str] = field(default_factory=list)  # paths relative to outputs/
    data: dict[str, Any] = field(default_factory=dict)
