"""Text helpers the router and the agents share: cleaning, sentences, slugs, summaries.

Everything here is linear in the input and bounded: a transcript can be 1 MiB of
anything (any language, emoji, one endless line), and an agent call must stay well
under a millisecond of CPU for an ordinary memo. So analysis looks at the first
`MAX_ANALYSED_CHARS` characters only; the full text is never lost, it is simply
not all read for keywords.
"""

from __future__ import annotations

import re
import unicodedata

from whispersync.errors import ProcessingError

MAX_ANALYSED_CHARS = 20_000
"""Characters of a transcript the heuristics look at (about 3,000 spoken words, 20 minutes)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_HAS_WORD = re.compile(r"[^\W_]")
# A sentence ends at . ! ? … (or their CJK forms) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+")
_FILLER = re.compile(
    r"^(?:(?:so|and|also|okay|ok|um+|uh+|er+|right|well|then|oh|alright|anyway)\b[,\s]*)+",
    re.IGNORECASE,
)


def prepare(text: str) -> str:
    """Return the part of `text` worth analysing, or raise a permanent ProcessingError.

    Control characters go, runs of spaces collapse, line breaks stay (they separate
    bullets and sentences). Text with no letter or digit at all is rejected: there
    is nothing in it an agent could act on, and retrying will not change that.
    """
    if not isinstance(text, str):
        raise ProcessingError(f"transcript must be text, not {type(text).__name__}", permanent=True)
    head = text[:MAX_ANALYSED_CHARS]
    head = _CONTROL.sub("", unicodedata.normalize("NFC", head))
    head = "\n".join(_SPACES.sub(" ", line).strip() for line in head.splitlines())
    head = head.strip()
    if not head:
        raise ProcessingError("transcript is empty", permanent=True)
    if not _HAS_WORD.search(head):
        raise ProcessingError("transcript has no words (no letters or digits)", permanent=True)
    return head


def words(text: str) -> list[str]:
    """Lower-cased words, in any script; apostrophes stay inside words ("don't")."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


def sentences(text: str) -> list[str]:
    """Split into sentences and bullet lines, without the bullet marks; empty parts dropped."""
    out = []
    for part in _SENTENCE_END.split(text):
        part = _BULLET.sub("", part).strip()
        if part and _HAS_WORD.search(part):
            out.append(part)
    return out


def strip_filler(sentence: str) -> str:
    """Drop spoken fillers at the start ("so, um, okay ...") and capitalise what is left."""
    s = _FILLER.sub("", sentence).strip(" ,;:-")
    return s[:1].upper() + s[1:] if s else sentence


def shorten(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters at a word boundary, marking the cut with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def summarize(text: str, limit: int = 160) -> str:
    """A one-line summary: the first sentence, fillers removed, shortened to `limit`."""
    parts = sentences(text)
    first = strip_filler(parts[0]) if parts else text
    return shorten(first, limit)


def first_words(text: str, n: int = 6) -> str:
    """The first `n` words, for a title when the memo has none."""
    return " ".join(_WORD.findall(text[:2000])[:n])


def title_from(text: str, n: int = 6) -> str:
    """A title for a memo that has none: the first words of its first sentence, fillers removed."""
    parts = sentences(text[:2000])
    if not parts:
        return ""
    picked = strip_filler(parts[0]).split()[:n]
    return shorten(" ".join(picked), 80).rstrip(" .,;:!?")


def md_safe(text: str) -> str:
    """Text fit to sit inside our Markdown: an HTML comment opener could fake a memo marker."""
    return text.replace("<!--", "&lt;!--")


def slugify(text: str, max_len: int = 48, *, default: str = "memo") -> str:
    """ASCII slug: "Café à Lisbonne!" -> "cafe-a-lisbonne"; `default` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text[:500]).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] if "-" in slug[:max_len] else slug[:max_len]
    return slug.strip("-") or default


def short_id(memo_id: str, n: int = 8) -> str:
    """The first `n` filename-safe characters of a memo id."""
    return (re.sub(r"[^A-Za-z0-9]", "", memo_id)[:n] or "x").lower()
