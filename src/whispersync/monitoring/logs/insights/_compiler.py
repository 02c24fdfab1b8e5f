"""The AST → one DuckDB SQL query over the ``logs`` view.

Before the first ``stats`` every command works on log events: ``fields``,
``parse`` and aliases define names in a scope of SQL expressions, ``filter``
adds to the WHERE clause, and nothing is materialised. ``stats`` closes that
layer into a GROUP BY subquery; later commands work on its columns. The time
range is always the first predicate on ``ts``, so Parquet row groups outside it
are skipped; the log groups (SOURCE, or the request's) come second.
``__matched`` rides along in every layer: the number of events that passed the
filters, for the statistics CloudWatch reports. The events scanned (recordsScanned,
bytesScanned: every event of the range and log groups) are ``statistics_sql``; the
executor keeps its answer for each Parquet file wholly inside the range, and the rest
(the files at the range's edges, the open segments: the view ``__edges``) comes as one
more column, ``__scanned``, from a scalar subquery in the same statement as the query.

``compile_plan`` compiles a query once for any time range: the range is the
parameters ``$start_ms`` and ``$end_ms`` (epoch ms), bound when the SQL runs, so
a dashboard's repeated query need not be parsed and compiled again.

Each command works on the rows the commands before it left, in order: a command
after ``limit`` closes the layer into a subquery first (``SELECT *`` of the
events, so the scope's expressions over the logs view still apply), which is the
only time events are materialised before ``stats``. ``sort`` alone does not
close it: filtering or parsing sorted events keeps their order.

A field no event has is NULL wherever it is used, before and after ``stats``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import re2

from whispersync.monitoring.store import HEX_CHARS, PROMOTED_LOG_FIELDS, SPLIT_BOUNDARY
from whispersync.monitoring.logs.insights import _analytic
from whispersync.monitoring.logs.insights import _parser as ast
from whispersync.monitoring.logs.insights import _reshape
from whispersync.monitoring.logs.insights._errors import InsightsQueryError
from whispersync.monitoring.logs.insights._functions import (
    QUERY_WINDOW,
    SCALARS,
    ArgumentError,
    Col,
    ceil_time,
    floor_time,
    json_field,
    member_of,
    promoted_field,
    split_path,
    sql_string,
    struct_member,
)

# Names backed by typed columns of the logs view; anything else is looked up in the JSON line.
_BASE_SCOPE = {
    "@timestamp": Col("ts", "ts"),
    "@message": Col("coalesce(raw_message, raw)", "str"),
    "@logStream": Col("log_stream", "str"),
    "@log": Col("log_group", "str"),
    "level": Col("level", "str"),
    "message": Col("message", "str"),
    "service": Col("service", "str"),
    "correlation_id": Col("correlation_id", "str"),
    "trace_id": Col("trace_id", "str"),
    "log_group": Col("log_group", "str"),
    "log_stream": Col("log_stream", "str"),
    # JSON fields of our own records that have typed columns: same values, no `raw` read.
    **{name: promoted_field(name, numeric) for name, numeric in PROMOTED_LOG_FIELDS.items()},
}
_REGEX_META = set(".^$*+?()[]{}|\\")
MATCHED = "__matched"
# The logs of the query's files that are not wholly inside its range (the executor defines it).
EDGES = "__edges"
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_@][A-Za-z0-9_@.]*)>")
# Regexes run in DuckDB, whose engine is RE2: they are checked with RE2 too, so a
# pattern RE2 refuses (a lookahead, a backreference) is a positioned query error.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@dataclass
class OutputColumn:
    name: str
    kind: str  # decides how Python formats the value: ts → text, json → decoded


@dataclass
class CompiledQuery:
    sql: str  # its last two columns: __matched, then __scanned (a struct: records, bytes) of EDGES
    columns: list[OutputColumn]
    statistics_sql: str  # (events scanned, their bytes): the time range and log groups only


@dataclass
class _Layer:
    source: str  # FROM clause
    where: list[str] = field(default_factory=list)
    scope: dict[str, Col] = field(default_factory=dict)
    events: bool = True  # rows are log events (no stats yet)
    # Events only: the rows carry __matched, counted before an earlier limit (see wrap);
    # False once a filter narrows them further, then the rows themselves are counted.
    carries_matched: bool = False
    order: list[str] = field(default_factory=list)
    limit: int | None = None
    dedup: list[Col] | None = None
    aggregates: dict[str, str] = field(default_factory=dict)  # function name → column, for `sort count`
    tiebreak: list[str] = field(default_factory=list)  # makes ties come out in a stable order


def compile_query(query: ast.Query, start_ms: int, end_ms: int,
                  log_groups: Sequence[str] | None = None) -> CompiledQuery:
    """``log_groups``: StartQuery's logGroupNames; a query with SOURCE may not have them too."""
    return _Compiler(query).compile(start_ms, end_ms, log_groups)


