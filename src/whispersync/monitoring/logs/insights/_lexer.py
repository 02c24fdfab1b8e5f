"""Tokens of the Logs Insights query language.

A ``/`` starts a regular expression unless the previous token ends a value (a
field, a number, a string, ``)`` or ``]``), in which case it divides, so
``filter @message like /x/`` and ``fields a / 2`` both read as meant; after
``parse field`` it always starts one. Inside a regular expression a ``/`` ends it
unless escaped (a backslash before it) or inside a character class (``[^/]``), as in JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from whispersync.monitoring.logs.insights._errors import InsightsQueryError

# Kinds: NAME, NUMBER, DURATION, STRING, REGEX, OP, MEMBER (`.name` right after `)`, `]`), EOF.
_OPERATORS = ("=~", "!=", "!", "<=", ">=", "==", "|", ",", "(", ")", "[", "]", "=", "<", ">", "+", "-", "*", "/", "%",
              "^", ":", "{", "}")  # only in SOURCE: logGroups(namePrefix: [...]), logGroupTags([{...}])
_NAME = re.compile(r"@?[A-Za-z_][A-Za-z0-9_@$]*(?:\.(?:[A-Za-z0-9_@$]+|`[^`]*`))*")
_BARE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s|,()]*")
_MEMBER = re.compile(r"\.(?:(?P<plain>[A-Za-z0-9_@$]+)|`(?P<quoted>[^`]*)`)")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")  # ASCII: "²".isdigit() is True
# Units as CloudWatch spells them for bin(), datefloor() and dateceil(), and the short unit
# each means: "For all units and abbreviations that include more than one character, adding
# s to pluralize is supported" (CWL_QuerySyntax-operations-functions.html, bin).
_UNIT_SPELLINGS = {
    "ms": ("millisecond", "ms", "msec"), "s": ("second", "sec"), "m": ("minute", "min"), "h": ("hour", "hr"),
    "d": ("day",), "w": ("week",), "mo": ("month", "mo", "mon"), "q": ("quarter", "qtr"), "y": ("year", "yr"),
}
UNITS = {short: short for short in _UNIT_SPELLINGS} | {
    spelled + plural: short for short, spellings in _UNIT_SPELLINGS.items() for spelled in spellings
    for plural in ("", "s") if len(spelled) > 1
}
_UNIT = re.compile("(" + "|".join(sorted(UNITS, key=len, reverse=True)) + ")(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # the value: unquoted string, regex body, name without backquotes
    pos: int  # offset of the token's first character in the query
    end: int
    flags: str = ""  # regex flags after the closing slash


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "#":  # a comment runs to the end of the line
            while i < n and query[i] != "\n":
                i += 1
            continue
        if ch in "\"'":
            tokens.append(_string(query, i))
        elif ch == "`" or (ch == "@" and query.startswith("`", i + 1)):
            # `foo-bar` names the field foo-bar; @`x` the system field @x (CWL_QuerySyntax-Guidelines.html).
            opening = query.index("`", i)
            close = query.find("`", opening + 1)
            if close < 0:
                raise InsightsQueryError("unterminated backquoted name", query, i)
            tokens.append(Token("NAME", query[i:opening] + query[opening + 1 : close], i, close + 1))
        elif ch == "." and _after_value_end(tokens, i) and (m := _MEMBER.match(query, i)):
            # `jsonParse(x).startTime`, `m.users[1].action`: one member a token, its name without backquotes.
            tokens.append(Token("MEMBER", m["plain"] if m["plain"] is not None else m["quoted"], i, m.end()))
        elif ch == "/" and not _ends_value(tokens):
            tokens.append(_regex(query, i))
        elif m := _NUMBER.match(query, i):
            unit = _UNIT.match(query, m.end())
            if unit:
                tokens.append(Token("DURATION", query[i : unit.end()], i, unit.end()))
            else:
                tokens.append(Token("NUMBER", m.group(), i, m.end()))
        elif m := _BARE_URL.match(query, i):
            # The docs' Apache sample writes `referrer= http://...` unquoted; as tokens that is a
            # field, a ':' and an empty regex `//`: say what is wrong instead.
            raise InsightsQueryError(f'a text value must be quoted: "{m.group()}"', query, i)
        elif m := _NAME.match(query, i):
            tokens.append(Token("NAME", m.group(), i, m.end()))
        else:
            for op in _OPERATORS:
                if query.startswith(op, i):
                    tokens.append(Token("OP", op, i, i + len(op)))
                    break
            else:
                raise InsightsQueryError(f"unexpected character {ch!r}", query, i)
        i = tokens[-1].end
    tokens.append(Token("EOF", "", n, n))
    return tokens


def _after_value_end(tokens: list[Token], i: int) -> bool:
    """Whether offset ``i`` directly follows a `)`, `]` or member: where a `.member` may follow."""
    last = tokens[-1] if tokens else None
    if last is None or last.end != i:
        return False
    return last.kind == "MEMBER" or (last.kind == "OP" and last.text in (")", "]"))


def _ends_value(tokens: list[Token]) -> bool:
    if not tokens:
        return False
    last = tokens[-1]
    if len(tokens) >= 2 and tokens[-2].kind == "NAME" and tokens[-2].text.lower() == "parse":
        return False  # `parse field /regex/`
    if last.kind == "NAME":
        return last.text.lower() not in {"like", "and", "or", "not", "in", "parse", "filter", "as", "by"}
    return last.kind in {"NUMBER", "DURATION", "STRING", "MEMBER"} or last.text in {")", "]"}


def _string(query: str, start: int) -> Token:
    quote = query[start]
    out, i = [], start + 1
    while i < len(query):
        ch = query[i]
        if ch == "\\" and i + 1 < len(query):
            nxt = query[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return Token("STRING", "".join(out), start, i + 1)
        out.append(ch)
        i += 1
    raise InsightsQueryError(f"unterminated string: expected a closing {quote}", query, start)


def _regex(query: str, start: int) -> Token:
    i = start + 1
    in_class = False
    while i < len(query):
        ch = query[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            if query.startswith("[^]", i) or query.startswith("[]", i):
                i += 3 if query[i + 1] == "^" else 2  # a leading `]` is a member, not the end
                continue
        elif ch == "/":
            body = query[start + 1 : i]
            j = i + 1
            while j < len(query) and query[j] in "imsx":
                j += 1
            return Token("REGEX", body.replace("\\/", "/"), start, j, flags=query[i + 1 : j])
        if ch == "\n":
            break
        i += 1
    raise InsightsQueryError("unterminated regular expression: expected a closing /", query, start)
