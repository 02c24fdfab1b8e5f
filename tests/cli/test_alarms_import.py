"""`whispersync alarms list --format cloudwatch` and `alarms import`: a home's alarms out as DescribeAlarms
JSON and into another home, through real processes; errors and reports through the Typer app."""

from __future__ import annotations

import os
import time

import orjson
import pytest
from helpers import run_cli

MINUTE = 60_000
ALARMS = [
    {"AlarmName": "WorkerErrors", "Namespace": "WS/Worker", "MetricName": "Errors", "Statistic": "Sum",
     "Dimensions": [{"Name": "FunctionName", "Value": "w"}], "Period": 60, "EvaluationPeriods": 3,
     "DatapointsToAlarm": 2, "Threshold": 2, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
     "TreatMissingData": "notBreaching", "AlarmActions": ["topic:critical"], "OKActions": ["topic:critical"],
     "Priority": "P1", "Tags": [{"Key": "team", "Value": "voice"}]},
    {"AlarmName": "ErrorRate", "EvaluationPeriods": 2, "Threshold": 10, "ComparisonOperator": "GreaterThanThreshold",
     "TreatMissingData": "breaching", "Priority": "P2", "AlarmActions": ["topic:high"], "Metrics": [
         {"Id": "rate", "Expression": "100 * e / i", "ReturnData": True},
         {"Id": "e", "MetricStat": {"Metric": {"Namespace": "WS/Worker", "MetricName": "Errors",
                                               "Dimensions": [{"Name": "FunctionName", "Value": "w"}]},
                                    "Period": 60, "Stat": "Sum"}, "ReturnData": False},
         {"Id": "i", "MetricStat": {"Metric": {"Namespace": "WS/Worker", "MetricName": "Invocations",
                                               "Dimensions": [{"Name": "FunctionName", "Value": "w"}]},
                                    "Period": 60, "Stat": "Sum"}, "ReturnData": False}]},
    {"AlarmName": "WorkerHealth", "AlarmRule": "ALARM(WorkerErrors) OR ALARM(\"ErrorRate\")", "Priority": "P1",
     "AlarmActions": ["topic:critical", "remediation:scale_up"]},
]
OURS = {a["AlarmName"] for a in ALARMS}
ERRORS = [0, 3, 3, 0, 0, 5, 1, 0, 0, 4, 4, 0]
INVOCATIONS = [10, 10, 20, 5, 10, 10, 100, 10, 10, 10, 10, 10]


@pytest.fixture
def env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    environment["WHISPERSYNC_CONFIG"] = os.environ["WHISPERSYNC_CONFIG"]  # conftest's empty file

    def home(name: str) -> dict[str, str]:
        return {**environment, "WHISPERSYNC_HOME": str(tmp_path / name)}

    return home


def _ok(env, *args: str) -> str:
    result = run_cli(env, *args, timeout=60)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