def compile_plan(query: ast.Query, log_groups: Sequence[str] | None = None) -> CompiledQuery:
    """``compile_query`` for any time range: its SQL takes the range as parameters ``$start_ms``, ``$end_ms``."""
    return _PlanCompiler(query).compile(0, 0, log_groups)


class _Compiler:
    # True: the time range is the SQL parameters $start_ms and $end_ms, not literals.
    # A class attribute, so subqueries (compiled by type(self)) inherit it.
    parametrized = False

    def __init__(self, query: ast.Query) -> None:
        self.query = query
        self.text = query.text
        self.counter = 0
        # In a stats item, outside its aggregate functions: the names it may use
        # (by-fields and earlier aliases of the same stats) → their SQL.
        self.stats_names: dict[str, Col] | None = None
        self.second_stats = False  # compiling the second stats: only the first one's fields exist

    def error(self, message: str, node: ast.Expr | None = None) -> InsightsQueryError:
        return InsightsQueryError(message, self.text, node.start if node else 0)

    # ------------------------------------------------------------- commands

    def compile(self, start_ms: int, end_ms: int, log_groups: Sequence[str] | None) -> CompiledQuery:
        self.window = (int(start_ms), int(end_ms))
        self.log_groups = log_groups  # for subqueries and join's right side without SOURCE
        low, high = _PARAMETERS if self.parametrized else (f"CAST({int(start_ms)} AS BIGINT)",
                                                           f"CAST({int(end_ms)} AS BIGINT)")
        scanned = [f"ts >= epoch_ms({low})", f"ts <= epoch_ms({high})"]
        groups = self.log_group_predicate(log_groups)
        if groups:
            scanned.append(groups)
        statistics_sql = "SELECT count(*), coalesce(sum(bytes), 0) FROM logs WHERE " + " AND ".join(scanned)
        edges_sql = f"SELECT count(*), coalesce(sum(bytes), 0) FROM {EDGES} WHERE " + " AND ".join(scanned)
        layer = _Layer(source="logs", where=list(scanned), scope=dict(_BASE_SCOPE), tiebreak=["ts DESC"])
        shown: list[str] = []  # from `fields` since the last stats
        display: list[str] | None = None
        parsed: list[str] = []
        stats_columns: list[str] | None = None
        for cmd in self.query.commands:
            if layer.limit is not None and not isinstance(cmd, (ast.Fields, ast.Limit, *_analytic.AnalyticCommand)):
                layer = self.wrap(layer)
            if isinstance(cmd, ast.Fields):
                names = []
                for item in cmd.items:
                    col = self.expr(item.expr, layer)
                    if item.aliased or not isinstance(item.expr, ast.Field):
                        layer.scope[item.name] = col
                    names.append(item.name)
                if cmd.display:
                    display = names
                else:
                    shown += [n for n in names if n not in shown]
            elif isinstance(cmd, ast.Filter):
                if layer.order and not layer.events:
                    layer = self.wrap(layer)
                layer.where.append(self.expr(cmd.expr, layer).as_bool)
                layer.carries_matched = False
            elif isinstance(cmd, ast.Parse):
                self.parse(cmd, layer)
                parsed += [n for n in self.parse_names(cmd) if n not in parsed]
            elif isinstance(cmd, ast.Stats):
                layer, stats_columns = self.stats(cmd, layer)
                shown, display, parsed = [], None, []
            elif isinstance(cmd, ast.Sort):
                layer.order = [o for expr, desc in cmd.keys for o in self.order_by(expr, desc, layer)]
                layer.order += [t for t in layer.tiebreak if t not in layer.order]
            elif isinstance(cmd, ast.Limit):
                layer.limit = cmd.count if layer.limit is None else min(layer.limit, cmd.count)
            elif isinstance(cmd, ast.Dedup):
                layer.dedup = [self.expr(f, layer) for f in cmd.fields]
            elif isinstance(cmd, _reshape.COMMANDS):  # unnest, expand, join, parse csv/logfmt/multi, json
                layer, defined = _reshape.compile_command(self, cmd, layer)
                parsed += [n for n in defined if n not in parsed]
            elif isinstance(cmd, _analytic.Estimate):
                sql, statistics_sql = _analytic.estimate_sql(self, cmd, scanned)
                sql = f"SELECT *, {_scanned_column(statistics_sql)} FROM ({sql}) AS e"
                return CompiledQuery(sql, [OutputColumn(_analytic.ESTIMATE_COLUMN, "num")], statistics_sql)
            elif isinstance(cmd, _analytic.AnalyticCommand):  # addtotals, accum, ...: over the rows in order
                out = _analytic.Output(shown, display, parsed, stats_columns)
                layer = _analytic.compile_command(self, cmd, layer, out)
                shown, display, parsed, stats_columns = out.shown, out.display, out.parsed, out.stats_columns

        if display is not None:
            names = display
        elif shown:
            names = shown + [p for p in parsed if p not in shown]
        elif stats_columns is not None:
            names = stats_columns
        else:
            names = ["@timestamp", "@message"] + [p for p in parsed if p not in ("@timestamp", "@message")]
        return self.final(layer, names, statistics_sql, edges_sql)

    def log_group_predicate(self, log_groups: Sequence[str] | None) -> str | None:
        """SQL keeping the events of the chosen log groups (``@log``); None for every group."""
        source = self.query.source
        if source is not None and log_groups is not None:
            # StartQuery takes the log groups either as parameters or as SOURCE in the
            # query ("one of the following"), not both.
            raise InsightsQueryError("the query picks its log groups with SOURCE and the request names log groups"
                                     " too; give them in one place", self.text, source.start)
        if log_groups is not None:
            names, prefixes = tuple(log_groups), ()
        elif source is not None and not source.everything:
            names, prefixes = source.names, source.prefixes
        else:
            return None
        terms = []
        if names:
            terms.append(f"log_group IN ({', '.join(sql_string(n) for n in names)})")
        terms += [f"starts_with(log_group, {sql_string(p)})" for p in prefixes]
        return "(" + " OR ".join(terms) + ")"

    def final(self, layer: _Layer, names: list[str], statistics_sql: str, edges_sql: str) -> CompiledQuery:
        columns, select = [], []
        for i, name in enumerate(dict.fromkeys(names)):
            col = self.lookup(name, layer)
            select.append(f"{col.as_out} AS c{i}")
            columns.append(OutputColumn(name, col.kind))
        if layer.events and not layer.carries_matched:
            # Matched events, counted before dedup and limit (window over the filtered rows).
            select.append(f"count(*) OVER () AS {MATCHED}")
        else:
            select.append(MATCHED)
        select.append(_scanned_column(edges_sql))
        if layer.events and not layer.order:
            layer.order = ["ts DESC"]  # CloudWatch's default: newest first
        sql = f"SELECT {', '.join(select)} FROM {layer.source}{self.where(layer)}"
        sql += self.qualify(layer) + self.tail(layer, default_limit=True)
        return CompiledQuery(sql, columns, statistics_sql)

    def where(self, layer: _Layer) -> str:
        return " WHERE " + " AND ".join(f"({w})" for w in layer.where) if layer.where else ""

    def qualify(self, layer: _Layer) -> str:
        if not layer.dedup:
            return ""
        keys = ", ".join(c.as_str for c in layer.dedup)
        order = ", ".join(layer.order or (["ts DESC"] if layer.events else []))
        over = f"PARTITION BY {keys}" + (f" ORDER BY {order}" if order else "")
        # Events with a null in any dedup field are never duplicates (CloudWatch's rule).
        nulls = " OR ".join(f"{c.as_str} IS NULL" for c in layer.dedup)
        return f" QUALIFY row_number() OVER ({over}) = 1 OR {nulls}"

    def tail(self, layer: _Layer, default_limit: bool) -> str:
        out = ""
        if layer.order:
            out += " ORDER BY " + ", ".join(layer.order)
        limit = layer.limit if layer.limit is not None else (ast.DEFAULT_LIMIT if default_limit else None)
        if limit is not None:
            out += f" LIMIT {limit}"
        return out

    def wrap(self, layer: _Layer) -> _Layer:
        """Close ``layer`` into a subquery so later commands see its rows, in order."""
        self.counter += 1
        if layer.events:
            # The events themselves, every column of the logs view: the scope's
            # expressions still read them. Unsorted, `limit n` keeps the newest n,
            # the rows the query would show.
            if not layer.order:
                layer.order = ["ts DESC"]
            # recordsMatched counts the events before the limit, as it does when limit comes last.
            if layer.carries_matched:
                columns = "*"
            elif layer.source == "logs":
                columns = f"*, count(*) OVER () AS {MATCHED}"
            else:  # events an earlier limit kept, filtered since: count them afresh
                columns = f"* REPLACE (count(*) OVER () AS {MATCHED})"
            sql = (f"SELECT {columns} FROM {layer.source}{self.where(layer)}{self.qualify(layer)}"
                   f"{self.tail(layer, False)}")
            return _Layer(source=f"({sql}) AS w{self.counter}", scope=dict(layer.scope), tiebreak=["ts DESC"],
                          carries_matched=True)
        sql = f"SELECT * FROM {layer.source}{self.where(layer)}{self.qualify(layer)}{self.tail(layer, False)}"
        scope = {name: Col(col.sql, col.kind) for name, col in layer.scope.items()}
        return _Layer(source=f"({sql}) AS w{self.counter}", scope=scope, events=False,
                      aggregates=dict(layer.aggregates))

    def stats(self, cmd: ast.Stats, layer: _Layer) -> tuple[_Layer, list[str]]:
        if not layer.events and layer.dedup:
            layer = self.wrap(layer)
        # CWL_QuerySyntax-Stats: "In the second stats command ... you can refer only to
        # fields that are defined in the first stats command."
        self.second_stats = not layer.events
        try:
            return self._stats(cmd, layer)
        finally:
            self.second_stats = False

    def _stats(self, cmd: ast.Stats, layer: _Layer) -> tuple[_Layer, list[str]]:
        select, group, scope, names = [], [], {}, []
        aggregates: dict[str, list[str]] = {}
        grouped: dict[str, Col] = {}  # by-fields and earlier aliases, for items that compute with them
        for item in cmd.by:
            col = self.expr(item.expr, layer)
            if col.kind == "json":
                col = Col(col.as_str, "str")
            elif col.kind == "null":
                col = Col("CAST(NULL AS VARCHAR)", "null")  # no event has it: one group, of NULL
            alias = self.alias()
            select.append(f"{col.sql} AS {alias}")
            group.append(alias)
            scope[item.name] = Col(alias, col.kind)
            grouped[item.name] = col
            names.append(item.name)
        for item in cmd.aggregates:
            self.stats_names = grouped
            try:
                col = self.expr(item.expr, layer, aggregate=True)
            finally:
                self.stats_names = None
            alias = self.alias()
            select.append(f"{col.sql} AS {alias}")
            scope[item.name] = Col(alias, col.kind)
            if item.aliased:
                grouped[item.name] = col
            names.append(item.name)
            if isinstance(item.expr, ast.Call):
                aggregates.setdefault(item.expr.name, []).append(alias)
        if layer.events and not layer.carries_matched:
            # Events matched: the sum over all groups, before any limit on groups.
            select.append(f"sum(count(*)) OVER () AS {MATCHED}")
        else:
            # Counted already, and the same on every row: carry it through.
            select.append(f"max(max({MATCHED})) OVER () AS {MATCHED}")
        sql = f"SELECT {', '.join(select)} FROM {layer.source}{self.where(layer)}"
        if group:
            sql += " GROUP BY " + ", ".join(group)
        self.counter += 1
        out = _Layer(source=f"({sql}) AS s{self.counter}", scope=scope, events=False,
                     aggregates={k: v[0] for k, v in aggregates.items() if len(v) == 1})
        # Without a sort, groups come out in the order of their keys (CloudWatch leaves it open).
        out.order = out.tiebreak = [f"{g} ASC NULLS LAST" for g in group]
        return out, names

    def parse(self, cmd: ast.Parse, layer: _Layer) -> None:
        source = self.expr(cmd.source, layer).as_str
        pattern, names = self.parse_pattern(cmd)
        regex = sql_string(pattern)
        # Every group up to the last named one, extracted at once into a struct {g1, g2, ...}:
        # regexp_extract with a group number stops at 9 groups.
        count = max(i for i, name in enumerate(names, start=1) if name)
        keys = ", ".join(f"'g{i}'" for i in range(1, count + 1))
        extract = f"regexp_extract({source}, {regex}, [{keys}])"
        for index, name in enumerate(names, start=1):
            if not name:
                continue  # an unnamed group: numbered, not extracted
            # An event that does not match keeps its row, without the extracted fields.
            layer.scope[name] = Col(
                f"CASE WHEN regexp_matches({source}, {regex}) THEN struct_extract({extract}, 'g{index}') END",
                "json_text")

    def parse_names(self, cmd: ast.Parse) -> list[str]:
        return [n for n in self.parse_pattern(cmd)[1] if n]

    def parse_pattern(self, cmd: ast.Parse) -> tuple[str, list[str]]:
        if isinstance(cmd.pattern, ast.String):
            pieces = cmd.pattern.value.split("*")
            groups = ["(.*?)"] * (len(pieces) - 2) + ["(.*)"] if len(pieces) > 1 else []
            regex = _escape(pieces[0]) + "".join(g + _escape(p) for g, p in zip(groups, pieces[1:], strict=True))
            return regex, list(cmd.names)
        body = cmd.pattern.pattern
        names: list[str] = []
        out, i, depth_groups = [], 0, 0
        # Number every capturing group so named ones map to regexp_extract indexes.
        while i < len(body):
            ch = body[i]
            if ch == "\\":
                out.append(body[i : i + 2])
                i += 2
                continue
            if ch == "[":
                end = _class_end(body, i)
                out.append(body[i:end])
                i = end
                continue
            if ch == "(":
                m = _NAMED_GROUP.match(body, i)
                if m:
                    depth_groups += 1
                    names.append(m.group(1))
                    out.append("(")
                    i = m.end()
                    continue
                if not body.startswith("(?", i):
                    depth_groups += 1
                    names.append("")
            out.append(ch)
            i += 1
        if cmd.names:  # `as a, b`: the capturing groups in order, named or not
            if len(cmd.names) != len(names):
                raise self.error(f"the regular expression has {len(names)} capturing groups but"
                                 f" {len(cmd.names)} field names follow 'as'", cmd.pattern)
            names = list(cmd.names)
        if not any(names):
            raise self.error("expected a regular expression with named groups such as (?<name>...),"
                             " or field names after it: /(...)/ as name", cmd.pattern)
        prefix = "(?" + "".join(f for f in cmd.pattern.flags if f in "ims") + ")" if cmd.pattern.flags else ""
        regex = prefix + "".join(out)
        _check_regex(regex, self.text, cmd.pattern.start)
        # Names are placed by their group index; unnamed groups get throwaway names.
        return regex, names

    def order_by(self, expr: ast.Expr, desc: bool, layer: _Layer) -> list[str]:
        col = self.expr(expr, layer)
        if col.kind == "null" or _is_constant(expr):
            return []  # the same for every row (a field no row has): it orders nothing
        direction = "DESC" if desc else "ASC"
        keys = _natural_sort_keys(col) if col.kind in ("json", "json_text", "str") else [col.sql]
        # A literal (a field defined as `"x" as f`) orders nothing, and DuckDB reads
        # ORDER BY 2 as "the second column": leave it out.
        return [f"{key} {direction} NULLS LAST" for key in keys if not _LITERAL.fullmatch(key)]

    def alias(self) -> str:
        self.counter += 1
        return f"a{self.counter}"

    # ---------------------------------------------------------- expressions

    def lookup(self, name: str, layer: _Layer, node: ast.Expr | None = None,
               keys: tuple[str | int, ...] = ()) -> Col:
        """The field ``name``, then its ``keys`` (``name[1].b``: ints index a list)."""
        if name in layer.scope:
            return member_of(layer.scope[name], keys)
        if (found := _reshape.lookup(self, name, layer)) is not None:  # join aliases, list items' members
            return member_of(found, keys)
        parts = split_path(name)
        for cut in range(len(parts) - 1, 0, -1):
            # `m.http.status` where `m` is a map in scope (jsonParse(@message) as m): the dot access operator.
            base = layer.scope.get(".".join(parts[:cut]))
            if base is not None and base.kind == "struct":
                return struct_member(base, [*parts[cut:], *keys])
        if layer.events:
            return json_field(name, keys)
        if name in layer.aggregates:
            # `stats count() by x | sort count desc` (the seed's query): a bare function
            # name refers to the one aggregate column computed with that function.
            return Col(layer.aggregates[name], "num")
        if self.second_stats and node is not None:
            known = ", ".join(layer.scope) or "none"
            raise self.error(f"{name} is not a field of the first stats; the second can use only those"
                             f" ({known})", node)
        return _NULL

    def expr(self, node: ast.Expr, layer: _Layer, aggregate: bool = False) -> Col:
        """``aggregate``: ``node`` is (part of) a stats item, outside its aggregate functions."""
        e = lambda n: self.expr(n, layer, aggregate)
        if isinstance(node, ast.Field):
            if aggregate and self.stats_names is not None:
                if node.name in self.stats_names:
                    return self.stats_names[node.name]
                raise self.error(f"{node.name} is a field of each event: in stats, use it inside an aggregate"
                                 f" function such as max({node.name}), or after 'by'", node)
            return self.lookup(node.name, layer, node)
        if isinstance(node, ast.Number):
            if isinstance(node.value, float) and not math.isfinite(node.value):
                raise self.error("the number is too large", node)  # repr() would be the name `inf`
            if isinstance(node.value, float):
                # DuckDB reads 2.5 as a DECIMAL, which would reach the client as one; a number is a double.
                return Col(f"CAST({node.value!r} AS DOUBLE)", "num")
            return Col(repr(node.value), "num")
        if isinstance(node, ast.String):
            return Col(sql_string(node.value), "str")
        if isinstance(node, ast.Boolean):
            return Col("true" if node.value else "false", "bool")
        if isinstance(node, ast.Duration):
            raise self.error("a time period is only allowed in bin(), datefloor() or dateceil()", node)
        if isinstance(node, ast.Unary):
            arg = e(node.arg)
            if node.op == "not":
                return Col(f"(NOT {arg.as_bool})", "bool")
            return Col(f"(- {arg.as_num})", "num")
        if isinstance(node, ast.Binary):
            return self.binary(node, e(node.left), e(node.right))
        if isinstance(node, ast.Match):
            return self.match(node, e(node.arg))
        if isinstance(node, ast.InList):
            arg = e(node.arg)
            items = [e(i) for i in node.items]
            if items and all(i.kind == "num" for i in items):
                sql = f"{arg.as_num} IN ({', '.join(i.sql for i in items)})"
            elif items:
                sql = f"{arg.as_str} IN ({', '.join(i.as_str for i in items)})"
            else:
                sql = "false"
            return Col(f"(NOT ({sql}))" if node.negated else f"({sql})", "bool")
        if isinstance(node, ast.Member):
            if isinstance(node.base, ast.Field):  # one path, `m.users[1].action` as `items.0.id`
                return self.lookup(node.base.name, layer, node.base, node.keys)
            return member_of(e(node.base), node.keys)
        if isinstance(node, ast.Call):
            return self.call(node, layer, aggregate)
        if isinstance(node, _reshape.InQuery):
            return _reshape.in_query(self, node, layer)
        raise self.error("expected a value", node)

    def binary(self, node: ast.Binary, left: Col, right: Col) -> Col:
        op = node.op
        if op in ("and", "or"):
            return Col(f"({left.as_bool} {op.upper()} {right.as_bool})", "bool")
        if op in ("=", "!=", "<", "<=", ">", ">="):
            sql_op = "<>" if op == "!=" else op
            kinds = {left.kind, right.kind}
            if "ts" in kinds and kinds <= {"ts", "num"}:
                return Col(f"({left.as_num} {sql_op} {right.as_num})", "bool")
            if "ts" in kinds:
                a = left.sql if left.kind == "ts" else f"TRY_CAST({left.as_str} AS TIMESTAMP)"
                b = right.sql if right.kind == "ts" else f"TRY_CAST({right.as_str} AS TIMESTAMP)"
                return Col(f"({a} {sql_op} {b})", "bool")
            if "num" in kinds or "bool" in kinds:
                return Col(f"({left.as_num} {sql_op} {right.as_num})", "bool")
            return Col(f"({left.as_str} {sql_op} {right.as_str})", "bool")
        sql_op = {"^": "**"}.get(op, op)
        if op in ("/", "%"):
            # By zero: NULL, not DuckDB's "Division by zero" error.
            return Col(f"({left.as_num} {op} nullif({right.as_num}, 0))", "num")
        return Col(f"({left.as_num} {sql_op} {right.as_num})", "num")

    def match(self, node: ast.Match, arg: Col) -> Col:
        pat = node.pattern
        is_like_string = (isinstance(pat, ast.String)
                          and self.text[node.start:pat.start].rstrip().lower().endswith("like"))
        if is_like_string or (isinstance(pat, ast.Regex) and not pat.flags and not (_REGEX_META & set(pat.pattern))):
            # A plain substring: contains() is much cheaper than a regex.
            text = pat.value if isinstance(pat, ast.String) else pat.pattern
            sql = _message_contains(text) if arg.sql == _MESSAGE.sql else f"contains({arg.as_str}, {sql_string(text)})"
        else:
            body = pat.value if isinstance(pat, ast.String) else pat.pattern
            flags = "".join(f for f in getattr(pat, "flags", "") if f in "ims")
            if flags:
                body = f"(?{flags})" + body
            _check_regex(body, self.text, pat.start)
            body = re.sub(r"\(\?<([A-Za-z_@])", r"(?P<\1", body)  # RE2 spells named groups (?P<name>)
            sql = f"regexp_matches({arg.as_str}, {sql_string(body)})"
        if node.negated:
            return Col(f"(NOT coalesce({sql}, false))", "bool")  # a missing field is "not like"
        return Col(sql, "bool")

    def call(self, node: ast.Call, layer: _Layer, aggregate: bool) -> Col:
        name, args = node.name, node.args
        if name in ast._AGGREGATES:
            if self.stats_names is not None and not aggregate:
                raise self.error(f"{name}() is inside another aggregate function: they do not nest", node)
            if not aggregate:
                raise self.error(f"{name}() is an aggregate function: use it in stats", node)
            return self.aggregate(node, layer)
        e = lambda n: self.expr(n, layer, aggregate)
        if name in ("bin", "datefloor", "dateceil"):
            want = 1 if name == "bin" else 2
            if len(args) != want or not isinstance(args[-1], ast.Duration):
                shape = "bin(period)" if name == "bin" else f"{name}(timestamp, period)"
                raise self.error(f"expected {shape} with a period such as 5m", node)
            period: ast.Duration = args[-1]  # type: ignore[assignment]
            if name == "bin" and aggregate and self.stats_names is not None:
                raise self.error("bin() groups events: use it after 'by'", node)
            ts = self.lookup("@timestamp", layer) if name == "bin" else e(args[0])
            if name == "bin" and ts.kind == "null":
                # CWL_QuerySyntax-Stats: bin() reads @timestamp, which a first stats drops unless it keeps it.
                raise self.error("bin() needs @timestamp, which the stats before did not keep: add"
                                 " max(@timestamp) as @t to it and use datefloor(@t, 5m)", node)
            if ts.kind != "ts":
                ts = Col(f"TRY_CAST({ts.as_str} AS TIMESTAMP)", "ts")
            build = ceil_time if name == "dateceil" else floor_time
            return build(ts, period.ms, period.calendar, period.count)
        if name in QUERY_WINDOW:  # queryStartTime() and kin: the range this query runs over
            if args:
                raise self.error(f"{name}() takes no arguments, got {len(args)}", node)
            if self.parametrized:
                return _WINDOW_PARAMETERS[name]
            return QUERY_WINDOW[name](*self.window)
        if name not in SCALARS:
            raise self.error(f"unknown function {name}()", node)
        low, high, build = SCALARS[name]
        if len(args) < low or (high is not None and len(args) > high):
            count = str(low) if low == high else f"{low} to {high}" if high else f"at least {low}"
            raise self.error(f"{name}() takes {count} argument{'s' if count != '1' else ''}, got {len(args)}", node)
        values = [e(a) for a in args]
        try:
            return build(values)
        except ArgumentError as exc:  # an argument no data can make right: point at it
            at = args[exc.index] if 0 <= exc.index < len(args) else node
            raise self.error(exc.reason, at) from None

    def aggregate(self, node: ast.Call, layer: _Layer) -> Col:
        name, args = node.name, node.args
        inner = lambda n: self.expr(n, layer, aggregate=False)  # each event's value
        if name == "count":
            if not args or isinstance(args[0], ast.Star):
                return Col("count(*)", "num")
            return Col(f"count({inner(args[0]).as_str})", "num")
        if name == "pct":
            if len(args) != 2 or not isinstance(args[1], ast.Number) or not 0 <= args[1].value <= 100:
                raise self.error("expected pct(field, percentile) with a percentile from 0 to 100", node)
            # The value below which the given percent of the values lie: one of the values.
            return Col(f"quantile_disc({inner(args[0]).as_num}, {args[1].value / 100!r})", "num")
        if len(args) != 1 or isinstance(args[0], ast.Star):
            raise self.error(f"expected {name}(field)", node)
        col = inner(args[0])
        if name == "count_distinct":
            return Col(f"count(DISTINCT {col.as_str})", "num")
        if name in ("sum", "avg", "stddev"):
            fn = {"sum": "sum", "avg": "avg", "stddev": "stddev_samp"}[name]
            return Col(f"{fn}({col.as_num})", "num")
        if name in ("min", "max"):
            if col.kind == "ts":
                return Col(f"{name}({col.sql})", "ts")
            return Col(f"{name}({col.as_num})", "num")
        # earliest / latest: the value from the event with the earliest / latest timestamp.
        ts = self.lookup("@timestamp", layer)
        if ts.kind != "ts":
            raise self.error(f"{name}() needs log events with @timestamp", node)
        fn = "arg_min" if name == "earliest" else "arg_max"
        value = col.sql if col.kind in ("ts", "num") else col.as_str
        return Col(f"{fn}({value}, {ts.sql})", col.kind if col.kind in ("ts", "num") else "str")


