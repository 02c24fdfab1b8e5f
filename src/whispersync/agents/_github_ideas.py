"""The GitHub-ideas agent: turn a spoken idea into a project spec and a README draft."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import orjson

from . import _text
from ._base import AgentInput, BaseAgent
from ._files import write_atomic

MAX_FEATURES = 10

_CALLED = re.compile(
    r"\b(?:called|named|call it|name it)\s+[\"“'‘]?([^\W_][\w'’ -]{0,40}?)[\"”'’]?"
    r"(?=[,.;:!?\"”]|\s+(?:that|which|where|and|for|to|because|so|it)\b|$)",
    re.IGNORECASE | re.MULTILINE,
)
_FEATURE = re.compile(
    r"\b(?:it (?:should|would|could|can|will|needs to|has to)|should be able|users? (?:can|could|"
    r"should|would|will)|you (?:can|could|would)|people (?:can|could)|ability to|feature|support|"
    r"supports|lets? (?:you|me|users|people)|allows?|would be (?:nice|cool|great)|i want it to|"
    r"with a|plus)\b",
    re.IGNORECASE,
)
# Words that say "this is an idea" rather than what the idea is; left out of derived names.
_NAME_STOPWORDS = frozenset(
    """a an the and or but so to of for in on at by with from into that this these those it its
    i i'm i'd i've me my we our you your they them is are was were be been being have has had do
    does did would could should will can may might must just really maybe like kind sort thing
    things something idea ideas app apps application project side build building built make making
    want wanted think thinking thought okay ok um uh so what if about basically simple little small
    tool tools website site bot service platform someone somebody people user users new cool
    good great got get one which where when how there here then than also very""".split()
)

# (technology, what it is for, trigger words/phrases). First match of a technology wins.
STACK_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("React Native (Expo)", "mobile app", ("mobile", "iphone", "android", "ios", "phone app", "mobile app")),
    ("WebExtensions API + TypeScript", "browser extension",
     ("browser extension", "chrome extension", "firefox extension", "extension")),
    ("Python + Typer", "command-line interface", ("cli", "command line", "terminal")),
    ("FastAPI + htmx", "web app", ("web app", "website", "dashboard", "browser", "web", "site")),
    ("TypeScript + React", "frontend", ("react", "typescript", "javascript", "frontend")),
    ("Rust", "core", ("rust",)),
    ("SQLite", "storage", ("database", "store", "stores", "history", "track", "tracks", "tracker",
                          "tracking", "log", "logs", "save", "saves", "archive")),
    ("WebSockets", "real-time updates", ("real time", "realtime", "live", "chat", "multiplayer")),
    ("Leaflet + OpenStreetMap", "maps", ("map", "maps", "location", "gps", "nearby", "route", "routes")),
    ("scikit-learn", "predictions", ("machine learning", "ml", "predict", "predicts", "classify",
                                     "recommend", "recommends", "recommendations")),
    ("an LLM API (behind one prompt module)", "language features",
     ("llm", "gpt", "ai", "chatbot", "summarize", "summarise", "summarizes", "summaries")),
    ("Whisper (speech-to-text)", "audio", ("voice", "audio", "speech", "transcribe", "podcast", "podcasts")),
    ("Slack Bolt", "Slack integration", ("slack",)),
    ("discord.py", "Discord bot", ("discord",)),
    ("GitHub REST API", "GitHub integration", ("github", "pull requests", "issues", "repo", "repos")),
    ("MicroPython + MQTT", "hardware", ("raspberry pi", "arduino", "sensor", "sensors", "iot", "esp32")),
    ("httpx + selectolax", "scraping", ("scrape", "scraper", "scraping", "crawl", "crawler")),
    ("ntfy (push notifications)", "notifications",
     ("notification", "notifications", "notify", "remind", "reminder", "reminders", "alert", "alerts")),
    ("APScheduler", "scheduled jobs", ("schedule", "scheduled", "cron", "every day", "daily", "weekly", "every morning")),
    ("Stripe", "payments", ("payment", "payments", "subscription", "subscriptions", "pay")),
    ("Godot", "game engine", ("game", "games")),
    ("Docker Compose", "self-hosting", ("self hosted", "self host", "docker", "homelab", "home server")),
)
_DEFAULT_STACK = ("Python + FastAPI", "core", "no platform named; quick to prototype")

_claim_lock = threading.Lock()


def project_name(title: str | None, text: str) -> str:
    """The title, else "called X" in the text, else three content words in Title Case."""
    if title:
        return _text.shorten(title, 60)
    m = _CALLED.search(text[:5000])
    if m and m.group(1).strip():
        return _text.shorten(m.group(1).strip(" '’-"), 60)
    content = [w for w in _text.words(text[:2000]) if w not in _NAME_STOPWORDS and len(w) > 2]
    picked: list[str] = []
    for w in content:
        if w not in picked:
            picked.append(w)
        if len(picked) == 3:
            break
    return " ".join(w[:1].upper() + w[1:] for w in picked) or "Untitled Idea"


def features(text: str) -> list[str]:
    """Sentences that describe what it does; all but the first sentence when none say so."""
    parts = _text.sentences(text)
    rest = parts[1:]
    picked = [s for s in rest if _FEATURE.search(s)] or rest
    out: list[str] = []
    for s in picked:
        item = _text.shorten(_text.strip_filler(s).rstrip(" ."), 160)
        if item and item.lower() not in (f.lower() for f in out):
            out.append(item)
        if len(out) == MAX_FEATURES:
            break
    return out


def suggest_stack(tokens: list[str]) -> list[dict[str, str]]:
    """Technologies from keyword rules, each with what it is for and the words that chose it."""
    haystack = f" {' '.join(tokens)} "
    stack = []
    for tech, role, triggers in STACK_RULES:
        hits = [t for t in triggers if f" {t} " in haystack]
        if hits:
            stack.append({"technology": tech, "for": role, "because": f'mentions "{hits[0]}"'})
    if not any(s["for"] in {"core", "web app", "mobile app", "command-line interface", "frontend",
                            "browser extension", "game engine", "hardware"} for s in stack):
        tech, role, because = _DEFAULT_STACK
        stack.insert(0, {"technology": tech, "for": role, "because": because})
    return stack


def readme(spec: dict[str, Any]) -> str:
    lines = [f"# {spec['name']}", "", spec["description"], "", "## Features", ""]
    lines += [f"- {f}" for f in spec["features"]] or ["- _To be decided._"]
    lines += ["", "## Suggested stack", ""]
    lines += [f"- **{s['technology']}** for {s['for']} ({s['because']})" for s in spec["stack"]]
    lines += [
        "",
        "## Status",
        "",
        "An idea, not yet a project. Next step: a one-page design and a first prototype.",
        "",
        "---",
        f"_Drafted by WhisperSync from a voice memo recorded {spec['recorded_at'][:10]} "
        f"(memo `{spec['memo_id']}`)._",
        "",
    ]
    return "\n".join(lines)


class GithubIdeasAgent(BaseAgent):
    """Writes `github_ideas/<slug>/spec.json` and `README.md`; the same memo rewrites the same files."""

    name = "github_ideas"

    def shared_paths(self, memo: AgentInput) -> list[str]:
        """The ownership marks of the folders this memo may claim: another memo may claim them too."""
        text, title = self._prepared(memo)
        folders = self._folders(_slug(project_name(title, text)), memo.memo_id)
        return [self._rel(folder / ".memo") for folder in folders]

    def _act(self, memo: AgentInput, text: str, title: str | None) -> tuple[str, list[str], dict[str, Any]]:
        name = project_name(title, text)
        folder = self._claim_folder(_slug(name), memo.memo_id)
        description = _text.summarize(text, 240)
        spec = {
            "memo_id": memo.memo_id,
            "correlation_id": memo.correlation_id,
            "name": name,
            "slug": folder.name,
            "description": description,
            "features": features(text),
            "stack": suggest_stack(_text.words(text)),
            "recorded_at": memo.recorded_utc.isoformat(),
        }
        write_atomic(folder / "README.md", readme(spec).encode("utf-8"))
        write_atomic(folder / "spec.json", orjson.dumps(spec, option=orjson.OPT_INDENT_2))
        outputs = [self._rel(folder / "spec.json"), self._rel(folder / "README.md")]
        n = len(spec["features"])
        summary = f"Project idea {name}: {n} feature{'s' if n != 1 else ''}, " \
                  f"stack {', '.join(s['technology'] for s in spec['stack'][:3])}"
        data = {k: spec[k] for k in ("name", "slug", "description", "features", "stack")}
        return summary, outputs, data

    def _claim_folder(self, slug: str, memo_id: str) -> Path:
        """`<slug>/`, unless another memo's idea lives there: then `<slug>-<id8>/`."""
        with _claim_lock:
            for folder in self._folders(slug, memo_id):
                owner = _owner(folder)
                if owner == memo_id:
                    return folder
                if owner is None:
                    write_atomic(folder / ".memo", memo_id.encode())  # creates the folder
                    return folder
        return folder  # the same short id twice: overwrite rather than fail the memo

    def _folders(self, slug: str, memo_id: str) -> tuple[Path, Path]:
        return self.agent_dir / slug, self.agent_dir / f"{slug}-{_text.short_id(memo_id)}"


def _slug(name: str) -> str:
    return _text.slugify(name, 40, default="idea")


def _owner(folder: Path) -> str | None:
    try:
        return (folder / ".memo").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
