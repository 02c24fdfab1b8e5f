"""`whispersync dashboards list | show | import | export | delete` as real processes.

The imported document is what `aws cloudwatch get-dashboard` prints: the body is a JSON
string, written as the console exports it ("." repeats the value above, region and
accountId on entries), with a log widget whose query names its group with SOURCE.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from helpers import run_cli
from typer.testing import CliRunner

from whispersync.cli._common import app

CONSOLE_BODY = {
    "widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "view": "timeSeries", "stacked": False, "region": "eu-west-1", "title": "Worker",
            "metrics": [
                ["WhisperSync/Worker", "Invocations", "FunctionName", "whispersync-worker", {"stat": "Sum"}],
                [".", "Errors", ".", ".", {"stat": "Sum"}],
            ],
            "period": 60}},
        {"type": "log", "x": 12, "y": 0, "width": 12, "height": 6, "properties": {
            "query": "SOURCE 'whispersync' | fields @timestamp, @message\n| filter level = 'ERROR'",
            "region": "eu-west-1", "title": "Errors", "view": "table"}},
        {"type": "alarm", "x": 0, "y": 6, "width": 24, "height": 3, "properties": {
            "title": "Health", "alarms": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:SystemDown"]}},
    ],
    "start": "-PT6H",
}
GET_DASHBOARD = {"DashboardArn": "arn:aws:cloudwatch::123456789012:dashboard/ops",
                 "DashboardBody": orjson.dumps(CONSOLE_BODY).decode(), "DashboardName": "ops"}


@pytest.fixture(autouse=True)
def _home(cli_env) -> None:
    """Reading commands need a home; a fresh one is an empty directory."""
    Path(cli_env["WHISPERSYNC_HOME"]).mkdir(parents=True, exist_ok=True)


def _json(result):
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def test_list_shows_the_plans_dashboards_in_a_fresh_home(cli_env) -> None:
    listed = _json(run_cli(cli_env, "dashboards", "list", "--json"))["dashboards"]
    assert [(d["name"], d["widgets"], d["source"]) for d in listed] == [
        ("worker-performance", 5, "built-in"), ("queue-health", 4, "built-in"), ("executive", 5, "built-in"),
        ("cost", 4, "built-in")]


def test_import_lists_every_message_stores_it_and_exports_it_canonically(cli_env, tmp_path) -> None:
    path = tmp_path / "ops-dashboard.json"
    path.write_bytes(orjson.dumps(GET_DASHBOARD))
    dry = _json(run_cli(cli_env, "dashboards", "import", str(path), "--dry-run", "--json"))
    assert (dry["name"], dry["status"], dry["dry_run"], dry["widgets"]) == ("ops", "created", True, 3)
    # region is ignored locally, and said so, at each place it occurs
    assert {(m["data_path"], m["level"]) for m in dry["messages"]} == {
        ("/widgets/0/properties/region", "warning"), ("/widgets/1/properties/region", "warning")}
    assert "ops" not in [d["name"] for d in _json(run_cli(cli_env, "dashboards", "list", "--json"))["dashboards"]]

    done = run_cli(cli_env, "dashboards", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "warning /widgets/0/properties/region" in done.stderr
    assert "created dashboard ops (2 warning(s))" in done.stdout
    again = _json(run_cli(cli_env, "dashboards", "import", str(path), "--json"))
    assert again["status"] == "unchanged"
    listed = {d["name"]: d for d in _json(run_cli(cli_env, "dashboards", "list", "--json"))["dashboards"]}
    assert (listed["ops"]["source"], listed["ops"]["widgets"], listed["ops"]["start"]) == ("stored", 3, "-PT6H")

    out = tmp_path / "out"
    exported = _json(run_cli(cli_env, "dashboards", "export", "--format", "cloudwatch", str(out), "--json"))
    assert [d["name"] for d in exported["dashboards"]][-1] == "ops"
    body = orjson.loads((out / "ops.json").read_bytes())
    # the console's "." expanded; everything else as it was given
    assert body["widgets"][0]["properties"]["metrics"] == [
        ["WhisperSync/Worker", "Invocations", "FunctionName", "whispersync-worker", {"stat": "Sum"}],
        ["WhisperSync/Worker", "Errors", "FunctionName", "whispersync-worker", {"stat": "Sum"}]]
    assert body["widgets"][1] == CONSOLE_BODY["widgets"][1] and body["start"] == "-PT6H"


def test_a_body_with_errors_is_refused_with_every_message_and_nothing_stored(cli_env, tmp_path) -> None:
    bad = {"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 30, "height": 6,
                        "properties": {"metrics": [["WhisperSync/Worker"]]}},
                       {"type": "text", "properties": {}}],
           "periodOverride": "sometimes"}
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps(bad))
    result = run_cli(cli_env, "dashboards", "import", str(path), "--json")
    assert result.returncode == 1
    report = orjson.loads(result.stdout)
    assert report["status"] == "invalid" and report["name"] == "bad"
    paths = {m["data_path"] for m in report["messages"] if m["level"] == "error"}
    assert {"/periodOverride", "/widgets/0/width", "/widgets/1/properties/markdown"} <= paths
    text = run_cli(cli_env, "dashboards", "import", str(path))
    assert text.returncode == 1 and "nothing stored" in text.stderr and "Traceback" not in text.stderr
    assert "bad" not in [d["name"] for d in _json(run_cli(cli_env, "dashboards", "list", "--json"))["dashboards"]]


def test_export_import_export_is_byte_stable(cli_env, tmp_path) -> None:
    """The golden round trip: the plan's bodies, imported into a fresh home, export to the same bytes."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_cli(cli_env, "dashboards", "export", "--format", "cloudwatch", str(first)).returncode == 0
    fresh = {**cli_env, "WHISPERSYNC_HOME": str(tmp_path / "fresh-home")}
    for path in sorted(first.iterdir()):
        imported = _json(run_cli(fresh, "dashboards", "import", str(path), "--json"))
        assert (imported["status"], imported["messages"]) == ("created", []), path.name
    listed = _json(run_cli(fresh, "dashboards", "list", "--json"))["dashboards"]
    assert {d["source"] for d in listed} == {"stored"}  # each stored body replaces the plan's of its name
    assert run_cli(fresh, "dashboards", "export", "--format", "cloudwatch", str(second)).returncode == 0
    names = sorted(p.name for p in first.iterdir())
    assert names == ["cost.json", "executive.json", "queue-health.json", "worker-performance.json"]
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_delete_removes_a_stored_dashboard_and_the_plans_comes_back(cli_env, tmp_path) -> None:
    path = tmp_path / "executive.json"
    path.write_bytes(orjson.dumps({"widgets": [], "start": "-PT1H"}))
    assert _json(run_cli(cli_env, "dashboards", "import", str(path), "--json"))["status"] == "created"
    listed = {d["name"]: d for d in _json(run_cli(cli_env, "dashboards", "list", "--json"))["dashboards"]}
    assert (listed["executive"]["source"], listed["executive"]["widgets"]) == ("stored", 0)
    assert _json(run_cli(cli_env, "dashboards", "delete", "executive", "--json")) == {"deleted": "executive"}
    listed = {d["name"]: d for d in _json(run_cli(cli_env, "dashboards", "list", "--json"))["dashboards"]}
    assert (listed["executive"]["source"], listed["executive"]["widgets"]) == ("built-in", 5)
    refused = run_cli(cli_env, "dashboards", "delete", "executive")
    assert refused.returncode == 2 and "declared in the monitoring plan" in refused.stderr
    unknown = run_cli(cli_env, "dashboards", "delete", "nope")
    assert unknown.returncode == 2 and "no stored dashboard named 'nope'" in unknown.stderr


