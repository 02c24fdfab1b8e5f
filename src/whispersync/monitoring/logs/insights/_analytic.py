"""The commands that compute over the ordered result rows: their AST, parsing and SQL.

``addtotals``, ``accum``, ``autoregress``, ``filldown``, ``fillmissing``,
``sessionize``, ``outlier``, ``countFrequent`` and ``estimate``, each as its page
documents it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-<Name>.html).

Most are SQL window functions over the rows the commands before them left, in
their order. ``close`` ends the layer into a subquery (its filters, dedup, sort and
limit applied) that numbers its rows in that order; the window columns are
computed over that numbering, and it stays the layer's order, so the result comes
out in the order the running values followed. Without a sort, events come newest
first (CloudWatch's default order), and running values follow it.

The parser calls ``parse_command`` for these words (duck-typed on its ``_Parser``),
and the compiler calls ``compile_command`` with an ``Output``: the columns the
query would show so far, which a command may add to (``accum ... AS total``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from whispersync.monitoring.logs.insights._errors import InsightsQueryError
from whispersync.monitoring.logs.insights._functions import Col

if TYPE_CHECKING:
    from whispersync.monitoring.logs.insights._parser import Expr, Field

# The command words, as the parser reads them (lower case).
WORDS = ("addtotals", "accum", "autoregress", "filldown", "fillmissing", "sessionize", "outlier",
         "countfrequent", "count_frequent", "estimate", "appendcols")
MATCHED = "__matched"
_DEFAULT_SESSION_GAP_MS = 30 * 60_000  # CWL_QuerySyntax-Sessionize: "Default: 30m"
MAX_LAGS = 100  # autoregress p=N-M makes a column per lag: a bound keeps the SQL small


# -------------------------------------------------------------------- the AST

@dataclass(frozen=True)
class AddTotals:
    start: int
    fields: tuple[str, ...]  # names or wildcard patterns; () for every numeric field shown
    fieldname: str = "Total"
    row: bool = True
    col: bool = False


@dataclass(frozen=True)
class Accum:
    start: int
    field: Field
    out: str | None  # None: the field itself becomes its running total


@dataclass(frozen=True)
class Autoregress:
    start: int
    field: Field
    alias: str | None
    first: int
    last: int


@dataclass(frozen=True)
class Filldown:
    start: int
    patterns: tuple[str, ...]  # () for every field shown


@dataclass(frozen=True)
class Fillmissing:
    start: int
    fills: tuple[tuple[Expr, Field], ...]  # (value, field): `with value for field`


@dataclass(frozen=True)
class Sessionize:
    start: int
    fields: tuple[Field, ...]
    gap_ms: int
    out: str


@dataclass(frozen=True)
class Outlier:
    start: int
    fields: tuple[Field, ...]
    remove: bool = False  # action=remove; else transform (clamp to the boundary)
    param: float = 2.5
    uselower: bool = False
    mark: bool = False


@dataclass(frozen=True)
class CountFrequent:
    start: int
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Estimate:
    start: int


AnalyticCommand = (AddTotals, Accum, Autoregress, Filldown, Fillmissing, Sessionize, Outlier, CountFrequent,
                   Estimate)
# The marker field outlier mark=true adds: the page says "a boolean marker field" and names none.
OUTLIER_MARK = "_outlier"
APPROX_COUNT = "_approxcount"  # CWL_QuerySyntax-CountFrequent: "The command emits an `_approxcount` field."


# ------------------------------------------------------------------ parsing

def parse_command(p: Any, word: str, tok: Any) -> Any:
    """``p`` is the parser, just past the command word ``tok``."""
    if word == "appendcols":
        raise InsightsQueryError("the appendcols command is not supported yet", p.text, tok.pos)
    if word == "count_frequent":
        word = "countfrequent"
    return _PARSERS[word](p, tok)


def _options(p: Any, names: Sequence[str]) -> dict[str, Any]:
    """``name=value`` options, in any order, each at most once: name → the value's token."""
    found: dict[str, Any] = {}
    while p.is_kw(*names) and p.tokens[p.i + 1].text == "=" and p.tokens[p.i + 1].kind == "OP":
        name_tok = p.advance()
        name = name_tok.text.lower()
        if name in found:
            raise InsightsQueryError(f"{name_tok.text}= is given twice", p.text, name_tok.pos)
        p.advance()
        if p.tok.kind not in ("NAME", "NUMBER", "STRING"):
            raise p.error(f"expected a value after '{name_tok.text}='")
        found[name] = p.advance()
    return found


