"""SLOs in the plan: the built-in one, one from a TOML plan file, the burn-rate alarms each derives, and
clear errors for bad values."""

from __future__ import annotations

import pytest

from whispersync.monitoring.plan_check import check_plan
from whispersync.plan import DEFAULT_PLAN, PlanError, Slo, effective_plan, plan_from_toml, slo_alarms

DERIVED = ("SloBurn1h-{0}", "SloBurn5m-{0}", "SloFastBurn-{0}", "SloBurn6h-{0}", "SloBurn30m-{0}", "SloSlowBurn-{0}")


def _alarms(plan):
    return {a.name: a for a in plan.alarms}


class TestDerivedAlarms:
    def test_the_built_in_plan_holds_the_slo_and_its_six_alarms_and_they_check(self) -> None:
        [slo] = DEFAULT_PLAN.slos
        assert {n.format(slo.name) for n in DERIVED} <= set(_alarms(DEFAULT_PLAN))
        assert check_plan(DEFAULT_PLAN) == []  # the expressions parse, the rules name real alarms

    def test_a_plan_file_slo_gets_its_own_alarms_from_its_file(self, tmp_path) -> None:
        path = tmp_path / "plan.toml"
        path.write_text('[[slos]]\nname = "fast-replies"\nthreshold_ms = 500\nobjective = 0.999\n')
        plan = effective_plan(path)
        alarms = _alarms(plan)
        for name in DERIVED:
            assert plan.source_of("alarms", name.format("fast-replies")) == str(path)
        one_hour = alarms["SloBurn1h-fast-replies"]
        good = next(q for q in one_hour.metrics if q.id == "good")
        assert good.metric_stat.statistic == "TC(:500)"
        # 1 / (1 - 0.999) = 1000: the burn rate is bad x 1000 / total.
        assert next(q for q in one_hour.metrics if q.return_data).expression == (
            "FILL(((done + failed) - good) * 1000 / (done + failed), 0)")
        assert "SloFastBurn-memo-latency" in alarms  # the built-in SLO keeps its own
        assert check_plan(plan) == []

    def test_changing_the_built_in_slo_changes_its_alarms(self, tmp_path) -> None:
        path = tmp_path / "plan.toml"
        path.write_text('[[slos]]\nname = "memo-latency"\nthreshold_ms = 5000\n')
        plan = effective_plan(path)
        good = next(q for q in _alarms(plan)["SloBurn5m-memo-latency"].metrics if q.id == "good")
        assert good.metric_stat.statistic == "TC(:5000)"
        assert plan.source_of("alarms", "SloFastBurn-memo-latency") == str(path)

    def test_an_alarm_a_plan_file_declares_with_a_derived_name_wins(self, tmp_path) -> None:
        path = tmp_path / "plan.toml"
        path.write_text('[[alarms]]\nkind = "composite"\nname = "SloFastBurn-memo-latency"\n'
                        'rule = "ALARM(SloBurn1h-memo-latency)"\npriority = "P2"\n')
        alarm = _alarms(effective_plan(path))["SloFastBurn-memo-latency"]
        assert (alarm.rule, alarm.priority) == ("ALARM(SloBurn1h-memo-latency)", "P2")

    def test_an_slo_without_failures_counts_latency_samples_only(self) -> None:
        slo = Slo(name="x", failures_namespace=None, failures_metric_name=None)
        math = slo_alarms(slo)[0]
        assert {q.id for q in math.metrics} == {"good", "done", "burn"}
        assert next(q for q in math.metrics if q.return_data).expression == "FILL((done - good) * 100 / done, 0)"


class TestBadValues:
    @pytest.mark.parametrize("line, message", [
        ('objective = 1.0', "slos[0].objective: must be between 0 and 1 (0.99 for 99 %), got 1.0"),
        ('window_days = 0', "slos[0].window_days: must be an integer from 1 to 90, got 0"),
        ('threshold_ms = -5', "slos[0].threshold_ms: must be a number of milliseconds > 0, got -5"),
        ('failures_metric_name = "Only"\nfailures_namespace = ""', "slos[0].failures_namespace: must be a non-empty"),
        ('good = "x"', "slos[0].good: unknown key"),
    ])
    def test_each_is_named_by_its_path(self, line, message) -> None:
        with pytest.raises(PlanError) as caught:
            plan_from_toml(f'[[slos]]\nname = "s"\n{line}\n'.encode())
        assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems

    def test_a_name_that_cannot_name_an_alarm_is_refused(self) -> None:
        with pytest.raises(PlanError) as caught:
            plan_from_toml(b'[[slos]]\nname = "has space"\n')
        assert caught.value.problems == [
            "slos[0].name: must be 1 to 200 letters, digits, ., - or _, got 'has space'"]
