"""Choose the agent for a memo: the one asked for, else a keyword classifier you can read.

The classifier is a table of weighted terms per agent (`RULES`). A memo scores the
weights of the distinct terms it contains (a term said ten times counts once, so a
long ramble does not drown a short one), the highest score wins, ties go to the
agent listed first in `AGENTS`, and a memo that matches nothing goes to `DEFAULT_AGENT`
with low confidence. The reasons name the terms that decided it.

Matching is by words, not substrings: the text is split into words once, and each
word, word pair and word triple is looked up in a dict, with a light suffix
stripping ("deployed", "deploying" -> "deploy"). About 0.2 ms for a 350-word memo.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from whispersync.domain import AGENTS
from whispersync.errors import UnknownAgent

from . import _text

DEFAULT_AGENT = "memory"
"""Where a memo with no clue goes: archiving it as a memory presumes the least."""

DEFAULT_CONFIDENCE = 0.1
CONFIDENT_SCORE = 6.0
"""A winning score at which the evidence counts as complete (two strong terms)."""

# Weights: 3 = says which agent on its own, 2 = a strong hint, 1 = a weak hint.
# Terms are lower-case words or space-separated phrases ("stand up" also matches
# "stand-up"); a "display|key" pair shows `display` in reasons for an awkward key.
RULES: dict[str, dict[str, float]] = {
    "work": {
        # meetings and rituals
        "standup": 3, "stand up": 3, "sprint": 3, "retro": 3, "retrospective": 3,
        "1:1|1 1": 3, "one on one": 3, "all hands": 3, "sync": 1, "meeting": 2, "agenda": 2,
        "planning": 2, "roadmap": 3, "okr": 3, "kpi": 3, "quarter": 2, "q1": 2, "q2": 2, "q3": 2, "q4": 2,
        # engineering
        "pull request": 3, "pr": 2, "code review": 3, "deploy": 3, "deployment": 3, "release": 2,
        "rollback": 3, "roll back": 3, "incident": 3, "outage": 3, "postmortem": 3, "post mortem": 3,
        "on call": 3, "pager": 2, "pagerduty": 3, "production": 2, "prod": 2, "staging": 3,
        "hotfix": 3, "bug": 1, "ticket": 2, "jira": 3, "backlog": 3, "migration": 2, "latency": 2,
        "error rate": 3, "root cause": 3, "regression": 2, "ci": 2, "pipeline": 1,
        # people and business
        "team": 1, "manager": 2, "my manager": 3, "direct report": 3, "colleague": 2, "coworker": 2,
        "stakeholder": 3, "customer": 2, "client": 2, "deadline": 2, "budget": 2, "headcount": 3,
        "hiring": 2, "interview": 1, "candidate": 2, "performance review": 3, "promotion": 2,
        "action item": 3, "follow up": 1, "blocker": 3, "blocked": 2, "estimate": 2, "scope": 2,
        "office": 1, "work": 1, "slides": 2, "presentation": 1, "contract": 2, "invoice": 2,
        "vendor": 2, "launch": 1, "feedback": 1, "priorities": 2, "priority": 1, "eng": 1,
    },
    "memory": {
        # family and friends
        "my sister": 3, "my brother": 3, "my mom": 3, "my mum": 3, "my mother": 3, "my dad": 3,
        "my father": 3, "my wife": 3, "my husband": 3, "my partner": 2, "my son": 3, "my daughter": 3,
        "my kids": 3, "the kids": 2, "grandma": 3, "grandpa": 3, "grandmother": 3, "grandfather": 3,
        "family": 2, "aunt": 2, "uncle": 2, "cousin": 2, "niece": 2, "nephew": 2, "friends": 1,
        "best friend": 3, "baby": 2,
        # moments and feelings
        "remember": 1, "i want to remember": 3, "never forget": 3, "remember when": 3, "memory": 2,
        "birthday": 3, "anniversary": 3, "wedding": 3, "graduation": 2, "christmas": 2,
        "thanksgiving": 2, "holiday": 2, "funeral": 3, "grateful": 2, "laughed": 2, "laughing": 2,
        "cried": 2, "tears": 2, "beautiful": 1, "magical": 2, "felt": 1, "childhood": 3,
        "proud": 1, "missed": 1, "miss her": 3, "miss him": 3, "moment": 1, "smile": 1,
        # travel and places
        "trip": 2, "vacation": 3, "travel": 2, "flight": 1, "beach": 2, "sunset": 2, "sunrise": 2,
        "mountains": 2, "hike": 2, "hiking": 2, "lake": 2, "camping": 2, "picnic": 3, "hotel": 1,
        "museum": 2, "festival": 1, "visited": 1, "village": 1, "road trip": 3, "airport": 1,
        "dinner": 1, "cooked": 1, "recipe": 1, "garden": 1, "dog": 1, "puppy": 2, "cat": 1,
        "first time": 1, "weekend": 1, "park": 1, "snow": 1, "ocean": 2,
    },
    "github_ideas": {
        "app idea": 3, "project idea": 3, "side project": 3, "idea for": 2, "an idea": 2,
        "idea": 1, "open source": 3, "github": 3, "repo": 3, "repository": 3,
        "what if": 2, "build a": 2, "build an": 2, "could build": 3, "should build": 3,
        "someone should": 3, "i want to build": 3, "build": 1, "mvp": 3, "prototype": 2,
        "startup": 2, "hackathon": 3, "saas": 3, "app": 2, "apps": 2, "website": 1, "web app": 3,
        "mobile app": 3, "browser extension": 3, "extension": 2, "plugin": 2, "library": 1,
        "cli": 3, "command line": 2, "bot": 2, "tool": 1, "tool that": 3, "app that": 3,
        "self hosted": 3, "api": 1, "users": 1, "users could": 3, "users can": 3, "feature": 1,
        "features": 1, "python": 2, "rust": 2, "typescript": 2, "javascript": 2, "react": 2,
        "database": 1, "frontend": 2, "backend": 1, "scrape": 2, "scraper": 3, "automate": 1,
        "raspberry pi": 3, "arduino": 3, "machine learning": 2, "llm": 2, "readme": 3,
        "framework": 1, "platform": 1, "dashboard": 1, "tracker": 1, "open api": 2, "webhook": 1,
    },
}


@dataclass(frozen=True, slots=True)
class Route:
    """The agent a memo goes to, how sure the router is (0-1), and why, in words."""

    agent: str
    confidence: float
    reasons: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=8192)
def _stems(word: str) -> tuple[str, ...]:
    """The word and its candidate stems: "deployed" -> ("deployed", "deploye", "deploy")."""
    out = [word]
    if len(word) > 3:
        if word.endswith("s") and not word.endswith("ss"):
            out.append(word[:-1])
        if word.endswith(("ed", "es")):
            out.append(word[:-2])
        if word.endswith("d"):
            out.append(word[:-1])
        if word.endswith("ing") and len(word) > 5:
            out.append(word[:-3])
            out.append(word[:-3] + "e")
    return tuple(out)


class Router:
    """Route a memo to the requested agent or, failing that, to the best-scoring one."""

    def __init__(
        self,
        rules: dict[str, dict[str, float]] | None = None,
        *,
        agents: tuple[str, ...] = AGENTS,
        default: str = DEFAULT_AGENT,
    ) -> None:
        rules = RULES if rules is None else rules
        if default not in agents or any(a not in agents for a in rules):
            raise ValueError("rules and default must name known agents")
        self.agents = agents
        self.default = default
        # key (space-joined words) -> list of (agent, display label, weight)
        self._index: dict[str, list[tuple[str, str, float]]] = {}
        self._max_words = 1
        for agent in agents:
            for term, weight in rules.get(agent, {}).items():
                label, _, key = term.partition("|")
                key = " ".join(_text.words(key or label))
                self._index.setdefault(key, []).append((agent, label, float(weight)))
                self._max_words = max(self._max_words, key.count(" ") + 1)
        # "i want to build" -> "i", "i want", "i want to": where a phrase may continue.
        self._prefixes = frozenset(
            " ".join(parts[:n]) for parts in (k.split(" ") for k in self._index) for n in range(1, len(parts))
        )

    def route(self, text: str, *, requested: str | None = None) -> Route:
        """Return the agent for `text`; a `requested` agent wins (blank counts as none)."""
        if requested is not None and requested.strip():
            agent = requested.strip().lower().replace("-", "_")
            if agent not in self.agents:
                raise UnknownAgent(
                    f"unknown agent {requested!r}; known agents: {', '.join(self.agents)}"
                )
            return Route(agent, 1.0, [f"requested {agent!r}"])
        return self.classify(text)

    def classify(self, text: str) -> Route:
        """Score `text` against the rules; see the module docstring for how."""
        matched = self.matches(text)
        scores = {a: sum(w for _, w in matched.get(a, [])) for a in self.agents}
        ranked = sorted(self.agents, key=lambda a: (-scores[a], self.agents.index(a)))
        top, runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
        total = sum(scores.values())
        if total <= 0:
            return Route(self.default, DEFAULT_CONFIDENCE,
                         [f"no keywords matched; defaulted to {self.default!r}"])
        confidence = scores[top] / total * min(1.0, scores[top] / CONFIDENT_SCORE)
        labels = [label for label, _ in sorted(matched[top], key=lambda m: -m[1])[:5]]
        quoted = ", ".join('"' + label + '"' for label in labels)
        reasons = [f"matched {quoted} "
                   f"({top} keywords, score {scores[top]:g})"]
        if runner_up is not None and scores[runner_up] > 0:
            tie = " (tie broken by agent order)" if scores[runner_up] == scores[top] else ""
            reasons.append(f"runner-up {runner_up} scored {scores[runner_up]:g}{tie}")
        return Route(top, round(confidence, 2), reasons)

    def matches(self, text: str) -> dict[str, list[tuple[str, float]]]:
        """The distinct terms found in `text`, per agent, as (label, weight), in order of appearance."""
        tokens = _text.words(text[: _text.MAX_ANALYSED_CHARS])
        found: dict[str, list[tuple[str, float]]] = {}
        seen: set[tuple[str, str]] = set()
        index, prefixes, max_words = self._index, self._prefixes, self._max_words
        count = len(tokens)
        for i, token in enumerate(tokens):
            keys = list(_stems(token))
            # Extend a phrase only while what we have is the start of some phrase.
            head, j = token, i + 1
            while head in prefixes and j < count and j - i < max_words:
                keys += [f"{head} {last}" for last in _stems(tokens[j])]
                head, j = f"{head} {tokens[j]}", j + 1
            for key in keys:
                hits = index.get(key)
                if hits:
                    for agent, label, weight in hits:
                        if (agent, label) not in seen:
                            seen.add((agent, label))
                            found.setdefault(agent, []).append((label, weight))
        return found
