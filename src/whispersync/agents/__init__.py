"""Agents: what WhisperSync does with a memo, chosen by a router you can read.

    router = Router()
    agents = build_agents(settings.outputs_dir)
    route = router.route(text, requested=memo.agent)        # Route(agent, confidence, reasons)
    result = agents[route.agent].process(AgentInput(...))   # AgentResult

Everything here is deterministic (no LLM) and writes only under the outputs folder:
`work/journal/YYYY-Www.md`, `memory/memories/*.md` + `memory/archive.jsonl`,
`github_ideas/<slug>/{spec.json,README.md}`, and `<agent>/<name>_response.json` for
each memo. Every agent is idempotent per memo id and thread-safe.
"""

from __future__ import annotations

from pathlib import Path

from ._base import Agent, AgentInput
from ._github_ideas import GithubIdeasAgent
from ._memory import MemoryAgent
from ._router import Route, Router
from ._voice import ElevenLabsVoice, EspeakVoice, Voice, build_voice, reply_text
from ._work import WorkJournalAgent

__all__ = [
    "Agent",
    "AgentInput",
    "ElevenLabsVoice",
    "EspeakVoice",
    "GithubIdeasAgent",
    "MemoryAgent",
    "Route",
    "Router",
    "Voice",
    "WorkJournalAgent",
    "build_agents",
    "build_voice",
    "reply_text",
]


def build_agents(outputs_dir: Path) -> dict[str, Agent]:
    """One instance of each agent, keyed by the names in `whispersync.domain.AGENTS`."""
    outputs_dir = Path(outputs_dir)
    return {
        "work": WorkJournalAgent(outputs_dir),
        "memory": MemoryAgent(outputs_dir),
        "github_ideas": GithubIdeasAgent(outputs_dir),
    }
