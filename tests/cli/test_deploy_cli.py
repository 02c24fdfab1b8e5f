"""`whispersync deploy aws synth` as a user runs it: a real process writing a cloud assembly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from whispersync.plan import DEFAULT_PLAN, CompositeAlarm, MetricAlarm


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "WHISPERSYNC_HOME": str(tmp_path / "home"),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


class TestSynth:
    def test_it_writes_the_template_and_counts_what_it_holds(self, env, tmp_path) -> None:
        pytest.importorskip("aws_cdk", reason="the deploy extra (aws-cdk-lib) is not installed")
        out = tmp_path / "cdk.out"
        result = run_cli(env, "deploy", "aws", "synth", "--out", str(out), timeout=300)
        assert result.returncode == 0, result.stderr
        path_line, counts_line = result.stdout.strip().splitlines()
        template = Path(path_line)
        assert template.parent == out and template.name == "WhisperSync.template.json"
        resources = json.loads(template.read_text())["Resources"]
        assert (out / "manifest.json").exists()  # a cloud assembly the CDK CLI deploys (--app DIR)
        alarms = sum(isinstance(a, MetricAlarm) for a in DEFAULT_PLAN.alarms)
        composites = sum(isinstance(a, CompositeAlarm) for a in DEFAULT_PLAN.alarms)
        filters = sum(1 for r in resources.values() if r["Type"] == "AWS::Logs::MetricFilter")
        assert counts_line == (f"{alarms} alarms, {composites} composite alarms, {len(DEFAULT_PLAN.dashboards)}"
                               f" dashboards, {filters} metric filters, 5 functions")
        assert "placeholder package" in result.stderr

    def test_without_the_cdk_it_says_what_to_install(self, env, tmp_path) -> None:
        # A module named aws_cdk that fails as a missing one does, ahead of the installed package.
        shadow = tmp_path / "shadow"
        shadow.mkdir()
        (shadow / "aws_cdk.py").write_text("raise ModuleNotFoundError(\"No module named 'aws_cdk'\", name='aws_cdk')\n")
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(shadow), env.get("PYTHONPATH")]))}
        result = run_cli(env, "deploy", "aws", "synth", "--out", str(tmp_path / "out"))
        assert result.returncode == 2
        assert "pip install 'whispersync[deploy]'" in " ".join(result.stderr.split())
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "out").exists()

    def test_without_node_it_says_so(self, env, tmp_path) -> None:
        empty = tmp_path / "empty-path"
        empty.mkdir()
        result = run_cli({**env, "PATH": str(empty)}, "deploy", "aws", "synth", "--out", str(tmp_path / "out"))
        assert result.returncode == 2
        assert "needs Node.js" in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


class TestOutputs:
    def test_it_links_every_dashboard_and_alarm_of_the_plan(self, env, tmp_path) -> None:
        outputs = tmp_path / "cdk-outputs.json"
        stack = {"BucketName": "whispersync-transcripts-1", "TableName": "memos"}
        outputs.write_text(json.dumps({"WhisperSync": stack}))
        result = run_cli(env, "deploy", "aws", "outputs", "--region", "eu-west-1", "--outputs-file", str(outputs),
                         "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        home = "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        assert data["dashboards"] == [{"name": d.name, "url": f"{home}#dashboards:name={d.name}"}
                                      for d in DEFAULT_PLAN.dashboards]
        assert [(a["name"], a["url"]) for a in data["alarms"]] == [
            (a.name, f"{home}#alarmsV2:alarm/{a.name}") for a in DEFAULT_PLAN.alarms]
        assert data["stack"] == stack

    @pytest.mark.parametrize(("args", "message"), [
        (["--region", "Mars"], "not an AWS region code"),
        (["--region", "eu-west-1", "--outputs-file", "missing.json"], "--outputs-file missing.json"),
    ])
    def test_bad_input_is_named(self, env, tmp_path, args, message) -> None:
        result = subprocess.run([sys.executable, "-m", "whispersync", "deploy", "aws", "outputs", *args], env=env,
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
