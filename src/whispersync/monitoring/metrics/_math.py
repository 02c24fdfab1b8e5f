"""CloudWatch metric math: lexer, parser and evaluator.

The specification is CloudWatch's "Metric math syntax and functions" page. The
rules that matter most, quoted or paraphrased from it:

* Ids start with a lowercase letter; functions and keywords are UPPERCASE.
* Values are scalars (S), time series (TS) or arrays of time series (TS[]).
* Arithmetic ``+ - * / ^`` works on S, TS and TS[]; between two time series
  "missing values in a time series are treated as 0", and "if the value of a data
  point causes a function to attempt to divide by zero, the data point is dropped".
  A timestamp missing from *both* sides stays missing.
* Comparison (``== != <= >= < >``) and logical operators (``AND``/``&&``,
  ``OR``/``||``) return 1 or 0; between two series a missing value is 0.
* ``IF(cond, a, b)`` follows the documented table: cond TRUE and ``a`` missing
  gives 0, cond FALSE and ``b`` missing (or omitted) drops the point.
* The final result of an expression must be a TS or a TS[] (checked by the caller,
  ``metric_query``), never a scalar.

    expr = parse("errors/invocations*100")
    value = evaluate(expr, context)

``Context`` supplies what an expression can see: the series of every id, which ids
are metrics (for ``METRICS()``), their periods, and the query's time grid (for
``FILL``, ``TIME_SERIES`` and the time functions).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Union

import numpy as np

from whispersync.errors import QuerySyntaxError, QueryTimeout
from whispersync.monitoring.metrics._errors import MetricQueryError

__all__ = [
    "MAX_DEPTH",
    "MAX_NESTING",
    "Context",
    "MetricMathError",
    "Node",
    "Series",
    "Value",
    "evaluate",
    "parse",
    "references",
    "uses_metrics_function",
]


# ---------------------------------------------------------------------- values


@dataclass
class Series:
    """One time series: ascending epoch-ms timestamps and their values."""

    timestamps: list[int]
    values: list[float]
    label: str = ""

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.timestamps, self.values))

    @classmethod
    def from_dict(cls, points: dict[int, float], label: str = "") -> Series:
        ts = sorted(points)
        return cls(ts, [points[t] for t in ts], label)


Value = Union[float, Series, list[Series]]


@dataclass
class Context:
    """What an expression sees while it is evaluated.

    ``resolve(id)`` returns the value of another query (metric or expression);
    ``metric_ids`` lists the metric queries in request order (``METRICS()``);
    ``periods`` maps metric ids to their period in seconds (``PERIOD()``);
    ``grid`` is every timestamp of the query range at the expression's period,
    the "non-sparse" time series of ``FILL`` and ``TIME_SERIES``.
    """

    resolve: Callable[[str], Value]
    metric_ids: Sequence[str] = ()
    periods: dict[str, int] = field(default_factory=dict)
    grid: Sequence[int] = ()
    deadline: float | None = None  # time.monotonic() past which evaluation raises QueryTimeout
    # band(id, k) -> [upper, lower]: ANOMALY_DETECTION_BAND over that query's history (the caller
    # fetches the training data the query range does not hold); None where no band can be drawn.
    band: Callable[[str, float], list[Series]] | None = None


# ---------------------------------------------------------------------- lexer

_TWO_CHAR_OPS = {"==", "!=", "<=", ">=", "&&", "||"}
_ONE_CHAR_OPS = set("+-*/^<>()[],")
_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201d": "\u201d", "'": "'"}


@dataclass(frozen=True)
class _Token:
    kind: str  # NUM, ID, NAME (uppercase word), STR, OP, END
    text: str
    pos: int


# Parentheses, brackets, calls and unary signs nest at most MAX_NESTING deep, and an
# expression tree is at most MAX_DEPTH deep (a chain a+b+c+... is as deep as it is
# long): parsing and evaluating recurse, and Python's stack is ~1000 frames.
MAX_NESTING = 32
MAX_DEPTH = 200


class MetricMathError(QuerySyntaxError):
    """An expression that does not parse, with its position (see QuerySyntaxError).
    An expression that parses but cannot be computed raises MetricQueryError."""

    code = "invalid_expression"


def _error(expression: str, pos: int, message: str) -> MetricMathError:
    return MetricMathError(message, expression, pos)


def _tokenize(expression: str) -> Iterator[_Token]:
    """Tokens one at a time: the parser stops at its first error without scanning
    the rest of a huge input."""
    i, n = 0, len(expression)
    while i < n:
        c = expression[i]
        if c.isspace():
            i += 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and expression[i + 1].isdigit()):
            j = i
            while j < n and (expression[j].isdigit() or expression[j] == "."):
                j += 1
            if j < n and expression[j] in "eE":
                k = j + 1
                if k < n and expression[k] in "+-":
                    k += 1
                if k < n and expression[k].isdigit():
                    j = k
                    while j < n and expression[j].isdigit():
                        j += 1
            text = expression[i:j]
            try:
                float(text)
            except ValueError:
                raise _error(expression, i, f"malformed number {text!r}") from None
            yield _Token("NUM", text, i)
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (expression[j].isalnum() or expression[j] == "_"):
                j += 1
            word = expression[i:j]
            if word[0].islower():
                yield _Token("ID", word, i)
            elif word.isupper():
                yield _Token("NAME", word, i)
            else:
                raise _error(
                    expression, i,
                    f"{word!r} is neither an id (starts with a lowercase letter) nor a function"
                    " (all UPPERCASE)",
                )
            i = j
            continue
        if c in _QUOTES:
            close = _QUOTES[c]
            j = expression.find(close, i + 1)
            if j < 0:
                raise _error(expression, i, "unterminated string")
            yield _Token("STR", expression[i + 1 : j], i)
            i = j + 1
            continue
        two = expression[i : i + 2]
        if two in _TWO_CHAR_OPS:
            yield _Token("OP", two, i)
            i += 2
            continue
        if c in _ONE_CHAR_OPS:
            yield _Token("OP", c, i)
            i += 1
            continue
        raise _error(expression, i, f"unexpected character {c!r}")
    yield _Token("END", "", n)


# ---------------------------------------------------------------------- parser


@dataclass(frozen=True)
class Node:
    """A parsed expression: ``kind`` is num, id, str, word, neg, binop, call or array."""

    kind: str
    value: object = None
    args: tuple[Node, ...] = ()
    pos: int = 0
    depth: int = field(default=1, compare=False, repr=False)  # of the tree under this node


# Lowest to highest binding. ``^`` binds tighter than unary minus (-2^2 = -4).
_BINARY_LEVELS: list[set[str]] = [
    {"OR", "||"},
    {"AND", "&&"},
    {"==", "!=", "<=", ">=", "<", ">"},
    {"+", "-"},
    {"*", "/"},
]
_WORDS = {"REPEAT", "LINEAR", "ASC", "DESC"}


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._pending = _tokenize(expression)
        self.tokens: list[_Token] = []
        self.i = 0
        self.nesting = 0

    def node(self, kind: str, value: object, args: tuple[Node, ...], pos: int) -> Node:
        depth = 1 + max((a.depth for a in args), default=0)
        if depth > MAX_DEPTH:
            raise _error(self.expression, pos, f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        return Node(kind, value, args, pos, depth)

    def enter(self, tok: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise _error(self.expression, tok.pos,
                         f"the expression is nested too deeply (more than {MAX_NESTING} levels of (), [], calls or signs)")

    def peek(self) -> _Token:
        while self.i >= len(self.tokens):
            self.tokens.append(next(self._pending))
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str) -> _Token:
        tok = self.take()
        if tok.kind != "OP" or tok.text != text:
            raise self.error(tok, f"expected {text!r}")
        return tok

    def error(self, tok: _Token, message: str) -> MetricMathError:
        found = "end of expression" if tok.kind == "END" else repr(tok.text)
        return _error(self.expression, tok.pos, f"{message}, found {found}")

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise _error(self.expression, 0, "empty expression")
        node = self.binary(0)
        tok = self.peek()
        if tok.kind != "END":
            raise self.error(tok, "expected an operator or the end of the expression")
        return node

    def _is_op(self, tok: _Token, ops: set[str]) -> bool:
        return (tok.kind == "OP" or (tok.kind == "NAME" and tok.text in ("AND", "OR"))) and tok.text in ops

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self._is_op(self.peek(), _BINARY_LEVELS[level]):
            tok = self.take()
            op = {"AND": "&&", "OR": "||"}.get(tok.text, tok.text)
            right = self.binary(level + 1)
            left = self.node("binop", op, (left, right), tok.pos)
        return left

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "OP" and tok.text in ("+", "-"):
            self.take()
            self.enter(tok)
            operand = self.unary()
            self.nesting -= 1
            return operand if tok.text == "+" else self.node("neg", None, (operand,), tok.pos)
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        tok = self.peek()
        if tok.kind == "OP" and tok.text == "^":
            self.take()
            self.enter(tok)
            exponent = self.unary()  # right associative: 2^3^2 = 2^9
            self.nesting -= 1
            return self.node("binop", "^", (base, exponent), tok.pos)
        return base

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "NUM":
            return Node("num", float(tok.text), pos=tok.pos)
        if tok.kind == "ID":
            return Node("id", tok.text, pos=tok.pos)
        if tok.kind == "STR":
            return Node("str", tok.text, pos=tok.pos)
        if tok.kind == "NAME":
            if self.peek().kind == "OP" and self.peek().text == "(":
                self.enter(self.take())
                args: list[Node] = []
                if not (self.peek().kind == "OP" and self.peek().text == ")"):
                    args.append(self.binary(0))
                    while self.peek().kind == "OP" and self.peek().text == ",":
                        self.take()
                        args.append(self.binary(0))
                self.expect(")")
                self.nesting -= 1
                if tok.text not in _FUNCTIONS:
                    raise _error(self.expression, tok.pos, f"unknown function {tok.text!r}")
                return self.node("call", tok.text, tuple(args), tok.pos)
            if tok.text in _WORDS or tok.text in _FUNCTIONS:
                return Node("word", tok.text, pos=tok.pos)
            raise _error(self.expression, tok.pos, f"unknown name {tok.text!r}")
        if tok.kind == "OP" and tok.text == "(":
            self.enter(tok)
            node = self.binary(0)
            self.expect(")")
            self.nesting -= 1
            return node
        if tok.kind == "OP" and tok.text == "[":
            self.enter(tok)
            items: list[Node] = []
            if not (self.peek().kind == "OP" and self.peek().text == "]"):
                items.append(self.binary(0))
                while self.peek().kind == "OP" and self.peek().text == ",":
                    self.take()
                    items.append(self.binary(0))
            self.expect("]")
            self.nesting -= 1
            return self.node("array", None, tuple(items), tok.pos)
        raise self.error(tok, "expected a number, an id, a function or '('")


def parse(expression: str) -> Node:
    """Parse a metric math expression; raises MetricMathError naming the position."""
    if not isinstance(expression, str):
        raise TypeError(f"expression must be a string, got {type(expression).__name__}")
    return _Parser(expression).parse()


def references(node: Node) -> set[str]:
    """The ids an expression refers to directly (``METRICS()`` not included)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.kind == "id":
            out.add(str(n.value))
        stack.extend(n.args)
    return out