# -- show: in-process for the data it needs, one real process for the text rendering -------------

@pytest.fixture
def cli(cli_env, tmp_path):
    runner = CliRunner()
    home = Path(cli_env["WHISPERSYNC_HOME"])

    def run(*args: str):
        return runner.invoke(app, ["--home", str(home), *args])

    return run


def _put(cli, namespace: str, name: str, value: float, at: str, *dims: str) -> None:
    args = ["metrics", "put", namespace, name, str(value), "--unit", "Count", "--timestamp", at]
    for d in dims:
        args += ["--dim", d]
    result = cli(*args)
    assert result.exit_code == 0, result.output


def test_show_computes_the_executive_single_values_from_the_metrics(cli, cli_env) -> None:
    """Success rate and availability are the plan's math over what the worker and collector publish."""
    for minute in ("00", "01", "03"):  # the collector reported in 3 of the 4 minutes
        _put(cli, "WhisperSync/Worker", "ConcurrentExecutions", 1, f"2026-01-01T00:{minute}:10Z",
             "FunctionName=whispersync-worker")
    for status in ("Success", "Success", "Failed"):
        _put(cli, "WhisperSync/Business", "TranscriptsProcessed", 1, "2026-01-01T00:02:00Z", f"Status={status}")
        _put(cli, "WhisperSync/Business", "TranscriptsProcessed", 1, "2026-01-01T00:02:00Z")
    result = run_cli(cli_env, "dashboards", "show", "executive", "--start", "2026-01-01T00:00:00Z",
                     "--end", "2026-01-01T00:04:00Z", "--json")
    shown = _json(result)
    assert (shown["start"], shown["end"]) == ("2026-01-01T00:00:00.000Z", "2026-01-01T00:04:00.000Z")
    values = {w["title"]: [s["value"] for s in w["series"]] for w in shown["widgets"] if w["type"] == "metric"}
    assert values["Transcripts processed"] == [3.0]
    assert values["Success rate"] == [pytest.approx(200 / 3)]
    assert values["Availability"] == [75.0]
    assert values["Average processing time"] == [None]
    alarm = next(w for w in shown["widgets"] if w["type"] == "alarm")
    assert [(a["name"], a["state"]) for a in alarm["alarms"]] == [("whispersync-system-health", "INSUFFICIENT_DATA")]

    text = run_cli(cli_env, "dashboards", "show", "executive", "--start", "2026-01-01T00:00:00Z",
                   "--end", "2026-01-01T00:04:00Z")
    assert text.returncode == 0, text.stderr
    assert "Success %: 66.67" in text.stdout and "Minutes the workers reported (%): 75" in text.stdout
    assert "INSUFFICIENT_DATA whispersync-system-health" in text.stdout