def _bool(p: Any, tok: Any) -> bool:
    if tok.kind != "NAME" or tok.text.lower() not in ("true", "false"):
        raise p.error("expected true or false", tok)
    return tok.text.lower() == "true"


def _at_end(p: Any) -> bool:
    return p.tok.kind == "EOF" or p.is_op("|")


def _field_list(p: Any, context: str, commas: bool) -> list[Field]:
    """Field names separated by commas (or, if not ``commas``, by commas or spaces)."""
    fields = [p.field_ref(context)]
    while not _at_end(p):
        if p.is_op(","):
            p.advance()
        elif commas:
            break
        fields.append(p.field_ref("after ','" if commas else context))
    return fields


def _patterns(p: Any, context: str) -> list[str]:
    """Field names or wildcard patterns (``cpu*``), separated by spaces or commas."""
    out: list[str] = []
    while not _at_end(p):
        if p.is_op(","):
            p.advance()
            continue
        if p.tok.kind != "NAME" and not p.is_op("*"):
            raise p.error(f"expected a field name or a pattern such as cpu* {context}")
        first = p.advance()
        text, end = first.text, first.end
        # `cpu*`, `*_ms`, `a*b`: name and `*` tokens with nothing between them make one pattern.
        while p.tok.pos == end and (p.tok.kind == "NAME" or p.is_op("*")):
            piece = p.advance()
            text, end = text + piece.text, piece.end
        if text.lower() in ("by", "as"):
            raise p.error(f"expected a field name {context}", first)
        out.append(text)
    return out


def _parse_addtotals(p: Any, tok: Any) -> AddTotals:
    # CWL_QuerySyntax-Addtotals: addtotals [fieldname=Name] [row=bool] [col=bool] [field1, field2, ...]
    opts = _options(p, ("fieldname", "row", "col"))
    fieldname = "Total"
    if "fieldname" in opts:
        if opts["fieldname"].kind != "NAME":
            raise p.error("expected a field name after 'fieldname='", opts["fieldname"])
        fieldname = opts["fieldname"].text
    row = _bool(p, opts["row"]) if "row" in opts else True
    col = _bool(p, opts["col"]) if "col" in opts else False
    return AddTotals(tok.pos, tuple(_patterns(p, "after 'addtotals'")), fieldname, row, col)


def _parse_accum(p: Any, tok: Any) -> Accum:
    fld = p.field_ref("after 'accum'")
    out = None
    if p.is_kw("as"):
        p.advance()
        out = p.name("after 'as'")
    return Accum(tok.pos, fld, out)


def _parse_autoregress(p: Any, tok: Any) -> Autoregress:
    fld = p.field_ref("after 'autoregress'")
    alias = None
    if p.is_kw("as"):
        p.advance()
        alias = p.name("after 'as'")
    first = last = 1
    if p.is_kw("p") and p.tokens[p.i + 1].text == "=":
        p.advance()
        p.advance()
        first = last = _whole(p, "after 'p='")
        if p.is_op("-"):
            p.advance()
            last = _whole(p, "after '-'")
        if not 1 <= first <= last or last > MAX_LAGS:
            raise InsightsQueryError(f"expected p=N or p=N-M with 1 <= N <= M <= {MAX_LAGS}", p.text, tok.pos)
    return Autoregress(tok.pos, fld, alias, first, last)


def _whole(p: Any, context: str) -> int:
    if p.tok.kind != "NUMBER" or not p.tok.text.isdigit():
        raise p.error(f"expected a whole number {context}")
    return int(p.advance().text)


