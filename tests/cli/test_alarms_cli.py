"""`whispersync alarms put` as a real process: size limits on its files, and all-or-nothing lists."""

from __future__ import annotations

import os
import time

import orjson
import pytest
from helpers import run_cli

ALARM = {"AlarmName": "First", "Namespace": "WhisperSync/Worker", "MetricName": "Errors", "Statistic": "Sum",
         "Period": 60, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}


@pytest.fixture
def env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    environment.update(WHISPERSYNC_HOME=str(tmp_path / "home"),
                       WHISPERSYNC_CONFIG=os.environ["WHISPERSYNC_CONFIG"])  # conftest's empty file
    return environment


def _stored(env) -> set[str]:
    result = run_cli(env, "alarms", "list", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    return {a["name"] for a in orjson.loads(result.stdout)["alarms"] if a["source"] == "stored"}


class TestFileLimits:
    def test_put_dev_zero_stops_at_once_with_an_error_line(self, env) -> None:
        started = time.monotonic()
        result = run_cli(env, "alarms", "put", "/dev/zero", timeout=30)
        assert time.monotonic() - started < 25  # it used to read forever (and grow without bound)
        assert result.returncode != 0
        assert "/dev/zero" in result.stderr and "not a regular file" in result.stderr
        assert "Traceback" not in result.stderr

    def test_put_a_file_over_the_limit_says_the_limit(self, env, tmp_path) -> None:
        big = tmp_path / "big.json"
        with big.open("wb") as f:
            f.truncate(5 * 1024 * 1024)  # sparse: 5 MiB of NULs without writing them
        result = run_cli(env, "alarms", "put", str(big), timeout=60)
        assert result.returncode != 0
        assert "larger than the limit of 1 MiB" in " ".join(result.stderr.split())
        assert "Traceback" not in result.stderr

    def test_a_plan_that_is_not_a_regular_file_or_too_large_is_refused(self, env, tmp_path) -> None:
        big = tmp_path / "plan.py"
        big.write_bytes(b"#" * (1024 * 1024 + 1))
        for plan, message in (("/dev/zero", "not a regular file"), (str(big), "larger than the limit")):
            result = run_cli(env, "alarms", "list", "--plan", plan, timeout=60)
            assert result.returncode != 0
            assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr

    def test_a_file_within_the_limit_is_put(self, env, tmp_path) -> None:
        file = tmp_path / "alarm.json"
        file.write_bytes(orjson.dumps(ALARM))
        result = run_cli(env, "alarms", "put", str(file), timeout=60)
        assert result.returncode == 0, result.stderr
        assert _stored(env) == {"First"}


class TestAtomicList:
    def test_a_list_whose_third_alarm_is_bad_stores_nothing(self, env, tmp_path) -> None:
        file = tmp_path / "alarms.json"
        third = {"AlarmName": "Third", "AlarmRule": "ALARM(First) OR ALARM(NoSuchAlarm)"}
        file.write_bytes(orjson.dumps([ALARM, {**ALARM, "AlarmName": "Second"}, third]))
        result = run_cli(env, "alarms", "put", str(file), timeout=60)
        assert result.returncode != 0
        assert "NoSuchAlarm" in result.stderr
        assert _stored(env) == set()


class TestInProcess:
    """`alarms list/evaluate` through the Typer app (fast): 80-column tables and dry runs."""

    @pytest.fixture
    def cli(self, tmp_path):
        from typer.testing import CliRunner

        from whispersync.cli import app

        runner = CliRunner()
        (tmp_path / "home").mkdir()  # reading commands do not create a home

        def run(*args: str, columns: int = 250):
            return runner.invoke(app, ["--home", str(tmp_path / "home"), *args], env={"COLUMNS": str(columns)})

        return run

    def test_list_at_80_columns_is_one_line_per_alarm_and_keeps_brackets(self, cli) -> None:
        listed = orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"]
        name = listed[0]["name"]
        assert cli("alarms", "set-state", name, "ALARM", "--reason", "[ERROR] lines counted: " + "x" * 80).exit_code == 0
        result = cli("alarms", "list", columns=80)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80
        assert len(lines) == len(listed) + 4  # it took about 90 lines for 5 alarms
        assert "[ERROR] lines" in result.stdout  # rich markup used to eat "[ERROR]"

    def test_evaluate_before_the_last_change_is_a_dry_run(self, cli) -> None:
        name = orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"][0]["name"]
        assert cli("alarms", "set-state", name, "ALARM", "--reason", "drill").exit_code == 0
        before = orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"]

        result = cli("alarms", "evaluate", "--at", "2020-01-01T00:00:00Z")
        assert result.exit_code == 0, result.output
        assert "dry run" in result.output
        doc = orjson.loads(cli("alarms", "evaluate", "--at", "2020-01-01T00:00:00Z", "--json").stdout)
        assert doc["dry_run"] is True and all(a["dry_run"] for a in doc["alarms"])
        assert orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"] == before

    def test_dry_run_flag(self, cli) -> None:
        doc = orjson.loads(cli("alarms", "evaluate", "--dry-run", "--json").stdout)
        assert doc["dry_run"] is True
        assert all(a["state"] == "INSUFFICIENT_DATA" for a in orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"])
        assert not any(a["reason"] != "Unchecked: Initial alarm creation"
                       for a in orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"])
