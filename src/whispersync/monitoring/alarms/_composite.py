"""Composite alarm rules: CloudWatch's AlarmRule grammar, parsed and evaluated.

    rule = parse('ALARM(SystemDown) OR (ALARM("DLQMessages") AND NOT OK(Api5xx))')
    rule.evaluate({"SystemDown": "OK", "DLQMessages": "ALARM", "Api5xx": "ALARM"})  # True
    rule.references  # {"SystemDown", "DLQMessages", "Api5xx"}

The grammar is PutCompositeAlarm's: the functions ``ALARM(name)``, ``OK(name)``
and ``INSUFFICIENT_DATA(name)`` are TRUE when the named alarm is in that state;
``TRUE`` and ``FALSE``; the operators ``AND``, ``OR`` and ``NOT``; parentheses to
group. ``TRUE`` and ``FALSE`` are accepted in any case: CloudWatch's own pages
spell them ``TRUE``, ``True`` and ``false`` (the composite-alarm guide and the
CDK's ``AlarmRule.fromBoolean`` rules), so a rule copied from them must parse.

``AT_LEAST(M, STATE, (alarm1, alarm2, ...))`` (PutCompositeAlarm's AlarmRule,
"Composite alarms" guide; CDK ``AlarmRule.atLeast``/``atLeastNot``) is TRUE when
at least ``M`` of the listed alarms are in ``STATE``; ``M`` is a count (``2``)
or a percentage of the listed alarms (``50%``), and ``STATE`` is ``ALARM``,
``OK`` or ``INSUFFICIENT_DATA``, optionally preceded by ``NOT`` (at least M are
*not* in that state). Alarm names may be surrounded with double quotes "but do not have to be";
an unquoted name runs to the closing parenthesis, so it may hold spaces and
dashes. CloudWatch does not document operator precedence; we use the usual
one (``NOT`` binds tighter than ``AND``, which binds tighter than ``OR``), so
``A OR B AND C`` means ``A OR (B AND C)`` — add parentheses when in doubt.
A name given as an alarm ARN (``arn:aws:cloudwatch:…:alarm:Name``) refers to
``Name``. Keywords are upper case, as in CloudWatch.

Errors raise ``RuleSyntaxError`` (a ``QuerySyntaxError``: position, line, column).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from whispersync.errors import QuerySyntaxError
from whispersync.monitoring.alarms._errors import AlarmError

__all__ = ["MAX_NESTING", "MAX_RULE_LENGTH", "Rule", "RuleSyntaxError", "check_cycles", "parse"]

# PutCompositeAlarm: AlarmRule is 1 to 10240 characters.
MAX_RULE_LENGTH = 10240
_STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
# NOT and parentheses nest at most this deep: parsing and evaluating recurse once
# per level (AND and OR chains are flat lists, so a long rule is not a deep one).
MAX_NESTING = 32
_ARN = re.compile(r"^arn:aws[\w-]*:cloudwatch:[^:]*:[^:]*:alarm:(.+)$")


class RuleSyntaxError(QuerySyntaxError):
    """An AlarmRule that does not parse, with its position (see QuerySyntaxError)."""


@dataclass(frozen=True)
class _Node:
    op: str  # STATE, CONST, NOT, AND, OR, AT_LEAST (args: threshold, is_percent, negate, state, names)
    args: tuple = ()


class Rule:
    """A parsed AlarmRule: ``evaluate(states)`` and ``references``."""

    def __init__(self, text: str, root: _Node) -> None:
        self.text = text
        self._root = root
        refs: set[str] = set()
        _collect(root, refs)
        self.references = frozenset(refs)

    def evaluate(self, states: Mapping[str, str]) -> bool:
        """TRUE or FALSE for the given alarm states (a name not in ``states`` is INSUFFICIENT_DATA)."""
        return _eval(self._root, states)

    def terms(self) -> list[tuple[str, str]]:
        """Every ``(state, alarm name)`` function of the rule, in order."""
        out: list[tuple[str, str]] = []
        _terms(self._root, out)
        return out

    def __repr__(self) -> str:
        return f"Rule({self.text!r})"


def _collect(node: _Node, refs: set[str]) -> None:
    if node.op == "STATE":
        refs.add(node.args[1])
    elif node.op == "AT_LEAST":
        refs.update(node.args[4])
    elif node.op != "CONST":
        for arg in node.args:
            _collect(arg, refs)


def _terms(node: _Node, out: list[tuple[str, str]]) -> None:
    if node.op == "STATE":
        out.append(node.args)
    elif node.op == "AT_LEAST":
        out.extend((node.args[3], name) for name in node.args[4])
    elif node.op != "CONST":
        for arg in node.args:
            _terms(arg, out)


def _eval(node: _Node, states: Mapping[str, str]) -> bool:
    op = node.op
    if op == "STATE":
        return states.get(node.args[1], "INSUFFICIENT_DATA") == node.args[0]
    if op == "CONST":
        return node.args[0]
    if op == "NOT":
        return not _eval(node.args[0], states)
    if op == "AT_LEAST":
        threshold, is_percent, negate, state, names = node.args
        hits = sum((states.get(n, "INSUFFICIENT_DATA") == state) != negate for n in names)
        # A percentage is of the listed alarms: "at least 50%" of 3 needs 2 (hits*100 >= 50*3).
        return hits * 100 >= threshold * len(names) if is_percent else hits >= threshold
    if op == "AND":
        return all(_eval(a, states) for a in node.args)
    return any(_eval(a, states) for a in node.args)


# ---------------------------------------------------------------------- parsing

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.nesting = 0

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"the rule is nested too deeply (more than {MAX_NESTING} levels of NOT and parentheses)")

    def error(self, message: str, pos: int | None = None) -> RuleSyntaxError:
        return RuleSyntaxError(message, self.text, self.pos if pos is None else pos)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek_word(self) -> str | None:
        self.skip_space()
        m = _WORD.match(self.text, self.pos)
        return m.group(0) if m else None

    def take_word(self, word: str) -> None:
        self.skip_space()
        self.pos += len(word)
        # A keyword must end at a word boundary: "ANDROID" is not AND + ROID.
        if self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            raise self.error(f"unexpected {self.text[self.pos - len(word):self.pos + 1]!r}", self.pos - len(word))

    def parse(self) -> _Node:
        if not self.text.strip():
            raise self.error("the rule is empty", 0)
        node = self.parse_or()
        self.skip_space()
        if self.pos < len(self.text):
            raise self.error(f"unexpected {self.text[self.pos:self.pos + 12]!r}")
        return node

    def parse_or(self) -> _Node:
        args = [self.parse_and()]
        while self.peek_word() == "OR":
            self.take_word("OR")
            args.append(self.parse_and())
        return args[0] if len(args) == 1 else _Node("OR", tuple(args))

    def parse_and(self) -> _Node:
        args = [self.parse_not()]
        while self.peek_word() == "AND":
            self.take_word("AND")
            args.append(self.parse_not())
        return args[0] if len(args) == 1 else _Node("AND", tuple(args))

    def parse_not(self) -> _Node:
        if self.peek_word() == "NOT":
            self.enter()
            self.take_word("NOT")
            node = _Node("NOT", (self.parse_not(),))
            self.nesting -= 1
            return node
        return self.parse_primary()

    def parse_primary(self) -> _Node:
        self.skip_space()
        if self.pos >= len(self.text):
            raise self.error("the rule ends where an expression was expected")
        start = self.pos
        if self.text[self.pos] == "(":
            self.enter()
            self.pos += 1
            node = self.parse_or()
            self.skip_space()
            if self.pos >= len(self.text) or self.text[self.pos] != ")":
                raise self.error(f"missing ')' to close the '(' at position {start}")
            self.pos += 1
            self.nesting -= 1
            return node
        word = self.peek_word()
        if word is not None and word.upper() in ("TRUE", "FALSE"):
            self.take_word(word)
            return _Node("CONST", (word.upper() == "TRUE",))
        if word == "AT_LEAST":
            return self.at_least()
        if word in _STATES:
            self.take_word(word)
            self.skip_space()
            if self.pos >= len(self.text) or self.text[self.pos] != "(":
                raise self.error(f"{word} needs an alarm name in parentheses, like {word}(MyAlarm)")
            self.pos += 1
            return _Node("STATE", (word, self.alarm_name(word)))
        if word is None:
            raise self.error(f"unexpected {self.text[self.pos]!r}")
        if word.upper() in _STATES + ("AT_LEAST", "AND", "OR", "NOT") and word != word.upper():
            raise self.error(f"keywords are upper case: write {word.upper()}, not {word}")
        raise self.error(
            f"unexpected {word!r}; expected ALARM(name), OK(name), INSUFFICIENT_DATA(name), AT_LEAST(...),"
            " TRUE, FALSE, NOT or '('"
        )

    def expect(self, char: str, what: str) -> None:
        self.skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] != char:
            raise self.error(f"expected {char!r} {what}")
        self.pos += 1

    def at_least(self) -> _Node:
        """``AT_LEAST(M, [NOT] STATE, (name, name, ...))``; the caller saw the word."""
        usage = "like AT_LEAST(2, ALARM, (a, b, c)) or AT_LEAST(50%, NOT OK, (a, b))"
        self.take_word("AT_LEAST")
        self.expect("(", f"after AT_LEAST, {usage}")
        self.skip_space()
        m = re.compile(r"(\d+(?:\.\d+)?)\s*(%?)").match(self.text, self.pos)
        if m is None:
            raise self.error(f"AT_LEAST needs a count or a percentage first, {usage}")
        at = self.pos
        threshold, is_percent = float(m.group(1)), m.group(2) == "%"
        if not is_percent and not threshold.is_integer():
            raise self.error("AT_LEAST's count must be a whole number (or a percentage such as 50%)", at)
        if is_percent and threshold > 100:
            raise self.error("AT_LEAST's percentage must be at most 100%", at)
        self.pos = m.end()
        self.expect(",", f"after AT_LEAST's threshold, {usage}")
        negate = self.peek_word() == "NOT"
        if negate:
            self.take_word("NOT")
        state = self.peek_word()
        if state not in _STATES:
            raise self.error(f"AT_LEAST needs a state (ALARM, OK or INSUFFICIENT_DATA), {usage}")
        self.take_word(state)
        self.expect(",", f"after AT_LEAST's state, {usage}")
        self.expect("(", f"to open AT_LEAST's list of alarms, {usage}")
        names = [self.list_name()]
        self.skip_space()
        while self.pos < len(self.text) and self.text[self.pos] == ",":
            self.pos += 1
            names.append(self.list_name())
            self.skip_space()
        self.expect(")", "to close AT_LEAST's list of alarms")
        self.expect(")", "to close AT_LEAST(...)")
        if not is_percent and threshold > len(names):
            raise self.error(f"AT_LEAST({int(threshold)}, ...) can never hold: it lists {len(names)} alarms", at)
        return _Node("AT_LEAST", (threshold, is_percent, negate, state, tuple(names)))

    def list_name(self) -> str:
        """One alarm name of AT_LEAST's list: quoted, or running to the next ',' or ')'."""
        self.skip_space()
        start = self.pos
        if self.pos < len(self.text) and self.text[self.pos] == '"':
            end = self.text.find('"', self.pos + 1)
            if end < 0:
                raise self.error("unterminated quoted alarm name", start)
            name = self.text[self.pos + 1:end]
            self.pos = end + 1
        else:
            m = re.compile(r'[^,()"]*').match(self.text, self.pos)
            name = m.group(0).strip()
            self.pos = m.end()
        if not name:
            raise self.error("AT_LEAST's list needs alarm names separated by commas", start)
        arn = _ARN.match(name)
        return arn.group(1) if arn else name

    def alarm_name(self, function: str) -> str:
        self.skip_space()
        start = self.pos
        if self.pos < len(self.text) and self.text[self.pos] == '"':
            end = self.text.find('"', self.pos + 1)
            if end < 0:
                raise self.error("unterminated quoted alarm name", start)
            name = self.text[self.pos + 1:end]
            self.pos = end + 1
            self.skip_space()
            if self.pos >= len(self.text) or self.text[self.pos] != ")":
                raise self.error(f"expected ')' after the alarm name in {function}(...)")
        else:
            end = self.text.find(")", self.pos)
            if end < 0:
                raise self.error(f"missing ')' after the alarm name in {function}(...)", start)
            name = self.text[self.pos:end].strip()
            if "(" in name or '"' in name:
                raise self.error(f"an alarm name in {function}(...) cannot hold '(' or '\"'", start)
            self.pos = end
        self.pos += 1  # the ')'
        if not name:
            raise self.error(f"{function}() needs an alarm name", start)
        arn = _ARN.match(name)
        return arn.group(1) if arn else name


def parse(text: str) -> Rule:
    """Parse an AlarmRule; raise RuleSyntaxError (with a position) when it is not one."""
    if not isinstance(text, str):
        raise TypeError(f"an AlarmRule is a string, got {type(text).__name__}")
    if len(text) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(f"the rule is longer than {MAX_RULE_LENGTH} characters", text, MAX_RULE_LENGTH)
    return Rule(text, _Parser(text).parse())


def check_cycles(rules: Mapping[str, Iterable[str]]) -> None:
    """Raise ValueError when composite alarms refer to each other in a cycle.

    ``rules`` maps each composite alarm's name to the names its rule refers to
    (metric alarms need not appear). The message names the cycle.
    """
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in done or name not in rules:
            return
        if name in path:
            cycle = " -> ".join([*path[path.index(name):], name])
            raise AlarmError(f"composite alarms refer to each other in a cycle: {cycle}")
        for ref in sorted(rules[name]):
            visit(ref, [*path, name])
        done.add(name)

    for name in sorted(rules):
        visit(name, [])