def _parse_filldown(p: Any, tok: Any) -> Filldown:
    return Filldown(tok.pos, tuple(_patterns(p, "after 'filldown'")))


def _parse_fillmissing(p: Any, tok: Any) -> Fillmissing:
    fills = []
    if p.is_kw("with"):
        p.advance()
        while True:
            value = p.unary()
            if not p.is_kw("for"):
                raise p.error("expected 'for' and a field name after the value")
            p.advance()
            fills.append((value, p.field_ref("after 'for'")))
            if not p.is_op(","):
                break
            p.advance()
            if p.is_kw("with"):  # `with 0 for a, with 1 for b` reads as well as `with 0 for a, 1 for b`
                p.advance()
    return Fillmissing(tok.pos, tuple(fills))


def _parse_sessionize(p: Any, tok: Any) -> Sessionize:
    fields = [p.field_ref("after 'sessionize'")]
    while p.is_op(","):
        p.advance()
        fields.append(p.field_ref("after ','"))
    gap = _DEFAULT_SESSION_GAP_MS
    if p.is_kw("maxspan"):
        p.advance()
        if p.tok.kind != "DURATION":
            raise p.error("expected a time period such as 30m after 'maxspan'")
        from whispersync.monitoring.logs.insights._parser import _duration

        period = _duration(p.advance(), p.text)
        if period.ms is None:
            raise InsightsQueryError("expected a fixed time period (ms, s, m, h, d, w) after 'maxspan'",
                                     p.text, period.start)
        gap = period.ms
    out = "session_id"  # the page's default
    if p.is_kw("as"):
        p.advance()
        out = p.name("after 'as'")
    return Sessionize(tok.pos, tuple(fields), gap, out)


def _parse_outlier(p: Any, tok: Any) -> Outlier:
    opts = _options(p, ("action", "param", "uselower", "mark"))
    remove = False
    if "action" in opts:
        action = opts["action"]
        if action.kind != "NAME" or action.text.lower() not in ("remove", "transform"):
            raise p.error("expected remove or transform after 'action='", action)
        remove = action.text.lower() == "remove"
    param = 2.5
    if "param" in opts:
        if opts["param"].kind != "NUMBER":
            raise p.error("expected a number after 'param='", opts["param"])
        param = float(opts["param"].text)
        if not math.isfinite(param):  # 1e400 reads as inf, which SQL would take for a column name
            raise p.error("expected a finite number after 'param='", opts["param"])
    uselower = _bool(p, opts["uselower"]) if "uselower" in opts else False
    mark = _bool(p, opts["mark"]) if "mark" in opts else False
    if _at_end(p):
        raise p.error("expected the numeric fields to check after 'outlier'")
    fields = _field_list(p, "after 'outlier'", commas=False)
    return Outlier(tok.pos, tuple(fields), remove, param, uselower, mark)


def _parse_countfrequent(p: Any, tok: Any) -> CountFrequent:
    if _at_end(p):
        raise p.error(f"expected a field name after '{tok.text}'")
    return CountFrequent(tok.pos, tuple(_field_list(p, f"after '{tok.text}'", commas=True)))


def _parse_estimate(p: Any, tok: Any) -> Estimate:
    return Estimate(tok.pos)


_PARSERS = {
    "addtotals": _parse_addtotals, "accum": _parse_accum, "autoregress": _parse_autoregress,
    "filldown": _parse_filldown, "fillmissing": _parse_fillmissing, "sessionize": _parse_sessionize,
    "outlier": _parse_outlier, "countfrequent": _parse_countfrequent, "estimate": _parse_estimate,
}


# ---------------------------------------------------------------- compiling

