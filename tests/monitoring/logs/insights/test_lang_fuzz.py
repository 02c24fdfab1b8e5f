"""Queries built at random from commands, fields (present, absent, defined by the query),
functions and aggregates: each runs, or fails with our own positioned words, never the
query engine's (Binder Error, ORDER BY ..., Catalog ...).

Unlike tests/monitoring/test_query_fuzz.py (random text, mostly syntax errors), these
are well-formed queries, so they reach the compiler and DuckDB; a query refused by
DuckDB is a bug of ours in the SQL we built, and fails this test.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from whispersync.monitoring.logs.insights import InsightsQueryError
from whispersync.monitoring.logs.insights._functions import SCALARS

T0 = 1795780800000  # as in conftest.py
START, END = T0 - 60_000, T0 + 3_600_000

# Words of DuckDB's messages and of the SQL we generate: none may reach the user.
ENGINE_WORDS = ("Binder Error", "Parser Error", "Catalog", "Conversion Error", "Invalid Input Error",
                "Out of Range", "ORDER BY", "GROUP BY", "SELECT", "duckdb", "DuckDB", "TRY_CAST", "struct_extract",
                "regexp_", "INT64", "VARCHAR", "__matched")

FIELDS = ["@timestamp", "@message", "@log", "@logStream", "level", "agent_type", "duration_ms", "transcript_size",
          "correlation_id", "http.status", "error_type", "nosuch", "@nosuch", "n", "x", "p1", "p12"]
LITERALS = ["1", "0", "-2.5", "'ERROR'", '"work"', "1e3"]
AGGREGATES = ["count(*)", "count()", "count({f})", "count_distinct({f})", "sum({f})", "avg({f})", "min({f})",
              "max({f})", "pct({f}, 50)", "earliest({f})", "latest({f})", "stddev({f})"]
# A glob with 12 stars and a regex with 12 named groups: past regexp_extract's 9 numbered groups.
GLOB12 = '"' + "*" * 12 + '" as ' + ", ".join(f"p{i}" for i in range(1, 13))
REGEX12 = "/" + "".join(f"(?<p{i}>.)" for i in range(1, 13)) + "/"


def _value(draw, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["field", "field", "literal", "function", "arith"] if depth < 2 else ["field"]))
    if kind == "field":
        return draw(st.sampled_from(FIELDS))
    if kind == "literal":
        return draw(st.sampled_from(LITERALS))
    if kind == "arith":
        op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        return f"{_value(draw, depth + 1)} {op} {_value(draw, depth + 1)}"
    name = draw(st.sampled_from(sorted(SCALARS)))
    low, high, _ = SCALARS[name]
    count = draw(st.integers(low, high if high is not None else low + 2))
    return f"{name}({', '.join(_value(draw, depth + 1) for _ in range(count))})"


def _condition(draw) -> str:
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return f"{_value(draw)} {draw(st.sampled_from(['=', '!=', '<', '>=']))} {_value(draw)}"
    if shape == 1:
        return f"{draw(st.sampled_from(FIELDS))} like /{draw(st.sampled_from(['ERROR', 'o.s', '^P', '(?i)work']))}/"
    if shape == 2:
        return f"{draw(st.sampled_from(FIELDS))} in [{_value(draw, 2)}, {draw(st.sampled_from(LITERALS))}]"
    if shape == 3:
        return f"ispresent({draw(st.sampled_from(FIELDS))})"
    return f"not {_value(draw)}"


def _aggregate(draw) -> str:
    text = draw(st.sampled_from(AGGREGATES)).format(f=draw(st.sampled_from(FIELDS)))
    if draw(st.booleans()):
        other = draw(st.sampled_from(AGGREGATES[:2] + LITERALS[:3]))
        text = f"{text} {draw(st.sampled_from(['+', '-', '*', '/']))} {other}"
    return text


def _command(draw) -> str:
    word = draw(st.sampled_from(["fields", "display", "filter", "stats", "sort", "limit", "parse"]))
    if word in ("fields", "display"):
        items = [_value(draw) + (f" as {draw(st.sampled_from(['n', 'x', 'p1']))}" if draw(st.booleans()) else "")
                 for _ in range(draw(st.integers(1, 3)))]
        return f"{word} {', '.join(items)}"
    if word == "filter":
        return f"filter {_condition(draw)}"
    if word == "stats":
        items = [f"{_aggregate(draw)} as {alias}" for alias in draw(st.sampled_from([["n"], ["n", "x"], ["x"]]))]
        if len(items) == 2 and draw(st.booleans()):
            items.append("n - x as spread")  # an earlier alias of the same stats
        by = draw(st.sampled_from(["", " by level", " by bin(5m)", " by nosuch", " by agent_type, bin(1h)",
                                   " by n", " by strlen(@message)"]))
        return f"stats {', '.join(items)}{by}"
    if word == "sort":
        keys = [f"{_value(draw)} {draw(st.sampled_from(['asc', 'desc', '']))}"
                for _ in range(draw(st.integers(1, 2)))]
        return f"sort {', '.join(keys)}"
    if word == "limit":
        return f"limit {draw(st.integers(1, 20))}"
    return draw(st.sampled_from([f"parse @message {GLOB12}", f"parse @message {REGEX12}",
                                 'parse @message "* [*] *" as a, lvl, m', "parse message /(?<n>\\d+)/",
                                 "parse @message /(\\w+) (\\w+)/ as x, p1",
                                 'parse nosuch "*-*" as x, p1']))


@st.composite
def queries(draw) -> str:
    commands = [_command(draw) for _ in range(draw(st.integers(1, 5)))]
    if draw(st.integers(0, 3)) == 0:  # only limit may follow dedup
        commands.append(f"dedup {draw(st.sampled_from(FIELDS))}" + (" | limit 3" if draw(st.booleans()) else ""))
    if draw(st.booleans()):
        commands.insert(0, draw(st.sampled_from(["SOURCE '/whispersync/test'", "SOURCE 'nope'",
                                                 "SOURCE logGroups(namePrefix: ['/whisper'])"])))
    return " | ".join(commands)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(queries())
@example("stats count() as n | sort nosuch")  # was: "ORDER BY non-integer literal has no effect"
@example("sort @timestamp desc | limit 3 | stats count() as n by level | stats sum(n) as t")
@example(f"parse @message {REGEX12} | stats count() by p12")  # was: "Group index must be between 0 and 9"
@example("stats count() by nosuch | sort nosuch | dedup nosuch")
def test_a_well_formed_query_runs_or_says_why_in_our_words(query, text: str) -> None:
    try:
        result = query(text)
    except InsightsQueryError as exc:
        message = str(exc)
        assert not any(word in message for word in ENGINE_WORDS), message
        assert "a bug in WhisperSync" not in message, (text, exc.detail)  # DuckDB refused the SQL we built
        assert 0 <= exc.position <= len(text)
    else:
        assert len(result["columns"]) == len(set(result["columns"])) and all(
            len(row) == len(result["columns"]) for row in result["rows"])