def uses_metrics_function(node: Node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.kind == "call" and n.value == "METRICS":
            return True
        stack.extend(n.args)
    return False


# ---------------------------------------------------------------------- evaluation


def evaluate(node: Node, context: Context) -> Value:
    """Evaluate a parsed expression to a scalar, a series or an array of series.

    Raises MetricQueryError for a value an operation cannot take, QueryTimeout past
    ``context.deadline``.
    """
    if context.deadline is not None and time.monotonic() > context.deadline:
        raise QueryTimeout("the metric math expression ran past its time budget")
    kind = node.kind
    if kind == "num":
        return float(node.value)  # type: ignore[arg-type]
    if kind == "id":
        return context.resolve(str(node.value))
    if kind == "neg":
        return _map(evaluate(node.args[0], context), lambda v: -v)
    if kind == "binop":
        left = evaluate(node.args[0], context)
        right = evaluate(node.args[1], context)
        return _binary(str(node.value), left, right)
    if kind == "array":
        items: list[Series] = []
        for arg in node.args:
            value = evaluate(arg, context)
            if isinstance(value, Series):
                items.append(value)
            elif isinstance(value, list):
                items.extend(value)
            else:
                raise MetricQueryError("an array [...] may hold only time series, not scalars")
        return items
    if kind == "call":
        return _FUNCTIONS[str(node.value)](node, context)
    if kind == "str":
        raise MetricQueryError(f"a string ({node.value!r}) is only valid as the argument of METRICS()")
    raise MetricQueryError(f"{node.value} is only valid as an argument of FILL or SORT")


def _map(value: Value, fn: Callable[[float], float]) -> Value:
    """Apply ``fn`` to every point; points where it is undefined (NaN, inf, error) are dropped."""
    if isinstance(value, list):
        return [_map(s, fn) for s in value]  # type: ignore[misc]
    if isinstance(value, Series):
        ts, vs = [], []
        for t, v in zip(value.timestamps, value.values):
            r = _safe(fn, v)
            if r is not None:
                ts.append(t)
                vs.append(r)
        return Series(ts, vs, value.label)
    r = _safe(fn, value)
    if r is None:
        raise MetricQueryError("a scalar computation divided by zero or was undefined")
    return r


def _safe(fn: Callable[..., float], *args: float) -> float | None:
    try:
        r = fn(*args)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    if isinstance(r, complex) or math.isnan(r) or math.isinf(r):
        return None
    return float(r)


def _pow(a: float, b: float) -> float:
    if a == 0 and b < 0:
        raise ZeroDivisionError
    return a**b


_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "^": _pow,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    ">": lambda a, b: float(a > b),
    "<=": lambda a, b: float(a <= b),
    ">=": lambda a, b: float(a >= b),
    "&&": lambda a, b: float(a != 0 and b != 0),
    "||": lambda a, b: float(a != 0 or b != 0),
}


