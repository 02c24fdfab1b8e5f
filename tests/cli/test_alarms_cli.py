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
                       WHISPERSYNC_CONFIG=str(tmp_path / "no-such-whispersync.toml"))
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
