"""`whispersync remediation list`: the audit log from the command line."""

from __future__ import annotations

import time

import orjson
from typer.testing import CliRunner

from whispersync.cli import app

runner = CliRunner()


def test_list_shows_every_remediation_as_a_table_and_as_json(runtime, settings):
    empty = runner.invoke(app, ["--home", str(settings.home), "remediation", "list", "--json"])
    assert empty.exit_code == 0 and orjson.loads(empty.stdout) == {"remediations": [], "next_token": None}
    runtime.start(workers=1, inbox=False, collector=False, maintenance=False, sweep=False)
    runtime.alarms.remediation.run("scale_up", alarm="HighQueueDepth", state="ALARM", previous_state="OK",
                                   reason="Threshold Crossed", at_ms=int(time.time() * 1000))
    result = runner.invoke(app, ["--home", str(settings.home), "remediation", "list", "--json"])
    assert result.exit_code == 0, result.output
    [entry] = orjson.loads(result.stdout)["remediations"]
    assert (entry["rule"], entry["action"], entry["alarm"], entry["before"], entry["after"], entry["result"]) == (
        "scale_up", "scale_up", "HighQueueDepth", 1, 2, "executed")
    assert entry["state_reason"] == "Threshold Crossed" and len(entry["correlation_id"]) == 32
    table = runner.invoke(app, ["--home", str(settings.home), "remediation", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "HighQueueDepth" in table.stdout and "executed" in table.stdout