# The arithmetic and comparisons over a long series go through numpy: CPython's loop with
# its per-point checks costs ~0.2 µs a point (benchmarks/metrics_query.py's 24 h rate at
# 60 s, two operators over 1,440 points: 1.2 -> 0.6-0.9 ms a query; issue 15). The same
# IEEE doubles give the same answers, and where Python raises (x/0) numpy makes an
# infinity or a NaN: dropped alike. "^", "&&" and "||" keep the loop (powers can be
# complex; the logic reads truthiness).
_NUMPY_OPS: dict[str, np.ufunc] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
    "==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal,
}
_NUMPY_MIN_POINTS = 64  # below this numpy's fixed cost (~10 µs) is more than the loop's


def _numpy_binary(op: str, left: Series | float, right: Series | float, like: Series) -> Series:
    """``left op right`` point by point, *like*'s timestamps and label; one side may be a scalar."""
    a = np.asarray(left.values if isinstance(left, Series) else left, dtype=np.float64)
    b = np.asarray(right.values if isinstance(right, Series) else right, dtype=np.float64)
    with np.errstate(all="ignore"):
        result = _NUMPY_OPS[op](a, b).astype(np.float64, copy=False)
    finite = np.isfinite(result)
    if finite.all():
        return Series(list(like.timestamps), result.tolist(), like.label)
    return Series(np.asarray(like.timestamps, dtype=np.int64)[finite].tolist(), result[finite].tolist(), like.label)


