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
    alarm_from_dict,
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


class TestActionsSuppressor:
    """A composite alarm's actions suppressor in the model: checked, normalised, and round-tripped."""

    def test_to_dict_always_has_the_three_keys_and_round_trips(self) -> None:
        plain = CompositeAlarm(name="Health", rule="ALARM(SystemDown)")
        assert {k: plain.to_dict()[k] for k in ("actions_suppressor", "actions_suppressor_wait_period",
                                                 "actions_suppressor_extension_period")} == {
            "actions_suppressor": None, "actions_suppressor_wait_period": None,
            "actions_suppressor_extension_period": None}
        held = CompositeAlarm(name="Health", rule="ALARM(SystemDown)", actions_suppressor="Maintenance",
                              actions_suppressor_wait_period=120, actions_suppressor_extension_period=0)
        assert held.to_dict()["actions_suppressor"] == "Maintenance"
        assert alarm_from_dict(held.to_dict()) == held and alarm_from_dict(plain.to_dict()) == plain

    def test_a_dict_stored_before_the_fields_existed_still_loads(self) -> None:
        old = {"kind": "composite", "name": "Health", "description": "", "priority": "P1", "rule": "TRUE",
               "alarm_actions": [], "ok_actions": [], "insufficient_data_actions": [], "actions_enabled": True,
               "tags": {}}
        assert alarm_from_dict(old).actions_suppressor is None

    def test_an_alarm_arn_is_kept_as_the_alarm_name(self) -> None:
        alarm = CompositeAlarm(name="Health", rule="TRUE",
                               actions_suppressor="arn:aws:cloudwatch:eu-west-1:123456789012:alarm:Maintenance",
                               actions_suppressor_wait_period=60, actions_suppressor_extension_period=60)
        assert alarm.actions_suppressor == "Maintenance"

    @pytest.mark.parametrize(("fields", "message"), [
        ({"actions_suppressor": "Maintenance"}, "actions_suppressor_wait_period: is required"),
        ({"actions_suppressor": "Maintenance", "actions_suppressor_wait_period": 60},
         "actions_suppressor_extension_period: is required"),
        ({"actions_suppressor_wait_period": 60}, "actions_suppressor_wait_period: only applies with"),
        ({"actions_suppressor_extension_period": 60}, "actions_suppressor_extension_period: only applies with"),
        ({"actions_suppressor": "Maintenance", "actions_suppressor_wait_period": -1,
          "actions_suppressor_extension_period": 60}, "actions_suppressor_wait_period: must be a whole number"),
        ({"actions_suppressor": "Maintenance", "actions_suppressor_wait_period": 60,
          "actions_suppressor_extension_period": 60.0}, "actions_suppressor_extension_period: must be a whole"),
        ({"actions_suppressor": "", "actions_suppressor_wait_period": 60,
          "actions_suppressor_extension_period": 60}, "actions_suppressor: must be an alarm name or alarm ARN"),
        ({"actions_suppressor": "Health", "actions_suppressor_wait_period": 60,
          "actions_suppressor_extension_period": 60}, "cannot suppress its own actions"),
        ({"actions_suppressor": "arn:aws:sns:eu-west-1:123456789012:page", "actions_suppressor_wait_period": 60,
          "actions_suppressor_extension_period": 60}, "must be an alarm name or an alarm ARN"),
    ])
    def test_it_refuses_what_put_composite_alarm_refuses(self, fields, message) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            CompositeAlarm(name="Health", rule="TRUE", **fields)

    def test_a_toml_composite_takes_the_fields_by_their_model_names(self) -> None:
        plan = plan_from_toml(b'[[alarms]]\nname = "Health"\nrule = "ALARM(SystemDown)"\n'
                              b'actions_suppressor = "Maintenance"\nactions_suppressor_wait_period = 60\n'
                              b'actions_suppressor_extension_period = 90\n')
        [alarm] = plan.alarms
        assert (alarm.actions_suppressor, alarm.actions_suppressor_wait_period,
                alarm.actions_suppressor_extension_period) == ("Maintenance", 60, 90)

    def test_a_toml_composite_missing_a_period_says_where(self) -> None:
        with pytest.raises(PlanError) as caught:
            plan_from_toml(b'[[alarms]]\nname = "Health"\nrule = "TRUE"\nactions_suppressor = "Maintenance"\n')
        assert "alarms[0].actions_suppressor_wait_period: is required when actions_suppressor is given" in (
            caught.value.problems)
