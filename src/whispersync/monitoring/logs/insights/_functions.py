"""SQL for Logs Insights values and functions.

A compiled value is a ``Col``: SQL text plus a kind that says how to use it as a
string, a number, a boolean or an output value. JSON fields discovered in the
raw line have kind ``json``: their SQL yields the value as text, and they are
compared as numbers when compared with a number, as CloudWatch does.

``SCALARS`` is the function library of
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html
(numeric, datetime, general, JSON, IP address and string functions); ``bin``,
``datefloor`` and ``dateceil`` take a period and are built by the compiler with
``floor_time`` and ``ceil_time``. Where the page says nothing about a missing
field or bad input, a function does what its nearest documented sibling does,
and the comment at its builder says which. Bad data never fails a query: a value
a function cannot use gives null (or false, 0 for the functions documented so).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import ip_network

import duckdb
import re2

from whispersync.monitoring.logs.insights._errors import InsightsQueryError

# ts: TIMESTAMP; num: DOUBLE/BIGINT; str: VARCHAR; json: VARCHAR extracted from raw
# (output decoded from JSON, so numbers stay numbers); bool: BOOLEAN; null: NULL;
# struct: a map or list (jsonParse, split) as JSON text, which string, number and
# datetime functions see as null, as the documentation's "Structure types" says.
KINDS = ("ts", "num", "str", "json", "bool", "null", "struct")


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
        if self.kind == "struct":
            return "CAST(NULL AS VARCHAR)"
        return self.sql

    @property
    def as_num(self) -> str:
        if self.kind == "num":
            return self.sql
        if self.kind == "ts":
            return f"epoch_ms({self.sql})"
        if self.kind == "bool":
            return f"CAST({self.sql} AS INTEGER)"
        if self.kind in ("null", "struct"):
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
        if self.kind == "struct":
            return f"({self.sql} IS NOT NULL)"
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


class ArgumentError(InsightsQueryError):
    """A function argument that is wrong whatever the data: a format or regex that
    cannot be used, or a value that must be written in the query as a string.

    ``index`` is the argument's position, for the compiler to point the error at.
    """

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def split_path(name: str) -> list[str]:
    """The members of a dotted field name; a backquoted member keeps its dots (``m.`user.id```).

    CWL_QuerySyntax-operations-functions.html, "Structure types": "If an attribute in a map
    contains special characters, use backticks to enclose the attribute name
    (map.attributes.`special.char`)".
    """
    parts: list[str] = []
    for match in _PATH_MEMBER.finditer(name):
        parts.append(match["quoted"] if match["quoted"] is not None else match["plain"])
    return parts or [name]


def json_field(name: str, keys: tuple[str | int, ...] = ()) -> Col:
    """A field discovered in the raw JSON line; dots walk into nested objects.

    CloudWatch flattens a JSON array into numbered members, so
    ``requestParameters.instancesSet.items.0.instanceId`` is the first item's id
    (CWL_AnalyzeLogData-discoverable-fields.html, "Fields in JSON logs"); an object
    with a key "0" flattens the same way, so a number member reads either. ``keys``
    follow the name: ``[1]`` indexes (``m.users[1]``), strings are members.
    """
    paths = _json_paths([*split_path(name), *keys], in_object=True)
    if len(paths) == 1:
        return Col(f"(raw ->> {sql_string(paths[0])})", "json", paths[0])
    # At most one path exists in a line: a value is an array or an object, not both.
    return Col("coalesce(" + ", ".join(f"raw ->> {sql_string(p)}" for p in paths) + ")", "json",
               out="coalesce(" + ", ".join(f"raw -> {sql_string(p)}" for p in paths) + ")")


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


def struct_member(struct: Col, keys: list[str | int]) -> Col:
    """``map.key`` and ``list[index]`` of a map or list (``jsonParse(@message) as m | filter m.a.b = 1``).

    For the compiler, when a dotted name starts with a name bound to a struct.
    A member that is itself a map or list is null for string and number use, and
    its JSON for output, like a nested object of the log line. List indexes count from 0;
    an int key is a bracket index (``m.users[1]``), a number written as a member (``m.users.1``)
    reads either way, as in ``json_field``.
    """
    text = f"CAST({struct.sql} AS JSON)"
    paths = [sql_string(p) for p in _json_paths(keys)]
    scalar = [f"CASE WHEN json_type({text}, {p}) NOT IN ('OBJECT', 'ARRAY') THEN {text} ->> {p} END" for p in paths]
    if len(paths) == 1:
        return Col(f"({scalar[0]})", "json", out=f"({text} -> {paths[0]})")
    return Col(f"coalesce({', '.join(scalar)})", "json",
               out="coalesce(" + ", ".join(f"{text} -> {p}" for p in paths) + ")")


def member_of(value: Col, keys: Sequence[str | int]) -> Col:
    """``value[1].name``: a member of a map or list; null for a value that is neither."""
    if not keys:
        return value
    if value.kind == "struct":
        return struct_member(value, list(keys))
    if value.kind == "json":  # a JSON field of the log line: its JSON, as a map or list would be
        return struct_member(Col(value.as_out, "struct"), list(keys))
    return Col("CAST(NULL AS VARCHAR)", "null")


# A member of a dotted name: backquoted (dots and all), or up to the next dot.
_PATH_MEMBER = re.compile(r"`(?P<quoted>[^`]*)`|(?P<plain>[^.`]+)")
# Numbered members read both ways (array item, object key) up to this many times in a
# name; past that, as array items only: each doubles the JSONPaths tried.
_MAX_EITHER_WAY = 4


def _json_paths(members: Sequence[str | int], *, in_object: bool = False) -> list[str]:
    """The JSONPaths that ``members`` may mean: an int indexes a list (``[1]``), a string is a
    member, and a string that is a number reads either way, as CloudWatch flattens JSON.
    ``in_object``: the root is an object (a log line), so its first member is a key.
    """
    steps: list[list[str]] = []
    either_way = 0
    for member in members:
        if isinstance(member, int):
            steps.append([f"[{member}]"])
        elif member.isdigit() and member.isascii() and str(int(member)) == member and not (in_object and not steps):
            either_way += 1
            steps.append([f"[{member}]", "." + _json_key(member)] if either_way <= _MAX_EITHER_WAY
                         else [f"[{member}]"])
        else:
            steps.append(["." + _json_key(member)])
    return ["$" + "".join(combo) for combo in itertools.product(*steps)]


def _json_key(part: str) -> str:
    if part and part.replace("_", "").isalnum() and not part[0].isdigit():
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

# ------------------------------------------------------------------ helpers


def _let(value: str, name: str, body: str) -> str:
    """``body`` with ``name`` bound to ``value``, computed once (a one-element list_transform):
    an argument can be a long expression, such as a field read from the JSON line."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def _literal(a: list[Col], index: int, what: str) -> str:
    """The value of a string written in the query, for arguments the SQL cannot take from data."""
    col = a[index]
    if col.kind != "str" or not re.fullmatch(r"'(?:[^']|'')*'", col.sql):
        raise ArgumentError(f"{what} must be a quoted string", index)
    return col.sql[1:-1].replace("''", "'")