def _binary(op: str, left: Value, right: Value) -> Value:
    fn = _OPS[op]
    if op in _NUMPY_OPS:
        if isinstance(left, Series):
            if len(left.timestamps) >= _NUMPY_MIN_POINTS and (
                not isinstance(right, (Series, list)) or (isinstance(right, Series)
                                                          and right.timestamps == left.timestamps)):
                return _numpy_binary(op, left, right if isinstance(right, Series) else float(right), left)
        elif isinstance(right, Series) and not isinstance(left, list) and len(right.timestamps) >= _NUMPY_MIN_POINTS:
            return _numpy_binary(op, float(left), right, right)
    if isinstance(left, list) or isinstance(right, list):
        if isinstance(left, list) and isinstance(right, list):
            if len(left) != len(right):
                raise MetricQueryError(
                    f"cannot combine arrays of {len(left)} and {len(right)} time series with {op!r}"
                )
            return [_binary(op, a, b) for a, b in zip(left, right)]  # type: ignore[misc]
        if isinstance(left, list):
            return [_binary(op, a, right) for a in left]  # type: ignore[misc]
        return [_binary(op, left, b) for b in right]  # type: ignore[union-attr,misc]
    if isinstance(left, Series) and isinstance(right, Series):
        return _series_op(fn, left, right)
    if isinstance(left, Series):
        r = float(right)  # type: ignore[arg-type]
        return _map(left, lambda v: fn(v, r))
    if isinstance(right, Series):
        lv = float(left)
        return _map(right, lambda v: fn(lv, v))
    result = _safe(fn, left, right)  # type: ignore[arg-type]
    if result is None:
        raise MetricQueryError(f"scalar {left:g} {op} {right:g} is undefined")
    return result


