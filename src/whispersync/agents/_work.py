"""The work agent: one entry per memo in the ISO-week journal, with its action items."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import _files, _text
from ._base import AgentInput, BaseAgent

MAX_ACTION_ITEMS = 20

# A sentence is an action item when it commits someone to something...
_COMMITMENT = re.compile(
    r"\b(?:need(?:s)? to|have to|has to|must|should|todo|to-do|to do:|follow[- ]up|"
    r"remember to|don'?t forget(?: to)?|make sure|will|i'll|we'll|you'll|they'll|"
    r"going to|gonna|action items?|let's|let us|assign(?:ed)? to|by (?:monday|tuesday|"
    r"wednesday|thursday|friday|tomorrow|eod|end of (?:day|week)))\b",
    re.IGNORECASE,
)
# ...or starts with an imperative verb ("Send the deck to Priya").
_IMPERATIVES = frozenset(
    """add ask book call cancel check clean close confirm create deploy document draft email
    file finish fix follow get investigate merge move order pay ping plan prepare publish push
    reach remind remove renew reply request reschedule review run schedule send set share ship
    sign start submit sync talk test tell update upgrade write""".split()
)
_LEAD_IN = re.compile(r"^(?:action items?|todo|to-do|to do)\s*[:\-]\s*", re.IGNORECASE)


def action_items(text: str) -> list[str]:
    """Sentences and bullets that ask for something to be done, cleaned, in order, no repeats."""
    items: list[str] = []
    seen: set[str] = set()
    for sentence in _text.sentences(text):
        cleaned = _text.strip_filler(sentence)
        first = _text.words(cleaned[:40])[:1]
        if not (_COMMITMENT.search(sentence) or (first and first[0] in _IMPERATIVES)):
            continue
        item = _LEAD_IN.sub("", cleaned).rstrip(" .!;,")
        item = _text.shorten(item[:1].upper() + item[1:], 200)
        key = item.lower()
        if item and key not in seen:
            seen.add(key)
            items.append(item)
            if len(items) == MAX_ACTION_ITEMS:
                break
    return items


class WorkJournalAgent(BaseAgent):
    """Appends a dated entry to `work/journal/YYYY-Www.md` for the week the memo was recorded."""

    name = "work"

    def shared_paths(self, memo: AgentInput) -> list[str]:
        """The week's journal: every memo of that week appends to it."""
        return [self._rel(self._journal(memo)[1])]

    def _journal(self, memo: AgentInput) -> tuple[str, Path]:
        year, week, _ = memo.recorded_utc.isocalendar()
        week_id = f"{year}-W{week:02d}"
        return week_id, self.agent_dir / "journal" / f"{week_id}.md"

    def _act(self, memo: AgentInput, text: str, title: str | None) -> tuple[str, list[str], dict[str, Any]]:
        when = memo.recorded_utc
        week_id, journal = self._journal(memo)
        summary = _text.summarize(text)
        items = action_items(text)
        heading = _text.shorten(title or _text.title_from(text, 8) or "Memo", 80)

        safe = _text.md_safe
        lines = [
            f"## {when:%a %Y-%m-%d %H:%M} UTC · {safe(heading)}",
            _files.marker(memo.memo_id),
            "",
            safe(summary),
            "",
        ]
        if items:
            lines += ["**Action items**", "", *(f"- [ ] {safe(item)}" for item in items), ""]
        lines.append("")
        log = _files.once_log(journal, _files.markdown_ids)
        appended = log.append_once(memo.memo_id, "\n".join(lines), header=f"# Work journal · {week_id}\n\n")

        noun = "action item" if len(items) == 1 else "action items"
        result_summary = f"{summary} ({len(items)} {noun})" if items else summary
        data = {
            "journal": self._rel(journal),
            "week": week_id,
            "action_items": items,
            "appended": appended,
        }
        return result_summary, [self._rel(journal)], data