@dataclass
class Output:
    """The compiler's record of the columns the query shows, as in its ``compile`` loop."""

    shown: list[str]
    display: list[str] | None
    parsed: list[str]
    stats_columns: list[str] | None

    def names(self) -> list[str]:
        """The columns the query would show if it ended here (as ``_Compiler.compile`` picks them)."""
        if self.display is not None:
            return list(self.display)
        if self.shown:
            return self.shown + [p for p in self.parsed if p not in self.shown]
        if self.stats_columns is not None:
            return list(self.stats_columns)
        return ["@timestamp", "@message"] + [p for p in self.parsed if p not in ("@timestamp", "@message")]

    def add(self, name: str) -> None:
        """Show a column a command made (after those shown already); ``display`` keeps its own choice."""
        if self.display is not None:
            return
        if not self.shown and self.stats_columns is not None:
            if name not in self.stats_columns:
                self.stats_columns.append(name)
            return
        if not self.shown:
            self.shown = self.names()
        if name not in self.shown:
            self.shown.append(name)


@dataclass
class _Window:
    """What a command adds over the numbered rows: select items, and the scope names they define."""

    items: list[str] = field(default_factory=list)
    scope: dict[str, Col] = field(default_factory=dict)


def compile_command(c: Any, cmd: Any, layer: Any, out: Output) -> Any:
    """The layer after ``cmd``; ``c`` is the ``_Compiler``. ``out`` is updated in place."""
    if isinstance(cmd, Accum):
        return _accum(c, cmd, layer, out)
    if isinstance(cmd, Autoregress):
        return _autoregress(c, cmd, layer, out)
    if isinstance(cmd, Filldown):
        return _filldown(c, cmd, layer, out)
    if isinstance(cmd, AddTotals):
        return _addtotals(c, cmd, layer, out)
    if isinstance(cmd, Fillmissing):
        return _fillmissing(c, cmd, layer)
    if isinstance(cmd, Sessionize):
        return _sessionize(c, cmd, layer, out)
    if isinstance(cmd, Outlier):
        return _outlier(c, cmd, layer, out)
    if isinstance(cmd, CountFrequent):
        return _count_frequent(c, cmd, layer, out)
    raise InsightsQueryError("this command is not supported here", c.text, cmd.start)


def estimate_sql(c: Any, cmd: Estimate, scanned: list[str]) -> tuple[str, str]:
    """(result SQL, statistics SQL) for ``estimate``: the bytes of the events in the range and groups.

    CWL_QuerySyntax-Estimate: "return the estimated bytes that the query would scan over
    the selected log groups and time range, without running the query"; "must be the
    last command". A query scans every event of its range and groups, filters or not.
    """
    if cmd is not c.query.commands[-1]:
        raise InsightsQueryError("estimate must be the last command of the query", c.text, cmd.start)
    where = " AND ".join(f"({w})" for w in scanned)
    # It scans nothing itself: the statistics say so.
    return (f"SELECT coalesce(sum(bytes), 0) AS c0, 0 AS {MATCHED} FROM logs WHERE {where}",
            "SELECT 0, 0")


ESTIMATE_COLUMN = "estimatedBytes"  # the page names no column for the value


def close(c: Any, layer: Any) -> tuple[Any, str]:
    """``layer``'s rows as a subquery numbering them in the layer's order; (new layer, number column).

    Like ``_Compiler.wrap``, with the order kept as a column, so the window
    functions of a later command and the final ORDER BY both follow it.
    """
    c.counter += 1
    row = f"__row{c.counter}"
    order = list(layer.order) or (["ts DESC"] if layer.events else [])
    order += [t for t in layer.tiebreak if t not in order]
    number = f"row_number() OVER ({'ORDER BY ' + ', '.join(order) if order else ''}) AS {row}"
    if not layer.events or layer.carries_matched:
        columns = f"*, {number}"
    elif layer.source == "logs":
        columns = f"*, count(*) OVER () AS {MATCHED}, {number}"
    else:  # events an earlier limit kept, filtered since: count them afresh (as wrap does)
        columns = f"* REPLACE (count(*) OVER () AS {MATCHED}), {number}"
    sql = f"SELECT {columns} FROM {layer.source}{c.where(layer)}{c.qualify(layer)} ORDER BY {row}"
    if layer.limit is not None:
        sql += f" LIMIT {layer.limit}"
    if layer.events:
        scope = dict(layer.scope)
    else:
        scope = {name: Col(col.sql, col.kind, out=col.out) for name, col in layer.scope.items()}
    closed = dataclasses.replace(layer, source=f"({sql}) AS r{c.counter}", where=[], scope=scope,
                                 carries_matched=layer.events, order=[f"{row} ASC"], limit=None, dedup=None,
                                 tiebreak=[f"{row} ASC"])
    return closed, row