def _series_op(fn: Callable[[float, float], float], a: Series, b: Series) -> Series:
    """Point by point over the union of timestamps; a side missing a timestamp counts as 0."""
    if a.timestamps == b.timestamps:  # the common case: no dict needed
        ts, vs = [], []
        for t, x, y in zip(a.timestamps, a.values, b.values):
            r = _safe(fn, x, y)
            if r is not None:
                ts.append(t)
                vs.append(r)
        return Series(ts, vs, a.label)
    da, db = a.as_dict(), b.as_dict()
    out: dict[int, float] = {}
    for t in set(da) | set(db):
        r = _safe(fn, da.get(t, 0.0), db.get(t, 0.0))
        if r is not None:
            out[t] = r
    return Series.from_dict(out, a.label)


# ---------------------------------------------------------------------- functions


def _arg_count(node: Node, low: int, high: int | None = None) -> None:
    high = low if high is None else high
    n = len(node.args)
    if not low <= n <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise MetricQueryError(f"{node.value}() takes {want} argument(s), got {n} (position {node.pos + 1})")


def _series_or_array(node: Node, context: Context, index: int = 0) -> Series | list[Series]:
    value = evaluate(node.args[index], context)
    if not isinstance(value, (Series, list)):
        raise MetricQueryError(f"{node.value}() needs a time series or an array of time series, got a scalar")
    return value


def _per_series(fn: Callable[[Series], Series]) -> Callable[[Node, Context], Value]:
    def call(node: Node, context: Context) -> Value:
        _arg_count(node, 1)
        value = _series_or_array(node, context)
        if isinstance(value, list):
            return [fn(s) for s in value]
        return fn(value)

    return call


def _pointwise(fn: Callable[[float], float]) -> Callable[[Node, Context], Value]:
    def call(node: Node, context: Context) -> Value:
        _arg_count(node, 1)
        return _map(_series_or_array(node, context), fn)

    return call


def _pairwise(s: Series, fn: Callable[[int, float, int, float], float]) -> Series:
    """fn(prev_t, prev_v, t, v) for each point after the first; the first point has no predecessor."""
    ts, vs = [], []
    for i in range(1, len(s.timestamps)):
        r = _safe(fn, s.timestamps[i - 1], s.values[i - 1], s.timestamps[i], s.values[i])
        if r is not None:
            ts.append(s.timestamps[i])
            vs.append(r)
    return Series(ts, vs, s.label)


def _rate(s: Series) -> Series:
    # "the difference between the latest data point value and the previous data
    # point value, divided by the time difference in seconds between the two values"
    return _pairwise(s, lambda pt, pv, t, v: (v - pv) / ((t - pt) / 1000))


def _diff(s: Series) -> Series:
    return _pairwise(s, lambda pt, pv, t, v: v - pv)


def _diff_time(s: Series) -> Series:
    return _pairwise(s, lambda pt, pv, t, v: (t - pt) / 1000)


