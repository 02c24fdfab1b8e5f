"""Query text → a pipeline of commands (the AST).

    query   := (source "|")* command ("|" command)*  |  source ("|" source)*
    source  := "SOURCE" string  |  "SOURCE" "logGroups" "(" [key ":" "[" string ("," string)* "]" ("," ...)*] ")"
    command := fields | display | filter | stats | sort | limit | parse | dedup
             | where (filter) | unnest | expand | join | json     (those four: see _reshape)
    parse   := "parse" [field] (glob "as" names | regex ["as" names] ["multi"] | ("csv" | "logfmt") "as" names)
               (names: one per `*` or group; multi, csv and logfmt: see _reshape)
    expr    := or;  or := and ("or" and)*;  and := not ("and" not)*
    not     := ("not" | "!") not | compare
    compare := sum (("=" | "!=" | "<" | "<=" | ">" | ">=") sum
                    | ["not"] "like" (string | regex) | "=~" (string | regex)
                    | ["not"] "in" ("[" expr ("," expr)* "]" | "(" subquery ")"))?
    sum     := product (("+" | "-") product)*;  product := power (("*" | "/" | "%") power)*
    power   := unary ("^" unary)?;  unary := "-" unary | primary
    primary := number | string | true | false | duration | (field | name "(" args ")") postfix* | "(" expr ")"
    postfix := "[" whole-number "]" | "." member     (written adjacent: `m.users[1].action`)

Keywords are case-insensitive, as in CloudWatch. Every node keeps its span in the
query so errors and default column names (``count()``, ``bin(5m)``) come from
the text the user typed.

``SOURCE`` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Source.html)
picks the log groups, before every other command. Two forms are read:

- ``SOURCE 'group'`` (or ``"group"``), one group each, repeated for more:
  ``SOURCE 'a' | SOURCE 'b' | fields ...``, the form CloudWatch dashboards'
  log widgets (and the CDK's LogQueryWidget) save;
- ``SOURCE logGroups(namePrefix: ['p1', 'p2'])``: the groups whose names start
  with a prefix (at most five); ``logGroups()`` is every group. ``class:`` (or
  ``logGroupClass:``) ``['STANDARD']`` is accepted, since every local group is in
  the standard class; ``INFREQUENT_ACCESS`` and ``accountIdentifiers:`` are refused
  with a reason: this store has no such groups and no AWS accounts, as are
  ``dataSource(...)`` and ``logGroupTags(...)`` (no vended-log catalog, no tags).

Command order follows the docs: ``stats`` at most twice, ``sort`` and ``limit``
not before the second (CWL_QuerySyntax-Stats, "Notes and limitations"); only
``limit`` after ``dedup``. A ``stats`` item may compute with the aliases of
earlier items of the same ``stats`` (``max(a) as x, min(a) as y, x - y as spread``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whispersync.monitoring.logs.insights import _analytic
from whispersync.monitoring.logs.insights._errors import InsightsQueryError
from whispersync.monitoring.logs.insights._lexer import UNITS, Token, tokenize

_UNIT_MS = {
    "ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "hr": 3_600_000,
    "d": 86_400_000, "w": 7 * 86_400_000,
}
_UNIT_CAPS = {"ms": 1000, "s": 60, "m": 60, "h": 24}  # "The cap for ms is 1000, the caps for s and m are 60 ..."
_CALENDAR_UNITS = {"mo": "month", "mon": "month", "q": "quarter", "qtr": "quarter", "y": "year", "yr": "year"}
COMMANDS = ("fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup")
COMMANDS += _analytic.WORDS  # addtotals, accum, ...: parsed and compiled in _analytic
COMMANDS += ("where", "unnest", "expand", "join", "json")  # where is filter; the others are in _reshape
_EXPECTED_COMMAND = "expected a command ({})".format(", ".join(dict.fromkeys(  # the common ones first
    ("fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", *COMMANDS))))
# CloudWatch: without `limit` a query returns up to 10,000 rows; `limit` may ask for up to 100,000.
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000
# StartQuery: a queryString is at most 10,000 characters.
MAX_QUERY_LENGTH = 10_000
# CWL_QuerySyntax-Source: "as many as five prefixes"; CWL_QuerySyntax-Stats: "a maximum of two stats commands".
MAX_NAME_PREFIXES = 5
MAX_STATS = 2
# Parentheses, calls, `not` and signs nest at most MAX_NESTING deep, and an
# expression tree is at most MAX_DEPTH deep (a chain a + b + c ... is as deep as
# it is long): parsing and compiling recurse, and so does DuckDB's SQL parser.
MAX_NESTING = 32
MAX_DEPTH = 100


# SOURCE selectors the docs give that a local store cannot honour, and why.
_UNAVAILABLE_SELECTORS = {
    "datasource": "SOURCE dataSource(...) picks CloudWatch's catalog of vended log types; this store has none:"
                  " name log groups instead",
    "loggrouptags": "SOURCE logGroupTags(...) picks log groups by their AWS tags; local log groups have none:"
                    " name them, or give logGroups(namePrefix: [...])",
}

# ----------------------------------------------------------------- expressions

@dataclass(frozen=True)
class Expr:
    start: int
    end: int


@dataclass(frozen=True)
class Field(Expr):
    name: str


@dataclass(frozen=True)
class Number(Expr):
    value: float | int


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class Boolean(Expr):
    value: bool


@dataclass(frozen=True)
class Regex(Expr):
    pattern: str
    flags: str = ""


@dataclass(frozen=True)
class Duration(Expr):
    """``5m``: ``ms`` for fixed units, else ``calendar`` (month, quarter, year) × ``count``."""

    count: int
    ms: int | None
    calendar: str | None = None


@dataclass(frozen=True)
class Star(Expr):
    pass


@dataclass(frozen=True)
class Call(Expr):
    name: str  # lower case
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Member(Expr):
    """``base[1].name``: ints index a list, strings are members of a map."""

    base: Expr
    keys: tuple[str | int, ...]


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "not" or "-"
    arg: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # and or = != < <= > >= + - * / % ^
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Match(Expr):
    """``like`` / ``=~``: a regex or, for a string, a case-sensitive substring."""

    arg: Expr
    pattern: String | Regex
    negated: bool = False


@dataclass(frozen=True)
class InList(Expr):
    arg: Expr
    items: tuple[Expr, ...]
    negated: bool = False


# -------------------------------------------------------------------- commands

@dataclass(frozen=True)
class Item:
    """An expression and the column name it produces (alias, else its text)."""

    expr: Expr
    name: str
    aliased: bool = False


@dataclass(frozen=True)
class Fields:
    items: tuple[Item, ...]
    display: bool = False  # `display` picks the output columns; `fields` also defines


@dataclass(frozen=True)
class Filter:
    expr: Expr


@dataclass(frozen=True)
class Stats:
    aggregates: tuple[Item, ...]
    by: tuple[Item, ...]


@dataclass(frozen=True)
class Sort:
    keys: tuple[tuple[Expr, bool], ...]  # (expr, descending)


@dataclass(frozen=True)
class Limit:
    count: int


@dataclass(frozen=True)
class Parse:
    source: Expr
    pattern: String | Regex
    names: tuple[str, ...]  # after `as`: one per glob `*`, or per regex group in order; () for named groups


@dataclass(frozen=True)
class Dedup:
    fields: tuple[Expr, ...]


Command = Fields | Filter | Stats | Sort | Limit | Parse | Dedup


@dataclass(frozen=True)
class Source:
    """The log groups the query reads: those named, and those whose names start with a prefix.

    ``everything`` (``SOURCE logGroups()``) reads every group, as no SOURCE does.
    """

    start: int  # the first SOURCE command, for errors
    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    everything: bool = False


@dataclass(frozen=True)
class Query:
    text: str
    commands: tuple[Command, ...] = field(default_factory=tuple)
    source: Source | None = None  # None: no SOURCE command


def parse_query(text: str) -> Query:
    """Parse ``text``; raise ``InsightsQueryError`` pointing at the first problem."""
    if len(text) > MAX_QUERY_LENGTH:
        raise InsightsQueryError(f"a query is at most {MAX_QUERY_LENGTH:,} characters", text, MAX_QUERY_LENGTH)
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.nesting = 0
        # id(expr) -> (depth of its tree, expr): holding expr keeps its id from being reused.
        self.depths: dict[int, tuple[int, Expr]] = {}

    def enter(self, tok: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise InsightsQueryError(f"the expression is nested too deeply (more than {MAX_NESTING} levels)",
                                     self.text, tok.pos)

    def built(self, expr: Expr, at: Token, *children: Expr) -> Expr:
        """Record ``expr``'s depth; past MAX_DEPTH the query is refused at ``at``."""
        depth = 1 + max((self.depths.get(id(c), (1,))[0] for c in children), default=0)
        if depth > MAX_DEPTH:
            raise InsightsQueryError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)",
                                     self.text, at.pos)
        self.depths[id(expr)] = (depth, expr)
        return expr

    # ------------------------------------------------------------- plumbing

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "OP" and self.tok.text in ops

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "NAME" and self.tok.text.lower() in words

    def error(self, expected: str, tok: Token | None = None) -> InsightsQueryError:
        tok = tok or self.tok
        found = "the end of the query" if tok.kind == "EOF" else repr(self.text[tok.pos : tok.end])
        return InsightsQueryError(f"{expected}, found {found}", self.text, tok.pos)

    def expect_op(self, op: str, context: str) -> Token:
        if not self.is_op(op):
            raise self.error(f"expected '{op}' {context}")
        return self.advance()

    def span(self, start: int, end: int) -> str:
        return " ".join(self.text[start:end].split())

    def prev_end(self) -> int:
        return self.tokens[self.i - 1].end if self.i else 0

    # ------------------------------------------------------------- commands

    def query(self) -> Query:
        commands: list[Command] = []
        starts: list[Token] = []  # each command's first token, for errors about its place
        source: Source | None = None
        if self.tok.kind == "EOF":
            raise self.error(_EXPECTED_COMMAND)
        while True:
            if self.is_op("|"):
                raise self.error("expected a command before '|'")
            if self.is_kw("source"):
                if commands:
                    raise self.error("SOURCE must come first, before every other command")
                source = self.cmd_source(self.advance(), source)
            else:
                starts.append(self.tok)
                commands.append(self.command())
            if self.tok.kind == "EOF":
                break
            if not self.is_op("|"):
                raise self.error("expected '|' or the end of the query")
            self.advance()
        self.check_order(commands, starts)
        return Query(self.text, tuple(commands), source)

    def check_order(self, commands: list[Command], starts: list[Token]) -> None:
        """The documented rules on which command may follow which."""
        stats_seen = 0
        for index, cmd in enumerate(commands):
            if isinstance(cmd, Dedup):
                for later, at in zip(commands[index + 1 :], starts[index + 1 :], strict=True):
                    if not isinstance(later, Limit):
                        raise InsightsQueryError("only limit may follow dedup", self.text, at.pos)
            if isinstance(cmd, Stats):
                stats_seen += 1
                if stats_seen > MAX_STATS:
                    raise InsightsQueryError(f"a query may have at most {MAX_STATS} stats commands",
                                             self.text, starts[index].pos)
                if stats_seen == 2:
                    for earlier, at in zip(commands[:index], starts[:index], strict=True):
                        if isinstance(earlier, Sort | Limit):
                            word = "sort" if isinstance(earlier, Sort) else "limit"
                            raise InsightsQueryError(
                                f"{word} must come after the second stats, not before it", self.text, at.pos)

    def command(self) -> Command:
        tok = self.tok
        word = tok.text.lower() if tok.kind == "NAME" else ""
        if word not in COMMANDS:
            raise self.error(_EXPECTED_COMMAND)
        self.advance()
        if word in _analytic.WORDS:
            return _analytic.parse_command(self, word, tok)
        return getattr(self, "cmd_" + word)(tok)

    def cmd_source(self, tok: Token, before: Source | None) -> Source:
        """One SOURCE command, added to those ``before`` it."""
        names, prefixes, everything = [], [], False
        if self.tok.kind == "STRING":
            name_tok = self.advance()
            if not name_tok.text:
                raise self.error("expected a log group name, not an empty string", name_tok)
            names.append(name_tok.text)
            if self.is_op(","):
                raise self.error("one log group per SOURCE; repeat it for more: SOURCE 'a' | SOURCE 'b'")
        elif self.is_kw(*_UNAVAILABLE_SELECTORS):
            raise InsightsQueryError(_UNAVAILABLE_SELECTORS[self.tok.text.lower()], self.text, self.tok.pos)
        elif self.is_kw("loggroups") and self.tokens[self.i + 1].text == "(":
            self.advance()
            self.advance()
            everything = True
            while not self.is_op(")"):
                key_tok = self.tok
                key = key_tok.text if key_tok.kind == "NAME" else ""
                if key.lower() not in ("nameprefix", "class", "loggroupclass", "accountidentifiers",
                                       "accountidentifier"):
                    raise self.error("expected namePrefix, class or accountIdentifiers in logGroups(")
                self.advance()
                self.expect_op(":", f"after {key}")
                values = self.string_list(key)
                if key.lower() == "nameprefix":
                    if len(values) > MAX_NAME_PREFIXES:
                        raise InsightsQueryError(f"namePrefix takes at most {MAX_NAME_PREFIXES} prefixes",
                                                 self.text, key_tok.pos)
                    prefixes += values
                    everything = False
                elif key.lower() in ("class", "loggroupclass"):
                    if any(v.upper() != "STANDARD" for v in values):
                        raise InsightsQueryError(
                            "every log group here is in the STANDARD class; there are no INFREQUENT_ACCESS groups",
                            self.text, key_tok.pos)
                else:
                    raise InsightsQueryError(
                        f"{key}: this log store belongs to no AWS account, so there is none to pick; leave it out",
                        self.text, key_tok.pos)
                if not self.is_op(","):
                    break
                self.advance()
            self.expect_op(")", "to close logGroups(")
            if self.is_kw(*_UNAVAILABLE_SELECTORS):  # `logGroups(...) logGroupTags(...)`: both must hold
                raise InsightsQueryError(_UNAVAILABLE_SELECTORS[self.tok.text.lower()], self.text, self.tok.pos)
        else:
            raise self.error("expected a log group name in quotes or logGroups(...) after 'SOURCE'")
        if before is not None:
            names = [*before.names, *names]
            prefixes = [*before.prefixes, *prefixes]
            everything = everything or before.everything
        start = before.start if before is not None else tok.pos
        return Source(start, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(prefixes)), everything)

    def string_list(self, key: str) -> list[str]:
        self.expect_op("[", f"after '{key}:'")
        values = []
        while True:
            if self.tok.kind != "STRING":
                raise self.error(f"expected a quoted string in the list after '{key}:'")
            values.append(self.advance().text)
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op("]", "to close the list")
        return values

    def cmd_fields(self, tok: Token, display: bool = False) -> Fields:
        items = [self.item(f"after '{tok.text}'")]
        while self.is_op(","):
            self.advance()
            items.append(self.item("after ','"))
        return Fields(tuple(items), display=display)

    def cmd_display(self, tok: Token) -> Fields:
        return self.cmd_fields(tok, display=True)

    def cmd_filter(self, tok: Token) -> Filter:
        if self.tok.kind == "EOF" or self.is_op("|"):
            raise self.error(f"expected a condition after '{tok.text}'")
        return Filter(self.expr())

    cmd_where = cmd_filter  # CWL_QuerySyntax-Where.html: "where" is another name for filter

    def cmd_unnest(self, tok: Token):  # type: ignore[no-untyped-def]
        from whispersync.monitoring.logs.insights import _reshape
        return _reshape.parse_unnest(self, tok)

    def cmd_expand(self, tok: Token):  # type: ignore[no-untyped-def]
        from whispersync.monitoring.logs.insights import _reshape
        return _reshape.parse_expand(self, tok)

    def cmd_join(self, tok: Token):  # type: ignore[no-untyped-def]
        from whispersync.monitoring.logs.insights import _reshape
        return _reshape.parse_join(self, tok)

    def cmd_json(self, tok: Token):  # type: ignore[no-untyped-def]
        from whispersync.monitoring.logs.insights import _reshape
        return _reshape.parse_json(self, tok)

    def cmd_stats(self, tok: Token) -> Stats:
        aggregates = [self.item("after 'stats'", what="an aggregate function such as count()")]
        while self.is_op(","):
            self.advance()
            aggregates.append(self.item("after ','", what="an aggregate function such as count()"))
        aliases: set[str] = set()
        for agg in aggregates:
            # An item computes with aggregates, or with the aliases of earlier items.
            if not _has_aggregate(agg.expr) and not (_field_names(agg.expr) & aliases):
                raise InsightsQueryError(
                    f"expected an aggregate function (count, sum, avg, ...) in stats, found {agg.name!r}",
                    self.text, agg.expr.start)
            if agg.aliased:
                aliases.add(agg.name)
        by: list[Item] = []
        if self.is_kw("by"):
            self.advance()
            by.append(self.item("after 'by'", what="a field name"))
            while self.is_op(","):
                self.advance()
                by.append(self.item("after ','", what="a field name"))
        return Stats(tuple(aggregates), tuple(by))

    def cmd_sort(self, tok: Token) -> Sort:
        keys = []
        while True:
            if self.tok.kind == "EOF" or self.is_op("|", ","):
                raise self.error(f"expected a field name after '{self.tokens[self.i - 1].text}'")
            expr = self.expr()
            desc = False
            if self.is_kw("asc", "desc"):
                desc = self.advance().text.lower() == "desc"
            keys.append((expr, desc))
            if not self.is_op(","):
                return Sort(tuple(keys))
            self.advance()

    def cmd_limit(self, tok: Token) -> Limit:
        if self.is_kw("any"):
            # CWL_QuerySyntax-Limit, "limit any": any N matching events, in no particular order;
            # the newest N are as good as any.
            self.advance()
        if self.tok.kind != "NUMBER" or not self.tok.text.isdigit():
            raise self.error("expected a whole number after 'limit'")
        number = self.advance()
        count = int(number.text)
        if not 1 <= count <= MAX_LIMIT:
            raise InsightsQueryError(f"limit must be between 1 and {MAX_LIMIT}", self.text, number.pos)
        return Limit(count)

    def cmd_parse(self, tok: Token) -> Parse:
        from whispersync.monitoring.logs.insights import _reshape
        bare_mode = self.is_kw("csv", "logfmt") and self.tokens[self.i + 1].text.lower() == "as"
        if self.tok.kind in ("STRING", "REGEX") or bare_mode:
            source: Expr = Field(tok.end, tok.end, "@message")
        else:
            if self.tok.kind != "NAME":
                raise self.error("expected a field name or a pattern after 'parse'")
            source = self.primary()
        pat_tok = self.tok
        if pat_tok.kind == "STRING":
            pattern: String | Regex = String(pat_tok.pos, pat_tok.end, pat_tok.text)
        elif pat_tok.kind == "REGEX":
            pattern = Regex(pat_tok.pos, pat_tok.end, pat_tok.text, pat_tok.flags)
        elif self.is_kw("csv", "logfmt"):  # CWL_QuerySyntax-Parse.html, "CSV mode" and "Logfmt mode"
            return _reshape.parse_mode(self, source, pat_tok)  # type: ignore[return-value]
        else:
            raise self.error("expected a pattern (\"glob * pattern\" or /regex/) after the field")
        self.advance()
        names: list[str] = []
        if isinstance(pattern, String) and not self.is_kw("as"):
            raise self.error("expected 'as' and field names after the glob pattern")
        if self.is_kw("as"):  # a glob's `*`s, or a regex's groups in order: /(\d+)-(\d+)/ as a, b
            self.advance()
            names.append(self.name("after 'as'"))
            while self.is_op(","):
                self.advance()
                names.append(self.name("after ','"))
        if isinstance(pattern, String):
            stars = pattern.value.count("*")
            if stars != len(names):
                raise InsightsQueryError(
                    f"the pattern has {stars} '*' but {len(names)} field names follow 'as'", self.text, pat_tok.pos)
        if self.is_kw("multi"):  # CWL_QuerySyntax-Parse.html, "Multi-match mode": a row for each match
            if isinstance(pattern, String):
                raise InsightsQueryError("multi works with a /regular expression/, not a glob pattern",
                                         self.text, self.tok.pos)
            self.advance()
            return _reshape.ParseMulti(source, pattern, tuple(names))  # type: ignore[return-value]
        return Parse(source, pattern, tuple(names))

    def cmd_dedup(self, tok: Token) -> Dedup:
        fields = [self.field_ref("after 'dedup'")]
        while self.is_op(","):
            self.advance()
            fields.append(self.field_ref("after ','"))
        return Dedup(tuple(fields))

    def item(self, context: str, what: str = "a field name or expression") -> Item:
        if self.tok.kind == "EOF" or self.is_op("|", ","):
            raise self.error(f"expected {what} {context}")
        expr = self.expr()
        if self.is_kw("as"):
            self.advance()
            return Item(expr, self.name("after 'as'"), aliased=True)
        if isinstance(expr, Field):  # `detail-type` names the field detail-type: so does its column
            return Item(expr, expr.name)
        return Item(expr, self.span(expr.start, expr.end))

    def name(self, context: str) -> str:
        if self.tok.kind != "NAME" or self.tok.text.lower() in {"by", "as"}:
            raise self.error(f"expected a field name {context}")
        return self.advance().text

    def field_ref(self, context: str) -> Field:
        tok = self.tok
        return Field(tok.pos, tok.end, _field_name(self.name(context), self.text, tok.pos))

    # ---------------------------------------------------------- expressions

    def expr(self) -> Expr:
        left = self.and_()
        while self.is_kw("or"):
            tok = self.advance()
            right = self.and_()
            left = self.built(Binary(left.start, right.end, "or", left, right), tok, left, right)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.is_kw("and"):
            tok = self.advance()
            right = self.not_()
            left = self.built(Binary(left.start, right.end, "and", left, right), tok, left, right)
        return left

    def not_(self) -> Expr:
        if self.is_kw("not") or self.is_op("!"):  # `!ispresent(x)`: CWL_QuerySyntax-Join.html, example 2
            tok = self.advance()
            self.enter(tok)
            arg = self.not_()
            self.nesting -= 1
            return self.built(Unary(tok.pos, arg.end, "not", arg), tok, arg)
        return self.compare()

    def compare(self) -> Expr:
        left = self.sum_()
        if self.is_op("=", "==", "!=", "<", "<=", ">", ">="):
            tok = self.advance()
            op = tok.text
            right = self.sum_()
            return self.built(Binary(left.start, right.end, "=" if op == "==" else op, left, right), tok, left, right)
        negated = False
        if self.is_kw("not") and self.tokens[self.i + 1].kind == "NAME" and \
                self.tokens[self.i + 1].text.lower() in ("like", "in"):
            self.advance()
            negated = True
        if self.is_kw("like") or self.is_op("=~"):
            op = self.advance()
            tok = self.tok
            if tok.kind == "STRING":
                pattern: String | Regex = String(tok.pos, tok.end, tok.text)
            elif tok.kind == "REGEX":
                pattern = Regex(tok.pos, tok.end, tok.text, tok.flags)
            else:
                raise self.error(f"expected a /regex/ or \"string\" after '{op.text}'")
            self.advance()
            return self.built(Match(left.start, tok.end, left, pattern, negated), tok, left)
        if self.is_kw("in"):
            self.advance()
            if self.is_op("("):  # a subquery: CWL_QuerySyntax-Subqueries.html
                from whispersync.monitoring.logs.insights import _reshape
                return _reshape.parse_in_subquery(self, left, negated)
            self.expect_op("[", "after 'in'")
            items = []
            if not self.is_op("]"):
                items.append(self.sum_())
                while self.is_op(","):
                    self.advance()
                    items.append(self.sum_())
            close = self.expect_op("]", "to close the list")
            return self.built(InList(left.start, close.end, left, tuple(items), negated), close, left, *items)
        if negated:
            raise self.error("expected 'like' or 'in' after 'not'")
        return left

    def sum_(self) -> Expr:
        left = self.product()
        while self.is_op("+", "-"):
            tok = self.advance()
            right = self.product()
            left = self.built(Binary(left.start, right.end, tok.text, left, right), tok, left, right)
        return left

    def product(self) -> Expr:
        left = self.power()
        while self.is_op("*", "/", "%"):
            tok = self.advance()
            right = self.power()
            left = self.built(Binary(left.start, right.end, tok.text, left, right), tok, left, right)
        return left

    def power(self) -> Expr:
        left = self.unary()
        if self.is_op("^"):
            tok = self.advance()
            right = self.unary()
            return self.built(Binary(left.start, right.end, "^", left, right), tok, left, right)
        return left

    def unary(self) -> Expr:
        if self.is_op("-"):
            tok = self.advance()
            self.enter(tok)
            arg = self.unary()
            self.nesting -= 1
            if isinstance(arg, Number):
                return Number(tok.pos, arg.end, -arg.value)
            return self.built(Unary(tok.pos, arg.end, "-", arg), tok, arg)
        return self.primary()

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            value = float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            return Number(tok.pos, tok.end, value)
        if tok.kind == "STRING":
            self.advance()
            return String(tok.pos, tok.end, tok.text)
        if tok.kind == "REGEX":
            raise self.error("a /regex/ is only allowed after 'like', '=~' or in 'parse'")
        if tok.kind == "DURATION":
            self.advance()
            return _duration(tok, self.text)
        if self.is_op("("):
            self.enter(self.advance())
            inner = self.expr()
            end = self.expect_op(")", "to close '('").end
            self.nesting -= 1
            return self.built(_respan(inner, tok.pos, end), tok, inner)
        if tok.kind == "NAME":
            self.advance()
            if self.is_op("("):
                return self.call(tok)
            if tok.text.lower() in {"and", "or", "by", "as", "like", "in"}:
                raise self.error("expected a field name or value", tok)
            if tok.text.lower() in ("true", "false") and self.text[tok.pos] != "`":
                return Boolean(tok.pos, tok.end, tok.text.lower() == "true")
            return self.postfix(Field(tok.pos, tok.end, _field_name(tok.text, self.text, tok.pos)))
        if self.is_op("*"):
            raise self.error("expected a field name or value ('*' is only allowed as count(*))")
        raise self.error("expected a field name or value")

    def call(self, name: Token) -> Expr:
        self.enter(self.advance())  # "("
        args: list[Expr] = []
        if self.is_op("*") and self.tokens[self.i + 1].text == ")":
            star = self.advance()
            args.append(Star(star.pos, star.end))
        elif not self.is_op(")"):
            args.append(self.expr())
            while self.is_op(","):
                self.advance()
                args.append(self.expr())
        end = self.expect_op(")", f"to close {name.text}(")
        self.nesting -= 1
        lowered = name.text.lower()
        call = self.built(Call(name.pos, end.end, _ALIASES.get(lowered, lowered), tuple(args)), name, *args)
        return self.postfix(call)

    def postfix(self, base: Expr) -> Expr:
        """``list[index]`` and ``.member`` right after a value: ``m.users[1].action``, ``jsonParse(x).startTime``
        (CWL_QuerySyntax-operations-functions.html, "Structure types")."""
        keys: list[str | int] = []
        end = base.end
        while self.tok.pos == self.prev_end():  # written adjacent, as `a[0]`: `x in [...]` has a space
            if self.tok.kind == "MEMBER":
                keys.append(self.tok.text)
                end = self.advance().end
            elif self.is_op("["):
                self.advance()
                if self.tok.kind != "NUMBER" or not self.tok.text.isdigit():
                    raise self.error("expected a list index (a whole number from 0) after '['")
                keys.append(int(self.advance().text))
                end = self.expect_op("]", "to close the list index").end
            else:
                break
        return self.built(Member(base.start, end, base, tuple(keys)), self.tokens[self.i - 1], base) if keys else base


