"""The memory agent: a Markdown page per memory, and one line per memory in an archive.

What it pulls out is heuristic and says so: people are capitalised names, "with X"
and "my sister"; places are capitalised words after "in", "at", "near" or a travel
verb; sentiment counts words from a small lexicon; themes are keyword families.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from . import _files, _text
from ._base import AgentInput, BaseAgent

_NAME = r"[A-Z\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF][\w'’-]*"
_RELATIONS = (
    "best friend|sister|brother|mom|mum|mother|dad|father|wife|husband|partner|son|daughter|"
    "grandma|grandpa|grandmother|grandfather|aunt|uncle|cousin|niece|nephew|friend|boss|"
    "girlfriend|boyfriend|kids|parents|grandparents|neighbour|neighbor"
)
_RELATION = re.compile(rf"\b(?i:my ({_RELATIONS}))\b(?:,?\s+({_NAME}))?")
_WITH = re.compile(rf"\bwith ({_NAME}(?:\s+{_NAME})?(?:(?:,\s*|,?\s+and\s+){_NAME}(?:\s+{_NAME})?)*)")
_PLACE = re.compile(
    rf"\b(?:in|at|near|visited|visiting|(?:went|go|going|flew|fly|drove|drive|travell?ed|trip|moved|"
    rf"back|walked|headed|arrived) (?:to|in))\s+((?:the\s+)?{_NAME}(?:\s+(?:{_NAME}|de|del|da|di|la|le|of|on)){{0,3}})"
)
_TRAILING_CONNECTOR = re.compile(r"(?:\s+(?:de|del|da|di|la|le|of|on))+$")
_CAPITALISED = re.compile(rf"\b{_NAME}")
_POSSESSIVE = re.compile(r"['’]s$")
# Capitalised words that are not people (checked lower-cased).
_NOT_NAMES = frozenset(
    """i i'm i've i'll i'd im monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december christmas
    easter thanksgiving halloween new year god the a an and but so we he she they it this that
    my our his her their mom mum dad grandma grandpa english french spanish german italian
    okay ok yes no oh um uh today tomorrow yesterday tonight mr mrs ms dr also then just when
    what where why how anyway""".split()
)

_POSITIVE = frozenset(
    """love loved lovely happy happiest joy joyful wonderful amazing great beautiful fun funny
    laughed laughing laugh grateful thankful proud peaceful calm excited best perfect delicious
    sweet magical smile smiled smiling relaxed relaxing good nice glad warm cozy cosy fantastic
    awesome incredible enjoyed beautifully brilliant delighted""".split()
)
_NEGATIVE = frozenset(
    """sad cried crying cry angry upset tired exhausted terrible awful worried worry anxious
    lonely miss missed missing hurt sick lost bad stressful stressed scared afraid disappointed
    frustrated broken horrible painful grief died funeral argued fight fought cold miserable
    annoyed""".split()
)
_NEGATIONS = frozenset("not never no don't didn't wasn't isn't won't can't couldn't hardly".split())

THEMES: dict[str, frozenset[str]] = {
    name: frozenset(words.split())
    for name, words in {
        "family": "family mom mum mother dad father sister brother grandma grandpa grandmother "
                  "grandfather aunt uncle cousin son daughter kids wife husband parents niece nephew baby",
        "friends": "friend friends buddy pals party",
        "travel": "trip travel vacation holiday flight flew airport hotel train road journey abroad "
                  "visited tour passport",
        "nature": "beach ocean sea lake mountain mountains hike hiking forest sunset sunrise snow "
                  "river park garden camping stars",
        "food": "dinner lunch breakfast cooked cooking recipe food restaurant cake coffee meal "
                "delicious pizza bbq",
        "celebration": "birthday anniversary wedding graduation christmas thanksgiving party "
                       "celebrate celebrated festival",
        "health": "hospital doctor sick health ran running run gym yoga sleep",
        "home": "home house apartment moved kitchen garden",
        "pets": "dog puppy cat kitten pet",
        "milestones": "first graduation promotion born engaged retired new",
        "music and art": "music song concert band painting museum art guitar piano",
        "loss": "funeral died passed miss missed grief",
    }.items()
}


def people(text: str) -> list[str]:
    """Relations ("Anna (sister)", "my dad"), then "with X" names, then other capitalised names."""
    found: list[str] = []
    named: set[str] = set()

    def add(person: str) -> None:
        key = person.lower()
        if key not in (p.lower() for p in found):
            found.append(person)

    for m in _RELATION.finditer(text):
        relation, name = m.group(1).lower(), m.group(2)
        if name and name.lower() not in _NOT_NAMES:
            add(f"{name} ({relation})")
            named.add(name.lower())
        else:
            add(f"my {relation}")
    for m in _WITH.finditer(text):
        for person in re.split(r",\s*|,?\s+and\s+", m.group(1)):
            if person.split()[0].lower() not in _NOT_NAMES and person.lower() not in named:
                add(person)
                named.add(person.lower())
    place_words = {w.lower() for p in places(text) for w in p.split()}
    for sentence in _text.sentences(text):
        for person in _capitalised_runs(sentence):
            first = person.split()[0].lower()
            if first in _NOT_NAMES or first in place_words or person.lower() in named:
                continue
            add(person)
            named.add(person.lower())
    return found[:20]


def _capitalised_runs(sentence: str) -> list[str]:
    """Capitalised words after the first word, adjacent ones paired: "Anna Lee", "Tom"."""
    runs: list[list[str]] = []
    end = -2
    for m in _CAPITALISED.finditer(sentence):
        if m.start() == 0:
            continue  # every sentence starts with a capital
        word = _POSSESSIVE.sub("", m.group(0))
        # Up to two words: "Anna Lee" is a name, "New York Times" usually is not one person.
        if runs and m.start() == end + 1 and sentence[end] == " " and len(runs[-1]) < 2:
            runs[-1].append(word)
        else:
            runs.append([word])
        end = m.end()
    return [" ".join(run) for run in runs]


def places(text: str) -> list[str]:
    """Capitalised places after "in", "at", "near", "visited" or a travel verb + "to"."""
    found: list[str] = []
    for m in _PLACE.finditer(text):
        place = _TRAILING_CONNECTOR.sub("", m.group(1))
        place = _POSSESSIVE.sub("", re.sub(r"^the\s+", "", place))
        if place.split()[0].lower() in _NOT_NAMES:
            continue
        if place.lower() not in (p.lower() for p in found):
            found.append(place)
    return found[:20]


def sentiment(tokens: list[str]) -> tuple[float, str]:
    """(score in [-1, 1], label): (positive - negative) / (positive + negative) lexicon hits.

    A negation in the two words before a hit flips it ("not happy" counts as negative).
    Labels: positive >= 0.25, negative <= -0.25, "mixed" between when both kinds were
    found, "neutral" when none were.
    """
    pos = neg = 0
    for i, tok in enumerate(tokens):
        polarity = 1 if tok in _POSITIVE else -1 if tok in _NEGATIVE else 0
        if not polarity:
            continue
        if any(t in _NEGATIONS for t in tokens[max(0, i - 2) : i]):
            polarity = -polarity
        if polarity > 0:
            pos += 1
        else:
            neg += 1
    if pos + neg == 0:
        return 0.0, "neutral"
    score = round((pos - neg) / (pos + neg), 2)
    if score >= 0.25:
        return score, "positive"
    if score <= -0.25:
        return score, "negative"
    return score, "mixed"


_THEME_OF: dict[str, tuple[str, ...]] = {}
for _name, _family in THEMES.items():
    for _word in _family:
        _THEME_OF[_word] = (*_THEME_OF.get(_word, ()), _name)


def themes(tokens: Iterable[str], limit: int = 5) -> list[str]:
    """Keyword families present, most hits first, ties in `THEMES` order."""
    counts = dict.fromkeys(THEMES, 0)
    for tok in tokens:
        for name in _THEME_OF.get(tok, ()):
            counts[name] += 1
    ranked = sorted((n for n, c in counts.items() if c), key=lambda n: -counts[n])
    return ranked[:limit]


def _archive_ids(text: str) -> Iterable[str]:
    for line in text.splitlines():
        try:
            yield orjson.loads(line)["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # a torn or foreign line: not ours to judge


class MemoryAgent(BaseAgent):
    """Writes `memory/memories/<date>-<slug>-<id8>.md` and a line in `memory/archive.jsonl`."""

    name = "memory"

    def shared_paths(self, memo: AgentInput) -> list[str]:
        """The archive: every memory appends its line to it."""
        return [self._rel(self._archive)]

    @property
    def _archive(self) -> Path:
        return self.agent_dir / "archive.jsonl"

    def _act(self, memo: AgentInput, text: str, title: str | None) -> tuple[str, list[str], dict[str, Any]]:
        date = memo.recorded_utc.date().isoformat()
        given_title = title
        title = title or _text.shorten(_text.title_from(text, 8), 80) or "Memory"
        summary = _text.summarize(text, 240)
        tokens = _text.words(text)
        who, where = people(text), places(text)
        score, label = sentiment(tokens)
        topics = themes(tokens)
        page = (self.agent_dir / "memories"
                / f"{date}-{_text.slugify(title, 40)}-{_text.short_id(memo.memo_id)}.md")

        truncated = len(memo.text) > _text.MAX_ANALYSED_CHARS
        body = [
            f"# {title}",
            _files.marker(memo.memo_id),
            "",
            f"- **Date:** {date}",
            f"- **People:** {', '.join(who) or '—'}",
            f"- **Places:** {', '.join(where) or '—'}",
            f"- **Sentiment:** {label} ({score:+.2f})",
            f"- **Themes:** {', '.join(topics) or '—'}",
            "",
            summary,
            "",
            "## In your words",
            "",
            *(f"> {line}" if line else ">" for line in text.splitlines()),
        ]
        if truncated:
            body += ["", f"_Transcript shortened to its first {_text.MAX_ANALYSED_CHARS:,} characters._"]
        # Only the marker line may hold a marker: user text could fake one (`md_safe`).
        page_text = "\n".join(_text.md_safe(line) if i != 1 else line for i, line in enumerate(body))
        _files.write_atomic(page, (page_text + "\n").encode("utf-8"))

        record = {
            "id": memo.memo_id,
            "date": date,
            "title": title,
            "summary": summary,
            "people": who,
            "places": where,
            "sentiment": {"score": score, "label": label},
            "themes": topics,
            "file": self._rel(page),
            "recorded_at": memo.recorded_utc.isoformat(),
            "correlation_id": memo.correlation_id,
        }
        archive = self._archive
        # The page first, the archive line last: the line is the commit record, so a
        # crash in between leaves a page that the retry rewrites, never a dangling line.
        appended = _files.once_log(archive, _archive_ids).append_once(
            memo.memo_id, orjson.dumps(record).decode() + "\n"
        )
        data = {k: record[k] for k in ("date", "title", "people", "places", "sentiment", "themes")}
        data.update(memory=self._rel(page), archive=self._rel(archive), appended=appended)
        result_summary = f"{title}: {summary}" if given_title else summary
        return result_summary, [self._rel(page), self._rel(archive)], data