def _extend(c: Any, layer: Any, window: _Window) -> Any:
    """``layer`` (from ``close``) with the window's columns added."""
    if not window.items:
        return layer
    c.counter += 1
    source = f"(SELECT *, {', '.join(window.items)} FROM {layer.source}) AS x{c.counter}"
    return dataclasses.replace(layer, source=source, scope={**layer.scope, **window.scope})


def _carry(c: Any, col: Col, build: str, window: _Window, name: str) -> None:
    """Define ``name`` as ``build`` (a window function template over ``{}``) applied to ``col``.

    A value keeps its kind; a JSON field's output (its JSON value) is carried alongside.
    """
    alias = c.alias()
    window.items.append(f"{build.format(col.sql)} AS {alias}")
    out = None
    if col.as_out != col.sql:
        out_alias = c.alias()
        window.items.append(f"{build.format(col.as_out)} AS {out_alias}")
        out = out_alias
    window.scope[name] = Col(alias, col.kind, out=out)


def _running(row: str) -> str:
    return f"ORDER BY {row} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


def _accum(c: Any, cmd: Accum, layer: Any, out: Output) -> Any:
    """CWL_QuerySyntax-Accum: "a running cumulative sum of a numeric field".

    Without ``AS out`` the field itself is replaced by its running total (the page
    gives AS as optional and names no default field; Splunk's accum, which this
    command copies, does the same). A value that is not a number adds nothing.
    """
    layer, row = close(c, layer)
    value = c.expr(cmd.field, layer)
    name = cmd.out or cmd.field.name
    alias = c.alias()
    window = _Window([f"sum({value.as_num}) OVER ({_running(row)}) AS {alias}"], {name: Col(alias, "num")})
    out.add(name)
    return _extend(c, layer, window)


def _autoregress(c: Any, cmd: Autoregress, layer: Any, out: Output) -> Any:
    """CWL_QuerySyntax-Autoregress: lagged (previous-row) copies, ``field_p1`` ... for ``p=1-4``.

    ``AS alias`` names the copy of a single lag; with a range it replaces the field's
    name in ``alias_pN``.
    """
    layer, row = close(c, layer)
    value = c.expr(cmd.field, layer)
    base = cmd.alias or cmd.field.name
    window = _Window()
    for lag in range(cmd.first, cmd.last + 1):
        name = cmd.alias if cmd.alias and cmd.first == cmd.last else f"{base}_p{lag}"
        _carry(c, value, f"lag({{}}, {lag}) OVER (ORDER BY {row})", window, name)
        out.add(name)
    return _extend(c, layer, window)


def _matching(patterns: Sequence[str], names: Sequence[str]) -> list[str]:
    """The names a pattern list picks, in the patterns' order; a plain name is picked even if not shown."""
    picked: list[str] = []
    for pattern in patterns:
        if "*" in pattern:
            picked += [n for n in names if fnmatch.fnmatchcase(n, pattern.replace("[", "[[]"))]
        else:
            picked.append(pattern)
    return list(dict.fromkeys(picked))


def _filldown(c: Any, cmd: Filldown, layer: Any, out: Output) -> Any:
    """CWL_QuerySyntax-Filldown: "carry the last non-null value forward to fill gaps";
    no fields: all fields (those the query shows)."""
    layer, row = close(c, layer)
    names = _matching(cmd.patterns, out.names()) if cmd.patterns else out.names()
    window = _Window()
    for name in names:
        col = c.lookup(name, layer)
        if col.kind == "null":
            continue  # a field no row has: nothing to carry
        _carry(c, col, f"last_value({{}} IGNORE NULLS) OVER ({_running(row)})", window, name)
    return _extend(c, layer, window)