# AWS's own Sample queries page (Apache section) calls count_distinct as countDistinct.
_ALIASES = {"countdistinct": "count_distinct"}
_AGGREGATES = frozenset({
    "count", "count_distinct", "sum", "avg", "min", "max", "pct", "earliest", "latest", "stddev",
})


def _has_aggregate(expr: Expr) -> bool:
    if isinstance(expr, Call):
        return expr.name in _AGGREGATES or any(_has_aggregate(a) for a in expr.args)
    if isinstance(expr, Binary):
        return _has_aggregate(expr.left) or _has_aggregate(expr.right)
    if isinstance(expr, Unary):
        return _has_aggregate(expr.arg)
    if isinstance(expr, Member):
        return _has_aggregate(expr.base)
    return False


def _field_names(expr: Expr) -> set[str]:
    """The names of the fields ``expr`` reads, outside any aggregate function."""
    if isinstance(expr, Field):
        return {expr.name}
    if isinstance(expr, Call):
        return set() if expr.name in _AGGREGATES else set().union(*(_field_names(a) for a in expr.args))
    if isinstance(expr, Binary):
        return _field_names(expr.left) | _field_names(expr.right)
    if isinstance(expr, Unary):
        return _field_names(expr.arg)
    if isinstance(expr, Match | InList):
        return _field_names(expr.arg)
    if isinstance(expr, Member):
        return _field_names(expr.base)
    return set()


