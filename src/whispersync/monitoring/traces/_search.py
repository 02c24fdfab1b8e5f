"""Trace search over the telemetry store, with X-Ray's filter-expression vocabulary.

    search_traces(store, filter='agent_type = "work" AND success = false', start_ms=..., end_ms=...)
    search_traces(store, filter="duration > 0.5 OR fault", slowest=10)
    get_trace(store, trace_id)

Filter expressions (X-Ray's, plus bare annotation names)::

    annotation.agent_type = "work"     agent_type = "work"    success = false
    annotation.retries >= 2            duration > 0.5 (seconds, whole trace)
    responsetime > 0.2 (root span)     error   fault   ok   !error   NOT fault
    name CONTAINS "x" / BEGINSWITH / ENDSWITH
    a AND b, a OR b, NOT a, !a, &&, ||, ( ... )       (AND binds tighter than OR)

As in X-Ray, an annotation condition holds for a trace when any of its spans
carries a matching annotation. OTel status has no 4xx/5xx split, so ``error``
and ``fault`` both mean "a span ended with status ERROR"; ``ok`` means none did.

The expression compiles to a DuckDB ``HAVING`` clause over the spans grouped by
trace, so filtering runs in the engine, not in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from whispersync.errors import NotFound, QuerySyntaxError
from whispersync.monitoring.store import DEFAULT_QUERY_TIMEOUT

__all__ = ["TraceFilterError", "TraceSummary", "find_correlation_ids", "find_trace_ids", "get_trace",
           "parse_trace_filter", "search_traces"]


class TraceFilterError(QuerySyntaxError):
    """A filter expression that does not parse, with its position (see QuerySyntaxError)."""

    code = "invalid_filter"


@dataclass
class TraceSummary:
    """One trace as search returns it; ``started_at`` is ISO 8601 UTC (docs/json.md), ``start_ms`` epoch ms."""

    trace_id: str
    root_span: str | None
    started_at: str
    start_ms: int
    duration_ms: float
    correlation_id: str | None
    has_error: bool
    span_count: int
    annotations: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ parsing

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|!)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<num>-?(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?\d++)?+(?![\w.]))
    | (?P<word>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?(?:\[[A-Za-z_]\w*\])?)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "CONTAINS", "BEGINSWITH", "ENDSWITH", "TRUE", "FALSE"}
_FLAGS = {"error", "fault", "ok"}
_DURATIONS = {"duration", "responsetime"}
_COMPARE = {"=", "!=", "<", "<=", ">", ">="}
_STRING_OPS = {"CONTAINS": "contains", "BEGINSWITH": "starts_with", "ENDSWITH": "ends_with"}
# NOT and parentheses nest at most MAX_NESTING deep (the parser recurses), and an
# expression holds at most MAX_CONDITIONS conditions (each is a clause of the SQL).
MAX_NESTING = 32
MAX_CONDITIONS = 200


@dataclass(frozen=True)
class _Tok:
    kind: str  # "op", "str", "num", "word", "end"
    text: str
    pos: int
    value: Any = None


def _tokenize(text: str) -> Iterator[_Tok]:
    """Tokens one at a time: the parser stops at the first error (a nesting limit
    reached after 33 parentheses) without scanning the rest of a huge input."""
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise TraceFilterError(f"unexpected character {text[i]!r}", text, i)
        kind = m.lastgroup
        raw = m.group(0)
        if kind == "str":
            body = raw[1:-1]
            yield _Tok("str", raw, i, re.sub(r"\\(.)", r"\1", body))
        elif kind == "num":
            yield _Tok("num", raw, i, float(raw))
        elif kind != "ws":
            yield _Tok(kind, raw, i)
        i = m.end()
    yield _Tok("end", "", len(text))


class _Compiler:
    """Recursive descent straight to SQL: ``or := and (OR and)*``, ``and := unary (AND unary)*``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._pending = _tokenize(text)
        self.tokens: list[_Tok] = []
        self.i = 0
        self.params: list[Any] = []
        self.nesting = 0
        self.conditions = 0

    @property
    def tok(self) -> _Tok:
        while self.i >= len(self.tokens):
            self.tokens.append(next(self._pending))
        return self.tokens[self.i]

    def _is(self, *words: str) -> bool:
        t = self.tok
        return (t.kind == "op" and t.text in words) or (t.kind == "word" and t.text.upper() in words)

    def _fail(self, message: str) -> TraceFilterError:
        return TraceFilterError(message, self.text, self.tok.pos)

    def compile(self) -> str:
        if self.tok.kind == "end":
            raise self._fail("empty filter expression")
        sql = self._or()
        if self.tok.kind != "end":
            raise self._fail("expected AND, OR or the end of the expression")
        return sql

    def _or(self) -> str:
        parts = [self._and()]
        while self._is("OR", "||"):
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self) -> str:
        parts = [self._unary()]
        while self._is("AND", "&&"):
            self.i += 1
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _unary(self) -> str:
        if self._is("NOT", "!", "("):
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise self._fail(f"the expression is nested too deeply (more than {MAX_NESTING} levels)")
            if self._is("("):
                self.i += 1
                inner = self._or()
                if not self._is(")"):
                    raise self._fail("expected )")
                self.i += 1
            else:
                self.i += 1
                inner = f"(NOT {self._unary()})"
            self.nesting -= 1
            return inner
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self._fail(f"the expression has more than {MAX_CONDITIONS} conditions")
        return self._condition()

    def _condition(self) -> str:
        t = self.tok
        if t.kind != "word" or t.text.upper() in _KEYWORDS:
            raise self._fail("expected an annotation name, duration, responsetime, error, fault or ok")
        self.i += 1
        name = t.text
        lowered = name.lower()
        if lowered in _FLAGS and not self._comparison_follows():
            return {"error": "bool_or(status = 'ERROR')", "fault": "bool_or(status = 'ERROR')",
                    "ok": "NOT bool_or(status = 'ERROR')"}[lowered]
        op, op_tok = self._operator()
        value = self._literal()
        if lowered in _DURATIONS:
            if op not in _COMPARE or not isinstance(value, float):
                raise TraceFilterError(f"{name} compares with a number of seconds", self.text, op_tok.pos)
            column = "_duration_ms" if lowered == "duration" else "_root_duration_ms"
            self.params.append(value * 1000.0)
            return f"({column} {op} ?)"
        if lowered in _FLAGS:
            if op not in ("=", "!=") or not isinstance(value, bool):
                raise TraceFilterError(f"{name} compares with true or false", self.text, op_tok.pos)
            flag = "bool_or(status = 'ERROR')" if lowered != "ok" else "NOT bool_or(status = 'ERROR')"
            return flag if (op == "=") == value else f"(NOT {flag})"
        key = _annotation_key(name)
        if key is None:
            raise TraceFilterError(f"unknown field {name!r}; use annotation.<key>", self.text, t.pos)
        return self._annotation(key, op, value, op_tok)

    def _comparison_follows(self) -> bool:
        return (self.tok.kind == "op" and self.tok.text in _COMPARE) or self._is(*_STRING_OPS)

    def _operator(self) -> tuple[str, _Tok]:
        t = self.tok
        if t.kind == "op" and t.text in _COMPARE:
            self.i += 1
            return t.text, t
        if t.kind == "word" and t.text.upper() in _STRING_OPS:
            self.i += 1
            return t.text.upper(), t
        raise self._fail("expected a comparison (=, !=, <, <=, >, >=, CONTAINS, BEGINSWITH, ENDSWITH)")

    def _literal(self) -> Any:
        t = self.tok
        if t.kind in ("str", "num"):
            self.i += 1
            return t.value
        if t.kind == "word" and t.text.upper() in ("TRUE", "FALSE"):
            self.i += 1
            return t.text.upper() == "TRUE"
        raise self._fail('expected a value: "string", number, true or false')

    def _annotation(self, key: str, op: str, value: Any, op_tok: _Tok) -> str:
        path = '$."' + key + '"'
        kind = "json_type(annotations, ?)"
        text = "json_extract_string(annotations, ?)"
        if op in _STRING_OPS:
            if not isinstance(value, str):
                raise TraceFilterError(f"{op} needs a string", self.text, op_tok.pos)
            self.params += [path, path, value]
            return f"bool_or({kind} = 'VARCHAR' AND {_STRING_OPS[op]}({text}, ?))"
        if isinstance(value, bool):
            if op not in ("=", "!="):
                raise TraceFilterError(f"{op} does not apply to true/false", self.text, op_tok.pos)
            self.params += [path, path, "true" if value else "false"]
            return f"bool_or({kind} = 'BOOLEAN' AND {text} {op} ?)"
        if isinstance(value, float):
            self.params += [path, path, value]
            return (f"bool_or({kind} IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"
                    f" AND CAST({text} AS DOUBLE) {op} ?)")
        self.params += [path, path, value]
        return f"bool_or({kind} = 'VARCHAR' AND {text} {op} ?)"