def _double(col: Col) -> str:
    # One type for numeric results: DuckDB keeps a DECIMAL as it came, and a Python Decimal is no JSON.
    return f"CAST({col.as_num} AS DOUBLE)"


def _flag(sql: str) -> Col:
    """A documented 1-or-0 result: a missing value is 0 ("... and 0 otherwise")."""
    return Col(f"CAST(coalesce({sql}, false) AS INTEGER)", "num")


def _one_kind(cols: list[Col]) -> tuple[str, Callable[[Col], str], Callable[[Col], str] | None]:
    """The kind values picked from ``cols`` share, how to render each, and how to render each as JSON output."""
    kinds = {c.kind for c in cols} - {"null"}
    if kinds <= {"num"}:
        return "num", lambda c: c.as_num, None
    if kinds == {"ts"}:
        return "ts", lambda c: "CAST(NULL AS TIMESTAMP)" if c.kind == "null" else c.sql, None
    if kinds == {"bool"}:
        return "bool", lambda c: c.as_bool, None
    if kinds == {"struct"}:
        return "struct", lambda c: "CAST(NULL AS JSON)" if c.kind == "null" else c.sql, None
    if kinds <= {"json", "num"}:
        # Keep JSON values typed in the result: pick the JSON, not its text.
        return "json", lambda c: c.as_str, lambda c: c.as_out if c.kind == "json" else f"to_json({c.sql})"
    return "str", lambda c: c.as_str, None


# ------------------------------------------------------------------ string functions


_WHITESPACE = sql_string(" \t\n\r\x0b\x0c")


def _trim(fn: str) -> Scalar:
    def build(a: list[Col]) -> Col:
        # "If the function does not have a second argument, it removes white space": not only spaces.
        chars = a[1].as_str if len(a) > 1 else _WHITESPACE
        return Col(f"{fn}({a[0].as_str}, {chars})", "str")
    return build


def _substr(a: list[Col]) -> Col:
    # CloudWatch indexes from 0 (substr("xyZfooxyZ", 3, 3) is "foo"); SQL from 1.
    start = f"TRY_CAST(trunc({a[1].as_num}) AS BIGINT) + 1"
    if len(a) > 2:
        length = f"CASE WHEN {a[2].as_num} < 0 THEN 0 ELSE TRY_CAST(trunc({a[2].as_num}) AS BIGINT) END"
        return Col(f"substr({a[0].as_str}, {start}, {length})", "str")
    return Col(f"substr({a[0].as_str}, {start})", "str")


def _strcontains(a: list[Col]) -> Col:
    text, search = a[0].as_str, a[1].as_str
    if len(a) < 3:
        return _flag(f"contains({text}, {search})")
    # The third argument: "If the third parameter is set to true, the match is case-insensitive."
    return _flag(f"CASE WHEN {a[2].as_bool} THEN contains(lower({text}), lower({search}))"
                 f" ELSE contains({text}, {search}) END")


