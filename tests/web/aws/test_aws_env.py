"""`whispersync aws-env`: the exports that point the AWS CLI at WhisperSync, and that they work."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import orjson
from typer.testing import CliRunner

from whispersync.cli import app

TOKEN = "0123456789abcdef0123456789abcdef"


def aws_env(home: Path, *args: str, **env: str):
    result = CliRunner().invoke(app, ["--home", str(home), "aws-env", *args], env=env)
    assert result.exit_code == 0, result.output
    return result


def exports(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        out[name] = shlex.split(value)[0]
    return out


def test_without_a_token_any_credentials_do(tmp_path) -> None:
    printed = exports(aws_env(tmp_path, WHISPERSYNC_PORT="9123").stdout)
    assert printed["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9123"
    assert printed["AWS_REGION"] == printed["AWS_DEFAULT_REGION"]
    assert printed["AWS_ACCESS_KEY_ID"] == "whispersync" and printed["AWS_SECRET_ACCESS_KEY"]


def test_the_token_is_printed_only_when_asked(tmp_path) -> None:
    hidden = aws_env(tmp_path, WHISPERSYNC_API_TOKEN=TOKEN)
    assert TOKEN not in hidden.output
    assert "--show-secret" in hidden.stderr
    as_json = orjson.loads(aws_env(tmp_path, "--json", WHISPERSYNC_API_TOKEN=TOKEN).stdout)
    assert TOKEN not in str(as_json) and as_json["token_required"] is True
    shown = exports(aws_env(tmp_path, "--show-secret", WHISPERSYNC_API_TOKEN=TOKEN).stdout)
    assert shown["AWS_SECRET_ACCESS_KEY"] == TOKEN


def test_the_aws_cli_works_with_the_printed_environment(make_api, tmp_path) -> None:
    runtime, server = make_api(api_token=TOKEN)
    printed = exports(aws_env(tmp_path, "--show-secret", WHISPERSYNC_API_TOKEN=TOKEN,
                              WHISPERSYNC_PORT=str(server.port)).stdout)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(printed, AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    aws = str(Path(sys.executable).with_name("aws"))
    put = subprocess.run([aws, "cloudwatch", "put-metric-data", "--namespace", "Env", "--metric-name", "m",
                          "--value", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert put.returncode == 0, put.stderr
    listed = subprocess.run([aws, "cloudwatch", "list-metrics", "--namespace", "Env", "--output", "json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert orjson.loads(listed.stdout)["Metrics"][0]["MetricName"] == "m"
    env["AWS_SECRET_ACCESS_KEY"] = "not-the-token-not-the-token"
    refused = subprocess.run([aws, "cloudwatch", "list-metrics"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "SignatureDoesNotMatch" in refused.stderr


def test_the_endpoint_is_the_running_servers_url(tmp_path) -> None:
    """`up --port 8799` writes its URL to the home's server file: aws-env points there, not at the default."""
    (tmp_path / "server.json").write_bytes(orjson.dumps({"pid": 1, "url": "http://127.0.0.1:8799"}))
    env = exports(aws_env(tmp_path).stdout)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8799"