def _addtotals(c: Any, cmd: AddTotals, layer: Any, out: Output) -> Any:
    """CWL_QuerySyntax-Addtotals: a row total column (``fieldname``, default Total) summing
    the numeric fields (all of them shown, or those listed), and with ``col=true`` a
    summary row at the bottom holding each summed column's total.

    A value that is not a number is left out of a sum; a row with no number at all has no total.
    """
    layer, row = close(c, layer)
    shown = [n for n in out.names() if n != cmd.fieldname]
    if cmd.fields:
        names = _matching(cmd.fields, shown)
    else:
        names = [n for n in shown if c.lookup(n, layer).kind not in ("ts", "null")]
    cols = {n: c.lookup(n, layer) for n in names}
    window = _Window()
    if cmd.row:
        alias = c.alias()
        terms = ", ".join(f"{col.as_num}::DOUBLE" for col in cols.values())
        window.items.append(f"list_sum([{terms}]) AS {alias}" if cols else f"CAST(NULL AS DOUBLE) AS {alias}")
        window.scope[cmd.fieldname] = Col(alias, "num")
        out.add(cmd.fieldname)
    # list_sum sits in a SELECT of its own: _extend's window list holds any expression.
    layer = _extend(c, layer, window)
    if not cmd.col:
        return layer
    summed = names + ([cmd.fieldname] if cmd.row else [])
    return _summary_row(c, layer, row, out.names(), summed)


def _summary_row(c: Any, layer: Any, row: str, shown: list[str], summed: list[str]) -> Any:
    """The shown columns as a table, with one more row at the bottom: the sum of each ``summed`` column."""
    select, totals, scope = [], [], {}
    for name in shown:
        col = c.lookup(name, layer)
        alias = c.alias()
        select.append(f"{col.sql} AS {alias}")
        out_alias = None
        if col.as_out != col.sql:
            out_alias = c.alias()
            select.append(f"{col.as_out} AS {out_alias}")
        scope[name] = Col(alias, col.kind, out=out_alias)
        if name in summed:
            total = f"sum({scope[name].as_num})"  # over the table's own columns
            totals.append(f"{total} AS {alias}" if col.kind == "num" else f"CAST({total} AS VARCHAR) AS {alias}")
            if out_alias:
                totals.append(f"to_json({total}) AS {out_alias}")
    c.counter += 1
    table = f"t{c.counter}"
    rows = f"SELECT {', '.join(select)}, {row}, {MATCHED} FROM {layer.source}"
    summary = ", ".join([*totals, f"max({row}) + 1 AS {row}", f"max({MATCHED}) AS {MATCHED}"])
    source = (f"(WITH {table} AS ({rows}) SELECT * FROM {table}"
              f" UNION ALL BY NAME SELECT {summary} FROM {table}) AS u{c.counter}")
    return dataclasses.replace(layer, source=source, scope=scope, events=False, carries_matched=False,
                               aggregates={})


