"""Keep it closed (issue 7): every query language answers any input with a result or
its documented, positioned error, within a time budget.

Random text, text built from fragments of each grammar, and adversarial shapes
(deep nesting, long chains, many wildcards, huge strings) go through the real
parser and evaluator; Insights queries run against a small real store.
"""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from whispersync.errors import QueryTimeout
from whispersync.monitoring.alarms import _composite as composite
from whispersync.monitoring.metrics import MetricQueryError
from whispersync.monitoring.metrics import _math as metric_math
from whispersync.monitoring.logs import FilterPatternError, parse_pattern
from whispersync.monitoring.logs.insights import InsightsQueryError, run_query
from whispersync.monitoring.store import TelemetryStore
from whispersync.monitoring.traces import TraceFilterError, parse_trace_filter, search_traces

BUDGET_S = 2.0
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
T0 = 1_795_787_100_000  # 2026-11-27T13:45:00Z


def within_budget(fn, *args, errors: tuple[type[Exception], ...]):
    """Run ``fn``: a result or one of ``errors`` (with a position where it has one), fast."""
    started = time.perf_counter()
    try:
        return fn(*args)
    except errors as exc:
        position = getattr(exc, "position", None)
        assert position is None or isinstance(position, int) and position >= 0
        return exc
    finally:
        assert time.perf_counter() - started < BUDGET_S, f"{fn.__name__} took too long on {args!r:.200}"


def grammar(fragments: list[str], max_size: int = 40) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(fragments), max_size=max_size).map("".join)


def adversarial(fragments: list[str]) -> st.SearchStrategy[str]:
    """One fragment repeated many times, optionally wrapped: deep nesting and long chains."""
    return st.builds(lambda f, n, wrap: (wrap[0] * n) + f * n + (wrap[1] * n),
                     st.sampled_from(fragments), st.integers(1, 3000),
                     st.sampled_from([("", ""), ("(", ")"), ("[", "]"), ("not ", ""), ("NOT ", ""), ("-", "")]))


TEXT = st.text(max_size=300)
HUGE = st.builds(lambda c, n: c * n, st.sampled_from(["a", "1", "(", "*", "%", "\\", "[ ", '"', "a."]),
                 st.integers(10_000, 300_000))

# ------------------------------------------------------------------ metric math

MATH = ["m1", "m2", " ", "+", "-", "*", "/", "^", "(", ")", "[", "]", ",", "1", "2.5", "1e308", "0",
        "SUM(", "AVG(", "METRICS(", '"m"', "FILL(", "REPEAT", "LINEAR", "IF(", "==", "&&", "||", "AND", "OR",
        "RATE(", "SORT(", "ASC", "DESC", "SLICE(", "TIME_SERIES(", "PERIOD(", "ABS(", "LOG(", "FIRST(", "x!"]


def _math(expression: str):
    series = metric_math.Series([T0, T0 + 60_000], [1.0, 0.0])
    context = metric_math.Context(resolve=lambda qid: series, metric_ids=["m1", "m2"], periods={"m1": 60, "m2": 60},
                                  grid=range(T0, T0 + 600_000, 60_000), deadline=time.monotonic() + BUDGET_S)
    node = metric_math.parse(expression)
    return metric_math.evaluate(node, context)


@FUZZ
@given(st.one_of(TEXT, grammar(MATH), adversarial(MATH), HUGE))
@example("+".join(["m1"] * 5000))  # issue 7: RecursionError, an HTTP 500
@example("+".join(["m1"] * metric_math.MAX_DEPTH))
def test_metric_math(expression: str) -> None:
    # Never a plain ValueError: that would be a bug, a 500 over HTTP.
    within_budget(_math, expression, errors=(metric_math.MetricMathError, MetricQueryError, QueryTimeout))


# -------------------------------------------------------------- filter patterns

FILTER = ["{", "}", "[", "]", "(", ")", "$.", "a", "b", "[0]", " ", "=", "!=", "<", ">=", "&&", "||", '"', "*",
          "%", "IS NULL", "EXISTS", "NOT EXISTS", "...", ",", "?", "-", "ERROR", "1", "1.5e3", "\\", "\u00e9"]
LINES = ['{"a": "ERROR", "b": [1, 2]}', "[ERROR 400] BAD REQUEST", "1 2 3 4 5", "", '{"a": "' + "a" * 2000 + '"}',
         "a" * 20_000, "[ " * 5000, "1" * 10_000 + "x"]