class TestRoundTripThroughProcesses:
    def test_a_home_exported_and_imported_elsewhere_keeps_its_alarms_and_their_evaluations(self, env, tmp_path) -> None:
        source, target = env("source"), env("target")
        (tmp_path / "alarms.json").write_bytes(orjson.dumps(ALARMS))
        start = (int(time.time() * 1000) // MINUTE - 20) * MINUTE
        emf = [orjson.dumps({"_aws": {"Timestamp": start + i * MINUTE + 1_000, "CloudWatchMetrics": [{
            "Namespace": "WS/Worker", "Dimensions": [["FunctionName"]],
            "Metrics": [{"Name": "Errors", "Unit": "Count"}, {"Name": "Invocations", "Unit": "Count"}]}]},
            "FunctionName": "w", "Errors": e, "Invocations": n}) for i, (e, n) in enumerate(zip(ERRORS, INVOCATIONS))]
        (tmp_path / "metrics.jsonl").write_bytes(b"\n".join(emf) + b"\n")

        _ok(source, "alarms", "put", str(tmp_path / "alarms.json"))
        exported = tmp_path / "exported.json"
        exported.write_text(_ok(source, "alarms", "list", "--format", "cloudwatch"))
        report = orjson.loads(_ok(target, "alarms", "import", str(exported), "--json"))
        outcomes = {a["name"]: a["outcome"] for a in report["alarms"]}
        assert {name for name, outcome in outcomes.items() if outcome == "created"} == OURS
        assert {outcome for name, outcome in outcomes.items() if name not in OURS} == {"unchanged"}  # the plan's

        listed = [orjson.loads(_ok(home, "alarms", "list", "--json"))["alarms"] for home in (source, target)]
        definitions = [{a["name"]: a["definition"] for a in alarms} for alarms in listed]
        assert definitions[0] == definitions[1]
        states = []
        for home in (source, target):
            _ok(home, "metrics", "import", str(tmp_path / "metrics.jsonl"))
            runs = [orjson.loads(_ok(home, "alarms", "evaluate", "--at", str(start + m * MINUTE + 5_000), "--json"))
                    for m in (3, 9)]
            states.append([[(a["name"], a["state"], a["reason"]) for a in run["alarms"]] for run in runs])
        assert states[0] == states[1]
        ours = {(name, state) for run in states[0] for name, state, _ in run if name in OURS}
        assert ("WorkerHealth", "ALARM") in ours and ("WorkerErrors", "OK") in ours  # the data moved them

        again = orjson.loads(_ok(target, "alarms", "import", str(exported), "--json"))
        assert {a["outcome"] for a in again["alarms"]} == {"unchanged"}
        assert again["created"] == again["updated"] == again["skipped"] == 0


class TestImportCommand:
    """`alarms import` and `alarms list --format` through the Typer app (fast)."""

    @pytest.fixture
    def cli(self, tmp_path):
        from typer.testing import CliRunner

        from whispersync.cli import app

        runner = CliRunner()
        (tmp_path / "home").mkdir()

        def run(*args: str):
            return runner.invoke(app, ["--home", str(tmp_path / "home"), *args], env={"COLUMNS": "250"})

        return run

    @pytest.fixture
    def write(self, tmp_path):
        def write(name: str, document) -> str:
            path = tmp_path / name
            path.write_bytes(document if isinstance(document, bytes) else orjson.dumps(document))
            return str(path)

        return write

    def _stored(self, cli) -> set[str]:
        return {a["name"] for a in orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"]
                if a["source"] == "stored"}

    def test_format_json_is_json_and_contradicting_flags_are_refused(self, cli) -> None:
        assert orjson.loads(cli("alarms", "list", "--format", "json").stdout) == \
            orjson.loads(cli("alarms", "list", "--json").stdout)
        refused = cli("alarms", "list", "--json", "--format", "cloudwatch")
        assert refused.exit_code == 2 and "give one" in refused.output
        document = orjson.loads(cli("alarms", "list", "--format", "cloudwatch").stdout)
        assert set(document) == {"MetricAlarms", "CompositeAlarms"} and document["CompositeAlarms"]

    def test_a_production_file_with_its_topics_file(self, cli, write, tmp_path) -> None:
        sns = "arn:aws:sns:eu-west-1:123456789012:"
        production = {"MetricAlarms": [
            {"AlarmName": "Errors", "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:Errors",
             "StateValue": "ALARM", "StateReason": "Threshold Crossed", "StateUpdatedTimestamp": "2026-01-01T00:00:00Z",
             "Namespace": "WS/Worker", "MetricName": "Errors", "Statistic": "Sum", "Dimensions": [], "Period": 60,
             "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold",
             "AlarmActions": [sns + "oncall", "arn:aws:lambda:eu-west-1:123456789012:function:restart",
                              "arn:aws:ssm:eu-west-1:123456789012:opsitem:2"], "OKActions": [sns + "prod-critical"]},
        ], "CompositeAlarms": [
            {"AlarmName": "Health", "AlarmRule": 'ALARM("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:Errors")',
             "StateValue": "OK", "StateReason": "fine"}]}
        topics = tmp_path / "topics.toml"
        topics.write_text('oncall = "P1"\n'
                          '"arn:aws:lambda:eu-west-1:123456789012:function:restart" = "remediation:scale_up"\n')
        result = cli("alarms", "import", write("prod.json", production), "--topics", str(topics), "--keep-state",
                     "--json")
        assert result.exit_code == 0, result.output
        report = orjson.loads(result.stdout)
        errors, health = report["alarms"]
        assert (errors["name"], errors["outcome"], errors["priority"], errors["priority_from"]) == \
            ("Errors", "created", "P1", "topic")
        assert [m["to"] for m in errors["mapped_actions"]] == \
            ["topic:critical", "remediation:scale_up", "topic:critical"]
        assert [(d["action"], "Systems Manager" in d["reason"]) for d in errors["dropped_actions"]] == \
            [("arn:aws:ssm:eu-west-1:123456789012:opsitem:2", True)]
        assert errors["state"] == \
            {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "2026-01-01T00:00:00.000Z"}
        assert (health["name"], health["outcome"], health["changes"]) == ("Health", "created", ["definition", "state"])
        assert (report["created"], report["dry_run"], report["keep_state"]) == (2, False, True)
        listed = {a["name"]: a for a in orjson.loads(cli("alarms", "list", "--json").stdout)["alarms"]}
        assert listed["Health"]["definition"]["rule"] == 'ALARM("Errors")'
        assert listed["Errors"]["definition"]["alarm_actions"] == ["topic:critical", "remediation:scale_up"]
        assert (listed["Errors"]["state"], listed["Health"]["state"]) == ("ALARM", "OK")

        text = cli("alarms", "import", write("prod.json", production), "--topics", str(topics))
        assert text.exit_code == 0 and "0 created, 0 updated, 2 unchanged, 0 skipped" in text.output
        assert "dropped arn:aws:ssm:eu-west-1:123456789012:opsitem:2" in text.output

    def test_a_dry_run_reports_and_writes_nothing(self, cli, write) -> None:
        result = cli("alarms", "import", write("a.json", ALARMS), "--dry-run")
        assert result.exit_code == 0, result.output
        assert "3 created" in result.output and "dry run: nothing was written" in result.output
        assert self._stored(cli) == set()

    @pytest.mark.parametrize(("document", "words"), [
        (b"{not json", "is not JSON"),
        ({"Alarms": []}, "expected what `aws cloudwatch describe-alarms` prints"),
        ({"MetricAlarms": [{"AlarmName": "A", "AlarmRule": "TRUE"}]}, "MetricAlarms[0].AlarmRule"),
        ([ALARMS[0], {"AlarmName": "C", "AlarmRule": "ALARM(WorkerErrors) OR ALARM(Nowhere)"}],
         "[1].AlarmRule: 'C' names alarm(s) Nowhere, which are neither in the file nor in this home"),
    ])
    def test_bad_input_is_an_error_and_nothing_is_written(self, cli, write, document, words) -> None:
        result = cli("alarms", "import", write("bad.json", document))
        assert result.exit_code == 2
        assert words in " ".join(result.output.split())
        assert self._stored(cli) == set()

    def test_a_bad_topics_file_is_an_error(self, cli, write) -> None:
        result = cli("alarms", "import", write("a.json", ALARMS), "--topics", write("t.json", {"x": "pager"}))
        assert result.exit_code == 2 and "x: must map to critical, high, medium, low" in " ".join(result.output.split())
        assert self._stored(cli) == set()

    def test_only_skipped_or_no_alarms_exits_1(self, cli, write) -> None:
        anomaly = {**ALARMS[0], "AlarmName": "Anomaly", "ThresholdMetricId": "ad1"}
        result = cli("alarms", "import", write("a.json", [anomaly]), "--json")
        assert result.exit_code == 1 and orjson.loads(result.stdout)["skipped"] == 1
        empty = cli("alarms", "import", write("e.json", {"MetricAlarms": [], "CompositeAlarms": []}))
        assert empty.exit_code == 1 and "holds no alarms" in empty.output

    def test_a_real_process_prints_one_error_line(self, tmp_path) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
        environment.update(WHISPERSYNC_HOME=str(tmp_path / "home"), WHISPERSYNC_CONFIG=os.environ["WHISPERSYNC_CONFIG"])
        bad = tmp_path / "bad.json"
        bad.write_bytes(orjson.dumps({"MetricAlarms": "nope"}))
        result = run_cli(environment, "alarms", "import", str(bad), timeout=60)
        assert result.returncode == 2 and "MetricAlarms: must be a list of alarms" in result.stderr
        assert "Traceback" not in result.stderr