def _fillmissing(c: Any, cmd: Fillmissing, layer: Any) -> Any:
    """CWL_QuerySyntax-Fillmissing: "insert rows for empty time bins after stats ... by bin()",
    optionally with a constant in some fields of the inserted rows (the others are empty).

    The bins run from the first to the last bin with data, for every combination of the
    other ``by`` fields that has data; rows come in the stats' order.
    """
    stats, by = _bin_of_last_stats(c, cmd)
    if stats is None or layer.events:
        raise InsightsQueryError("fillmissing fills the empty time bins of stats ... by bin(period): put it after"
                                 " such a stats", c.text, cmd.start)
    period = by.expr.args[0]
    if period.ms is not None:
        step = f"to_milliseconds({period.ms})"
    else:
        months = {"month": 1, "quarter": 3, "year": 12}[period.calendar] * period.count
        step = f"to_months({months})"
    keys = {item.name: layer.scope[item.name].sql for item in stats.by if item.name in layer.scope}
    if by.name not in keys:
        raise InsightsQueryError(f"fillmissing needs the {by.name} column of the stats", c.text, cmd.start)
    bin_col = keys.pop(by.name)
    fills = {}
    for value, target in cmd.fills:
        if target.name not in layer.scope:
            raise InsightsQueryError(f"{target.name} is not a column of the stats before fillmissing",
                                     c.text, target.start)
        if target.name == by.name or target.name in keys:
            raise InsightsQueryError(f"{target.name} is a 'by' column: fillmissing sets it itself",
                                     c.text, target.start)
        fills[layer.scope[target.name].sql] = c.expr(value, layer).sql
    order = list(layer.order) + [t for t in layer.tiebreak if t not in layer.order]
    c.counter += 1
    n = c.counter
    rows = (f"SELECT * FROM {layer.source}{c.where(layer)}{c.qualify(layer)}"
            + (f" ORDER BY {', '.join(order)}" if order and layer.limit is not None else "")
            + (f" LIMIT {layer.limit}" if layer.limit is not None else ""))
    bins = f"SELECT unnest(generate_series(min({bin_col}), max({bin_col}), {step})) AS {bin_col} FROM f{n}"
    combos = f"SELECT DISTINCT {', '.join(keys.values())} FROM f{n}" if keys else "SELECT 1 AS one"
    new = [f"b{n}.{bin_col} AS {bin_col}", *(f"k{n}.{k} AS {k}" for k in keys.values()),
           *(f"{v} AS {k}" for k, v in fills.items()), f"(SELECT max({MATCHED}) FROM f{n}) AS {MATCHED}"]
    present = " AND ".join([f"f{n}.{bin_col} = b{n}.{bin_col}",
                            *(f"f{n}.{k} IS NOT DISTINCT FROM k{n}.{k}" for k in keys.values())])
    source = (f"(WITH f{n} AS ({rows}) SELECT * FROM f{n} UNION ALL BY NAME"
              f" SELECT {', '.join(new)} FROM ({bins}) AS b{n} CROSS JOIN ({combos}) AS k{n}"
              f" WHERE NOT EXISTS (SELECT 1 FROM f{n} WHERE {present})) AS m{n}")
    scope = {name: Col(col.sql, col.kind, out=col.out) for name, col in layer.scope.items()}
    return dataclasses.replace(layer, source=source, where=[], scope=scope, order=order, limit=None, dedup=None)


def _bin_of_last_stats(c: Any, cmd: Fillmissing) -> tuple[Any, Any]:
    """The last stats before ``cmd`` and its ``by bin(...)`` item; (None, None) if there is none."""
    from whispersync.monitoring.logs.insights import _parser as ast

    commands = c.query.commands
    for earlier in reversed(commands[: commands.index(cmd)]):
        if isinstance(earlier, ast.Stats):
            for item in earlier.by:
                if isinstance(item.expr, ast.Call) and item.expr.name == "bin":
                    return earlier, item
            return None, None
    return None, None


