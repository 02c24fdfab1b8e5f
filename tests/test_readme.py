"""The README is true: every shell command in its ```sh blocks runs, as written, against a
real `whispersync up` in a fresh directory with `examples/` beside it (issue 9 §4).

Only the commands in SKIPPED are not run, each with the reason. The server's port is
the one thing changed (127.0.0.1:8765 → a free port), and curl is made to fail on a
4xx/5xx, so a wrong example body fails the test instead of printing an error.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

SKIPPED = {
    "make run": "runs the server in the foreground until Ctrl-C; the test starts its own `whispersync up`",
    "make test": "runs the whole test suite, this test included",
    "whispersync up --plan examples/my_plan.py": "runs a server in the foreground until Ctrl-C; "
                                                 "`plan validate examples/my_plan.py` checks the same file",
}


def readme_commands() -> list[str]:
    """Each command of the README's ```sh blocks: continuation lines joined, comment lines left out."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M):
        logical = ""
        for line in block.splitlines():
            if logical:
                logical += " " + line.strip()
            elif line.strip() and not line.lstrip().startswith("#"):
                logical = line.strip()
            if logical.endswith("\\"):
                logical = logical[:-1].rstrip()
                continue
            if logical:
                commands.append(logical)
            logical = ""
    return commands


def _without_comment(command: str) -> str:
    return re.sub(r"\s+#[^'\"]*$", "", command).strip()


def _environment(home: Path, user_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(user_home), WHISPERSYNC_HOME=str(home),
               WHISPERSYNC_INBOX_POLL_INTERVAL="0.2", COLUMNS="80", NO_COLOR="1")
    env.pop("WHISPERSYNC_CONFIG", None)
    return env


def _memos(env: dict[str, str], cwd: Path) -> list[dict]:
    done = subprocess.run(["whispersync", "memos", "--json"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    document = orjson.loads(done.stdout)
    return document["memos"] if isinstance(document, dict) else document


def _wait_until_settled(env: dict[str, str], cwd: Path, timeout: float = 90) -> None:
    """Until every memo is done or failed, so the commands that read traces find them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        memos = _memos(env, cwd)
        if memos and all(m["status"] in ("done", "failed") for m in memos):
            time.sleep(1.5)  # the server flushes telemetry every half second
            return
        time.sleep(0.3)
    pytest.fail(f"memos not processed within {timeout} s: {[m['status'] for m in _memos(env, cwd)]}")


def test_the_skipped_commands_are_in_the_readme() -> None:
    """The skip list names README lines exactly, so it cannot silently outlive them."""
    commands = {_without_comment(c) for c in readme_commands()}
    assert set(SKIPPED) <= commands, set(SKIPPED) - commands


def test_every_file_the_readme_names_in_examples_exists() -> None:
    named = set(re.findall(r"examples/[\w./-]*[\w/]", README.read_text(encoding="utf-8")))
    assert named, "the README names no example files"
    for name in sorted(named):
        assert (ROOT / name).exists(), f"README names {name}, which does not exist"


def test_the_secret_names_in_the_readme_are_the_settings_names() -> None:
    from whispersync.settings import Settings

    accepted = set()
    for name, field in Settings.model_fields.items():
        accepted.add(f"WHISPERSYNC_{name.upper()}")
        alias = field.validation_alias
        accepted.update(getattr(alias, "choices", None) or ([alias] if isinstance(alias, str) else []))
    section = README.read_text(encoding="utf-8").split("Channels are configured", 1)[1].split("###", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", section))
    assert named and named <= accepted, named - accepted


def test_every_readme_command_runs(tmp_path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(ROOT / "examples", work / "examples")
    env = _environment(work / ".whispersync", tmp_path / "user")
    port = free_port()
    log = (tmp_path / "up.log").open("wb")
    server = subprocess.Popen(["whispersync", "up", "--port", str(port)], cwd=work, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "up.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "whispersync up did not start within 60 s"
            time.sleep(0.2)
        ran = 0
        for command in readme_commands():
            if _without_comment(command) in SKIPPED:
                continue
            runnable = command.replace("127.0.0.1:8765", f"127.0.0.1:{port}")
            if runnable.startswith("curl "):
                runnable = "curl --fail-with-body -sS " + runnable[len("curl "):]
            if runnable.startswith("whispersync trace") or runnable.startswith("whispersync traces show"):
                _wait_until_settled(env, work)
            done = subprocess.run(["bash", "-o", "pipefail", "-c", runnable], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"README command failed ({done.returncode}): {command}\n" \
                                         f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            ran += 1
        assert ran >= 25  # the README's commands, not a handful of them
        # The imports just run are idempotent: the same files again store nothing new.
        again = subprocess.run(["whispersync", "logs", "import", "examples/exported-events.json", "--json"],
                               cwd=work, env=env, capture_output=True, text=True, timeout=60)
        assert orjson.loads(again.stdout)["imported"] == 0, again.stdout + again.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_the_example_config_file_loads(monkeypatch, tmp_path) -> None:
    from whispersync.settings import Settings

    monkeypatch.setenv("WHISPERSYNC_CONFIG", str(ROOT / "examples" / "whispersync.toml"))
    settings = Settings.load(home=tmp_path / "home")
    assert (settings.workers, settings.retention_days) == (2, 14)


def test_every_variable_notifications_list_asks_for_is_in_the_readme() -> None:
    """`notifications list` names the variable a skipped channel needs; the README must use the same."""
    from whispersync.monitoring.notify import ChannelConfig
    from whispersync.monitoring.notify.channels import build_channels
    from whispersync.telemetry import NullSink, Telemetry

    channels = build_channels(ChannelConfig(), {}, log=Telemetry(NullSink()).logger("t"), clock=time.time)
    asked = set()
    for channel in channels.values():
        reason = getattr(channel, "hint", "") or ""
        asked.update(re.findall(r"\bWHISPERSYNC_[A-Z0-9_]+", reason))
    assert asked, "no unconfigured channel names a variable"
    readme = README.read_text(encoding="utf-8")
    assert {name for name in asked if f"`{name}`" not in readme} == set()
