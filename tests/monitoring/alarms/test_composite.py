"""The composite AlarmRule grammar: functions, operators, precedence, quoting, errors, cycles."""

from __future__ import annotations

import pytest

from whispersync.errors import InputError
from whispersync.monitoring.alarms._composite import MAX_NESTING, RuleSyntaxError, check_cycles, parse
from whispersync.monitoring.alarms import AlarmError

STATES = {"a": "ALARM", "b": "OK", "c": "INSUFFICIENT_DATA", "my alarm-1": "ALARM"}


class TestEvaluation:
    @pytest.mark.parametrize("rule, expected", [
        ("ALARM(a)", True),
        ("OK(a)", False),
        ("OK(b)", True),
        ("INSUFFICIENT_DATA(c)", True),
        ("TRUE", True),
        ("FALSE", False),
        ("NOT ALARM(b)", True),
        ("NOT NOT ALARM(a)", True),
        ("ALARM(a) AND OK(b)", True),
        ("ALARM(a) AND ALARM(b)", False),
        ("ALARM(b) OR ALARM(a)", True),
        ("ALARM(b) OR ALARM(c) OR FALSE", False),
        # NOT binds tighter than AND, AND tighter than OR.
        ("ALARM(a) OR ALARM(b) AND ALARM(c)", True),
        ("(ALARM(a) OR ALARM(b)) AND ALARM(c)", False),
        ("NOT ALARM(a) AND ALARM(a)", False),
        ("NOT (ALARM(b) AND ALARM(a))", True),
        ("((ALARM(a)))", True),
        ("ALARM(a) AND (OK(b) OR (INSUFFICIENT_DATA(c) AND NOT TRUE))", True),
    ])
    def test_it_evaluates_rules(self, rule, expected):
        assert parse(rule).evaluate(STATES) is expected

    def test_names_may_be_quoted_or_not(self):
        """Double quotes are optional; an unquoted name runs to the ')' and may hold spaces and dashes."""
        assert parse('ALARM("my alarm-1")').references == {"my alarm-1"}
        assert parse("ALARM(my alarm-1)").evaluate(STATES)
        assert parse('ALARM( "a" ) AND OK( b )').references == {"a", "b"}

    def test_an_arn_refers_to_the_alarm_name(self):
        rule = parse("ALARM(arn:aws:cloudwatch:eu-west-1:123456789012:alarm:SystemDown)")
        assert rule.references == {"SystemDown"}

    def test_an_unknown_alarm_counts_as_insufficient_data(self):
        assert parse("INSUFFICIENT_DATA(nobody)").evaluate({})

    def test_the_seed_system_health_rule(self):
        rule = parse("ALARM(SystemDown) OR ALARM(DLQMessages) OR ALARM(Api5xx)")
        assert not rule.evaluate({"SystemDown": "OK", "DLQMessages": "OK", "Api5xx": "INSUFFICIENT_DATA"})
        assert rule.evaluate({"SystemDown": "OK", "DLQMessages": "ALARM", "Api5xx": "OK"})


class TestSyntaxErrors:
    @pytest.mark.parametrize("rule, position, message", [
        ("", 0, "empty"),
        ("ALARM(a) AND", 12, "ends where an expression"),
        ("ALARM(a) OR OR OK(b)", 12, "unexpected 'OR'"),
        ("ALARM a", 6, "needs an alarm name in parentheses"),
        ("ALARM(a", 6, "missing ')'"),
        ("(ALARM(a)", 9, "missing ')' to close the '(' at position 0"),
        ("ALARM(a))", 8, "unexpected ')'"),
        ("ALARM()", 6, "needs an alarm name"),
        ('ALARM("a)', 6, "unterminated quoted alarm name"),
        ("alarm(a)", 0, "keywords are upper case"),
        ("WARNING(a)", 0, "unexpected 'WARNING'"),
        ("ALARM(a) XOR OK(b)", 9, "unexpected 'XOR"),
        ("TRUEISH", 0, "unexpected 'TRUEI"),
    ])
    def test_it_reports_the_position(self, rule, position, message):
        with pytest.raises(RuleSyntaxError) as info:
            parse(rule)
        assert info.value.position == position
        assert message in str(info.value)

    def test_it_refuses_rules_over_the_length_limit(self):
        with pytest.raises(RuleSyntaxError, match="longer than 10240"):
            parse("ALARM(a) OR " * 1000 + "TRUE")


