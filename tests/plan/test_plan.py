"""The plan is a pure model: importable without the engine, loadable from Python or
TOML with every problem named by its path, layered over the built-in plan."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from whispersync.plan import (
    DEFAULT_PLAN,
    CompositeAlarm,
    MetricAlarm,
    Plan,
    PlanError,
    effective_plan,
    load_plan_file,
    plan_from_toml,
)

SLOW_MEMOS = b'''
[[alarms]]
name = "SlowMemos"
namespace = "WhisperSync/Business"
metric_name = "ProcessingDuration"
statistic = "p99"
period = 300
evaluation_periods = 3
threshold = 5000
comparison_operator = "GreaterThanThreshold"
priority = "P3"
'''


def test_the_plan_imports_without_duckdb_fastapi_or_the_engine() -> None:
    code = ("import sys; sys.modules['duckdb'] = None; sys.modules['fastapi'] = None\n"
            "import whispersync.plan as plan\n"
            "assert plan.DEFAULT_PLAN.alarms\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('whispersync.'))\n"
            "assert not any(m.startswith(('whispersync.monitoring', 'whispersync.pipeline', 'whispersync.app'))"
            " for m in loaded), loaded\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


class TestToml:
    def test_a_toml_alarm_uses_the_models_field_names(self) -> None:
        plan = plan_from_toml(SLOW_MEMOS)
        [alarm] = plan.alarms
        assert isinstance(alarm, MetricAlarm)
        assert (alarm.name, alarm.statistic, alarm.threshold, alarm.priority) == ("SlowMemos", "p99", 5000, "P3")

    def test_every_problem_is_named_by_its_path(self) -> None:
        text = SLOW_MEMOS + b'''
[[alarms]]
name = "Bad"
namespace = "X"
metric_name = "Y"
threshold = "high"
evaluation_periods = 1
wrokers = 3

[[alarms]]
name = "NoThreshold"
namespace = "X"
metric_name = "Y"

[[metric_filters]]
name = "F"
pattern = "ERROR"
namespace = "X"
metric_name = "Errors"
value = "lots"

[dashbaords]
'''
        with pytest.raises(PlanError) as caught:
            plan_from_toml(text, source="mine.toml")
        problems = caught.value.problems
        assert "alarms[1].wrokers: unknown key; allowed: actions_enabled" in problems[0]
        assert "alarms[1].threshold: must be a finite number, got 'high'" in problems
        assert {"alarms[2].threshold: is required", "alarms[2].evaluation_periods: is required"} <= set(problems)
        assert "metric_filters[0].value: 'lots' is neither a number nor a $field" in problems
        assert any(p.startswith("dashbaords: unknown key") for p in problems)
        assert "mine.toml" in str(caught.value)

    def test_composite_alarms_and_routes(self) -> None:
        plan = plan_from_toml(b'[[alarms]]\nname = "Both"\nrule = "ALARM(SystemDown) AND ALARM(Api5xx)"\n'
                              b'[routes]\nP3 = ["console"]\n')
        assert isinstance(plan.alarms[0], CompositeAlarm)
        assert plan.routes == {"P3": ("console",)}

    def test_an_unknown_channel_in_a_route_is_refused(self) -> None:
        with pytest.raises(PlanError, match=r"routes.P1: unknown channel\(s\) \['pager'\]"):
            plan_from_toml(b'[routes]\nP1 = ["pager"]\n')

    def test_not_toml_is_one_clear_problem(self) -> None:
        with pytest.raises(PlanError, match="not valid TOML"):
            plan_from_toml(b"[[alarms]\nname=")


class TestLayers:
    def test_a_file_adds_and_replaces_items_and_each_says_where_it_came_from(self, tmp_path) -> None:
        path = tmp_path / "mine.toml"
        path.write_bytes(SLOW_MEMOS + b'\n[[alarms]]\nname = "SystemDown"\nnamespace = "WhisperSync/Worker"\n'
                                      b'metric_name = "Errors"\nthreshold = 1\nevaluation_periods = 1\npriority = "P1"\n')
        plan = effective_plan(path)
        by_name = {a.name: a for a in plan.alarms}
        assert by_name["SystemDown"].threshold == 1 and by_name["DLQMessages"].threshold == 5
        assert plan.source_of("alarms", "SlowMemos") == str(path)
        assert plan.source_of("alarms", "SystemDown") == str(path)
        assert plan.source_of("alarms", "DLQMessages") == "built-in"
        assert plan.routes == DEFAULT_PLAN.routes

    def test_a_python_file_may_define_a_whole_plan(self, tmp_path) -> None:
        path = tmp_path / "mine.py"
        path.write_text("from whispersync.plan import Plan, MetricAlarm\n"
                        "PLAN = Plan(alarms=[MetricAlarm(name='Mine', namespace='X', metric_name='Y',"
                        " threshold=1, evaluation_periods=1)])\n")
        assert {a.name for a in load_plan_file(path).alarms} == {"Mine"}

    @pytest.mark.parametrize(("name", "content", "message"), [
        ("plan.yaml", b"alarms: []", "Python (.py) or TOML (.toml)"),
        ("empty.py", b"x = 1\n", "defines none of PLAN, ALARMS"),
        ("wrong.py", b"ALARMS = ['SystemDown']\n", "ALARMS[0] is a str"),
    ])
    def test_a_file_that_is_not_a_plan_says_why(self, tmp_path, name, content, message) -> None:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(PlanError, match=re.escape(message)):
            load_plan_file(path)

    def test_a_device_or_huge_file_is_refused_without_reading_it(self, tmp_path) -> None:
        with pytest.raises(PlanError, match="not a regular file"):
            load_plan_file(Path("/dev/zero"))
        big = tmp_path / "big.toml"
        with big.open("wb") as fh:
            fh.truncate(300 * 1024 * 1024)  # sparse: costs no disk
        with pytest.raises(PlanError, match="the limit is 1048576 bytes"):
            load_plan_file(big)

    def test_duplicate_names_in_one_layer_are_refused(self) -> None:
        alarm = MetricAlarm(name="Twice", namespace="X", metric_name="Y", threshold=1, evaluation_periods=1)
        with pytest.raises(ValueError, match="repeated: Twice"):
            Plan(alarms=(alarm, alarm))