def _regex_replace(a: list[Col]) -> Col:
    """regexReplace(field, pattern, replacement): every match of the RE2 ``pattern`` replaced.

    Pattern and replacement are written in the query: they are checked here, so a bad
    one is a query error, not a failure per event. The replacement reads as Java's
    (CloudWatch runs on Java): $1 or ${name} is a group, a backslash makes the next
    character literal.
    """
    body = re.sub(r"\(\?<([A-Za-z_])", r"(?P<\1", _literal(a, 1, "the pattern"))  # RE2 spells (?P<name>)
    try:
        regex = re2.compile(body, _RE2_OPTIONS)
    except re2.error as exc:
        message = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ArgumentError(f"invalid regular expression: {message}", 1) from None
    rewrite = _rewrite(_literal(a, 2, "the replacement"), regex.groups, regex.groupindex)
    return Col(f"regexp_replace({a[0].as_str}, {sql_string(body)}, {sql_string(rewrite)}, 'g')", "str")


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def _rewrite(replacement: str, groups: int, names: dict[str, int]) -> str:
    """A Java replacement string ($1, ${name}, \\x) as an RE2 rewrite string (\\1, \\\\ for a backslash)."""
    out, i = [], 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\" and i + 1 < len(replacement):
            i += 1
            ch = replacement[i]  # the next character, literally
        elif ch == "$":
            named = re.match(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", replacement[i:])
            number = re.match(r"\$([0-9])", replacement[i:])
            if named and named.group(1) in names:
                group, i = names[named.group(1)], i + named.end()
            elif number and int(number.group(1)) <= groups:
                group, i = int(number.group(1)), i + 2
            else:
                reference = re.match(r"\$(\{[^}]*\}?|.?)", replacement[i:]).group()  # type: ignore[union-attr]
                raise ArgumentError(f"the replacement's {reference!r} names no group of the pattern", 2)
            if group > 9:
                raise ArgumentError("the replacement can refer to groups 1 to 9 only", 2)
            out.append(f"\\{group}")
            continue
        out.append("\\\\" if ch == "\\" else ch)
        i += 1
    return "".join(out)


def _hex_to_dec(a: list[Col]) -> Col:
    # "0xff", "ff" and "-0xff" (what decToHex writes for negative numbers); not hex, or beyond 64 bits: null.
    body = ("CASE WHEN regexp_matches(t_, '^[+-]?(0[xX])?[0-9A-Fa-f]+$') THEN"
            " (CASE WHEN starts_with(t_, '-') THEN -1 ELSE 1 END)"
            " * TRY_CAST('0x' || regexp_replace(t_, '^[+-]?(0[xX])?', '') AS BIGINT) END")
    return Col(_let(f"trim({a[0].as_str})", "t_", body), "num")


def _dec_to_hex(a: list[Col]) -> Col:
    # "Negative numbers produce -0x prefix. Non-integers are truncated."
    value = _double(a[0])
    magnitude = f"TRY_CAST(trunc(abs({value})) AS BIGINT)"
    return Col(f"(CASE WHEN {value} <= -1 THEN '-0x' ELSE '0x' END || lower(to_hex({magnitude})))", "str")


def _hex_to_ascii(a: list[Col]) -> Col:
    # Pairs of hex digits, with or without 0x; odd length, non-hex or bytes that are not UTF-8: null.
    body = ("CASE WHEN regexp_matches(t_, '^(0[xX])?([0-9A-Fa-f]{2})+$') THEN"
            " TRY(decode(unhex(regexp_replace(t_, '^0[xX]', '')))) END")
    return Col(_let(f"trim({a[0].as_str})", "t_", body), "str")


_STRING: dict[str, tuple[int, int | None, Scalar]] = {
    # "Returns 1 if the field is missing or is an empty string" (and the same for white space).
    "isempty": (1, 1, lambda a: Col(f"coalesce({a[0].as_str} = '', true)", "bool")),
    "isblank": (1, 1, lambda a: Col(f"coalesce(regexp_matches({a[0].as_str}, '^\\s*$'), true)", "bool")),
    # A missing argument adds nothing, like an empty string.
    "concat": (1, None, lambda a: Col("concat(" + ", ".join(c.as_str for c in a) + ")", "str")),
    "ltrim": (1, 2, _trim("ltrim")),
    "rtrim": (1, 2, _trim("rtrim")),
    "trim": (1, 2, _trim("trim")),
    "strlen": (1, 1, lambda a: Col(f"length({a[0].as_str})", "num")),  # Unicode code points
    "toupper": (1, 1, lambda a: Col(f"upper({a[0].as_str})", "str")),
    "tolower": (1, 1, lambda a: Col(f"lower({a[0].as_str})", "str")),
    "substr": (2, 3, _substr),
    "replace": (3, 3, lambda a: Col(f"replace({a[0].as_str}, {a[1].as_str}, {a[2].as_str})", "str")),
    "regexreplace": (3, 3, _regex_replace),
    "strcontains": (2, 3, _strcontains),
    "startswith": (2, 2, lambda a: _flag(f"starts_with({a[0].as_str}, {a[1].as_str})")),
    "endswith": (2, 2, lambda a: _flag(f"ends_with({a[0].as_str}, {a[1].as_str})")),
    # Percent-encoding of RFC 3986: all but letters, digits and -._~ (a space is %20).
    "urlencode": (1, 1, lambda a: Col(f"url_encode({a[0].as_str})", "str")),
    "urldecode": (1, 1, lambda a: Col(f"url_decode({a[0].as_str})", "str")),
    "base64encode": (1, 1, lambda a: Col(f"to_base64(encode({a[0].as_str}))", "str")),
    # Not Base64, or not UTF-8 text once decoded: null.
    "base64decode": (1, 1, lambda a: Col(f"TRY(decode(from_base64({a[0].as_str})))", "str")),
    # "returns an array of substrings": a list.
    "split": (2, 2, lambda a: Col(f"to_json(string_split({a[0].as_str}, {a[1].as_str}))", "struct")),
    "hextoascii": (1, 1, _hex_to_ascii),
    "hextodec": (1, 1, _hex_to_dec),
    "dectohex": (1, 1, _dec_to_hex),
}

# ------------------------------------------------------------------ numeric functions


def _math(fn: str) -> Scalar:
    return lambda a: Col(f"{fn}({_double(a[0])})", "num")


def _extreme(fn: str) -> Scalar:
    return lambda a: Col(f"{fn}(" + ", ".join(_double(c) for c in a) + ")", "num")


def _round(a: list[Col]) -> Col:
    if len(a) > 1:
        return Col(f"round({_double(a[0])}, TRY_CAST(trunc({a[1].as_num}) AS INTEGER))", "num")
    return Col(f"round({_double(a[0])})", "num")


_EARTH_RADIUS_KM = 6371.0  # the mean radius; the documentation does not say which


def _haversine(a: list[Col]) -> Col:
    lat1, lon1, lat2, lon2 = (f"radians({_double(c)})" for c in a)
    h = f"power(sin(({lat2} - {lat1}) / 2), 2) + cos({lat1}) * cos({lat2}) * power(sin(({lon2} - {lon1}) / 2), 2)"
    # Rounding can push h a hair above 1, where asin() is NaN.
    return Col(_let(h, "h_", f"2 * {_EARTH_RADIUS_KM} * asin(sqrt(CASE WHEN h_ > 1 THEN 1.0 ELSE h_ END))"), "num")


def _finite(col: Col) -> str:
    """The value as a number, null when it is not one: "nan" and "inf" parse as DOUBLE but are no numbers."""
    return _let(_double(col), "n_", "CASE WHEN isfinite(n_) THEN n_ END")


def _integer(sql_type: str) -> Scalar:
    """toInt (32 bits) and toLong (64 bits): the value truncated toward zero; out of range or no number: null."""
    def build(a: list[Col]) -> Col:
        if a[0].kind in ("num", "bool", "ts", "null", "struct"):
            return Col(f"TRY_CAST(trunc({_double(a[0])}) AS {sql_type})", "num")
        # Text of a whole number converts exactly (a DOUBLE holds 53 bits); other numbers truncate.
        body = (f"CASE WHEN regexp_matches(t_, '^\\s*[+-]?[0-9]+\\s*$') THEN TRY_CAST(trim(t_) AS {sql_type})"
                f" ELSE TRY_CAST(trunc(TRY_CAST(t_ AS DOUBLE)) AS {sql_type}) END")
        return Col(_let(a[0].as_str, "t_", body), "num")
    return build


_NUMBER: dict[str, tuple[int, int | None, Scalar]] = {
    "abs": (1, 1, _math("abs")),
    "ceil": (1, 1, _math("ceil")),
    "floor": (1, 1, _math("floor")),
    "greatest": (1, None, _extreme("greatest")),  # missing values are left out, as coalesce does
    "least": (1, None, _extreme("least")),
    # No logarithm of 0 or less, no square root below 0: null, as for any value that is not a number.
    "log": (1, 1, lambda a: Col(_let(_double(a[0]), "n_", "CASE WHEN n_ > 0 THEN ln(n_) END"), "num")),
    "sqrt": (1, 1, lambda a: Col(_let(_double(a[0]), "n_", "CASE WHEN n_ >= 0 THEN sqrt(n_) END"), "num")),
    # Halves round away from zero.
    "round": (1, 2, _round),
    "haversine": (4, 4, _haversine),
    "tonumber": (1, 1, lambda a: Col(_finite(a[0]), "num")),
    "todouble": (1, 1, lambda a: Col(_finite(a[0]), "num")),
    "toint": (1, 1, _integer("INTEGER")),
    "tolong": (1, 1, _integer("BIGINT")),
}

# ------------------------------------------------------------------ datetime functions


# DuckDB's TIMESTAMP holds microseconds in 64 bits: about ±292,000 years around 1970.
_MAX_EPOCH_MS = 9_000_000_000_000_000


def _from_millis_sql(number: str) -> str:
    return _let(number, "n_", f"CASE WHEN abs(n_) < {_MAX_EPOCH_MS} THEN epoch_ms(CAST(trunc(n_) AS BIGINT)) END")


def _timestamp(col: Col) -> str:
    """SQL for ``col`` as a TIMESTAMP: a number is milliseconds since the epoch, as fromMillis reads it."""
    if col.kind == "ts":
        return col.sql
    if col.kind == "num":
        return _from_millis_sql(_double(col))
    return f"TRY_CAST({col.as_str} AS TIMESTAMP)"


@functools.cache
def _time_zones() -> frozenset[str]:
    # The names DuckDB's ICU knows, which is what timezone() accepts: the system's tzdata may differ.
    with duckdb.connect(":memory:") as con:
        return frozenset(row[0] for row in con.execute("SELECT name FROM pg_timezone_names()").fetchall())


def _time_zone(a: list[Col], index: int) -> str | None:
    if len(a) <= index:
        return None
    zone = _literal(a, index, "the time zone")
    if zone not in _time_zones():
        raise ArgumentError(f"unknown time zone {zone!r}: use a name such as 'UTC' or 'America/New_York'", index)
    return zone


# Java DateTimeFormatter pattern letters (parseDate's format) → strptime specifiers, by letter and count.
_JAVA_PATTERN = {
    ("y", 2): "%y", ("u", 2): "%y", ("M", 1): "%m", ("M", 2): "%m", ("M", 3): "%b", ("M", 4): "%B",
    ("L", 1): "%m", ("L", 2): "%m", ("L", 3): "%b", ("L", 4): "%B", ("d", 1): "%d", ("d", 2): "%d",
    ("D", 1): "%j", ("D", 2): "%j", ("D", 3): "%j", ("H", 1): "%H", ("H", 2): "%H", ("h", 1): "%I",
    ("h", 2): "%I", ("a", 1): "%p", ("m", 1): "%M", ("m", 2): "%M", ("s", 1): "%S", ("s", 2): "%S",
    ("S", 3): "%g", ("S", 6): "%f", ("S", 9): "%n", ("E", 1): "%a", ("E", 2): "%a", ("E", 3): "%a",
    ("E", 4): "%A", ("X", 1): "%z", ("X", 2): "%z", ("X", 3): "%z", ("x", 1): "%z", ("x", 2): "%z",
    ("x", 3): "%z", ("Z", 1): "%z", ("Z", 2): "%z", ("Z", 3): "%z", ("z", 1): "%Z", ("z", 2): "%Z",
    ("z", 3): "%Z",
}


def _java_to_strptime(pattern: str, index: int) -> str:
    """A Java DateTimeFormatter pattern ("yyyy-MM-dd'T'HH:mm:ss") as a strptime format."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":  # quoted text; '' is a quote
            end = pattern.find("'", i + 1)
            if end < 0:
                raise ArgumentError("the date format has an unclosed quote", index)
            out.append("'" if end == i + 1 else pattern[i + 1 : end].replace("%", "%%"))
            i = end + 1
            continue
        if ch.isascii() and ch.isalpha():
            count = len(pattern) - i - len(pattern[i:].lstrip(ch))
            spec = "%Y" if ch in "yu" and count != 2 else _JAVA_PATTERN.get((ch, count))
            if spec is None:
                raise ArgumentError(f"the date format's {ch * count!r} is not supported", index)
            out.append(spec)
            i += count
            continue
        if ch in "[]{}#":
            raise ArgumentError(f"the date format's {ch!r} is not supported", index)
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


def _parse_date(a: list[Col]) -> Col:
    """parseDate(field, format [, timezone]) → epoch milliseconds; text that does not fit the format: null."""
    pattern = _literal(a, 1, "the date format")
    fmt = _java_to_strptime(pattern, 1)
    zone = _time_zone(a, 2)
    text = a[0].as_str
    if pattern.rstrip().endswith("X"):
        text = f"regexp_replace({text}, '[Zz]$', '+00:00')"  # Java's X reads "Z" as UTC; strptime's %z does not
    parsed = f"TRY_STRPTIME({text}, {sql_string(fmt)})"
    if "%z" in fmt or "%Z" in fmt or zone is None:
        return Col(f"epoch_ms({parsed})", "num")  # the text's own offset, else UTC
    return Col(f"epoch_ms(timezone({sql_string(zone)}, {parsed}))", "num")


# strftime specifiers DuckDB knows; %z and %Z are written here, as DuckDB's ignore the time zone.
_STRFTIME = re.compile(r"%(-?[aAbBcdfgGhHIjmMnpSTuUVwWxXyY]|[zZ%])")


def _format_date(a: list[Col]) -> Col:
    """formatDate(timestamp, format [, timezone]), alias strftime: the time in the zone (default UTC)."""
    fmt = _literal(a, 1, "the date format")
    zone = _time_zone(a, 2)
    for m in re.finditer(r"%-?.?", fmt):
        if not _STRFTIME.fullmatch(m.group()):
            raise ArgumentError(f"the date format's {m.group()!r} is not supported", 1)
    local = f"timezone({sql_string(zone)}, CAST(t_ AS TIMESTAMPTZ))" if zone else "t_"
    # The offset from UTC as +hhmm: how far the local time is from the UTC one.
    offset = _let(f"CAST(round((epoch({local}) - epoch(t_)) / 60) AS INTEGER)", "o_",
                  "printf('%s%02d%02d', CASE WHEN o_ < 0 THEN '-' ELSE '+' END, abs(o_) // 60, abs(o_) % 60)")
    pieces, i = [], 0
    for m in _STRFTIME.finditer(fmt):
        if m.group(1) in ("z", "Z"):
            if m.start() > i:
                pieces.append(f"strftime({local}, {sql_string(fmt[i : m.start()])})")
            pieces.append(offset if m.group(1) == "z" else sql_string(zone or "UTC"))
            i = m.end()
    if i < len(fmt) or not pieces:
        pieces.append(f"strftime({local}, {sql_string(fmt[i:])})")
    return Col(_let(_timestamp(a[0]), "t_", f"CASE WHEN t_ IS NOT NULL THEN {' || '.join(pieces)} END"), "str")


_DATETIME: dict[str, tuple[int, int | None, Scalar]] = {
    "frommillis": (1, 1, lambda a: Col(_from_millis_sql(_double(a[0])), "ts")),
    "tomillis": (1, 1, lambda a: Col(f"epoch_ms({_timestamp(a[0])})", "num")),
    # "the time that the query processing was started, in epoch seconds": the transaction's start.
    "now": (0, 0, lambda a: Col("CAST(floor(epoch(current_timestamp)) AS BIGINT)", "num")),
    "parsedate": (2, 3, _parse_date),
    "formatdate": (2, 3, _format_date),
    "strftime": (2, 3, _format_date),
}

# Functions of the query's time range rather than of an event. The compiler builds them
# from the range it compiles for: name → builder(start_ms, end_ms).
QUERY_WINDOW: dict[str, Callable[[int, int], Col]] = {
    "querystarttime": lambda start_ms, end_ms: Col(f"CAST({int(start_ms)} AS BIGINT)", "num"),
    "queryendtime": lambda start_ms, end_ms: Col(f"CAST({int(end_ms)} AS BIGINT)", "num"),
    "querytimerange": lambda start_ms, end_ms: Col(f"CAST({int(end_ms) - int(start_ms)} AS BIGINT)", "num"),
}

# ------------------------------------------------------------------ general functions


def _coalesce(a: list[Col]) -> Col:
    kind, render, render_out = _one_kind(a)
    sql = "coalesce(" + ", ".join(render(c) for c in a) + ")"
    out = "coalesce(" + ", ".join(render_out(c) for c in a) + ")" if render_out else None
    return Col(sql, kind, out=out)


def _choose(conditions: list[Col], values: list[Col], default: Col | None) -> Col:
    """The value for the first true condition, else ``default`` (null without one)."""
    kind, render, render_out = _one_kind(values + ([default] if default else []))

    def case(render: Callable[[Col], str]) -> str:
        whens = " ".join(f"WHEN {c.as_bool} THEN {render(v)}" for c, v in zip(conditions, values, strict=True))
        return f"(CASE {whens}" + (f" ELSE {render(default)}" if default else "") + " END)"

    return Col(case(render), kind, out=case(render_out) if render_out else None)


def _case(a: list[Col]) -> Col:
    # case(cond1, val1, cond2, val2, ..., [default]): an odd count ends with the default.
    pairs = len(a) // 2
    return _choose(a[0 : 2 * pairs : 2], a[1 : 2 * pairs : 2], a[-1] if len(a) % 2 else None)


def _ispresent(a: list[Col]) -> Col:
    present = a[0].sql if a[0].kind == "struct" else a[0].as_str
    return Col(f"({present} IS NOT NULL)", "bool")


_GENERAL: dict[str, tuple[int, int | None, Scalar]] = {
    "ispresent": (1, 1, _ispresent),
    "coalesce": (1, None, _coalesce),
    "case": (2, 21, _case),  # "Supports up to 10 branches", and a default
    # A condition that is null (a missing field) is not true: the false value.
    "if": (3, 3, lambda a: _choose([a[0]], [a[1]], a[2])),
    "isnumeric": (1, 1, lambda a: Col(f"({_finite(a[0])} IS NOT NULL)", "bool")),
    "messagesize": (1, 1, lambda a: Col(f"strlen({a[0].as_str})", "num")),  # DuckDB's strlen counts bytes
}

# ------------------------------------------------------------------ JSON functions


def _json_text(col: Col) -> str:
    """SQL for the JSON text a map or list argument stands for: a struct, or text holding JSON."""
    return f"CAST({col.sql} AS VARCHAR)" if col.kind == "struct" else col.as_str


def _when_json(col: Col, types: str, then: str) -> str:
    """``then`` (over the JSON text bound to ``j_``) when ``col`` holds JSON of one of ``types``, else null."""
    # Nested CASEs: json_type() fails on text that is not JSON, and only the THEN of a true WHEN runs.
    return _let(_json_text(col), "j_", f"CASE WHEN json_valid(j_) THEN CASE WHEN json_type(j_) IN ({types})"
                                        f" THEN {then} END END")


def _json_stringify(a: list[Col]) -> Col:
    # "a JSON string from a map or list": anything else (a string, a number) gives null, as jsonParse does.
    col = a[0]
    if col.kind == "struct":
        return Col(f"CAST({col.sql} AS VARCHAR)", "str")
    if col.kind == "json":  # an object or array of the log line
        return Col(_let(f"CAST({col.as_out} AS VARCHAR)", "v_", "CASE WHEN json_valid(v_) THEN"
                        " CASE WHEN json_type(v_) IN ('OBJECT', 'ARRAY') THEN v_ END END"), "str")
    return Col("CAST(NULL AS VARCHAR)", "str")


def _json_array_contains(a: list[Col]) -> Col:
    # "Returns false (0) for invalid JSON, non-array, or empty array"; a missing field too.
    # Elements compare as their text: a string without its quotes, a number as written.
    contains = f"list_contains(CAST(j_ AS JSON) ->> '$[*]', {a[1].as_str})"
    found = _when_json(a[0], "'ARRAY'", contains)
    return Col(f"coalesce({found}, false)", "bool")


_JSON: dict[str, tuple[int, int | None, Scalar]] = {
    # "Returns an empty value, if the input is not one of the representation."
    "jsonparse": (1, 1, lambda a: a[0] if a[0].kind == "struct" else
                  Col(_when_json(a[0], "'OBJECT', 'ARRAY'", "json(j_)"), "struct")),
    "jsonstringify": (1, 1, _json_stringify),
    # Not an array: null, as jsonParse gives for what it cannot read.
    "jsonarraysize": (1, 1, lambda a: Col(_when_json(a[0], "'ARRAY'", "json_array_length(j_)"), "num")),
    "jsonarraycontains": (2, 2, _json_array_contains),
}

# ------------------------------------------------------------------ IP address functions
#
# An address becomes its bits as text ('0'/'1': 32 for IPv4, 128 for IPv6), so a subnet
# test compares prefixes and one rule serves both versions. DuckDB's inet extension
# would need a download; this is plain SQL. IPv4 is dotted decimal without leading
# zeros; IPv6 is RFC 4291 text (one "::", an IPv4 tail allowed), without a zone (%eth0).
# Each step binds its input once (_chain); a lambda inside a lambda's body costs DuckDB
# several times more, so no step nests one.

_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_HEX_GROUP = "[0-9A-Fa-f]{1,4}"


def _chain(value: str, *steps: str) -> str:
    """``value`` passed through ``steps`` in turn, each an expression of ``v_`` (the previous result)."""
    sql = f"[{value}]"
    for step in steps:
        sql = f"list_transform({sql}, lambda v_: {step})"
    return sql + "[1]"


def _ipv4_number(text: str) -> str:
    """SQL for the IPv4 address in SQL ``text`` as a number, null if it is not one."""
    octets = " + ".join(f"CAST(v_[{k}] AS BIGINT) * {256 ** (4 - k)}" for k in range(1, 5))
    split = f"CASE WHEN regexp_matches(v_, '^{_IPV4}$') THEN string_split(v_, '.') END"
    return _chain(f"CAST({text} AS VARCHAR)", split, octets)


def _ipv6_bits(text: str) -> str:
    """SQL for the 128 bits of the IPv6 address in SQL ``text``, null if it is not one."""
    # An IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
    tail = r":([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)$"  # once the text is known to end in IPv4
    o1, o2, o3, o4 = (f"CAST(regexp_extract(v_, '{tail}', {k}) AS INTEGER)" for k in range(1, 5))
    hex_text = (f"CASE WHEN NOT contains(v_, ':') THEN NULL WHEN NOT contains(v_, '.') THEN v_"
                f" WHEN regexp_matches(v_, '^[0-9A-Fa-f:]*:{_IPV4}$')"
                f" THEN regexp_extract(v_, '^(.*:)', 1) || printf('%x:%x', {o1} * 256 + {o2}, {o3} * 256 + {o4}) END")
    # "::" stands for one or more zero groups and may appear once: write them out. Groups
    # around one "::": a group per colon, one less for a "::" at either end.
    groups = ("(length(v_) - length(replace(v_, ':', ''))"
              " - CAST(starts_with(v_, '::') AS INTEGER) - CAST(ends_with(v_, '::') AS INTEGER))")
    filled = f"replace(v_, '::', ':' || repeat('0:', 8 - {groups}))"
    expanded = (f"CASE WHEN NOT regexp_matches(v_, '^[0-9A-Fa-f:]+$') THEN NULL WHEN NOT contains(v_, '::') THEN v_"
                f" WHEN length(v_) - length(replace(v_, '::', '')) > 2 OR {groups} > 7 THEN NULL"
                # The colon before a leading "::" or after a trailing one goes.
                f" ELSE substr({filled}, 1 + CAST(starts_with(v_, '::') AS INTEGER),"
                f" length({filled}) - CAST(starts_with(v_, '::') AS INTEGER) - CAST(ends_with(v_, '::') AS INTEGER))"
                " END")
    split = f"CASE WHEN regexp_matches(v_, '^(?:{_HEX_GROUP}:){{7}}{_HEX_GROUP}$') THEN string_split(v_, ':') END"
    number = " + ".join(f"(CAST('0x' || v_[{k}] AS UHUGEINT) << {16 * (8 - k)})" for k in range(1, 9))
    return _chain(f"CAST({text} AS VARCHAR)", hex_text, expanded, split, f"lpad(bin({number}), 128, '0')")


def _ip_bits(text: str) -> str:
    """SQL for the bits of the IP address in SQL ``text``: 32 for IPv4, 128 for IPv6, null if it is neither."""
    return f"coalesce(lpad(bin({_ipv4_number(text)}), 32, '0'), {_ipv6_bits(text)})"


def _valid_ip(sizes: str) -> Scalar:
    return lambda a: Col(f"coalesce(length({_ip_bits(a[0].as_str)}) IN ({sizes}), false)", "bool")


def _in_subnet(sizes: str) -> Scalar:
    """True when the address is valid and in the CIDR block (address and block of the same version).

    A block such as 192.0.2.7/24 is read as 192.0.2.0/24: only its prefix counts.
    A block that is not CIDR, of the wrong version, or a bad address: false.
    """
    def build(a: list[Col]) -> Col:
        cidr = f"CAST({a[1].as_str} AS VARCHAR)"
        prefix = (f"CASE WHEN regexp_matches({cidr}, '^[^/]+/[0-9]{{1,3}}$')"
                  f" THEN CAST(split_part({cidr}, '/', 2) AS INTEGER) END")
        network = _ip_bits(f"split_part({cidr}, '/', 1)")
        parts = f"{{'b': {_ip_bits(a[0].as_str)}, 'n': {network}, 'p': {prefix}}}"
        test = (f"length(v_.b) = length(v_.n) AND length(v_.n) IN ({sizes}) AND v_.p <= length(v_.n)"
                " AND left(v_.b, v_.p) = left(v_.n, v_.p)")
        return Col(f"coalesce({_chain(parts, test)}, false)", "bool")
    return build


def _blocks(*cidrs: str) -> list[tuple[int, str]]:
    """Each CIDR block as (address bits, prefix bits) for ``_in_blocks``."""
    out = []
    for cidr in cidrs:
        net = ip_network(cidr)
        out.append((net.max_prefixlen, format(int(net.network_address), f"0{net.max_prefixlen}b")[: net.prefixlen]))
    return out


# RFC 1918, as documented: "in a private range (RFC 1918)".
_PRIVATE = _blocks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# Blocks of the IANA special-purpose registries (RFC 6890) that are not globally reachable,
# other than RFC 1918, with multicast: "this host", shared (CGN), loopback, link-local,
# IETF protocol assignments, documentation, benchmarking, 6to4 relay, multicast, future use
# and broadcast; for IPv6: unspecified, loopback, IPv4-mapped, discard, IETF protocol
# assignments, documentation, unique local, link-local and multicast.
_RESERVED = _blocks(
    "0.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "192.0.0.0/24", "192.0.2.0/24",
    "192.88.99.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::ffff:0:0/96", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10",
    "ff00::/8",
)


def _in_blocks(blocks: list[tuple[int, str]]) -> str:
    """SQL: the address whose bits are named ``v_`` lies in one of ``blocks``."""
    return "(" + " OR ".join(f"(length(v_) = {size} AND starts_with(v_, '{prefix}'))" for size, prefix in blocks) + ")"


def _ip_range(blocks: list[tuple[int, str]], inside: bool) -> Scalar:
    """True for a valid address in one of ``blocks`` (``inside``) or in none of them."""
    test = _in_blocks(blocks) if inside else f"NOT {_in_blocks(blocks)}"
    return lambda a: Col(f"coalesce({_chain(_ip_bits(a[0].as_str), test)}, false)", "bool")


_IP: dict[str, tuple[int, int | None, Scalar]] = {
    # "Returns true if ...": anything else (a bad address, a missing field) is false.
    "isvalidip": (1, 1, _valid_ip("32, 128")),
    "isvalidipv4": (1, 1, _valid_ip("32")),
    "isvalidipv6": (1, 1, _valid_ip("128")),
    "isipinsubnet": (2, 2, _in_subnet("32, 128")),
    "isipv4insubnet": (2, 2, _in_subnet("32")),
    "isipv6insubnet": (2, 2, _in_subnet("128")),
    # Not an IPv4 address: null.
    "ipv4tonumber": (1, 1, lambda a: Col(_ipv4_number(a[0].as_str), "num")),
    "isprivateip": (1, 1, _ip_range(_PRIVATE, inside=True)),
    "isreservedip": (1, 1, _ip_range(_RESERVED, inside=True)),
    # "publicly routable": a valid address in none of those blocks.
    "ispublicip": (1, 1, _ip_range(_PRIVATE + _RESERVED, inside=False)),
}

# name → (minimum args, maximum args or None, builder); names are lower case, as the parser spells calls.
SCALARS: dict[str, tuple[int, int | None, Scalar]] = {**_STRING, **_NUMBER, **_DATETIME, **_GENERAL, **_JSON, **_IP}
