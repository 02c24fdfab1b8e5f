"""Commands that reshape rows or combine queries, within the compiler's one-SQL-statement model.

Each follows its CloudWatch page (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/ + the name):

- ``where`` (CWL_QuerySyntax-Where.html): another name for ``filter``; the parser reads it as one.
- ``!`` before a condition (``!ispresent(x)``, CWL_QuerySyntax-Join.html example 2): ``not``.
- ``filter x in (<query>)`` (CWL_QuerySyntax-Subqueries.html): the subquery runs on its own
  ("Subqueries are executed independently of the outer query"), over its SOURCE or the outer
  query's log groups; only the fields it selects exist outside; no nested subqueries.
- ``unnest field into name`` (CWL_QuerySyntax-Unnest.html): a record for each item of a list;
  "Any other types, such as MAP, String and numbers, are treated as a list with one item".
  A missing field or an empty list has no items, so its record goes.
- ``expand field`` (CWL_QuerySyntax-Expand.html): a record for each element of a JSON array,
  the element in place of the field; as with unnest, anything else is one element and a
  missing field or an empty array none.
- ``join type=inner|left left=a right=b where a.k=b.k (SOURCE 'group' [| commands])``
  (CWL_QuerySyntax-Join.html): the rows so far (``a.name``) joined with the right query's rows
  (``b.name``); unprefixed names keep meaning the left rows' fields. The right side and a
  subquery give at most 10,000 rows, as a query without ``limit`` does.
- ``parse f csv as a, b``, ``parse f logfmt as m`` and ``parse f /regex/ multi``, and
  ``json field=f "key.sub" as alias`` (CWL_QuerySyntax-Parse.html). CSV values are taken as
  written ("quoted, with "" for a quote" is unquoted); logfmt gives a map of the line's
  key=value pairs (a key given twice keeps its first value; no pairs, no map); multi gives a
  row for each match, and an event without one keeps its row, as parse keeps it.

A command that turns a record into several (unnest, expand, multi) or pairs records (join)
closes the rows so far into a subquery and selects from it; the scope's expressions still read
the same columns. An item of a list, and a value a join or subquery brings, is a column holding
JSON: a scalar reads as its text, a map or list walks with dots (``event.name``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from whispersync.monitoring.logs.insights import _parser as ast
from whispersync.monitoring.logs.insights._errors import InsightsQueryError
from whispersync.monitoring.logs.insights._functions import Col, member_of, split_path, sql_string, struct_member

# json_path of a Col holding a whole JSON value in a column (a list item, a joined value):
# the compiler's lookup walks into it with dots, as into a map from jsonParse.
ITEM = "$item"
_NULL = Col("CAST(NULL AS VARCHAR)", "null")
# One CSV field: quoted ("" is a quote inside) or up to the next comma.
_CSV_FIELD = r'(?:^|,)("(?:[^"]|"")*"|[^,]*)'
# One logfmt pair: key=value, the value quoted (with \" and \\ escapes) or up to the next space.
_LOGFMT_PAIR = r'([^\s="]+)=("(?:[^"\\]|\\.)*"|\S*)'
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"(?=.)(?:[^.\[\]]+)?(?:\[\d+\])*(?:\.[^.\[\]]+(?:\[\d+\])*)*")  # a.b[0].c, [1]

# ----------------------------------------------------------------- AST


@dataclass(frozen=True)
class InQuery(ast.Expr):
    """``arg in (<query>)``: true when the subquery's rows hold ``arg``'s value."""

    arg: ast.Expr
    query: ast.Query
    negated: bool = False


@dataclass(frozen=True)
class Unnest:
    start: int
    field: ast.Expr
    into: str
    replace: bool = False  # expand: the item takes the field's own name


@dataclass(frozen=True)
class Join:
    start: int
    inner: bool
    left: str
    right: str
    left_key: str  # the key's name on each side, without the alias
    right_key: str
    query: ast.Query


@dataclass(frozen=True)
class ParseMode:
    """``parse field csv as a, b`` or ``parse field logfmt as m``."""

    start: int
    source: ast.Expr
    mode: str  # csv | logfmt
    names: tuple[str, ...]


@dataclass(frozen=True)
class ParseMulti:
    """``parse field /regex/ [as names] multi``: a row for each match."""

    source: ast.Expr
    pattern: ast.Regex
    names: tuple[str, ...]


@dataclass(frozen=True)
class JsonField:
    start: int
    source: ast.Field
    path: tuple[str | int, ...]
    path_start: int
    alias: str


COMMANDS = (Unnest, Join, ParseMode, ParseMulti, JsonField)

# ----------------------------------------------------------------- parsing


def subquery(p: Any, open_tok: Any) -> ast.Query:
    """The commands between ``(`` (just read) and ``)``, which this reads too."""
    if getattr(p, "in_subquery", False):
        raise InsightsQueryError("nested subqueries are not supported", p.text, open_tok.pos)
    p.in_subquery = True
    try:
        commands: list[Any] = []
        starts: list[Any] = []
        source = None
        while True:
            if p.is_op(")", "|") or p.tok.kind == "EOF":
                raise p.error("expected a command in the subquery")
            if p.is_kw("source"):
                if commands:
                    raise p.error("SOURCE must come first, before every other command")
                source = p.cmd_source(p.advance(), source)
            else:
                starts.append(p.tok)
                commands.append(p.command())
            if p.is_op(")"):
                break
            if not p.is_op("|"):
                raise p.error("expected '|' or ')' to close the subquery")
            p.advance()
        p.advance()
        p.check_order(commands, starts)
    finally:
        p.in_subquery = False
    return ast.Query(p.text, tuple(commands), source)


def parse_in_subquery(p: Any, left: ast.Expr, negated: bool) -> ast.Expr:
    open_tok = p.advance()
    query = subquery(p, open_tok)
    return p.built(InQuery(left.start, p.prev_end(), left, query, negated), open_tok, left)


def parse_unnest(p: Any, tok: Any) -> Unnest:
    if p.tok.kind == "EOF" or p.is_op("|"):
        raise p.error("expected a field after 'unnest'")
    field = p.expr()
    if not p.is_kw("into"):
        raise p.error("expected 'into' and a name after the field: unnest field into name")
    p.advance()
    return Unnest(tok.pos, field, p.name("after 'into'"))


def parse_expand(p: Any, tok: Any) -> Unnest:
    field = p.field_ref("after 'expand'")
    return Unnest(tok.pos, field, field.name, replace=True)


def parse_join(p: Any, tok: Any) -> Join:
    options: dict[str, str] = {}
    while p.tok.kind == "NAME" and p.tok.text.lower() in ("type", "left", "right"):
        key_tok = p.advance()
        p.expect_op("=", f"after '{key_tok.text}'")
        options[key_tok.text.lower()] = p.name(f"after '{key_tok.text}='")
    kind = options.get("type", "inner").lower()
    if kind not in ("inner", "left"):
        raise InsightsQueryError("the join type is inner or left", p.text, tok.pos)
    if "left" not in options or "right" not in options:
        raise p.error("expected left=<alias> right=<alias> after 'join'")
    left, right = options["left"], options["right"]
    if left == right:
        raise InsightsQueryError("the left and right aliases of join must differ", p.text, tok.pos)
    if not p.is_kw("where"):
        raise p.error(f"expected where {left}.<field>={right}.<field>")
    p.advance()
    keys: dict[str, str] = {}
    for context in ("after 'where'", "after '='"):
        key_tok = p.tok
        alias, _, name = p.name(context).partition(".")
        if alias not in (left, right) or not name or alias in keys:
            raise InsightsQueryError(f"expected {left}.<field> and {right}.<field>, one on each side of '='",
                                     p.text, key_tok.pos)
        keys[alias] = name
        if context == "after 'where'":
            p.expect_op("=", "between the join keys")
    open_tok = p.expect_op("(", "before the right side: (SOURCE 'log group')")
    query = subquery(p, open_tok)
    return Join(tok.pos, kind == "inner", left, right, keys[left], keys[right], query)


def parse_mode(p: Any, source: ast.Expr, mode_tok: Any) -> ParseMode:
    p.advance()
    mode = mode_tok.text.lower()
    if not p.is_kw("as"):
        raise p.error(f"expected 'as' and field names after '{mode_tok.text}'")
    p.advance()
    names = [p.name("after 'as'")]
    while p.is_op(","):
        p.advance()
        names.append(p.name("after ','"))
    if mode == "logfmt" and len(names) != 1:
        raise InsightsQueryError("parse ... logfmt takes one name, for the map of the line's keys: as lf",
                                 p.text, mode_tok.pos)
    return ParseMode(mode_tok.pos, source, mode, tuple(names))


def parse_json(p: Any, tok: Any) -> JsonField:
    if not p.is_kw("field"):
        raise p.error("expected field=<name> after 'json'")
    p.advance()
    p.expect_op("=", "after 'field'")
    source = p.field_ref("after 'field='")
    if p.tok.kind != "STRING":
        raise p.error('expected the key path in quotes, such as "user.name"')
    path_tok = p.advance()
    if not _PATH.fullmatch(path_tok.text):
        raise InsightsQueryError('expected a key path such as "user.name" or "items[0].id"', p.text, path_tok.pos)
    parts = [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _PATH_PART.finditer(path_tok.text)]
    if not p.is_kw("as"):
        raise p.error("expected 'as' and a name after the key path")
    p.advance()
    return JsonField(tok.pos, source, tuple(parts), path_tok.pos, p.name("after 'as'"))


# ----------------------------------------------------------------- compiling


def compile_command(c: Any, cmd: Any, layer: Any) -> tuple[Any, list[str]]:
    """The layer after ``cmd``, and the names it defines that show by default (as parse's do)."""
    if isinstance(cmd, Unnest):
        return _unnest(c, cmd, layer)
    if isinstance(cmd, ParseMode):
        return layer, (_csv if cmd.mode == "csv" else _logfmt)(c, cmd, layer)
    if isinstance(cmd, ParseMulti):
        return _parse_multi(c, cmd, layer)
    if isinstance(cmd, JsonField):
        return layer, _json_field(c, cmd, layer)
    return _join(c, cmd, layer), []


def lookup(c: Any, name: str, layer: Any) -> Col | None:
    """``alias.name`` after a join, and ``item.key`` of a list item; None for every other name."""
    aliases = getattr(c, "join_aliases", None)
    if aliases and "." in name:
        alias, _, rest = name.partition(".")
        if alias in aliases:
            right = aliases[alias]
            if right is None:  # the left rows: their own names
                return c.lookup(rest, layer)
            return right.get(rest, _NULL)
    parts = split_path(name)
    for cut in range(len(parts) - 1, 0, -1):
        base = layer.scope.get(".".join(parts[:cut]))
        if base is not None and base.json_path == ITEM:
            return member_of(base, parts[cut:])
    return None


def in_query(c: Any, node: InQuery, layer: Any) -> Col:
    arg = c.expr(node.arg, layer)
    compiled = run_subquery(c, node.query)
    names = [col.name for col in compiled.columns]
    if len(names) == 1:
        index = 0
    elif isinstance(node.arg, ast.Field) and node.arg.name in names:
        index = names.index(node.arg.name)
    else:
        raise c.error(f"the subquery must give the field to compare with: end it with | fields"
                      f" {node.arg.name if isinstance(node.arg, ast.Field) else '<field>'}", node)
    value = output_col(f"c{index}", compiled.columns[index].kind).as_str
    alias = c.alias()
    sql = (f"{arg.as_str} IN (SELECT {value} FROM ({compiled.sql}) AS {alias}"
           f" WHERE {value} IS NOT NULL)")
    return Col(f"(NOT ({sql}))" if node.negated else f"({sql})", "bool")


def run_subquery(c: Any, query: ast.Query) -> Any:
    """``query`` compiled on its own, over the same time range: its SOURCE, else the outer query's groups."""
    groups = getattr(c, "log_groups", None)
    if query.source is None:
        query = dataclasses.replace(query, source=c.query.source)
    else:
        groups = None
    return type(c)(query).compile(*c.window, groups)


def output_col(sql: str, kind: str) -> Col:
    """A value from a compiled query's result column ``sql``, of that column's ``kind``."""
    if kind == "json":
        return item_col(sql)
    if kind == "bool":
        return Col(sql, "num")
    if kind == "null":
        return _NULL
    return Col(sql, kind)


def item_col(sql: str) -> Col:
    """A column holding a JSON value: a scalar as its text, a map or list walked into with dots."""
    value = f"CAST({sql} AS JSON)"
    return Col(f"(CASE WHEN json_type({value}) NOT IN ('OBJECT', 'ARRAY') THEN {value} ->> '$' END)", "json",
               json_path=ITEM, out=value)


def _json_value(col: Col) -> str:
    """SQL for ``col`` as a JSON value (NULL when missing)."""
    if col.kind == "struct":
        return f"CAST({col.sql} AS JSON)"
    if col.kind == "json":
        return f"CAST({col.as_out} AS JSON)"
    if col.kind == "null":
        return "CAST(NULL AS JSON)"
    return f"to_json({col.sql})"


def _split_rows(c: Any, layer: Any, items: str) -> tuple[Any, str]:
    """Rows of ``layer`` closed into a subquery, one for each element of the list ``items``; the column name."""
    wrapped = c.wrap(layer)
    alias = c.alias()
    column, position = f"item_{alias}", f"pos_{alias}"
    source = (f"(SELECT *, unnest({items}) AS {column}, generate_subscripts({items}, 1) AS {position}"
              f" FROM {wrapped.source}) AS {alias}")
    # The rows keep their order, a record's items theirs; rows are counted again: the records are the items now.
    order = [*layer.order, f"{position} ASC"]
    return dataclasses.replace(wrapped, source=source, carries_matched=False, scope=dict(wrapped.scope),
                               order=order, tiebreak=[*wrapped.tiebreak, f"{position} ASC"]), column


def _unnest(c: Any, cmd: Unnest, layer: Any) -> tuple[Any, list[str]]:
    value = _json_value(c.expr(cmd.field, layer))
    items = (f"CASE WHEN json_type({value}) = 'ARRAY' THEN CAST({value} AS JSON[])"
             f" WHEN {value} IS NOT NULL THEN [{value}] ELSE [] END")
    out, column = _split_rows(c, layer, items)
    out.scope[cmd.into] = item_col(column)
    return out, ([] if cmd.replace else [cmd.into])


def _csv(c: Any, cmd: ParseMode, layer: Any) -> list[str]:
    text = c.expr(cmd.source, layer).as_str
    # A quoted field loses its quotes, and "" inside it is one quote.
    fields = (f"list_transform(regexp_extract_all({text}, {sql_string(_CSV_FIELD)}, 1), lambda f_:"
              " CASE WHEN length(f_) >= 2 AND starts_with(f_, '\"') AND ends_with(f_, '\"')"
              " THEN replace(substring(f_, 2, length(f_) - 2), '\"\"', '\"') ELSE f_ END)")
    for index, name in enumerate(cmd.names, start=1):
        layer.scope[name] = Col(f"{fields}[{index}]", "json_text")
    return list(cmd.names)


def _logfmt(c: Any, cmd: ParseMode, layer: Any) -> list[str]:
    text = c.expr(cmd.source, layer).as_str
    pair = sql_string(_LOGFMT_PAIR)
    keys = f"regexp_extract_all(s_, {pair}, 1)"
    values = (f"list_transform(regexp_extract_all(s_, {pair}, 2), lambda v_: CASE WHEN starts_with(v_, '\"')"
              " THEN regexp_replace(substring(v_, 2, length(v_) - 2), '\\\\(.)', '\\1', 'g') ELSE v_ END)")
    # A key given twice keeps its first value.
    entries = (f"list_filter(list_transform(list_zip({keys}, {values}), lambda p_: {{'k': p_[1], 'v': p_[2]}}),"
               f" lambda e_, i_: list_position({keys}, e_.k) = i_)")
    body = f"CASE WHEN len({keys}) > 0 THEN to_json(map_from_entries({entries})) END"
    layer.scope[cmd.names[0]] = Col(f"list_transform([{text}], lambda s_: {body})[1]", "struct")
    return list(cmd.names)


def _parse_multi(c: Any, cmd: ParseMulti, layer: Any) -> tuple[Any, list[str]]:
    regex, names = c.parse_pattern(cmd)
    text = c.expr(cmd.source, layer).as_str
    pattern = sql_string(regex)
    matches = f"regexp_extract_all({text}, {pattern}, 0)"
    # An event without a match keeps its row, without the fields, as parse keeps it.
    items = f"CASE WHEN coalesce(len({matches}), 0) = 0 THEN [NULL] ELSE {matches} END"
    out, column = _split_rows(c, layer, items)
    count = max(i for i, name in enumerate(names, start=1) if name)
    keys = ", ".join(f"'g{i}'" for i in range(1, count + 1))
    for index, name in enumerate(names, start=1):
        if name:
            out.scope[name] = Col(f"CASE WHEN {column} IS NOT NULL THEN"
                                  f" struct_extract(regexp_extract({column}, {pattern}, [{keys}]), 'g{index}') END",
                                  "json_text")
    return out, [n for n in names if n]


def _json_field(c: Any, cmd: JsonField, layer: Any) -> list[str]:
    col = c.expr(cmd.source, layer)
    if col.kind == "struct":
        text = f"CAST({col.sql} AS VARCHAR)"
    elif col.kind == "json":
        text = f"CAST({col.as_out} AS VARCHAR)"
    else:
        text = col.as_str
    # Text that is not JSON has no keys: null, as jsonParse gives.
    parsed = Col(f"list_transform([{text}], lambda t_: CASE WHEN json_valid(t_) THEN t_ END)[1]", "struct")
    layer.scope[cmd.alias] = struct_member(parsed, list(cmd.path))
    return [cmd.alias]


def _join(c: Any, cmd: Join, layer: Any) -> Any:
    if layer.aggregates or not layer.events:
        raise InsightsQueryError("join works on log events: put it before stats", c.text, cmd.start)
    # The right side's fields the rest of the query names, and its key: selected by its query.
    wanted = [cmd.right_key] + sorted(_names_under(c.query.commands, cmd.right + "."))
    wanted = list(dict.fromkeys(wanted))
    fields = ast.Fields(tuple(ast.Item(ast.Field(cmd.start, cmd.start, n), n) for n in wanted))
    right_query = dataclasses.replace(cmd.query, commands=(*cmd.query.commands, fields))
    compiled = run_subquery(c, right_query)
    alias = c.alias()
    right_cols = {}
    select = []
    for i, column in enumerate(compiled.columns):
        select.append(f"c{i} AS {alias}_{i}")
        right_cols[column.name] = output_col(f"{alias}_{i}", column.kind)
    left_key = c.lookup(cmd.left_key, layer).as_str
    right_key = right_cols[cmd.right_key].as_str
    wrapped = c.wrap(layer)
    how = "INNER" if cmd.inner else "LEFT"
    source = (f"(SELECT * FROM {wrapped.source} {how} JOIN (SELECT {', '.join(select)} FROM ({compiled.sql})"
              f" AS r{alias}) AS {alias} ON {left_key} = {right_key}) AS j{alias}")
    aliases = dict(getattr(c, "join_aliases", None) or {})
    aliases[cmd.left] = None
    aliases[cmd.right] = right_cols
    c.join_aliases = aliases
    return dataclasses.replace(wrapped, source=source, carries_matched=False, scope=dict(wrapped.scope))


def _names_under(node: Any, prefix: str) -> set[str]:
    """The field names below ``prefix`` that ``node`` (any AST, walked whole) reads, without the prefix."""
    found: set[str] = set()
    if isinstance(node, ast.Field):
        if node.name.startswith(prefix):
            found.add(node.name[len(prefix):])
    elif isinstance(node, tuple | list):
        for part in node:
            found |= _names_under(part, prefix)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            found |= _names_under(getattr(node, f.name), prefix)
    return found
