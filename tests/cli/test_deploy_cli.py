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

    def test_the_plan_file_the_secrets_and_email_reach_the_functions(self, env, tmp_path) -> None:
        """--plan ships the file in the code asset (the handlers load it through WHISPERSYNC_PLAN_FILE), an SSM
        --secrets-name is granted ssm:GetParameter on that parameter alone, and the email options are the
        router's environment. The user's --code directory is left as it was."""
        pytest.importorskip("aws_cdk", reason="the deploy extra (aws-cdk-lib) is not installed")
        from whispersync.deploy.aws.environment import ENV

        code = tmp_path / "code"
        code.mkdir()
        (code / "handler_stub.py").write_text("x = 1\n")
        plan = tmp_path / "myplan.toml"
        plan.write_text('[routes]\nP1 = ["webhook", "console"]\n', encoding="utf-8")
        out = tmp_path / "cdk.out"
        result = run_cli(env, "deploy", "aws", "synth", "--out", str(out), "--code", str(code), "--plan", str(plan),
                         "--secrets-name", "/whispersync/prod-channels", "--smtp-host", "smtp.example.com",
                         "--smtp-port", "2525", "--smtp-user", "alerts", "--email-from", "ws@example.com",
                         "--email-to", "ops@example.com", "--email-to", "oncall@example.com", "--json", timeout=300)
        assert result.returncode == 0, result.stderr
        template = json.loads(Path(json.loads(result.stdout)["template"]).read_text())
        resources = template["Resources"]
        functions = {r["Properties"]["FunctionName"]: r for r in resources.values()
                     if r["Type"] == "AWS::Lambda::Function" and "FunctionName" in r["Properties"]}
        router = functions["whispersync-alert-router"]["Properties"]["Environment"]["Variables"]
        for props in functions.values():
            assert props["Properties"]["Environment"]["Variables"][ENV.PLAN_FILE] == "whispersync-plan.toml"
        assert {k: router[k] for k in (ENV.SECRETS_NAME, ENV.SMTP_HOST, ENV.SMTP_PORT, ENV.SMTP_USER,
                                       ENV.EMAIL_FROM, ENV.EMAIL_TO)} == {
            ENV.SECRETS_NAME: "/whispersync/prod-channels", ENV.SMTP_HOST: "smtp.example.com",
            ENV.SMTP_PORT: "2525", ENV.SMTP_USER: "alerts", ENV.EMAIL_FROM: "ws@example.com",
            ENV.EMAIL_TO: "ops@example.com,oncall@example.com"}
        worker = functions["whispersync-worker"]["Properties"]["Environment"]["Variables"]
        assert ENV.SMTP_HOST not in worker and ENV.SECRETS_NAME not in worker

        shipped = [p for p in out.glob("asset.*/whispersync-plan.toml")]
        assert [p.read_text() for p in shipped] == [plan.read_text()]
        assert (shipped[0].parent / "handler_stub.py").exists()
        assert sorted(p.name for p in code.iterdir()) == ["handler_stub.py"]

        role = functions["whispersync-alert-router"]["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = [s for r in resources.values() if r["Type"] == "AWS::IAM::Policy"
                      and {"Ref": role} in r["Properties"]["Roles"]
                      for s in r["Properties"]["PolicyDocument"]["Statement"]]
        secret_reads = [s for s in statements if any(a.startswith(("ssm:", "secretsmanager:", "kms:")) for a in (
            s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]
        [read] = secret_reads
        assert read["Action"] == "ssm:GetParameter"
        assert json.dumps(read["Resource"]).endswith(':parameter/whispersync/prod-channels"]]}')

    def test_email_options_without_a_host_are_refused(self, env, tmp_path) -> None:
        pytest.importorskip("aws_cdk", reason="the deploy extra (aws-cdk-lib) is not installed")
        result = run_cli(env, "deploy", "aws", "synth", "--out", str(tmp_path / "out"),
                         "--email-to", "ops@example.com", timeout=300)
        assert result.returncode == 2
        assert "set smtp_host too" in " ".join(result.stderr.split()) and "Traceback" not in result.stderr

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


class TestCheck:
    """`deploy aws check` as a real process against moto's server (AWS_ENDPOINT_URL, honoured by botocore ≥ 1.31)."""

    REGION = "eu-west-1"

    @pytest.fixture
    def account(self, env, tmp_path):
        """moto's server on loopback, holding the plan's alarms and dashboards as synth deploys them."""
        boto3 = pytest.importorskip("boto3")
        server_module = pytest.importorskip("moto.server", reason="moto's server mode needs moto[server] (flask)")
        from helpers import free_port
        from moto.cloudwatch.models import cloudwatch_backends

        from whispersync.deploy.aws.drift import expected_alarms, expected_dashboards

        port = free_port()
        server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        aws_env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_REGION": self.REGION,
                   "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
        cloudwatch = boto3.client("cloudwatch", region_name=self.REGION, endpoint_url=aws_env["AWS_ENDPOINT_URL"],
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
        for props in expected_alarms(DEFAULT_PLAN, region=self.REGION, account="123456789012").values():
            request = {k: v for k, v in props.items() if k != "Kind"}
            if props["Kind"] == "MetricAlarm":
                cloudwatch.put_metric_alarm(**request)
            else:  # moto 5.2 has no PutCompositeAlarm: its store, as its PutMetricAlarm handler does with AlarmRule
                cloudwatch_backends["123456789012"][self.REGION].put_metric_alarm(
                    name=request["AlarmName"], namespace=None, metric_name=None, comparison_operator=None,
                    evaluation_periods=None, period=None, threshold=None, statistic=None,
                    description=request.get("AlarmDescription"), dimensions=[],
                    alarm_actions=request.get("AlarmActions", []), ok_actions=request.get("OKActions", []),
                    insufficient_data_actions=request.get("InsufficientDataActions", []), rule=request["AlarmRule"])
        for name, body in expected_dashboards(DEFAULT_PLAN, region=self.REGION, account="123456789012").items():
            cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
        try:
            yield {k: v for k, v in {**env, **aws_env}.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_REGION")}, \
                cloudwatch
        finally:
            server.stop()
            cloudwatch_backends.reset()

    def test_no_drift_then_drift(self, account) -> None:
        env, cloudwatch = account
        result = run_cli(env, "deploy", "aws", "check", "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["drift"] == [] and report["region"] == self.REGION

        cloudwatch.delete_dashboards(DashboardNames=["cost"])
        result = run_cli(env, "deploy", "aws", "check")
        assert result.returncode == 1, result.stderr
        assert result.stdout.splitlines()[0] == "dashboard cost: missing (in the plan, not deployed)"
        assert "1 drift(s)" in result.stdout

    def test_no_region_is_a_clear_error(self, account) -> None:
        env, _ = account
        env = {k: v for k, v in env.items() if k != "AWS_REGION"}
        result = run_cli(env, "deploy", "aws", "check")
        assert result.returncode == 2
        assert "no AWS region" in result.stderr and "Traceback" not in result.stderr

    def test_no_credentials_is_a_clear_error(self, account) -> None:
        env, _ = account
        env = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        # No instance metadata to ask on a test machine: botocore would wait for it otherwise.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        result = run_cli(env, "deploy", "aws", "check", "--region", self.REGION)
        assert result.returncode == 2
        assert "no AWS credentials" in result.stderr and "Traceback" not in result.stderr

    def test_without_boto3_it_says_what_to_install(self, env, tmp_path) -> None:
        shadow = tmp_path / "shadow"
        shadow.mkdir()
        (shadow / "boto3.py").write_text("raise ModuleNotFoundError(\"No module named 'boto3'\", name='boto3')\n")
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(shadow), env.get("PYTHONPATH")]))}
        result = run_cli(env, "deploy", "aws", "check", "--region", self.REGION)
        assert result.returncode == 2
        assert "pip install 'whispersync[aws]'" in " ".join(result.stderr.split())
        assert "Traceback" not in result.stderr


class TestTheWayToTheCode:
    """The Lambda code comes from `deploy aws package`: synth's help and the README say so, step by step."""

    def test_synth_help_points_to_package(self, env) -> None:
        result = run_cli({**env, "COLUMNS": "200"}, "deploy", "aws", "synth", "--help")
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())
        assert "whispersync deploy aws package --out DIR" in text and "pip install --target" not in text

    def test_the_readme_steps_are_package_synth_deploy(self) -> None:
        readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
        section = readme.split("## Deploying to AWS", 1)[1].split("\n## ", 1)[0]
        assert "pip install --target" not in section
        steps = ["whispersync deploy aws package --out build/lambda",
                 "whispersync deploy aws synth --out cdk.out --code build/lambda",
                 "npx aws-cdk deploy --app cdk.out"]
        positions = [section.find(step) for step in steps]
        assert -1 not in positions and positions == sorted(positions), positions