def _sessionize(c: Any, cmd: Sessionize, layer: Any, out: Output) -> Any:
    """CWL_QuerySyntax-Sessionize: events with the same identity fields, each less than
    ``maxspan`` (default 30m) after the one before, share a session.

    A session's identifier is a number: sessions are numbered 1, 2, ... in the order
    of their first event (the page does not say what an identifier looks like).
    """
    layer, row = close(c, layer)
    ts = c.lookup("@timestamp", layer)
    if ts.kind != "ts":
        raise InsightsQueryError("sessionize needs the events' @timestamp, which the stats before did not keep",
                                 c.text, cmd.start)
    keys = [c.expr(f, layer).as_str for f in cmd.fields]
    partition = f"PARTITION BY {', '.join(keys)}"
    c.counter += 1
    n = c.counter
    start, number, first, ident = f"__s{n}_start", f"__s{n}_no", f"__s{n}_first", c.alias()
    previous = f"lag({ts.sql}) OVER ({partition} ORDER BY {ts.sql}, {row})"
    step1 = (f"SELECT *, CASE WHEN {previous} IS NULL OR epoch_ms({ts.sql}) - epoch_ms({previous}) > {cmd.gap_ms}"
             f" THEN 1 ELSE 0 END AS {start} FROM {layer.source}")
    step2 = (f"SELECT *, sum({start}) OVER ({partition} ORDER BY {ts.sql}, {row} ROWS BETWEEN UNBOUNDED PRECEDING"
             f" AND CURRENT ROW) AS {number} FROM ({step1}) AS s{n}a")
    step3 = f"SELECT *, min({ts.sql}) OVER ({partition}, {number}) AS {first} FROM ({step2}) AS s{n}b"
    step4 = (f"SELECT *, dense_rank() OVER (ORDER BY {first}, {', '.join(keys)}, {number}) AS {ident}"
             f" FROM ({step3}) AS s{n}c")
    out.add(cmd.out)
    return dataclasses.replace(layer, source=f"({step4}) AS s{n}", scope={**layer.scope, cmd.out: Col(ident, "num")})


def _outlier(c: Any, cmd: Outlier, layer: Any, out: Output) -> Any:
    """CWL_QuerySyntax-Outlier: values beyond ``param`` interquartile ranges above the third
    quartile (and, with ``uselower``, below the first) are outliers; ``action=remove``
    drops their rows, ``transform`` (the default) clamps them to the boundary.
    ``mark=true`` adds the boolean field ``_outlier`` (the page names none).
    """
    layer, row = close(c, layer)
    window = _Window()
    bounds = {}
    for f in cmd.fields:
        value = c.expr(f, layer).as_num
        q1, q3 = f"quantile_cont({value}, 0.25) OVER ()", f"quantile_cont({value}, 0.75) OVER ()"
        low, high = c.alias(), c.alias()
        window.items += [f"{q1} - {cmd.param!r} * ({q3} - {q1}) AS {low}",
                         f"{q3} + {cmd.param!r} * ({q3} - {q1}) AS {high}"]
        bounds[f.name] = (value, low, high)
    layer = _extend(c, layer, window)
    beyond = {name: f"({value} > {high}" + (f" OR {value} < {low})" if cmd.uselower else ")")
              for name, (value, low, high) in bounds.items()}
    any_beyond = f"coalesce({' OR '.join(beyond.values())}, false)"
    if cmd.remove:
        c.counter += 1
        source = f"(SELECT * FROM {layer.source} WHERE NOT {any_beyond}) AS o{c.counter}"
        layer = dataclasses.replace(layer, source=source)
    else:
        scope = dict(layer.scope)
        for name, (value, low, high) in bounds.items():
            below = f"WHEN {value} < {low} THEN {low} " if cmd.uselower else ""
            scope[name] = Col(f"(CASE WHEN {value} > {high} THEN {high} {below}ELSE {value} END)", "num")
        layer = dataclasses.replace(layer, scope=scope)
    if cmd.mark:
        layer.scope[OUTLIER_MARK] = Col(any_beyond, "bool")
        out.add(OUTLIER_MARK)
    return layer


def _count_frequent(c: Any, cmd: CountFrequent, layer: Any, out: Output) -> Any:
    """CWL_QuerySyntax-CountFrequent: the count of each combination of the fields' values
    (``_approxcount``), most frequent first. The count here is exact; ties come in the
    order of the values."""
    from whispersync.monitoring.logs.insights import _parser as ast

    count = ast.Call(cmd.start, cmd.start, "count", (ast.Star(cmd.start, cmd.start),))
    stats = ast.Stats((ast.Item(count, APPROX_COUNT, aliased=True),),
                      tuple(ast.Item(f, f.name) for f in cmd.fields))
    layer, names = c.stats(stats, layer)
    layer.order = [f"{layer.scope[APPROX_COUNT].sql} DESC"] + layer.tiebreak
    out.shown, out.display, out.parsed, out.stats_columns = [], None, [], names
    return layer
