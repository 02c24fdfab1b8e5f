"""CloudWatch Logs filter patterns and metric filters.

CloudWatch's "Filter pattern syntax for metric filters, subscription filters,
filter log events, and Live Tail" is the specification. Four kinds of pattern:

    ""                                   every event
    ERROR  "exact phrase"  ?A ?B  -C     terms (unstructured text; case-sensitive)
    %regex%                              a regular expression
    { $.level = "ERROR" && $.ms > 10 }   a JSON pattern
    [ip, user, ..., status = 4*, bytes]  a space-delimited pattern

    pattern = parse_pattern('{ $.level = "ERROR" }')
    pattern.match('{"level": "ERROR"}')        # -> Match(extracted={"$.level": "ERROR"})

A :class:`MetricFilter` turns matching log events into metric records (the
store's ``metrics`` stream shape); :class:`MetricFilterListener` applies a set
of them to each batch of log records the telemetry store writes, off the hot
path. :func:`test_metric_filter` answers like CloudWatch's TestMetricFilter.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import re2

from whispersync.errors import QuerySyntaxError
from whispersync.plan import MetricFilter

__all__ = [
    "FilterPattern",
    "FilterPatternError",
    "Match",
    "CompiledFilter",
    "MetricFilterListener",
    "parse_pattern",
    "test_metric_filter",
]

_MISSING = object()
# One way to read each number (no `\d+\.?\d*`), so a long run of digits that is
# not a number fails in linear time.
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
# PutMetricFilter and FilterLogEvents: a filterPattern is at most 1024 characters.
MAX_PATTERN_LENGTH = 1024
# Parentheses in a JSON pattern nest at most this deep (each level is a Python frame).
MAX_NESTING = 32
# Regexes run on RE2: matching is linear in the line whatever the pattern (no
# backtracking), and CloudWatch's regex syntax (no groups, no lookaround) fits it.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad client pattern is an error answer, not a stderr line


class FilterPatternError(QuerySyntaxError):
    """A filter pattern that does not parse, with its position (see QuerySyntaxError)."""

    code = "invalid_filter_pattern"


@dataclass(frozen=True)
class Match:
    """A matching event; ``extracted`` maps ``$name``/``$.path`` to the value found."""

    extracted: dict[str, Any] = field(default_factory=dict)


class FilterPattern:
    """A compiled filter pattern; ``match`` returns a :class:`Match` or ``None``.

    ``regex_count`` is how many ``%regex%`` it holds (CloudWatch limits them per
    metric filter); ``fields`` are the names a space-delimited pattern gives its
    fields (``$name`` may refer to them), empty for the other kinds.
    """

    def __init__(self, text: str, kind: str, matcher: Callable[[str, Any], Match | None], *,
                 regex_count: int = 0, fields: frozenset[str] = frozenset()) -> None:
        self.text = text
        self.kind = kind  # "all", "terms", "regex", "json" or "delimited"
        self._matcher = matcher
        self.regex_count = regex_count
        self.fields = fields

    def match(self, message: str, record: Any = _MISSING) -> Match | None:
        """Match one event message. ``record``, when given, is the message already parsed as JSON."""
        return self._matcher(message, record)

    def match_record(self, record: Mapping[str, Any]) -> Match | None:
        """Match a log record (a dict) as CloudWatch would match its JSON line.

        An imported CloudWatch event keeps its original line in ``@message``: text
        patterns match that line, JSON patterns the fields parsed from it.
        """
        if self.kind == "json":
            if "@message" in record:
                record = {k: v for k, v in record.items() if k not in ("@message", "@timestamp")}
            return self._matcher("", record)
        line = record.get("@message")
        if not isinstance(line, str):
            line = orjson.dumps(record, default=str).decode()
        return self._matcher(line, record)

    def __repr__(self) -> str:
        return f"FilterPattern({self.text!r})"


def parse_pattern(text: str) -> FilterPattern:
    """Compile a CloudWatch filter pattern; raise :class:`FilterPatternError` with the position."""
    if not isinstance(text, str):
        raise TypeError(f"pattern must be a string, got {type(text).__name__}")
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(f"a filter pattern is at most {MAX_PATTERN_LENGTH} characters",
                                 text, MAX_PATTERN_LENGTH)
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    if not stripped:
        return FilterPattern(text, "all", lambda message, record: Match())
    if stripped[0] == "{":
        json_parser = _JsonParser(text, offset)
        return FilterPattern(text, "json", json_parser.parse(), regex_count=json_parser.regex_count)
    if stripped[0] == "[":
        delimited = _DelimitedParser(text, offset)
        return FilterPattern(text, "delimited", delimited.parse(), regex_count=delimited.regex_count,
                             fields=frozenset(delimited.names))
    if len(stripped) > 1 and stripped[0] == "%" and stripped[-1] == "%" and " " not in stripped:
        regex = _compile_regex(stripped[1:-1], text, offset)
        return FilterPattern(text, "regex", lambda m, r: Match() if regex.search(m) else None, regex_count=1)
    matcher, regex_count = _parse_terms(text)
    return FilterPattern(text, "terms", matcher, regex_count=regex_count)


# --------------------------------------------------------------------- terms


class _Regex:
    """A compiled RE2 regex with ``search`` over any str (lone surrogates included)."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled

    def search(self, text: str) -> bool:
        try:
            return self._compiled.search(text) is not None
        except UnicodeEncodeError:  # RE2 reads UTF-8: a lone surrogate cannot be encoded
            return self._compiled.search(text.encode("utf-8", "replace").decode()) is not None

    def fullmatch(self, text: str) -> bool:
        raise NotImplementedError  # regex values are searched, never fully matched