class TestCycles:
    def test_it_names_the_cycle(self):
        with pytest.raises(AlarmError, match="cycle: x -> y -> z -> x"):
            check_cycles({"x": {"y"}, "y": {"z", "metric"}, "z": {"x"}})

    def test_nesting_without_a_cycle_is_fine(self):
        check_cycles({"outer": {"inner", "m1"}, "inner": {"m2"}})


def test_a_deeply_nested_rule_is_a_syntax_error_not_a_recursion_error() -> None:
    with pytest.raises(RuleSyntaxError, match="nested too deeply"):
        parse("(" * 5000 + 'ALARM("a")' + ")" * 5000)


@pytest.mark.parametrize("opening", ["(", "NOT "])
def test_deep_nesting_is_an_error_at_the_first_level_too_deep(opening: str) -> None:
    rule = opening * 40 + "ALARM(a)" + (")" * 40 if opening == "(" else "")
    with pytest.raises(RuleSyntaxError) as info:
        parse(rule)
    assert info.value.position == len(opening) * MAX_NESTING and isinstance(info.value, InputError)


def test_a_rule_at_the_nesting_limit_evaluates() -> None:
    rule = parse("NOT " * MAX_NESTING + "ALARM(a)")
    assert rule.evaluate({"a": "ALARM"}) is True and rule.references == {"a"}  # an even count of NOT


def test_a_long_chain_within_the_length_limit_evaluates() -> None:
    rule = parse(" OR ".join(["ALARM(a)"] * 800))
    assert rule.evaluate({"a": "ALARM"}) is True


class TestDocumentedSpellingsAndAtLeast:
    """TRUE/FALSE as CloudWatch's pages spell them, and AT_LEAST(M, STATE, (alarms))."""

    @pytest.mark.parametrize("rule, expected", [
        ("True", True), ("false", False), ("ALARM(a) AND true", True), ("NOT False", True),
    ])
    def test_true_and_false_in_any_case(self, rule, expected):
        assert parse(rule).evaluate(STATES) is expected

    @pytest.mark.parametrize("rule, expected", [
        ("AT_LEAST(1, ALARM, (a, b, c))", True),          # a is in ALARM
        ("AT_LEAST(2, ALARM, (a, b, c))", False),
        ("AT_LEAST(2, ALARM, (a, \"my alarm-1\", b))", True),
        ("AT_LEAST(2, NOT OK, (a, b, c))", True),         # a and c are not OK
        ("AT_LEAST(3, NOT OK, (a, b, c))", False),
        ("AT_LEAST(50%, ALARM, (a, b))", True),           # 1 of 2 is 50%
        ("AT_LEAST(60%, ALARM, (a, b))", False),
        ("AT_LEAST(100%, INSUFFICIENT_DATA, (c, missing))", True),  # unknown names are INSUFFICIENT_DATA
        ("NOT AT_LEAST(1, OK, (a, c)) AND ALARM(a)", True),
    ])
    def test_at_least(self, rule, expected):
        assert parse(rule).evaluate(STATES) is expected

    def test_at_least_names_are_references(self):
        rule = parse("AT_LEAST(1, ALARM, (x, arn:aws:cloudwatch:us-east-1:123:alarm:y)) OR OK(z)")
        assert rule.references == {"x", "y", "z"}
        assert rule.terms() == [("ALARM", "x"), ("ALARM", "y"), ("OK", "z")]

    @pytest.mark.parametrize("rule, message", [
        ("AT_LEAST(ALARM, (a))", "count or a percentage"),
        ("AT_LEAST(1.5, ALARM, (a, b))", "whole number"),
        ("AT_LEAST(150%, ALARM, (a))", "at most 100%"),
        ("AT_LEAST(3, ALARM, (a, b))", "can never hold"),
        ("AT_LEAST(1, WARN, (a))", "needs a state"),
        ("AT_LEAST(1, ALARM, ())", "needs alarm names"),
        ("AT_LEAST(1, ALARM, (a, b)", "to close AT_LEAST"),
    ])
    def test_at_least_errors(self, rule, message):
        with pytest.raises(RuleSyntaxError, match=message):
            parse(rule)