def _running_sum(s: Series) -> Series:
    total, out = 0.0, []
    for v in s.values:
        total += v
        out.append(total)
    return Series(list(s.timestamps), out, s.label)


def _pstdev(values: Sequence[float]) -> float:
    n = len(values)
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / n)


_REDUCERS: dict[str, Callable[[Sequence[float]], float]] = {
    "SUM": math.fsum,
    "AVG": lambda vs: math.fsum(vs) / len(vs),
    "MIN": min,
    "MAX": max,
    # CloudWatch does not say population or sample; population (divide by n)
    # keeps STDDEV of a single point defined (0).
    "STDDEV": _pstdev,
}


def _reducer(name: str) -> Callable[[Node, Context], Value]:
    reduce = _REDUCERS[name]

    def call(node: Node, context: Context) -> Value:
        _arg_count(node, 1)
        value = _series_or_array(node, context)
        if isinstance(value, Series):
            # TS -> S: over the datapoints present. No datapoints: no value.
            if not value.values:
                raise MetricQueryError(f"{name}() of a time series without datapoints has no value")
            return float(reduce(value.values))
        # TS[] -> TS, per timestamp over the union; "missing values are treated as 0".
        if not value:
            return Series([], [], name)
        stamps = sorted({t for s in value for t in s.timestamps})
        dicts = [s.as_dict() for s in value]
        out = [float(reduce([d.get(t, 0.0) for d in dicts])) for t in stamps]
        return Series(stamps, out, name)

    return call


def _datapoint_count(node: Node, context: Context) -> Value:
    _arg_count(node, 1)
    value = _series_or_array(node, context)
    if isinstance(value, Series):
        return float(len(value.values))
    counts: dict[int, float] = {}
    for s in value:
        for t in s.timestamps:
            counts[t] = counts.get(t, 0.0) + 1
    return Series.from_dict(counts, "DATAPOINT_COUNT")


def _metric_count(node: Node, context: Context) -> Value:
    _arg_count(node, 1)
    value = evaluate(node.args[0], context)
    if not isinstance(value, list):
        raise MetricQueryError("METRIC_COUNT() needs an array of time series")
    return float(len(value))


def _metrics(node: Node, context: Context) -> Value:
    _arg_count(node, 0, 1)
    needle = None
    if node.args:
        if node.args[0].kind != "str":
            raise MetricQueryError('METRICS() takes an optional string, e.g. METRICS("errors")')
        needle = str(node.args[0].value)
    out = []
    for mid in context.metric_ids:
        if needle is None or needle in mid:
            value = context.resolve(mid)
            if isinstance(value, Series):
                out.append(value)
    return out


def _fill(node: Node, context: Context) -> Value:
    _arg_count(node, 2)
    target = _series_or_array(node, context)
    how = node.args[1]
    if how.kind == "word" and how.value in ("REPEAT", "LINEAR"):
        filler: object = how.value
    else:
        filler = evaluate(how, context)
        if isinstance(filler, list):
            raise MetricQueryError("FILL()'s second argument must be a scalar, a time series, REPEAT or LINEAR")
    if isinstance(target, list):
        return [_fill_one(s, filler, _grid(context)) for s in target]
    return _fill_one(target, filler, _grid(context))


# GetMetricData returns at most 100,800 datapoints per call; a non-sparse series
# longer than that (a 1-second period over months) would only exhaust memory.
MAX_GRID_POINTS = 100_800


def _grid(context: Context) -> list[int]:
    if len(context.grid) > MAX_GRID_POINTS:
        raise MetricQueryError(
            f"the time range holds {len(context.grid)} periods; FILL, TIME_SERIES and the time functions"
            f" work on at most {MAX_GRID_POINTS:,} datapoints: narrow the range or use a longer period"
        )
    return list(context.grid)