@FUZZ
@given(st.one_of(TEXT, grammar(FILTER), adversarial(FILTER), HUGE), st.sampled_from(LINES))
@example('{ $.x = "*a*a*a*a*a*a*a*a*a*a*Q" }', '{"x": "' + "a" * 2000 + '"}')  # issue 7: over a minute
@example("%a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*Q%", "a" * 20_000)
@example("[" + "..., " * 10 + ", ".join(f"f{i}" for i in range(40)) + "]", " ".join(["x"] * 39))
def test_filter_patterns(pattern: str, line: str) -> None:
    compiled = within_budget(parse_pattern, pattern, errors=(FilterPatternError,))
    if not isinstance(compiled, Exception):
        within_budget(compiled.match, line, errors=())
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        if isinstance(record, dict):
            within_budget(compiled.match_record, record, errors=())


# -------------------------------------------------------------- composite rules

RULES = ["ALARM(", "OK(", "INSUFFICIENT_DATA(", "a", '"b c"', ")", "(", " ", "AND ", "OR ", "NOT ", "TRUE", "FALSE",
         "arn:aws:cloudwatch:us-east-1:1:alarm:x", "and"]


def _rule(text: str):
    rule = composite.parse(text)
    rule.terms()
    return rule.evaluate({"a": "ALARM", "b c": "OK"})


@FUZZ
@given(st.one_of(TEXT, grammar(RULES), adversarial(RULES), HUGE))
def test_composite_rules(text: str) -> None:
    within_budget(_rule, text, errors=(composite.RuleSyntaxError,))


# -------------------------------------------------------------- trace filters

TRACE = ["annotation.", "agent_type", "annotation[x]", " ", "=", "!=", "<", ">=", '"work"', "'x'", "1", "-2.5",
         "true", "false", "AND", "OR", "NOT", "!", "&&", "||", "(", ")", "error", "fault", "ok", "duration",
         "responsetime", "CONTAINS", "BEGINSWITH", "ENDSWITH", "\\"]


@FUZZ
@given(st.one_of(TEXT, grammar(TRACE), adversarial(TRACE), HUGE))
@example("duration > " + "1" * 50_000 + "x")
@example(" OR ".join(["error"] * 3000))
def test_trace_filters_parse(text: str) -> None:
    within_budget(parse_trace_filter, text, errors=(TraceFilterError,))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = TelemetryStore(tmp_path_factory.mktemp("fuzz") / "telemetry")
    for i in range(20):
        store.emit("logs", {"timestamp": T0 + i * 1000, "level": "ERROR" if i % 3 else "INFO",
                            "message": f"event {i} took {i * 7} ms", "service": "whispersync",
                            "duration_ms": i * 7, "agent_type": ["work", "memory"][i % 2]})
        store.emit("spans", {"trace_id": f"{i:032x}", "span_id": f"{i:016x}", "name": "ingest",
                             "start_time_unix_nano": (T0 + i * 1000) * 10**6,
                             "end_time_unix_nano": (T0 + i * 1000 + 5) * 10**6, "duration_ms": 5.0,
                             "status": "ERROR" if i % 4 == 0 else "OK", "annotations": {"agent_type": "work"}})
    store.flush()
    yield store
    store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.one_of(grammar(TRACE, 12), adversarial(TRACE)))
def test_trace_search_runs(store, text: str) -> None:
    def search(expression: str):
        return search_traces(store, filter=expression, start_ms=T0 - 1, end_ms=T0 + 60_000)

    within_budget(search, text, errors=(TraceFilterError,))


# ------------------------------------------------------------------- Insights

INSIGHTS = ["fields ", "filter ", "stats ", "sort ", "limit ", "parse ", "display ", "dedup ", "| ", "@message",
            "@timestamp", "level", "duration_ms", "agent_type", " ", "=", "!=", "<", ">", "+", "-", "*", "/",
            "%", "^", "(", ")", ",", "[", "]", "'ERROR'", '"x"', "1", "2.5", "1e400", "5m", "and ", "or ",
            "not ", "like ", "in ", "as n", "by ", "desc", "count(", "count(*)", "sum(", "avg(", "pct(", "bin(",
            "strlen(", "concat(", "abs(", "/ERROR/", "/(?<v>\\d+)/", "/a(?=b)/", "/[/", "\"* took * ms\"",
            "=~", "#c\n"]
INSIGHTS_ERRORS = (InsightsQueryError, QueryTimeout)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.one_of(TEXT, grammar(INSIGHTS, 16), adversarial(INSIGHTS), HUGE))
@example("fields " + " + ".join(["duration_ms"] * 600))
@example("fields abs(1e400)")
@example("filter @message like /a(?=b)/")
def test_insights(store, query: str) -> None:
    def run(text: str):
        return run_query(store, text, start_ms=T0 - 1, end_ms=T0 + 60_000, timeout=BUDGET_S)

    result = within_budget(run, query, errors=INSIGHTS_ERRORS)
    if isinstance(result, InsightsQueryError) and "could not be run" in str(result):
        assert result.detail is not None and result.detail not in str(result)
