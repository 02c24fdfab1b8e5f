"""SQL for Logs Insights values and functions.

A compiled value is a ``Col``: SQL text plus a kind that says how to use it as a
string, a number, a boolean or an output value. JSON fields discovered in the
raw line have kind ``json``: their SQL yields the value as text, and they are
compared as numbers when compared with a number, as CloudWatch does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# ts: TIMESTAMP; num: DOUBLE/BIGINT; str: VARCHAR; json: VARCHAR extracted from raw
# (output decoded from JSON, so numbers stay numbers); bool: BOOLEAN; null: NULL.
KINDS = ("ts", "num", "str", "json", "bool", "null")


@dataclass(frozen=True)
class Col:
    sql: str
    kind: str
    json_path: str | None = None  # for kind json: the JSONPath inside raw
    out: str | None = None  # SQL for a result column yielding JSON text, when not the default
    num: str | None = None  # SQL for the value as a number, when not TRY_CAST of ``sql``

    @property
    def as_str(self) -> str:
        if self.kind == "ts":
            return f"strftime({self.sql}, '%Y-%m-%d %H:%M:%S.%g')"
        if self.kind in ("num", "bool"):
            return f"CAST({self.sql} AS VARCHAR)"
        return self.sql

    @property
    def as_num(self) -> str:
        if self.kind == "num":
            return self.sql
        if self.kind == "ts":
            return f"epoch_ms({self.sql})"
        if self.kind == "bool":
            return f"CAST({self.sql} AS INTEGER)"
        if self.kind == "null":
            return "CAST(NULL AS DOUBLE)"
        if self.num is not None:
            return self.num
        return f"TRY_CAST({self.sql} AS DOUBLE)"

    @property
    def as_bool(self) -> str:
        if self.kind == "bool":
            return self.sql
        if self.kind == "num":
            return f"({self.sql} <> 0)"
        if self.kind == "null":
            return "CAST(NULL AS BOOLEAN)"
        return f"({self.as_str} IS NOT NULL AND {self.as_str} NOT IN ('', 'false', '0'))"

    @property
    def as_out(self) -> str:
        """SQL for a result column; kind ``json`` yields JSON text decoded in Python."""
        if self.out is not None:
            return self.out
        if self.kind == "json" and self.json_path is not None:
            return f"(raw -> {sql_string(self.json_path)})"
        if self.kind == "bool":
            return f"CAST({self.sql} AS INTEGER)"
        return self.sql


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def json_field(name: str) -> Col:
    """A field discovered in the raw JSON line; dots walk into nested objects."""
    parts = name.split(".")
    path = "$" + "".join("." + _json_key(p) for p in parts)
    return Col(f"(raw ->> {sql_string(path)})", "json", path)


def promoted_field(name: str, numeric: bool) -> Col:
    """A JSON field read from its typed columns in the logs view (``_schema.PROMOTED_LOG_FIELDS``).

    The same values as ``json_field(name)`` gives, without reading ``raw``: the
    column holds ``raw ->> '$.name'``, ``name__text`` says whether the JSON value
    was a string (so a result column gives back the JSON value) and ``name__num``
    holds ``TRY_CAST(name AS DOUBLE)`` for numeric fields.
    """
    return Col(name, "json", "$." + name,
               # JSON null (present, not text, no value) stays JSON null, as `raw -> path` gives it.
               out=f"(CASE WHEN {name}__text THEN to_json({name}) WHEN NOT {name}__text"
                   f" THEN coalesce(CAST({name} AS JSON), CAST('null' AS JSON)) END)",
               num=f"{name}__num" if numeric else None)


def _json_key(part: str) -> str:
    if part.replace("_", "").isalnum() and not part[0].isdigit():
        return part
    return '"' + part.replace('"', '\\"') + '"'


def floor_time(ts: Col, period_ms: int | None, calendar: str | None, count: int) -> Col:
    if period_ms is not None:
        # Buckets start at multiples of the period since the epoch, like bin().
        return Col(f"epoch_ms(epoch_ms({ts.sql}) // {period_ms} * {period_ms})", "ts")
    if count == 1:
        return Col(f"date_trunc('{calendar}', {ts.sql})", "ts")
    months = {"month": 1, "quarter": 3, "year": 12}[calendar] * count
    return Col(f"time_bucket(INTERVAL {months} MONTH, {ts.sql})", "ts")


def ceil_time(ts: Col, period_ms: int | None, calendar: str | None, count: int) -> Col:
    floor = floor_time(ts, period_ms, calendar, count)
    if period_ms is not None:
        step = f"INTERVAL {period_ms} MILLISECOND"
    else:
        step = f"INTERVAL {({'month': 1, 'quarter': 3, 'year': 12}[calendar]) * count} MONTH"
    return Col(f"CASE WHEN {floor.sql} = {ts.sql} THEN {ts.sql} ELSE {floor.sql} + {step} END", "ts")


Scalar = Callable[[list[Col]], Col]


def _str1(fn: str, kind: str = "str") -> Scalar:
    return lambda a: Col(f"{fn}({a[0].as_str})", kind)


def _num1(fn: str) -> Scalar:
    return lambda a: Col(f"{fn}({a[0].as_num})", "num")


def _trim(fn: str) -> Scalar:
    def build(a: list[Col]) -> Col:
        if len(a) > 1:
            return Col(f"{fn}({a[0].as_str}, {a[1].as_str})", "str")
        return Col(f"{fn}({a[0].as_str})", "str")
    return build


def _substr(a: list[Col]) -> Col:
    # CloudWatch indexes from 0; SQL from 1.
    start = f"CAST({a[1].as_num} AS BIGINT) + 1"
    if len(a) > 2:
        return Col(f"substr({a[0].as_str}, {start}, CAST({a[2].as_num} AS BIGINT))", "str")
    return Col(f"substr({a[0].as_str}, {start})", "str")


def _coalesce(a: list[Col]) -> Col:
    if all(c.kind in ("num", "null") for c in a):
        return Col("coalesce(" + ", ".join(c.as_num for c in a) + ")", "num")
    if all(c.kind in ("ts", "null") for c in a):
        return Col("coalesce(" + ", ".join(c.sql for c in a) + ")", "ts")
    sql = "coalesce(" + ", ".join(c.as_str for c in a) + ")"
    if all(c.kind in ("json", "num", "null") for c in a):
        # Keep JSON values typed in the result: coalesce the JSON, not its text.
        out = "coalesce(" + ", ".join(c.as_out if c.kind == "json" else f"to_json({c.sql})" for c in a) + ")"
        return Col(sql, "json", out=out)
    return Col(sql, "str")


def _greatest(fn: str) -> Scalar:
    return lambda a: Col(f"{fn}(" + ", ".join(c.as_num for c in a) + ")", "num")


def _to_millis(a: list[Col]) -> Col:
    if a[0].kind == "ts":
        return Col(f"epoch_ms({a[0].sql})", "num")
    return Col(f"epoch_ms(TRY_CAST({a[0].as_str} AS TIMESTAMP))", "num")


# name → (minimum args, maximum args or None, builder)
SCALARS: dict[str, tuple[int, int | None, Scalar]] = {
    # string
    "strlen": (1, 1, _str1("length", "num")),
    "toupper": (1, 1, _str1("upper")),
    "tolower": (1, 1, _str1("lower")),
    "trim": (1, 2, _trim("trim")),
    "ltrim": (1, 2, _trim("ltrim")),
    "rtrim": (1, 2, _trim("rtrim")),
    "substr": (2, 3, _substr),
    "replace": (3, 3, lambda a: Col(f"replace({a[0].as_str}, {a[1].as_str}, {a[2].as_str})", "str")),
    "strcontains": (2, 2, lambda a: Col(f"CAST(contains({a[0].as_str}, {a[1].as_str}) AS INTEGER)", "num")),
    "concat": (1, None, lambda a: Col("concat(" + ", ".join(c.as_str for c in a) + ")", "str")),
    "isempty": (1, 1, lambda a: Col(f"coalesce({a[0].as_str} = '', true)", "bool")),
    "isblank": (1, 1, lambda a: Col(f"coalesce(trim({a[0].as_str}) = '', true)", "bool")),
    # number
    "abs": (1, 1, _num1("abs")),
    "ceil": (1, 1, _num1("ceil")),
    "floor": (1, 1, _num1("floor")),
    "greatest": (1, None, _greatest("greatest")),
    "least": (1, None, _greatest("least")),
    "log": (1, 1, _num1("ln")),
    "sqrt": (1, 1, _num1("sqrt")),
    # time (bin, datefloor and dateceil take a period and are built by the compiler)
    "frommillis": (1, 1, lambda a: Col(f"epoch_ms(CAST({a[0].as_num} AS BIGINT))", "ts")),
    "tomillis": (1, 1, _to_millis),
    # general
    "ispresent": (1, 1, lambda a: Col(f"({a[0].as_str} IS NOT NULL)", "bool")),
    "coalesce": (1, None, _coalesce),
}
