"""`whispersync plan show` and `plan validate` as real processes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from helpers import run_cli

from whispersync.plan import DEFAULT_PLAN

SNAPSHOT = Path(__file__).parent / "plan_show.snapshot.json"
SLOW_MEMOS = (b'[[alarms]]\nname = "SlowMemos"\nnamespace = "WhisperSync/Business"\n'
              b'metric_name = "ProcessingDuration"\nstatistic = "p99"\nperiod = 300\nevaluation_periods = 3\n'
              b'threshold = 5000\ncomparison_operator = "GreaterThanThreshold"\npriority = "P3"\n')


class TestCli:
    def test_plan_show_json_is_stable(self, cli_env) -> None:
        """A snapshot: changing the built-in plan or the JSON shape is a decision. To accept
        a deliberate change, delete plan_show.snapshot.json, run the test, review the new file."""
        result = run_cli(cli_env, "plan", "show", "--json")
        assert result.returncode == 0, result.stderr
        shown = orjson.loads(result.stdout)
        if not SNAPSHOT.exists():
            SNAPSHOT.write_bytes(orjson.dumps(shown, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
            pytest.fail(f"no snapshot: wrote {SNAPSHOT.name}; review it, commit it and run again")
        assert shown == orjson.loads(SNAPSHOT.read_bytes())

    def test_validate_lists_every_problem_and_exits_1(self, cli_env, tmp_path) -> None:
        path = tmp_path / "bad.toml"
        path.write_bytes(b'[[alarms]]\nname = "A"\nnamespace = "X"\nmetric_name = "Y"\nthreshold = "x"\n'
                         b'evaluation_periods = 0\n')
        result = run_cli(cli_env, "plan", "validate", str(path), "--json")
        assert result.returncode == 1
        report = orjson.loads(result.stdout)
        assert report["valid"] is False and report["problems"] == ["alarms[0].threshold: must be a finite number, got 'x'"]

    def test_validate_runs_the_engines_checks_too(self, cli_env, tmp_path) -> None:
        path = tmp_path / "rules.toml"
        path.write_bytes(b'[[alarms]]\nname = "C"\nrule = "ALARM(SystemDown) AND"\n\n'
                         b'[[alarms]]\nname = "D"\nrule = "ALARM(NoSuchAlarm)"\n\n'
                         b'[[metric_filters]]\nname = "F"\npattern = "{ $.x = }"\nnamespace = "X"\nmetric_name = "Y"\n')
        result = run_cli(cli_env, "plan", "validate", str(path))
        assert result.returncode == 1
        assert "alarms.C.rule: line 1, column 22: " in result.stderr
        assert "metric_filters.F.pattern" in result.stderr

    def test_validate_accepts_a_good_file(self, cli_env, tmp_path) -> None:
        path = tmp_path / "good.toml"
        path.write_bytes(SLOW_MEMOS)
        result = run_cli(cli_env, "plan", "validate", str(path))
        assert result.returncode == 0, result.stderr
        # The file adds alarms to the built-in plan's (see SLOW_MEMOS).
        assert f"valid ({len(DEFAULT_PLAN.alarms) + SLOW_MEMOS.count(b'[[alarms]]')} alarms" in result.stdout


def test_validate_applies_cloudwatchs_checks_to_a_filter_of_one_log_group(cli_env, tmp_path) -> None:
    """A plan filter scoped to a log group must be one CloudWatch would take, as `filters put` checks."""
    path = tmp_path / "filters.toml"
    path.write_bytes(b'[[metric_filters]]\nname = "Errors"\nlog_group = "/app/web"\npattern = "ERROR"\n'
                     b'namespace = "App"\nmetric_name = "Errors:Count"\n')
    result = run_cli(cli_env, "plan", "validate", str(path), "--json")
    assert result.returncode == 1, result.stdout
    (problem,) = orjson.loads(result.stdout)["problems"]
    assert problem.startswith("metric_filters.Errors.metricTransformations[0].metricName:"), problem


def test_validate_reads_dashboards_as_put_dashboard_would(cli_env, tmp_path) -> None:
    """A plan dashboard with a widget CloudWatch would refuse is a problem at `plan validate`, not at `show`."""
    path = tmp_path / "dashboards.toml"
    path.write_bytes(b'[[dashboards]]\nname = "mine"\n[[dashboards.widgets]]\ntype = "metric"\nwidth = 30\n'
                     b'[dashboards.widgets.properties]\nmetrics = [["App", "Errors"]]\n')
    result = run_cli(cli_env, "plan", "validate", str(path), "--json")
    assert result.returncode == 1, result.stdout
    problems = orjson.loads(result.stdout)["problems"]
    assert any(p.startswith("dashboards.mine.widgets.0.width:") for p in problems), problems