def test_show_draws_series_as_sparklines_and_text_as_markdown(cli) -> None:
    for minute, value in (("00", 1), ("01", 5), ("02", 3)):
        _put(cli, "WhisperSync/Worker", "Invocations", value, f"2026-01-01T00:{minute}:30Z",
             "FunctionName=whispersync-worker")
    result = cli("dashboards", "show", "worker-performance", "--start", "2026-01-01T00:00:00Z",
                 "--end", "2026-01-01T00:03:00Z")
    assert result.exit_code == 0, result.output
    assert "Invocations: 3  ▁█▅  (3 points)" in result.stdout
    assert "Lambda Insights" in result.stdout  # the text widget


@pytest.mark.parametrize(("args", "message"), [
    (("show", "nope"), "no dashboard named 'nope'; known: worker-performance, queue-health, executive, cost"),
    (("show", "cost", "--since", "1h", "--start", "2026-01-01T00:00:00Z"), "--since and --start/--end"),
    (("show", "cost", "--end", "2026-01-01T00:00:00Z"), "--end needs --start"),
    (("show", "cost", "--start", "2026-01-02T00:00:00Z", "--end", "2026-01-01T00:00:00Z"), "the range is empty"),
    (("import", "missing.json"), "missing.json"),
])
def test_bad_input_is_one_clear_error(cli, args, message) -> None:
    result = cli("dashboards", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_a_file_name_that_is_no_dashboard_name_asks_for_name(cli, tmp_path) -> None:
    path = tmp_path / "my dashboard.json"
    path.write_bytes(orjson.dumps({"widgets": []}))
    result = cli("dashboards", "import", str(path))
    assert result.exit_code == 2 and "give one with --name" in result.output
    assert cli("dashboards", "import", str(path), "--name", "mine").exit_code == 0