class _PlanCompiler(_Compiler):
    parametrized = True


# The time range as SQL parameters (see compile_plan); a parameter never collides
# with the query's own text, which reaches the SQL only quoted.
_PARAMETERS = ("CAST($start_ms AS BIGINT)", "CAST($end_ms AS BIGINT)")
# QUERY_WINDOW's functions over the parameters (CAST(... AS BIGINT), as QUERY_WINDOW's are).
_WINDOW_PARAMETERS = {
    "querystarttime": Col(_PARAMETERS[0], "num"),
    "queryendtime": Col(_PARAMETERS[1], "num"),
    "querytimerange": Col(f"({_PARAMETERS[1]} - {_PARAMETERS[0]})", "num"),
}
assert _WINDOW_PARAMETERS.keys() == QUERY_WINDOW.keys(), "a QUERY_WINDOW function has no parametrized form"


def _scanned_column(statistics_sql: str) -> str:
    """recordsScanned and bytesScanned of ``statistics_sql`` as one more column of every row: an
    uncorrelated scalar subquery, which DuckDB runs once, in the same statement as the query."""
    return f"(SELECT struct_pack(records := n, bytes := b) FROM ({statistics_sql}) AS __scan(n, b)) AS __scanned"


_NULL = Col("CAST(NULL AS VARCHAR)", "null")  # a field no row has
_MESSAGE = _BASE_SCOPE["@message"]