# "Filter pattern syntax for metric filters, subscription filters, filter log events,
# and Live Tail" (CloudWatch Logs User Guide), "Supported regular expressions (regex)
# syntax": a regex "can only include" alphanumeric characters (A-Z, a-z, 0-9), the
# symbols ':', '_', '#', '=', '@', '/', ';', ',' and '-', and the operators '^', '$',
# '?', '[', ']', '{', '}', '|', '\\', '*', '+' and '.'; "The () operators are not
# supported" and "Multibyte characters are not supported". ("%something!% would be
# rejected since '!' is not supported"; a space is written \s.)
_REGEX_ALLOWED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" ":_#=@/;,-" "^$?[]{}|\\*+."
)


def _compile_regex(body: str, text: str, position: int) -> _Regex:
    for i, ch in enumerate(body):
        if ch in "()":
            raise FilterPatternError("parentheses are not supported in a regex", text, position + 1 + i)
        if ch not in _REGEX_ALLOWED:
            shown = "a space (write \\s)" if ch == " " else repr(ch)
            raise FilterPatternError(
                f"{shown} is not allowed in a regex: CloudWatch allows letters, digits,"
                " : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + .",
                text, position + 1 + i,
            )
    try:
        return _Regex(re2.compile(body, _RE2_OPTIONS))
    except re2.error as exc:
        message = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        # RE2 says "<what>: <the offending part>"; point at that part when it is found.
        reason, _, part = message.partition(": ")
        at = body.find(part) if part else -1
        raise FilterPatternError(f"invalid regex: {reason}", text, position + 1 + max(at, 0)) from None


