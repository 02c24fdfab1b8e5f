"""Metric math: parser errors, arithmetic alignment and every function, by hand."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whispersync.errors import InputError, QueryTimeout
from whispersync.monitoring.metrics import MetricQueryError
from whispersync.monitoring.metrics._math import (
    MAX_DEPTH,
    MAX_NESTING,
    Context,
    MetricMathError,
    Series,
    evaluate,
    parse,
)

M = 60_000  # one minute in ms; timestamps below are minute indexes * M


def s(*values, start: int = 0) -> Series:
    """A series from values by minute; None leaves a gap (CloudWatch's '-')."""
    points = {(start + i) * M: float(v) for i, v in enumerate(values) if v is not None}
    return Series.from_dict(points)


def run(expression: str, grid_minutes: int = 0, **series: Series):
    context = Context(
        resolve=lambda qid: series[qid],
        metric_ids=list(series),
        periods={k: 60 for k in series},
        grid=[i * M for i in range(grid_minutes)],
    )
    return evaluate(parse(expression), context)


def vals(result: Series) -> list:
    return result.values


def points(result: Series) -> dict[int, float]:
    return {t // M: v for t, v in zip(result.timestamps, result.values)}


class TestParser:
    def test_precedence_follows_arithmetic(self) -> None:
        """* and / bind tighter than + and -; ^ tighter than unary minus and is right associative."""
        assert run("2 + 3 * 4 - 8 / 2") == 10
        assert run("-2 ^ 2") == -4
        assert run("2 ^ 3 ^ 2") == 512
        assert run("(2 + 3) * 4") == 20
        assert run("1.5e2 + .5") == 150.5

    @pytest.mark.parametrize(
        ("expression", "message"),
        [
            ("m1 +", "line 1, column 5: "),
            ("m1 $ m2", "line 1, column 4: unexpected character '$'"),
            ("(m1", "expected ')'"),
            ("FOO(m1)", "line 1, column 1: unknown function 'FOO'"),
            ("Errors / 2", "'Errors' is neither an id"),
            ("m1 m2", "column 4"),
            ("", "empty expression"),
            ('METRICS("x)', "unterminated string"),
        ],
    )
    def test_bad_syntax_names_the_position(self, expression: str, message: str) -> None:
        with pytest.raises(MetricMathError, match=message.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
            parse(expression)

    def test_and_or_words_and_symbols_are_the_same(self) -> None:
        assert run("1 AND 0 OR 1") == 1
        assert run("1 && 0 || 0") == 0


class TestArithmetic:
    def test_series_and_scalars(self) -> None:
        assert vals(run("m1 * 2 + 1", m1=s(1, 2, 3))) == [3, 5, 7]
        assert vals(run("10 - m1", m1=s(1, 2, 3))) == [9, 8, 7]
        assert vals(run("-m1", m1=s(1, -2))) == [-1, 2]
        assert vals(run("m1 ^ 2", m1=s(3, 4))) == [9, 16]

    def test_missing_values_count_as_zero_and_division_by_zero_drops_the_point(self) -> None:
        """'Missing values in a time series are treated as 0'; a divide by zero drops the point."""
        a = s(10, None, 30, None)
        b = s(2, 4, None, None)
        assert points(run("a + b", a=a, b=b)) == {0: 12, 1: 4, 2: 30}
        assert points(run("a / b", a=a, b=b)) == {0: 5, 1: 0}  # 30/0 dropped; minute 3 in neither

    def test_the_seed_error_rate(self) -> None:
        errors = s(1, None, 5, 0)
        invocations = s(10, 20, 0, 4)
        assert points(run("errors/invocations*100", errors=errors, invocations=invocations)) == {
            0: 10.0, 1: 0.0, 3: 0.0,
        }

    def test_the_seed_success_rate(self) -> None:
        assert vals(run("success/total*100", success=s(9, 3), total=s(10, 4))) == [90, 75]

    def test_the_seed_lambda_cost_formula(self) -> None:
        """invocations * 0.0000002 + (duration/1000 * memory/1024) * 0.0000166667, by hand."""
        result = run(
            "invocations * 0.0000002 + (duration/1000 * memory/1024) * 0.0000166667",
            invocations=s(1000), duration=s(200), memory=s(512),
        )
        expected = 1000 * 0.0000002 + (200 / 1000 * 512 / 1024) * 0.0000166667
        assert vals(result) == [pytest.approx(expected)]
        assert expected == pytest.approx(0.00020166667)

    def test_the_seed_s3_cost_formula(self) -> None:
        result = run("(get * 0.0004 + put * 0.005) / 1000", get=s(10000, 0), put=s(200, 1000))
        assert vals(result) == [pytest.approx(0.005), pytest.approx(0.005)]

    def test_arrays_combine_with_series_and_scalars(self) -> None:
        result = run("METRICS() * 100", m1=s(1, 2), m2=s(3))
        assert [vals(x) for x in result] == [[100, 200], [300]]
        result = run("SUM(100/[m1, m2])", m1=s(1, 2), m2=s(4, 5))
        # 100/1 + 100/4, 100/2 + 100/5
        assert vals(result) == [125, 70]


class TestComparisonAndLogic:
    """The documented example: metric1 = [30, 20, 0, 0], metric2 = [20, -, 20, -]."""

    metric1 = s(30, 20, 0, 0)
    metric2 = s(20, None, 20, None)

    def test_comparison_of_two_series(self) -> None:
        assert vals(run("metric1 < metric2", metric1=self.metric1, metric2=self.metric2)) == [0, 0, 1, 0]

    def test_comparison_with_a_scalar(self) -> None:
        assert vals(run("metric1 >= 30", metric1=self.metric1)) == [1, 0, 0, 0]

    def test_and_of_two_comparisons(self) -> None:
        result = run("metric1 > 15 AND metric2 > 15", metric1=self.metric1, metric2=self.metric2)
        assert vals(result) == [1, 0, 0, 0]

    def test_all_operators(self) -> None:
        a = s(1, 2, 3)
        assert vals(run("a == 2", a=a)) == [0, 1, 0]
        assert vals(run("a != 2", a=a)) == [1, 0, 1]
        assert vals(run("a <= 2", a=a)) == [1, 1, 0]
        assert vals(run("a > 2 || a < 2", a=a)) == [1, 0, 1]


class TestIf:
    """The documented tables of 'Using IF expressions'."""

    metric1 = s(1, 1, 0, 0, None)
    metric2 = s(30, None, 0, 0, 30)
    metric3 = s(0, 0, 20, None, 20)

    def test_if_series_series_series(self) -> None:
        result = run("IF(metric1, metric2, metric3)", metric1=self.metric1, metric2=self.metric2,
                     metric3=self.metric3)
        assert points(result) == {0: 30, 1: 0, 2: 20}

    def test_if_series_scalar_series(self) -> None:
        result = run("IF(metric1, 5, metric3)", metric1=self.metric1, metric3=self.metric3)
        assert points(result) == {0: 5, 1: 5, 2: 20}

    def test_if_series_series_scalar(self) -> None:
        result = run("IF(metric1, metric2, 5)", metric1=self.metric1, metric2=self.metric2)
        assert points(result) == {0: 30, 1: 0, 2: 5, 3: 5}

    def test_if_without_false_branch_drops_false_points(self) -> None:
        assert points(run("IF(m1 < 400, m1)", m1=s(100, 500, 300))) == {0: 100, 2: 300}

    def test_if_to_two_values(self) -> None:
        assert vals(run("IF(m1 < 400, 10, 2)", m1=s(100, 500))) == [10, 2]

    def test_if_with_a_scalar_condition(self) -> None:
        assert vals(run("IF(1, a, b)", a=s(1), b=s(2))) == [1]
        assert vals(run("IF(0, a, b)", a=s(1), b=s(2))) == [2]
        assert vals(run("IF(0, a)", a=s(1))) == []


class TestFunctions:
    def test_abs_ceil_floor(self) -> None:
        assert vals(run("ABS(m1 - m2)", m1=s(1, 5), m2=s(3, 2))) == [2, 3]
        assert vals(run("CEIL(m1)", m1=s(1.2, -1.2))) == [2, -1]
        assert vals(run("FLOOR(m1)", m1=s(1.8, -1.2))) == [1, -2]

    def test_log_drops_undefined_points(self) -> None:
        assert vals(run("LOG10(m1)", m1=s(100, 0, -1))) == [2]
        assert vals(run("LOG(m1)", m1=s(math.e))) == [pytest.approx(1)]

    def test_rate_per_second_between_consecutive_points(self) -> None:
        """(latest - previous) / seconds between them; the first point has no predecessor."""
        sent = s(10, 70, None, 190)  # 60 s, then a 120 s gap
        assert points(run("RATE(sent)", sent=sent)) == {1: 1.0, 3: 1.0}

    def test_diff_and_diff_time(self) -> None:
        m1 = s(5, 8, None, 4)
        assert points(run("DIFF(m1)", m1=m1)) == {1: 3, 3: -4}
        assert points(run("DIFF_TIME(m1)", m1=m1)) == {1: 60, 3: 120}

    def test_running_sum(self) -> None:
        assert vals(run("RUNNING_SUM(m1)", m1=s(1, 2, None, 3))) == [1, 3, 6]

    def test_reducers_of_one_series_are_scalars(self) -> None:
        m1 = s(2, 4, 4, 4, 5, 5, 7, 9)
        assert run("SUM(m1)", m1=m1) == 40
        assert run("AVG(m1)", m1=m1) == 5
        assert run("MIN(m1)", m1=m1) == 2
        assert run("MAX(m1)", m1=m1) == 9
        assert run("STDDEV(m1)", m1=m1) == 2  # population standard deviation
        assert run("DATAPOINT_COUNT(m1)", m1=m1) == 8
        assert vals(run("m1 - MIN(m1)", m1=s(3, 5))) == [0, 2]

    def test_reducers_of_arrays_are_series_with_missing_as_zero(self) -> None:
        m1, m2 = s(1, 4, None), s(3, None, 6)
        assert vals(run("SUM(METRICS())", m1=m1, m2=m2)) == [4, 4, 6]
        assert vals(run("AVG([m1, m2])", m1=m1, m2=m2)) == [2, 2, 3]
        assert vals(run("MIN(METRICS())", m1=m1, m2=m2)) == [1, 0, 0]
        assert vals(run("MAX(METRICS())", m1=m1, m2=m2)) == [3, 4, 6]
        assert vals(run("STDDEV(METRICS())", m1=m1, m2=m2)) == [1, 2, 3]
        assert vals(run("DATAPOINT_COUNT(METRICS())", m1=m1, m2=m2)) == [2, 1, 1]
        assert run("METRIC_COUNT(METRICS())", m1=m1, m2=m2) == 2

    def test_metrics_filters_by_id_substring(self) -> None:
        result = run('SUM(METRICS("errors"))', errors4xx=s(1), errors5xx=s(2), requests=s(100))
        assert vals(result) == [3]
        result = run("SUM([METRICS(\u201c4xx\u201d), METRICS(\u201c5xx\u201d)])", errors4xx=s(1), errors5xx=s(2))
        assert vals(result) == [3]

    def test_fill_with_a_value_repeat_linear_and_a_series(self) -> None:
        m1 = s(None, 1, None, None, 4, None)
        assert vals(run("FILL(m1, 0)", grid_minutes=6, m1=m1)) == [0, 1, 0, 0, 4, 0]
        assert points(run("FILL(m1, REPEAT)", grid_minutes=6, m1=m1)) == {1: 1, 2: 1, 3: 1, 4: 4, 5: 4}
        assert points(run("FILL(m1, LINEAR)", grid_minutes=6, m1=m1)) == {1: 1, 2: 2, 3: 3, 4: 4}
        assert points(run("FILL(m1, m2)", grid_minutes=6, m1=m1, m2=s(9, 9, 9))) == {0: 9, 1: 1, 2: 9, 4: 4}
        assert vals(run("FILL(m1, MIN(m1))", grid_minutes=3, m1=m1)) == [1, 1, 1, 4]  # 4 lies past the grid
        filled = run("FILL(METRICS(), 0)", grid_minutes=2, m1=s(1), m2=s(None, 2))
        assert [vals(x) for x in filled] == [[1, 0], [0, 2]]

    def test_time_series_is_dense_over_the_grid(self) -> None:
        assert vals(run("TIME_SERIES(10)", grid_minutes=3)) == [10, 10, 10]
        assert vals(run("TIME_SERIES(5 * AVG(m1))", grid_minutes=2, m1=s(1, 3))) == [10, 10]

    def test_period(self) -> None:
        assert vals(run("m1 / PERIOD(m1)", m1=s(120))) == [2]
        with pytest.raises(MetricQueryError, match="PERIOD"):
            run("PERIOD(m1 + 1)", m1=s(1))

    def test_first_last_remove_empty(self) -> None:
        assert vals(run("FIRST(METRICS())", m1=s(1), m2=s(2))) == [1]
        assert vals(run("LAST(METRICS())", m1=s(1), m2=s(2))) == [2]
        assert len(run("REMOVE_EMPTY(METRICS())", m1=s(1), m2=s())) == 1

    def test_sort_and_slice(self) -> None:
        series = {"m1": s(1, 1), "m2": s(5, 5), "m3": s(3, 3)}
        assert [x.values[0] for x in run("SORT(METRICS(), AVG, DESC)", **series)] == [5, 3, 1]
        assert [x.values[0] for x in run("SORT(METRICS(), MAX, ASC, 2)", **series)] == [1, 3]
        assert [x.values[0] for x in run("SLICE(SORT(METRICS(), SUM, DESC), 1)", **series)] == [3, 1]
        assert vals(run("IF(FIRST(SORT(METRICS(), AVG, DESC)) > 4, 1, 0)", **series)) == [1, 1]

    def test_time_functions(self) -> None:
        # 1970-01-01 was a Thursday: DAY = 4; minute 61 = 01:01.
        assert vals(run("HOUR(m1)", grid_minutes=62, m1=s(1)))[61] == 1
        assert vals(run("MINUTE(m1)", grid_minutes=62, m1=s(1)))[61] == 1
        assert vals(run("DAY(m1)", grid_minutes=1, m1=s(1))) == [4]
        assert vals(run("EPOCH(m1)", grid_minutes=2, m1=s(1))) == [0, 60]

    @pytest.mark.parametrize(
        ("expression", "message"),
        [
            ("RATE(5)", "needs a time series"),
            ("ABS(m1, m1)", "takes 1 argument"),
            ("FIRST(m1)", "needs an array"),
            ('METRICS(m1)', "optional string"),
            ("SORT(METRICS(), AVG, UP)", "unknown name 'UP'"),
            ("[m1, 1]", "only time series"),
            ("1 / 0", "undefined"),
        ],
    )
    def test_misuse_is_a_clear_input_error(self, expression: str, message: str) -> None:
        """A syntax error is a MetricMathError, a value an operation cannot take a
        MetricQueryError: both the caller's fault, neither a ValueError (that is a bug)."""
        with pytest.raises((MetricMathError, MetricQueryError), match=message):
            run(expression, m1=s(1))


class TestGridLimit:
    """A 1-second grid over decades must be refused, not materialised (it ran the process out of memory)."""

    @pytest.mark.parametrize("expression", ["TIME_SERIES(1)", "FILL(m1, 0)", "HOUR(m1)"])
    def test_a_grid_beyond_getmetricdatas_datapoint_limit_is_an_error(self, expression: str) -> None:
        context = Context(resolve=lambda qid: s(1, 2), metric_ids=["m1"], periods={"m1": 1},
                          grid=range(0, 200_000 * 1000, 1000))
        with pytest.raises(MetricQueryError, match="100,800"):
            evaluate(parse(expression), context)

    def test_a_grid_at_the_limit_still_works(self) -> None:
        context = Context(resolve=lambda qid: s(1), grid=range(0, 100_800 * 1000, 1000))
        assert len(evaluate(parse("TIME_SERIES(1)"), context).values) == 100_800


@pytest.mark.parametrize("expression", ["(" * 5000 + "m1" + ")" * 5000, "-" * 5000 + "m1"])
def test_a_deeply_nested_expression_is_a_syntax_error_not_a_recursion_error(expression: str) -> None:
    with pytest.raises(MetricMathError, match="nested too deeply"):
        parse(expression)


class TestLimits:
    """Issue 7: a long chain raised RecursionError (an HTTP 500); now a positioned syntax error."""

    def test_a_long_chain_is_a_positioned_syntax_error(self) -> None:
        expression = "+".join(["m1"] * 5000)
        with pytest.raises(MetricMathError) as info:
            parse(expression)
        assert isinstance(info.value, InputError) and not isinstance(info.value, ValueError)
        assert info.value.position == 3 * MAX_DEPTH - 1  # the operator that went past the limit
        assert "nested too deeply" in str(info.value)

    def test_the_first_error_is_reported_without_reading_the_rest(self) -> None:
        # CI: a huge input took over the fuzz test's 2 s budget while all of it was
        # tokenized before the parser stopped at its first error.
        with pytest.raises(MetricMathError) as info:
            parse("(" * 40 + "#" * 100_000)
        assert info.value.position == 32 and "nested too deeply" in str(info.value)

    def test_a_chain_at_the_limit_parses_and_evaluates(self) -> None:
        node = parse("+".join(["m1"] * MAX_DEPTH))
        assert evaluate(node, Context(resolve=lambda qid: s(1, 2))).values == [MAX_DEPTH * 1.0, MAX_DEPTH * 2.0]

    @pytest.mark.parametrize("opening", ["(", "[", "ABS(", "-", "2^"])
    def test_deep_nesting_is_a_positioned_syntax_error(self, opening: str) -> None:
        closing = {"(": ")", "[": "]", "ABS(": ")"}.get(opening, "")
        with pytest.raises(MetricMathError) as info:
            parse(opening * 40 + "m1" + closing * 40)
        assert info.value.position == len(opening) * MAX_NESTING + len(opening) - 1  # the first one too deep

    def test_deep_calls_evaluate_without_recursion_errors(self) -> None:
        node = parse("ABS(" * MAX_NESTING + "m1" + ")" * MAX_NESTING)
        assert evaluate(node, Context(resolve=lambda qid: s(-1))).values == [1.0]

    def test_evaluation_past_its_deadline_is_a_query_timeout(self) -> None:
        with pytest.raises(QueryTimeout):
            evaluate(parse("m1 + 1"), Context(resolve=lambda qid: s(1), deadline=time.monotonic() - 1))


class TestLongSeriesInNumpy:
    """Long series take numpy's arithmetic (issue 15); short ones the per-point loop. Both
    must give the same points: division by zero and overflow dropped, comparisons 1 or 0."""

    values = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 5e-324]),
                       st.floats(allow_nan=False, allow_infinity=False))

    @given(data=st.data(), op=st.sampled_from(["+", "-", "*", "/", "==", "!=", "<", ">", "<=", ">="]))
    @settings(max_examples=60, deadline=None)
    def test_the_same_points_as_the_loop(self, data, op) -> None:
        from whispersync.monitoring.metrics import _math

        n = data.draw(st.integers(_math._NUMPY_MIN_POINTS, 3 * _math._NUMPY_MIN_POINTS))
        a = Series([i * M for i in range(n)], data.draw(st.lists(self.values, min_size=n, max_size=n)), "a")
        b = Series(list(a.timestamps), data.draw(st.lists(self.values, min_size=n, max_size=n)), "b")
        scalar = data.draw(self.values)
        for left, right in ((a, b), (a, scalar), (scalar, b)):
            fast = _math._binary(op, left, right)
            saved, _math._NUMPY_MIN_POINTS = _math._NUMPY_MIN_POINTS, 10**9  # the loop, for the same input
            try:
                slow = _math._binary(op, left, right)
            finally:
                _math._NUMPY_MIN_POINTS = saved
            assert (fast.timestamps, fast.values, fast.label) == (slow.timestamps, slow.values, slow.label)
            assert all(type(v) is float for v in fast.values) and all(type(t) is int for t in fast.timestamps)
            assert fast.timestamps is not a.timestamps  # a new list: the inputs stay as they were

    def test_a_long_rate_drops_what_divides_by_zero(self) -> None:
        n = 200
        errors = s(*[i % 7 for i in range(n)])
        invocations = s(*[i % 5 for i in range(n)])  # every fifth minute: 0 invocations
        result = run("errors/invocations*100", errors=errors, invocations=invocations)
        assert result.timestamps == [i * M for i in range(n) if i % 5]
        assert result.values == [(i % 7) / (i % 5) * 100 for i in range(n) if i % 5]