def _fill_one(s: Series, filler: object, grid: Sequence[int]) -> Series:
    points = s.as_dict()
    missing = [t for t in grid if t not in points]
    if not missing:
        return s
    if isinstance(filler, float):
        for t in missing:
            points[t] = filler
    elif isinstance(filler, Series):
        other = filler.as_dict()
        for t in missing:
            if t in other:
                points[t] = other[t]
    elif filler == "REPEAT":
        # The most recent actual value before the gap; nothing before it: left missing.
        gaps, last = set(missing), None
        for t in sorted(gaps | set(s.timestamps)):
            if t not in gaps:
                last = points[t]
            elif last is not None:
                points[t] = last
    else:  # LINEAR: interpolate between the values on both sides of the gap.
        known = s.timestamps
        for t in missing:
            k = bisect.bisect_left(known, t)
            if 0 < k < len(known):
                t0, t1 = known[k - 1], known[k]
                v0, v1 = s.values[k - 1], s.values[k]
                points[t] = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return Series.from_dict(points, s.label)


def _if(node: Node, context: Context) -> Value:
    _arg_count(node, 2, 3)
    cond = evaluate(node.args[0], context)
    then = evaluate(node.args[1], context)
    other = evaluate(node.args[2], context) if len(node.args) == 3 else None
    if isinstance(cond, list) or isinstance(then, list) or isinstance(other, list):
        raise MetricQueryError("IF() works on time series and scalars, not arrays of time series")
    if not isinstance(cond, Series):
        chosen = then if cond != 0 else other
        if chosen is None:
            return Series([], [], "")
        return chosen
    then_d = then.as_dict() if isinstance(then, Series) else None
    other_d = other.as_dict() if isinstance(other, Series) else None
    out: dict[int, float] = {}
    for t, c in zip(cond.timestamps, cond.values):
        if c != 0:
            # TRUE with no datapoint in the "then" series: 0 (documented).
            out[t] = then_d.get(t, 0.0) if then_d is not None else float(then)  # type: ignore[arg-type]
        elif other is None:
            continue
        elif other_d is not None:
            if t in other_d:
                out[t] = other_d[t]
        else:
            out[t] = float(other)  # type: ignore[arg-type]
    return Series.from_dict(out, cond.label)


def _time_series(node: Node, context: Context) -> Value:
    _arg_count(node, 1)
    value = evaluate(node.args[0], context)
    if not isinstance(value, float):
        raise MetricQueryError("TIME_SERIES() takes a scalar")
    grid = _grid(context)
    return Series(grid, [value] * len(grid), "")


def _period(node: Node, context: Context) -> Value:
    _arg_count(node, 1)
    arg = node.args[0]
    if arg.kind != "id" or str(arg.value) not in context.periods:
        raise MetricQueryError("PERIOD() takes the id of a metric (not of an expression)")
    return float(context.periods[str(arg.value)])


def _first_last(index: int) -> Callable[[Node, Context], Value]:
    def call(node: Node, context: Context) -> Value:
        _arg_count(node, 1)
        value = evaluate(node.args[0], context)
        if not isinstance(value, list):
            raise MetricQueryError(f"{node.value}() needs an array of time series")
        if not value:
            raise MetricQueryError(f"{node.value}() of an empty array of time series")
        return value[index]

    return call


def _anomaly_detection_band(node: Node, context: Context) -> Value:
    # TS[] of two series, upper then lower: "LAST(ANOMALY_DETECTION_BAND(m1)) returns the lower bound"
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
    _arg_count(node, 1, 2)
    target = node.args[0]
    if target.kind != "id":
        raise MetricQueryError("ANOMALY_DETECTION_BAND()'s first argument is the id of a metric or an expression")
    k = 2.0
    if len(node.args) == 2:
        value = evaluate(node.args[1], context)
        if not isinstance(value, float) or not value > 0 or math.isinf(value):
            raise MetricQueryError("ANOMALY_DETECTION_BAND()'s second argument is a positive number of"
                                   " standard deviations, e.g. ANOMALY_DETECTION_BAND(m1, 2.5)")
        k = value
    if context.band is None:
        raise MetricQueryError("ANOMALY_DETECTION_BAND() cannot be used inside the series it draws a band for")
    return context.band(str(target.value), k)


def _remove_empty(node: Node, context: Context) -> Value:
    _arg_count(node, 1)
    value = evaluate(node.args[0], context)
    if not isinstance(value, list):
        raise MetricQueryError("REMOVE_EMPTY() needs an array of time series")
    return [s for s in value if s.values]