def _parse_terms(text: str) -> tuple[Callable[[str, Any], Match | None], int]:
    """Space-separated terms: all plain terms, at least one ``?`` term, no ``-`` term.

    Returns the matcher and how many of the terms are regexes.
    """
    required: list[Callable[[str], bool]] = []
    optional: list[Callable[[str], bool]] = []
    excluded: list[Callable[[str], bool]] = []
    regex_count = 0
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        bucket = required
        if text[i] in "?-" and i + 1 < n and not text[i + 1].isspace():
            bucket = optional if text[i] == "?" else excluded
            i += 1
        if text[i] == '"':
            value, i = _read_quoted(text, i)
            bucket.append(lambda m, v=value: v in m)
        elif text[i] == "%":
            end = text.find("%", i + 1)
            if end < 0:
                raise FilterPatternError("unterminated regex: expected a closing %", text, i)
            regex = _compile_regex(text[i + 1 : end], text, i)
            bucket.append(regex.search)
            regex_count += 1
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace():
                if text[j] == '"':
                    raise FilterPatternError("a quote must start a term", text, j)
                j += 1
            value = text[i:j]
            bucket.append(lambda m, v=value: v in m)
            i = j
        if i < n and not text[i].isspace():
            raise FilterPatternError("expected a space between terms", text, i)

    def match(message: str, record: Any) -> Match | None:
        if not all(t(message) for t in required):
            return None
        if optional and not any(t(message) for t in optional):
            return None
        if any(t(message) for t in excluded):
            return None
        return Match()

    return match, regex_count


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Read a double-quoted string starting at ``text[i] == '"'``; backslash escapes."""
    out: list[str] = []
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text):
            out.append(text[j + 1])
            j += 2
            continue
        if ch == '"':
            return "".join(out), j + 1
        out.append(ch)
        j += 1
    raise FilterPatternError("unterminated quoted string", text, i)


# ------------------------------------------------------------------ values


@dataclass(frozen=True)
class _Value:
    """A literal on the right of a comparison."""

    kind: str  # "number", "string" (may hold * wildcards) or "regex"
    raw: str
    number: float | None = None
    regex: _Regex | None = None
    glob: tuple[str, ...] | None = None  # the literal parts between * wildcards


def _glob(value: str) -> tuple[str, ...] | None:
    """The wildcard parts of a JSON pattern's string value, or None for an exact match.

    CloudWatch's JSON filter patterns take ``*`` as a wildcard only at the start
    or the end of a value (``{ $.eventType = "Update*" }``,
    ``{ $.sourceIPAddress != 123.123.* }``: "Using filter patterns to match terms
    in JSON log events"); an asterisk inside a value is the character itself.
    """
    lead, trail = value.startswith("*"), len(value) > 1 and value.endswith("*")
    if not lead and not trail:
        return None
    middle = value[1 if lead else 0 : len(value) - 1 if trail else len(value)]
    return ("", middle, "") if lead and trail else ("", middle) if lead else (middle, "")


def _glob_match(parts: tuple[str, ...], text: str) -> bool:
    """Does ``text`` match the whole wildcard pattern ``"*".join(parts)``?

    Greedy and linear: the first part is a prefix, the last a suffix, and each
    part between takes its leftmost place after the previous one (taking it any
    later could only leave less room for the rest). A regex of ``.*`` pieces
    backtracks instead: ``*a*a*a*a*a*a*a*a*a*a*Q`` ran for minutes.
    """
    first, *middle, last = parts
    if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(last):
        return False
    pos, stop = len(first), len(text) - len(last)
    for part in middle:
        found = text.find(part, pos, stop)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def _compare_string(actual: str, op: str, value: _Value) -> bool:
    if value.kind == "regex":
        found = value.regex.search(actual)  # type: ignore[union-attr]
    elif value.glob is not None:
        found = _glob_match(value.glob, actual)
    else:
        found = actual == value.raw
    return found if op == "=" else not found


def _compare_number(actual: float, op: str, number: float) -> bool:
    return {
        "=": actual == number,
        "!=": actual != number,
        "<": actual < number,
        "<=": actual <= number,
        ">": actual > number,
        ">=": actual >= number,
    }[op]


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


# -------------------------------------------------------------------- JSON

_SELECTOR_PART = re.compile(r"\.([A-Za-z_@][\w@-]*)|\[(\d+)\]|\.?\[\s*'([^']*)'\s*\]")


class _JsonParser:
    """Recursive descent: ``or := and ('||' and)*``, ``and := atom ('&&' atom)*``.

    ``&&`` binds tighter than ``||``, as in the documented examples.
    """

    def __init__(self, text: str, offset: int) -> None:
        self.text = text
        self.pos = offset + 1  # past the '{'
        self.end = len(text.rstrip())
        self.selectors: list[tuple[str, tuple]] = []
        self.depth = 0
        self.regex_count = 0

    def parse(self) -> Callable[[str, Any], Match | None]:
        if self.text.rstrip()[-1] != "}":
            raise FilterPatternError("a JSON pattern must end with }", self.text, self.end)
        self.end -= 1
        node = self._or()
        self._skip()
        if self.pos < self.end:
            raise FilterPatternError("expected && or || or }", self.text, self.pos)
        selectors = self.selectors

        def match(message: str, record: Any) -> Match | None:
            if record is _MISSING:
                try:
                    record = orjson.loads(message)
                except orjson.JSONDecodeError:
                    return None
            if not isinstance(record, (dict, list)) or not node(record):
                return None
            extracted = {}
            for name, path in selectors:
                value = _lookup(record, path)
                if value is not _MISSING:
                    extracted[name] = value
            return Match(extracted)

        return match

    def _skip(self) -> None:
        while self.pos < self.end and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self, *ops: str) -> bool:
        self._skip()
        return any(self.text.startswith(op, self.pos) for op in ops) and self.pos < self.end

    def _or(self) -> Callable[[Any], bool]:
        parts = [self._and()]
        while self._peek("||"):
            self.pos += 2
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _and(self) -> Callable[[Any], bool]:
        parts = [self._atom()]
        while self._peek("&&"):
            self.pos += 2
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _atom(self) -> Callable[[Any], bool]:
        self._skip()
        if self.pos >= self.end:
            raise FilterPatternError("expected a condition like $.field = value", self.text, self.pos)
        if self.text[self.pos] == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise FilterPatternError(f"the pattern is nested too deeply (more than {MAX_NESTING} parentheses)",
                                         self.text, self.pos)
            self.pos += 1
            node = self._or()
            if not self._peek(")"):
                raise FilterPatternError("expected )", self.text, self.pos)
            self.pos += 1
            self.depth -= 1
            return node
        return self._condition()

    def _selector(self) -> tuple[str, tuple]:
        start = self.pos
        if not self.text.startswith("$", self.pos):
            raise FilterPatternError("expected a selector starting with $ (like $.level)", self.text, self.pos)
        self.pos += 1
        path: list[str | int] = []
        while self.pos < self.end:
            m = _SELECTOR_PART.match(self.text, self.pos, self.end)
            if m is None:
                break
            if m.group(1) is not None:
                path.append(m.group(1))
            elif m.group(2) is not None:
                path.append(int(m.group(2)))
            else:
                path.append(m.group(3))
            self.pos = m.end()
        if not path:
            raise FilterPatternError("expected .field or [index] after $", self.text, self.pos)
        return self.text[start : self.pos], tuple(path)

    def _condition(self) -> Callable[[Any], bool]:
        name, path = self._selector()
        self.selectors.append((name, path))
        self._skip()
        rest = self.text[self.pos : self.end]
        for words, test in (
            (("IS", "TRUE"), lambda v: v is True),
            (("IS", "FALSE"), lambda v: v is False),
            (("IS", "NULL"), lambda v: v is None),
            (("NOT", "EXISTS"), lambda v: v is _MISSING),
            (("EXISTS",), lambda v: v is not _MISSING),
        ):
            m = re.match(r"\s+".join(words) + r"\b", rest)
            if m:
                self.pos += m.end()
                return lambda r, t=test: t(_lookup(r, path))
        m = re.match(r"(!=|<=|>=|=|<|>)", rest)
        if m is None:
            raise FilterPatternError(
                "expected a comparison (=, !=, <, <=, >, >=) or IS TRUE/FALSE/NULL, EXISTS, NOT EXISTS",
                self.text, self.pos)
        op = m.group(1)
        self.pos += m.end()
        value = self._value(op)

        def condition(record: Any) -> bool:
            actual = _lookup(record, path)
            if actual is _MISSING:
                return False
            if value.kind == "number":
                number = _as_number(actual) if not isinstance(actual, str) else None
                return number is not None and _compare_number(number, op, value.number)  # type: ignore[arg-type]
            if value.raw == "*" and value.kind == "string":
                # `$.field = *` (FilterPattern.exists in the CDK): the field is present.
                return (actual is not None) if op == "=" else actual is None
            if not isinstance(actual, str):
                if isinstance(actual, bool) or not isinstance(actual, (int, float)):
                    return False  # strings compare only with strings and numbers
                actual = _format_number(actual)
            return _compare_string(actual, op, value)

        return condition

    def _value(self, op: str) -> _Value:
        value, self.pos = _read_value(self.text, self.pos, self.end, op)
        self.regex_count += value.kind == "regex"
        return value


def _read_value(text: str, pos: int, end: int, op: str) -> tuple[_Value, int]:
    """Read the literal after ``op``: a number, "quoted", %regex% or a bare word with * wildcards."""
    while pos < end and text[pos].isspace():
        pos += 1
    start = pos
    if pos >= end:
        raise FilterPatternError("expected a value", text, pos)
    ch = text[pos]
    if ch == '"':
        raw, pos = _read_quoted(text, pos)
        if pos > end:
            raise FilterPatternError("unterminated quoted string", text, start)
    elif ch == "%":
        close = text.find("%", pos + 1, end)
        if close < 0:
            raise FilterPatternError("unterminated regex: expected a closing %", text, start)
        regex = _compile_regex(text[pos + 1 : close], text, pos)
        if op not in ("=", "!="):
            raise FilterPatternError("a regex needs = or !=", text, start)
        return _Value("regex", text[start : close + 1], regex=regex), close + 1
    else:
        m = _BARE.match(text, pos, end)
        if m is None:
            raise FilterPatternError("expected a value", text, pos)
        raw, pos = m.group(0), m.end()
        if _NUMBER.fullmatch(raw):
            return _Value("number", raw, number=float(raw)), pos
    if op not in ("=", "!="):
        raise FilterPatternError(f"{op} needs a number; strings support only = and !=", text, start)
    return _Value("string", raw, glob=_glob(raw)), pos


_BARE = re.compile(r"[^\s()&|,]+")


def _format_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def _lookup(record: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(record, list) or part >= len(record):
                return _MISSING
        elif not isinstance(record, dict) or part not in record:
            return _MISSING
        record = record[part]
    return record


# ----------------------------------------------------------- space-delimited


@dataclass
class _Field:
    name: str | None  # None for the ... wildcard
    test: Callable[[dict[str, str]], bool] | None = None  # over the fields matched so far


class _DelimitedParser:
    """``[name, name = value, name > 5 && name < 9, ..., name]``.

    Conditions are checked once the whole line is aligned, so one field's
    condition may name another field.
    """

    def __init__(self, text: str, offset: int) -> None:
        self.text = text
        self.start = offset
        self.end = len(text.rstrip())
        self.names: set[str] = set()
        self.regex_count = 0

    def parse(self) -> Callable[[str, Any], Match | None]:
        text = self.text
        if text[self.end - 1] != "]":
            raise FilterPatternError("a space-delimited pattern must end with ]", text, self.end)
        pieces = _split_fields(text, self.start + 1, self.end - 1)
        fields: list[_Field] = []
        names = self.names
        for start, stop in pieces:
            piece = text[start:stop]
            if not piece.strip():
                raise FilterPatternError("expected a field name", text, start)
            if piece.strip() == "...":
                fields.append(_Field(None))
                continue
            lead = len(piece) - len(piece.lstrip())
            m = re.match(r"[A-Za-z_][\w]*", piece[lead:])
            if m is None:
                raise FilterPatternError("expected a field name", text, start + lead)
            name = m.group(0)
            if name in names:
                raise FilterPatternError(f"field {name!r} appears twice", text, start + lead)
            names.add(name)
            rest_at = start + lead + m.end()
            test = None
            if text[rest_at:stop].strip():
                condition = _DelimitedCondition(text, start + lead, stop)
                test = condition.parse()
                self.regex_count += condition.regex_count
            fields.append(_Field(name, test))

        def match(message: str, record: Any) -> Match | None:
            tokens = _tokenize_line(message)
            aligned = _align(fields, tokens)
            if aligned is None:
                return None
            for f in fields:
                if f.test is not None and not f.test(aligned):
                    return None
            return Match({f"${k}": v for k, v in aligned.items()})

        return match


def _split_fields(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    pieces, quote, i, piece_start = [], False, start, start
    while i < stop:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "%":
            close = text.find("%", i + 1, stop)
            i = close if close >= 0 else i
        elif ch == ",":
            pieces.append((piece_start, i))
            piece_start = i + 1
        i += 1
    if quote:
        raise FilterPatternError("unterminated quoted string", text, piece_start)
    pieces.append((piece_start, stop))
    return pieces


class _DelimitedCondition:
    """``name op value`` joined by ``&&`` / ``||`` (``&&`` binds tighter)."""

    def __init__(self, text: str, start: int, stop: int) -> None:
        self.text = text
        self.pos = start
        self.stop = stop
        self.regex_count = 0

    def parse(self) -> Callable[[dict[str, str]], bool]:
        node = self._or()
        self._skip()
        if self.pos < self.stop:
            raise FilterPatternError("expected , or ] or && or ||", self.text, self.pos)
        return node

    def _skip(self) -> None:
        while self.pos < self.stop and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self, op: str) -> bool:
        self._skip()
        return self.text.startswith(op, self.pos) and self.pos < self.stop

    def _or(self) -> Callable[[dict[str, str]], bool]:
        parts = [self._and()]
        while self._peek("||"):
            self.pos += 2
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda f: any(p(f) for p in parts))

    def _and(self) -> Callable[[dict[str, str]], bool]:
        parts = [self._cond()]
        while self._peek("&&"):
            self.pos += 2
            parts.append(self._cond())
        return parts[0] if len(parts) == 1 else (lambda f: all(p(f) for p in parts))

    def _cond(self) -> Callable[[dict[str, str]], bool]:
        self._skip()
        m = re.compile(r"([A-Za-z_]\w*)\s*(!=|<=|>=|=|<|>)\s*").match(self.text, self.pos, self.stop)
        if m is None:
            raise FilterPatternError("expected a condition like name = value", self.text, self.pos)
        name, op = m.group(1), m.group(2)
        self.pos = m.end()
        value, self.pos = _read_value(self.text, self.pos, self.stop, op)
        self.regex_count += value.kind == "regex"

        def cond(fields: dict[str, str]) -> bool:
            actual = fields.get(name)
            if actual is None:
                return False
            if value.kind == "number":
                number = _as_number(actual)
                if number is None:
                    return op == "!="
                return _compare_number(number, op, value.number)  # type: ignore[arg-type]
            return _compare_string(actual, op, value)

        return cond


def _tokenize_line(message: str) -> list[str]:
    """Split on spaces; ``[...]`` and ``"..."`` are one field each, delimiters removed."""
    tokens: list[str] = []
    i, n = 0, len(message)
    # A closer searched for in vain is not found later either: remember, or a line
    # of "[ [ [ [ ..." would search to its end from every bracket.
    unclosed: set[str] = set()
    while i < n:
        ch = message[i]
        if ch.isspace():
            i += 1
            continue
        if ch in '["':
            closer = "]" if ch == "[" else '"'
            close = message.find(closer, i + 1) if closer not in unclosed else -1
            if close >= 0:
                tokens.append(message[i + 1 : close])
                i = close + 1
                continue
            unclosed.add(closer)
        j = i
        while j < n and not message[j].isspace():
            j += 1
        tokens.append(message[i:j])
        i = j
    return tokens


def _align(fields: Sequence[_Field], tokens: Sequence[str]) -> dict[str, str] | None:
    """Assign tokens to named fields; ``...`` takes any number of tokens.

    Each named field takes one token, so only the count matters: without ``...``
    the counts must be equal; with some, every ``...`` but the last takes none and
    the last takes the rest (the first alignment a left-to-right search finds,
    computed directly: searching backtracks exponentially in the ``...`` count).
    """
    named = sum(1 for f in fields if f.name is not None)
    spare = len(tokens) - named
    wildcards = [i for i, f in enumerate(fields) if f.name is None]
    if spare < 0 or (spare and not wildcards):
        return None
    out: dict[str, str] = {}
    t = 0
    for i, f in enumerate(fields):
        if f.name is None:
            if i == wildcards[-1]:
                t += spare
        else:
            out[f.name] = tokens[t]
            t += 1
    return out


# ------------------------------------------------------------ metric filters


class CompiledFilter:
    """A plan's metric filter, ready to run: its pattern parsed once.

    ``value`` is a constant ("1") or a field of the pattern: ``$.path`` for JSON
    patterns, ``$name`` for space-delimited ones; ``dimensions`` map a dimension
    name to such a field (see ``whispersync.plan.MetricFilter``).
    """

    def __init__(self, spec: MetricFilter) -> None:
        self.spec = spec
        self.pattern = parse_pattern(spec.pattern)

    def metric_for(self, match: Match, record: Any, timestamp_ms: int) -> dict | None:
        """The metric record for one match, or ``None`` when the value is not numeric."""
        value = _as_number(self._field(self.spec.value, match, record))
        if value is None:
            return None
        dimensions = {}
        for dim, source in self.spec.dimensions.items():
            found = self._field(source, match, record)
            if found is None or found is _MISSING:
                continue
            dimensions[dim] = found if isinstance(found, str) else orjson.dumps(found).decode()
        return self._metric(value, dimensions, timestamp_ms)

    def default_metric(self, timestamp_ms: int) -> dict | None:
        if self.spec.default_value is None:
            return None
        return self._metric(float(self.spec.default_value), {}, timestamp_ms)

    def _metric(self, value: float, dimensions: dict[str, str], timestamp_ms: int) -> dict:
        return {"timestamp": timestamp_ms, "namespace": self.spec.namespace, "name": self.spec.metric_name,
                "unit": self.spec.unit, "value": value, "dimensions": dimensions}

    @staticmethod
    def _field(source: str, match: Match, record: Any) -> Any:
        if not source.startswith("$"):
            return source
        if source in match.extracted:
            return match.extracted[source]
        if source.startswith(("$.", "$[")):
            parser = _JsonParser("{" + source + "}", 0)
            parser.end = len(source) + 1
            try:
                _, path = parser._selector()
            except FilterPatternError:
                return None
            return _lookup(record, path) if isinstance(record, (dict, list)) else None
        return None


def field_reference_problem(pattern: FilterPattern, source: str) -> str | None:
    """Why the metric value or dimension ``source`` could never be read from an event
    ``pattern`` matches; None when it can (or when it is a constant, not a ``$`` field).

    Only JSON and space-delimited patterns name fields ("Publishing dimensions with
    metrics from values in JSON or space-delimited log events", CloudWatch Logs User
    Guide): ``$.path`` reads a JSON event, ``$name`` a field the delimited pattern names.
    """
    if not source.startswith("$"):
        return None
    if pattern.kind == "json":
        if not source.startswith(("$.", "$[")):
            return f"{source} is not a JSON field; a JSON pattern's fields are written $.name"
        parser = _JsonParser("{" + source + "}", 0)
        parser.end = len(source) + 1
        try:
            parser._selector()
        except FilterPatternError as exc:
            return f"{source} is not a JSON field: {exc.reason}"
        if parser.pos != parser.end:
            return f"{source} is not a JSON field: unexpected {source[parser.pos - 1:]!r}"
        return None
    if pattern.kind == "delimited":
        if source[1:] not in pattern.fields:
            named = ", ".join(sorted(pattern.fields)) or "none"
            return f"{source} is not a field of the pattern (its fields: {named})"
        return None
    kind = {"terms": "a text pattern", "regex": "a regex pattern"}.get(pattern.kind, "an empty pattern")
    return (f"{source} refers to a field, but {kind} names none; only JSON ({{ $.x = ... }}) and"
            " space-delimited ([a, b, ...]) patterns do")


class MetricFilterListener:
    """Applies metric filters to each batch of log records the store writes.

    Plugged into ``TelemetryStore(log_listeners=[...])``: called by the store's
    flush thread, so matching costs nothing on the hot path; returns the metric
    records to write alongside the batch.

    ``filters`` is a fixed collection (compiled here: a bad pattern raises), or a
    callable asked for the current filters at every batch, so filters stored while
    the store runs take effect at its next flush. The callable should be cheap when
    nothing changed and return the same sequence object then: a new sequence is
    compared with the last one and compiled again only when it differs; a filter
    whose pattern does not compile is left out (counted in ``skipped``).

    A filter with a ``log_group`` sees only the records of that group (their
    ``log_group`` field); its default value is reported only for a batch holding
    records of its group, as CloudWatch reports it when events are ingested into
    the group and none matched.
    """

    def __init__(self, filters: Iterable[MetricFilter] | Callable[[], Sequence[MetricFilter]],
                 clock_ms: Callable[[], int] | None = None) -> None:
        self._clock_ms = clock_ms
        self._specs: Sequence[MetricFilter] | None = None
        self.filters: list[CompiledFilter] = []
        self.skipped: list[tuple[MetricFilter, FilterPatternError]] = []
        if callable(filters):
            self._source = filters
        else:
            fixed = tuple(filters)
            self.filters = [CompiledFilter(f) for f in fixed]
            self._specs = fixed
            self._source = lambda: fixed

    def __call__(self, records: Sequence[Mapping[str, Any]]) -> list[dict]:
        filters = self._current()
        if not filters or not records:
            return []
        stamped = [(record, _timestamp_ms(record)) for record in records]
        by_group: dict[Any, list[tuple[Mapping[str, Any], int | None]]] = {}
        for item in stamped:
            by_group.setdefault(item[0].get("log_group"), []).append(item)
        out: list[dict] = []
        for f in filters:
            group = f.spec.log_group
            batch = stamped if group is None else by_group.get(group, ())
            matched = False
            last_ts = None
            for record, ts in batch:
                last_ts = ts if ts is not None else last_ts
                match = f.pattern.match_record(record)
                if match is None:
                    continue
                matched = True
                metric = f.metric_for(match, record, ts if ts is not None else self._now())
                if metric is not None:
                    out.append(metric)
            if batch and not matched:
                default = f.default_metric(last_ts if last_ts is not None else self._now())
                if default is not None:
                    out.append(default)
        return out

    def _current(self) -> list[CompiledFilter]:
        specs = self._source()
        if specs is self._specs:
            return self.filters
        if self._specs is None or list(specs) != list(self._specs):
            compiled, skipped = [], []
            for spec in specs:
                try:
                    compiled.append(CompiledFilter(spec))
                except FilterPatternError as exc:
                    skipped.append((spec, exc))
            self.filters, self.skipped = compiled, skipped
        self._specs = specs
        return self.filters

    def _now(self) -> int:
        if self._clock_ms is not None:
            return self._clock_ms()
        return int(time.time() * 1000)


def _timestamp_ms(record: Mapping[str, Any]) -> int | None:
    ts = record.get("@timestamp", record.get("timestamp"))  # an imported event's own time first
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return int(ts)
    if isinstance(ts, str):
        try:
            return int(datetime.fromisoformat(ts).timestamp() * 1000)
        except ValueError:
            return None
    return None


def test_metric_filter(pattern: str, messages: Iterable[str]) -> dict:
    """CloudWatch's TestMetricFilter: ``{"matches": [{eventNumber, eventMessage, extractedValues}]}``.

    ``eventNumber`` counts from 1. Extracted values are strings, as the API returns them.
    """
    compiled = parse_pattern(pattern)
    matches = []
    for number, message in enumerate(messages, start=1):
        match = compiled.match(message)
        if match is None:
            continue
        extracted = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in match.extracted.items()}
        matches.append({"eventNumber": number, "eventMessage": message, "extractedValues": extracted})
    return {"matches": matches}


test_metric_filter.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