def _field_name(name: str, text: str, pos: int) -> str:
    """``name``, unless it is a field only CloudWatch has: resource tags (``@aws.tag.env``,
    CWL_QuerySyntax-Guidelines.html) are the AWS tags of a log group."""
    if name.lower().startswith("@aws.tag."):
        raise InsightsQueryError(f"{name} is a resource tag field: it reads the AWS tags of a log group,"
                                 " and local log groups have none", text, pos)
    return name


def _duration(tok: Token, text: str) -> Duration:
    digits = re.match(r"[0-9.]+(?:[eE][+-]?[0-9]+)?", tok.text).group()  # type: ignore[union-attr]
    unit = UNITS[tok.text[len(digits):]]
    if not digits.isdigit():
        raise InsightsQueryError("expected a whole number before the time unit", text, tok.pos)
    count = int(digits)
    if count <= 0:
        raise InsightsQueryError("expected a positive period", text, tok.pos)
    # "CloudWatch Logs caps your request according to the time unit ... if you specify bin(300s),
    # CloudWatch Logs actually implements this as 60 seconds" (CWL_QuerySyntax-operations-functions.html).
    count = min(count, _UNIT_CAPS.get(unit, count))
    if unit in _CALENDAR_UNITS:
        return Duration(tok.pos, tok.end, count, None, _CALENDAR_UNITS[unit])
    return Duration(tok.pos, tok.end, count, count * _UNIT_MS[unit])


def _respan(expr: Expr, start: int, end: int) -> Expr:
    import dataclasses

    return dataclasses.replace(expr, start=start, end=end)