def _annotation_key(name: str) -> str | None:
    if name.startswith("annotation.") and re.fullmatch(r"\w+", name[11:]):
        return name[11:]
    if m := re.fullmatch(r"annotation\[(\w+)\]", name):
        return m.group(1)
    if re.fullmatch(r"\w+", name):
        return name
    return None


def parse_trace_filter(expression: str) -> tuple[str, list[Any]]:
    """Compile a filter expression to a SQL condition over grouped spans, with its parameters."""
    compiler = _Compiler(expression)
    return compiler.compile(), compiler.params


# ------------------------------------------------------------------- search

# Root spans sort first: a span whose parent is not in the trace. Adding 4e18 ns
# (~127 years) to non-roots keeps the key a BIGINT without overflow.
_NOT_ROOT = 4_000_000_000_000_000_000


def search_traces(
    store: Any,
    *,
    filter: str | None = None,
    trace_id: str | None = None,
    correlation_id: str | None = None,
    errors: bool = False,
    min_duration_ms: float | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    slowest: int | None = None,
    limit: int = 100,
    timeout: float | None = DEFAULT_QUERY_TIMEOUT,
) -> list[TraceSummary]:
    """Traces that started in ``[start_ms, end_ms]`` and satisfy every condition given.

    Newest first; with ``slowest=N`` the N longest, longest first. A search that
    runs past ``timeout`` seconds is interrupted: QueryTimeout.
    """
    having, params = [], []
    if filter is not None and filter.strip():
        sql, filter_params = parse_trace_filter(filter)
        having.append(sql)
        params += filter_params
    if correlation_id is not None:
        having.append("bool_or(correlation_id = ?)")
        params.append(correlation_id)
    if errors:
        having.append("bool_or(status = 'ERROR')")
    if min_duration_ms is not None:
        having.append("_duration_ms >= ?")
        params.append(float(min_duration_ms))
    where, where_params = [], []
    if trace_id is not None:
        where.append("s.trace_id = ?")
        where_params.append(trace_id)
    if start_ms is not None:
        having.append("min(start_time_unix_nano) >= CAST(? AS BIGINT) * 1000000")
        params.append(start_ms)
        # No pruning of spans by their start: a trace that started before the range
        # would lose its early spans and then look as if it started in range.
    if end_ms is not None:
        having.append("min(start_time_unix_nano) <= CAST(? AS BIGINT) * 1000000 + 999999")
        params.append(end_ms)
    order = "_duration_ms DESC, trace_id" if slowest is not None else "start_ns DESC, trace_id"
    count = slowest if slowest is not None else limit
    if count is None or count < 1:
        raise ValueError(f"limit must be at least 1, got {count}")
    sql = f"""
        WITH s AS (
            SELECT s.*, (p.span_id IS NULL) AS is_root
            FROM spans s LEFT JOIN spans p ON p.trace_id = s.trace_id AND p.span_id = s.parent_span_id
            WHERE s.trace_id IS NOT NULL {"AND " + " AND ".join(where) if where else ""}
        ), t AS (
            SELECT trace_id,
                   min(start_time_unix_nano) AS start_ns,
                   (max(end_time_unix_nano) - min(start_time_unix_nano)) / 1e6 AS _duration_ms,
                   arg_min(duration_ms, start_time_unix_nano + CASE WHEN is_root THEN 0 ELSE {_NOT_ROOT} END)
                       AS _root_duration_ms,
                   arg_min(name, start_time_unix_nano + CASE WHEN is_root THEN 0 ELSE {_NOT_ROOT} END) AS root_span,
                   min(correlation_id) AS correlation_id,
                   bool_or(status = 'ERROR') AS has_error,
                   count(*) AS span_count,
                   list(annotations ORDER BY start_time_unix_nano) FILTER (WHERE annotations IS NOT NULL)
                       AS annotations
            FROM s GROUP BY trace_id
            {"HAVING " + " AND ".join(having) if having else ""}
        )
        SELECT trace_id, root_span, start_ns, _duration_ms, correlation_id, has_error, span_count, annotations
        FROM t ORDER BY {order} LIMIT ?
    """
    # _query flushes this process's buffer first and retries when compaction
    # swaps a file underneath the view.
    rows = store._query(sql, [*where_params, *params, count], timeout=timeout)
    return [_summary(*row) for row in rows]


