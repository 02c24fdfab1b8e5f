"""`whispersync audit` and the records the state-changing commands write: an alarm put, a failed command,
filters, JSON and the table, and a trail that cannot be written changing nothing of the command."""

from __future__ import annotations

import getpass

import orjson
import pytest
from typer.testing import CliRunner

from whispersync import sqlite_db
from whispersync.cli import app
from whispersync.cli._audit import AUDITED, audit_commands

runner = CliRunner()
ALARM = {"AlarmName": "AuditedErrors", "Namespace": "WhisperSync/Worker", "MetricName": "Errors", "Statistic": "Sum",
         "Period": 60, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}


@pytest.fixture
def home(tmp_path):
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def cli(home, *args: str, **options):
    return runner.invoke(app, ["--home", str(home), *args], **options)


def audit_json(home, *args: str) -> list[dict]:
    result = cli(home, "audit", "--json", *args)
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document["next_token"] is None  # GET /v1/audit's shape
    return document["events"]


def test_an_alarm_put_is_recorded_with_the_local_user_and_its_arguments(home, tmp_path) -> None:
    request = tmp_path / "alarm.json"
    request.write_bytes(orjson.dumps(ALARM))
    assert cli(home, "alarms", "put", str(request)).exit_code == 0
    [event] = audit_json(home)
    assert (event["source"], event["action"], event["identity"], event["result"], event["status"]) == (
        "cli", "alarms put", f"local-user:{getpass.getuser()}", "ok", 0)
    assert event["parameters"] == {"file": str(request)} and event["error"] is None
    assert set(event) == {"id", "occurred_at", "event_id", "source", "action", "identity", "source_address",
                          "parameters", "result", "status", "error", "correlation_id"}


def test_a_failed_command_is_recorded_with_its_exit_code_and_message(home) -> None:
    result = cli(home, "alarms", "delete", "NoSuchAlarm")
    assert result.exit_code == 2
    [event] = audit_json(home)
    assert (event["action"], event["result"], event["status"]) == ("alarms delete", "error", 2)
    assert event["error"] == "no stored alarm named 'NoSuchAlarm'" and event["parameters"] == {"name": "NoSuchAlarm"}


def test_reads_are_not_recorded_and_a_secret_argument_is_masked(home) -> None:
    assert cli(home, "alarms", "list", "--json").exit_code == 0
    assert audit_json(home) == []
    assert cli(home, "maintenance", "start", "--for", "30m", "--reason",
               "rotate password=hunter2 on the box").exit_code == 0
    [event] = audit_json(home)
    assert event["parameters"] == {"duration": "30m", "reason": "rotate password=*** on the box"}


def test_a_secret_reaches_neither_the_record_nor_the_database_file(home) -> None:
    """Here only the audit sees the argument (no alarm is stored): its masked copy is all the file holds."""
    assert cli(home, "alarms", "delete", "api_key=sk-live-0123456789abcdefghij").exit_code == 2
    [event] = audit_json(home)
    assert event["parameters"] == {"name": "api_key=***"} and "0123456789" not in event["error"]
    stored = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("monitoring.sqlite3"))
    assert b"audit_trail" in stored and b"0123456789abcdefghij" not in stored


def test_the_listing_filters_by_action_and_time_newest_first(home) -> None:
    cli(home, "maintenance", "start", "--for", "30m", "--reason", "disk")
    cli(home, "maintenance", "end")
    cli(home, "alarms", "delete", "Nope")
    assert [e["action"] for e in audit_json(home)] == ["alarms delete", "maintenance end", "maintenance start"]
    assert [e["action"] for e in audit_json(home, "--action", "maintenance")] == ["maintenance end",
                                                                                   "maintenance start"]
    assert [e["action"] for e in audit_json(home, "--limit", "1")] == ["alarms delete"]
    assert len(audit_json(home, "--since", "1h")) == 3
    table = cli(home, "audit", env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "maintenance start" in table.stdout and "local-user:" in table.stdout and "error 2" in table.stdout
    assert cli(home, "audit", "--since", "yesterday").exit_code == 2  # a clear error, not a traceback


def test_an_empty_trail_lists_nothing(home) -> None:
    assert audit_json(home) == []
    result = cli(home, "audit")
    assert result.exit_code == 0 and "no audit records yet" in result.stderr


def test_a_trail_that_cannot_be_written_leaves_the_command_as_it_was(home, tmp_path) -> None:
    """The command succeeds (the alarm is stored, exit 0); the lost record is said on stderr."""
    con = sqlite_db.connect(home / "monitoring.sqlite3")
    con.execute("CREATE VIEW audit_trail AS SELECT 1 AS id")
    con.close()
    request = tmp_path / "alarm.json"
    request.write_bytes(orjson.dumps(ALARM))
    result = cli(home, "alarms", "put", str(request))
    assert result.exit_code == 0, result.output
    assert "audit record of `alarms put` could not be written" in result.stderr
    listed = cli(home, "alarms", "list", "--json")
    assert "AuditedErrors" in {a["name"] for a in orjson.loads(listed.stdout)["alarms"]}


def test_every_audited_command_exists() -> None:
    """A renamed command would silently lose its audit: every name in AUDITED is found and wrapped."""
    assert audit_commands(app) == AUDITED