def _message_contains(text: str) -> str:
    """SQL: whether @message contains ``text``, reading the split message columns where that is exact.

    @message is the whole raw line (an imported event's own line when it has one).
    Compaction splits the line (store/_schema.py, split_messages) so that a needle
    without a boundary character, not starting or ending with a space, is in the
    line exactly when it is in the skeleton or in a cut token; the hex-only tokens
    are read only for a needle that could be in one. Any other needle reads ``raw``.
    """
    needle = sql_string(text)
    if not text or SPLIT_BOUNDARY & set(text) or text.strip() != text:
        return f"contains({_MESSAGE.sql}, {needle})"
    parts = [f"contains(msg_skel, {needle})", f"coalesce(contains(msg_vol, {needle}), false)"]
    if set(text) <= HEX_CHARS:
        parts.append(f"coalesce(contains(msg_hex, {needle}), false)")
    return (f"(CASE WHEN raw_message IS NULL THEN ({' OR '.join(parts)})"
            f" ELSE contains(raw_message, {needle}) END)")


_LITERAL = re.compile(r"\(?\s*-?\s*(?:[0-9.]+(?:e[+-]?[0-9]+)?|'(?:[^']|'')*'|NULL)\s*\)?", re.IGNORECASE)


def _is_constant(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Number | ast.String | ast.Boolean):
        return True
    if isinstance(expr, ast.Unary):
        return _is_constant(expr.arg)
    if isinstance(expr, ast.Binary):
        return _is_constant(expr.left) and _is_constant(expr.right)
    return False