def _summary(trace_id, root_span, start_ns, duration_ms, correlation_id, has_error, span_count, annotations):
    merged: dict[str, Any] = {}
    for text in annotations or []:
        for key, value in (orjson.loads(text) or {}).items():
            merged.setdefault(key, value)  # the earliest span's value wins
    start_ms = int(start_ns // 1_000_000)
    return TraceSummary(
        trace_id=trace_id,
        root_span=root_span,
        started_at=datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        start_ms=start_ms,
        duration_ms=round(float(duration_ms), 3),
        correlation_id=correlation_id,
        has_error=bool(has_error),
        span_count=int(span_count),
        annotations=merged,
    )


def get_trace(store: Any, trace_id: str) -> dict[str, Any]:
    """``{"summary": {...}, "spans": [...]}`` for one trace; :class:`NotFound` if it has no spans."""
    spans = store.spans(trace_id=trace_id)
    if not spans:
        raise NotFound(f"no trace {trace_id!r} (telemetry reaches the store within a second or two)")
    found = search_traces(store, trace_id=trace_id, limit=1)
    return {"trace_id": trace_id, "summary": found[0].to_dict() if found else None, "spans": spans}


def find_trace_ids(store: Any, prefix: str, limit: int = 10) -> list[str]:
    """Trace ids starting with ``prefix`` (at most ``limit``, sorted), as git resolves a short hash."""
    return _distinct_with_prefix(store, "spans", "trace_id", prefix, limit)


def find_correlation_ids(store: Any, prefix: str, limit: int = 10) -> list[str]:
    """Correlation ids seen in spans or logs that start with ``prefix`` (at most ``limit``, sorted)."""
    found = set(_distinct_with_prefix(store, "spans", "correlation_id", prefix, limit))
    found.update(_distinct_with_prefix(store, "logs", "correlation_id", prefix, limit))
    return sorted(found)[:limit]


def _distinct_with_prefix(store: Any, table: str, column: str, prefix: str, limit: int) -> list[str]:
    if not prefix:
        return []
    # starts_with, not LIKE: '%' and '_' in what the user typed are literal.
    sql = f"SELECT DISTINCT {column} FROM {table} WHERE starts_with({column}, ?) ORDER BY {column} LIMIT ?"
    return [value for (value,) in store._query(sql, [prefix, limit])]