def _sort(node: Node, context: Context) -> Value:
    _arg_count(node, 3, 4)
    value = evaluate(node.args[0], context)
    if not isinstance(value, list):
        raise MetricQueryError("SORT() needs an array of time series")
    fn, order = node.args[1], node.args[2]
    if fn.kind != "word" or fn.value not in ("AVG", "MIN", "MAX", "SUM"):
        raise MetricQueryError("SORT()'s second argument is AVG, MIN, MAX or SUM")
    if order.kind != "word" or order.value not in ("ASC", "DESC"):
        raise MetricQueryError("SORT()'s third argument is ASC or DESC")
    reduce = _REDUCERS[str(fn.value)]
    empty = -math.inf if order.value == "DESC" else math.inf  # empty series sort last
    keyed = sorted(value, key=lambda s: reduce(s.values) if s.values else empty,
                   reverse=order.value == "DESC")
    if len(node.args) == 4:
        limit = evaluate(node.args[3], context)
        if not isinstance(limit, float) or limit < 0:
            raise MetricQueryError("SORT()'s limit must be a non-negative number")
        keyed = keyed[: int(limit)]
    return keyed


def _slice(node: Node, context: Context) -> Value:
    _arg_count(node, 2, 3)
    value = evaluate(node.args[0], context)
    if not isinstance(value, list):
        raise MetricQueryError("SLICE() needs an array of time series")
    bounds = [evaluate(a, context) for a in node.args[1:]]
    if not all(isinstance(b, float) for b in bounds):
        raise MetricQueryError("SLICE()'s bounds must be numbers")
    start = int(bounds[0])  # type: ignore[arg-type]
    end = int(bounds[1]) if len(bounds) == 2 else len(value)  # type: ignore[arg-type]
    return value[start:end]


def _time_part(part: Callable[[datetime], float]) -> Callable[[Node, Context], Value]:
    def call(node: Node, context: Context) -> Value:
        _arg_count(node, 1)
        _series_or_array(node, context)
        # "a new non-sparse time series where each value is based on its timestamp"
        grid = _grid(context)
        return Series(grid, [part(datetime.fromtimestamp(t / 1000, UTC)) for t in grid], "")

    return call


_FUNCTIONS: dict[str, Callable[[Node, Context], Value]] = {
    "ABS": _pointwise(abs),
    "ANOMALY_DETECTION_BAND": _anomaly_detection_band,
    "CEIL": _pointwise(lambda v: float(math.ceil(v))),
    "FLOOR": _pointwise(lambda v: float(math.floor(v))),
    "LOG": _pointwise(math.log),
    "LOG10": _pointwise(math.log10),
    "RATE": _per_series(_rate),
    "DIFF": _per_series(_diff),
    "DIFF_TIME": _per_series(_diff_time),
    "RUNNING_SUM": _per_series(_running_sum),
    "SUM": _reducer("SUM"),
    "AVG": _reducer("AVG"),
    "MIN": _reducer("MIN"),
    "MAX": _reducer("MAX"),
    "STDDEV": _reducer("STDDEV"),
    "DATAPOINT_COUNT": _datapoint_count,
    "METRIC_COUNT": _metric_count,
    "METRICS": _metrics,
    "FILL": _fill,
    "IF": _if,
    "TIME_SERIES": _time_series,
    "PERIOD": _period,
    "FIRST": _first_last(0),
    "LAST": _first_last(-1),
    "REMOVE_EMPTY": _remove_empty,
    "SORT": _sort,
    "SLICE": _slice,
    "MINUTE": _time_part(lambda d: float(d.minute)),
    "HOUR": _time_part(lambda d: float(d.hour)),
    "DAY": _time_part(lambda d: float(d.isoweekday())),  # 1 = Monday ... 7 = Sunday
    "DATE": _time_part(lambda d: float(d.day)),
    "MONTH": _time_part(lambda d: float(d.month)),
    "YEAR": _time_part(lambda d: float(d.year)),
    "EPOCH": _time_part(lambda d: float(int(d.timestamp()))),
}
