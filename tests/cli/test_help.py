"""Every command's --help: flags shown as flags, brackets kept, and every example in it runs as written."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from whispersync.cli import app

runner = CliRunner()

COMMANDS = [
    ["memos"], ["trace"], ["dlq", "list"], ["dlq", "redrive"], ["submit"],
    ["logs", "search"], ["logs", "query"], ["logs", "test-filter"],
    ["metrics", "list"], ["metrics", "get"], ["metrics", "put"],
    ["traces", "search"], ["traces", "show"],
    ["alarms", "list"], ["alarms", "history"], ["alarms", "evaluate"], ["alarms", "set-state"],
    ["alarms", "put"], ["alarms", "delete"], ["alarms", "import"],
    ["filters", "list"], ["filters", "put"], ["filters", "delete"], ["filters", "import"],
    ["notifications", "list"], ["notifications", "retry"], ["plan", "show"], ["plan", "validate"],
    ["dashboards", "list"], ["dashboards", "show"], ["dashboards", "import"], ["dashboards", "export"],
    ["dashboards", "delete"], ["deploy", "aws", "synth"], ["deploy", "aws", "outputs"], ["deploy", "aws", "check"],
    ["export", "grafana"], ["aws-env"],
    ["maintenance", "start"], ["maintenance", "end"], ["maintenance", "list"],
    ["checks", "list"], ["checks", "run"], ["checks", "history"],
    ["remediation", "list"], ["cost"], ["cost", "import"], ["slo"], ["audit"],
    ["anomalies", "list"], ["anomalies", "mark-incident"], ["anomalies", "incidents"],
    ["anomalies", "unmark-incident"], ["baselines", "show"], ["baselines", "list"],
]


def help_of(command: list[str]) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.stdout


def examples(text: str) -> list[list[str]]:
    """The `whispersync ...` lines of a help text, with backslash continuations joined."""
    found, current = [], ""
    for line in (raw.strip(" │") for raw in text.splitlines()):
        if current:
            current += " " + line
        elif line.startswith("whispersync "):
            current = line
        if current and current.endswith("\\"):
            current = current[:-1]
            continue
        if current:
            found.append(shlex.split(current)[1:])
            current = ""
    return found


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_example_in_a_help_text_works_as_written(command, tmp_path) -> None:
    (tmp_path / "home").mkdir()
    for example in examples(help_of(command)):
        result = runner.invoke(app, ["--home", str(tmp_path / "home"), *example])
        assert result.exit_code == 0, (example, result.output)


def test_the_examples_are_found() -> None:
    """The examples above are really run (a help text reformatted would otherwise skip them)."""
    assert len(examples(help_of(["metrics", "get"]))) == 3


@pytest.mark.parametrize(("command", "flag"), [
    (["submit"], "--wait"), (["submit"], "--force"), (["traces", "search"], "--errors"),
    (["alarms", "evaluate"], "--dry-run"),
])
def test_a_flag_is_shown_as_a_flag(command, flag) -> None:
    [line] = [line for line in help_of(command).splitlines() if f" {flag} " in line]
    assert "<bool>" not in line


def test_brackets_in_help_are_shown() -> None:
    """Rich markup used to eat `[a, b, ...]` from the filter pattern's help."""
    assert "[ ip, status = 4*, ... ]" in help_of(["logs", "test-filter"])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_json_is_shown_as_a_flag(command) -> None:
    lines = [line for line in help_of(command).splitlines() if " --json " in line]
    assert lines and all("<bool>" not in line for line in lines)
