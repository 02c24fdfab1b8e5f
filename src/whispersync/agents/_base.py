"""The agent port (`Agent`, `AgentInput`) and the steps every agent shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from whispersync.domain import AgentResult

from . import _files, _text

_MEMO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass(frozen=True, slots=True)
class AgentInput:
    """One memo as an agent sees it. `recorded_at` must be timezone-aware."""

    memo_id: str
    text: str
    title: str | None
    recorded_at: datetime
    correlation_id: str

    def __post_init__(self) -> None:
        # The id ends up in file names and Markdown comments, so it is checked here
        # rather than escaped in every place it is used.
        if not _MEMO_ID.fullmatch(self.memo_id or ""):
            raise ValueError(f"memo_id must be 1-128 characters of [A-Za-z0-9._:-], got {self.memo_id!r}")
        if self.recorded_at.tzinfo is None or self.recorded_at.utcoffset() is None:
            raise ValueError("recorded_at must be timezone-aware")

    @property
    def recorded_utc(self) -> datetime:
        return self.recorded_at.astimezone(timezone.utc)


@runtime_checkable
class Agent(Protocol):
    """Turns a memo into files under the outputs folder.

    `process` must be idempotent per `memo.memo_id` and safe to call from several
    threads at once. It raises `ProcessingError(permanent=True)` for input it can
    never handle, and returns the files it wrote relative to the outputs folder.

    An agent that also writes files other memos write (appends to a journal, claims a
    folder) names them in `shared_paths(memo)`; the AWS worker, whose containers each
    have their own disk, merges those through the bucket (see `BaseAgent.shared_paths`).
    """

    name: str

    def process(self, memo: AgentInput) -> AgentResult: ...


class BaseAgent:
    """Clean the text, let the subclass act, write `<name>_response.json`, return the result."""

    name: str = ""

    def __init__(self, outputs_dir: Path) -> None:
        self.outputs_dir = Path(outputs_dir)
        self.agent_dir = self.outputs_dir / self.name

    def process(self, memo: AgentInput) -> AgentResult:
        text, title = self._prepared(memo)
        name = response_name(title, text, memo.memo_id)
        summary, outputs, data = self._act(memo, text, title)
        response = self.agent_dir / f"{name}_response.json"
        rel_response = self._rel(response)
        outputs = [*outputs, rel_response]
        data = {**data, "response": rel_response}
        document = {
            "memo_id": memo.memo_id,
            "correlation_id": memo.correlation_id,
            "agent": self.name,
            "recorded_at": memo.recorded_utc.isoformat(),
            "title": title,
            "summary": summary,
            "outputs": outputs,
            "data": data,
        }
        _files.write_atomic(response, orjson.dumps(document, option=orjson.OPT_INDENT_2))
        return AgentResult(agent=self.name, summary=summary, outputs=outputs, data=data)

    def shared_paths(self, memo: AgentInput) -> list[str]:
        """Files, relative to outputs_dir, that `process(memo)` may change and other memos change too.

        Before `process`, each must hold the latest shared version (or be absent when there is
        none), and it is read again after: a writer on another disk must merge, not overwrite it.
        Files only this memo writes are not listed. No file by default."""
        return []

    def _act(self, memo: AgentInput, text: str, title: str | None) -> tuple[str, list[str], dict[str, Any]]:
        """Do the agent's work; return (summary, outputs relative to outputs_dir, data)."""
        raise NotImplementedError

    @staticmethod
    def _prepared(memo: AgentInput) -> tuple[str, str | None]:
        """(cleaned text, stripped title or None), as `_act` receives them."""
        return _text.prepare(memo.text), (memo.title.strip() if memo.title and memo.title.strip() else None)

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.outputs_dir).as_posix()


def response_name(title: str | None, text: str, memo_id: str) -> str:
    """Stable per memo: a slug of the title (or first words) plus the short memo id."""
    return f"{_text.slugify(title or _text.title_from(text), 40)}-{_text.short_id(memo_id)}"