def _natural_sort_keys(col: Col) -> list[str]:
    """ORDER BY keys giving CloudWatch's documented natural sort order for text values.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Sort.html:
    "All non-number values come before all number values"; for non-number values
    consecutive digits and consecutive other characters form chunks, "non-numeric
    portions by their Unicode values", "numeric portions by their length first and
    then by their numerical value"; descending is the reverse. A number value is
    one that reads as a number (as comparisons read it), compared by value, ties
    by text (the docs list 01 before 1). Missing values stay last both ways.

    A chunk's key is a struct compared field by field: a digit run is ('0',
    length, digits): a digit sorts against any other character as '0' does, and
    equal-length digit runs compare by value as text; any other chunk is (chunk,
    0, ''). DuckDB compares the lists of them lexicographically.
    """
    text, num = col.as_str, col.as_num
    chunks = (f"[CASE WHEN c[1] BETWEEN '0' AND '9' THEN {{'a': '0', 'b': length(c), 'c': c}}"
              f" ELSE {{'a': c, 'b': 0, 'c': ''}} END"
              f" for c in regexp_extract_all({text}, '[0-9]+|[^0-9]+')]")
    return [
        f"(CASE WHEN {text} IS NOT NULL THEN {num} IS NOT NULL END)",  # non-numbers (false) first
        num,
        f"(CASE WHEN {num} IS NULL THEN {chunks} END)",
        text,
    ]


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in text)


def _class_end(body: str, start: int) -> int:
    i = start + 1
    if i < len(body) and body[i] == "^":
        i += 1
    if i < len(body) and body[i] == "]":
        i += 1
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == "]":
            return i + 1
        i += 1
    return len(body)


def _check_regex(body: str, text: str, position: int) -> None:
    try:
        re2.compile(re.sub(r"\(\?<([A-Za-z_@])", r"(?P<\1", body), _RE2_OPTIONS)
    except re2.error as exc:
        message = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise InsightsQueryError(f"invalid regular expression: {message}", text, position) from None
