"""Finding the home, as real `whispersync` processes: reading commands never create one,
writing commands make `./.whispersync` when none is found, and the nearest one above the
working directory is found as git finds `.git`. Also the explicit config file, `--version`
and shell completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

READING_COMMANDS = [
    ("memos",),
    ("trace", "0123456789abcdef"),
    ("logs", "search"),
    ("logs", "query", "fields @message"),
    ("metrics", "list"),
    ("metrics", "get", "WhisperSync/Business", "TranscriptsProcessed"),
    ("traces", "search"),
    ("traces", "show", "0123456789abcdef"),
    ("dlq", "list"),
    ("alarms", "list"),
    ("alarms", "history", "SystemDown"),
    ("notifications", "list"),
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No WHISPERSYNC_HOME, and a user data directory of our own (XDG_DATA_HOME)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    config = tmp_path / "empty.toml"
    config.write_text("")
    environment.update(WHISPERSYNC_CONFIG=str(config), XDG_DATA_HOME=str(tmp_path / "xdg-data"))
    return environment


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "sub"
    path.mkdir(parents=True)
    return path


def ws(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "whispersync", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def _homes_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".whispersync"))


@pytest.mark.parametrize("args", READING_COMMANDS, ids=" ".join)
def test_a_reading_command_without_a_home_says_where_it_looked_and_creates_nothing(env, workdir, tmp_path,
                                                                                    args) -> None:
    done = ws(env, workdir, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    error = " ".join(done.stderr.split())  # rich may wrap the line
    assert str(workdir) in error and "--home" in error and "WHISPERSYNC_HOME" in error, error
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert _homes_under(tmp_path) == []
    assert not (tmp_path / "xdg-data" / "whispersync").exists()


def test_a_reading_command_names_the_home_it_was_given(env, workdir, tmp_path) -> None:
    missing = tmp_path / "elsewhere"
    done = ws(env, workdir, "--home", str(missing), "memos")
    assert done.returncode == 2
    error = " ".join(done.stderr.split())
    assert str(missing) in error and "--home" in error, error
    assert not missing.exists()

    done = ws({**env, "WHISPERSYNC_HOME": str(missing)}, workdir, "memos")
    assert done.returncode == 2
    error = " ".join(done.stderr.split())
    assert str(missing) in error and "WHISPERSYNC_HOME" in error, error
    assert not missing.exists()


def test_a_writing_command_creates_the_home_in_the_working_directory_and_readers_find_it_from_below(
        env, workdir) -> None:
    project = workdir.parent
    put = ws(env, project, "metrics", "put", "Test/Home", "Found", "1")
    assert put.returncode == 0, put.stderr
    assert (project / ".whispersync").is_dir()

    deeper = workdir / "deeper"
    deeper.mkdir()
    listed = ws(env, deeper, "metrics", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "Found" in listed.stdout
    assert not (workdir / ".whispersync").exists() and not (deeper / ".whispersync").exists()


def test_the_environment_wins_over_a_home_found_above(env, workdir, tmp_path) -> None:
    (workdir.parent / ".whispersync").mkdir()
    other = tmp_path / "other-home"
    put = ws({**env, "WHISPERSYNC_HOME": str(other)}, workdir, "metrics", "put", "Test/Home", "InOther", "1")
    assert put.returncode == 0, put.stderr
    assert (other / "telemetry").is_dir()
    assert not (workdir.parent / ".whispersync" / "telemetry").exists()


def test_the_user_data_directory_is_the_last_place_looked(env, workdir, tmp_path) -> None:
    user_home = tmp_path / "xdg-data" / "whispersync"
    put = ws(env, workdir, "--home", str(user_home), "metrics", "put", "Test/Home", "InUserDir", "1")
    assert put.returncode == 0, put.stderr
    listed = ws(env, workdir, "metrics", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "InUserDir" in listed.stdout
    # ...but a home found above the working directory comes first.
    (workdir.parent / ".whispersync").mkdir()
    listed = ws(env, workdir, "metrics", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "InUserDir" not in listed.stdout


def test_a_config_file_named_explicitly_must_exist(env, workdir, tmp_path) -> None:
    missing = tmp_path / "typo.toml"
    done = ws({**env, "WHISPERSYNC_CONFIG": str(missing)}, workdir, "--home", str(tmp_path / "h"), "memos")
    assert done.returncode == 2
    error = " ".join(done.stderr.split())
    assert str(missing) in error and "WHISPERSYNC_CONFIG" in error, error
    assert "Traceback" not in done.stderr


def test_the_default_config_file_may_be_absent(env, workdir) -> None:
    del env["WHISPERSYNC_CONFIG"]
    done = ws(env, workdir, "metrics", "put", "Test/Home", "NoConfig", "1")
    assert done.returncode == 0, done.stderr


def test_version(env, workdir) -> None:
    done = ws(env, workdir, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "whispersync 0.1.0"
    assert _homes_under(workdir.parent) == []


def test_shell_completion_is_offered(env, workdir) -> None:
    done = ws({**env, "COLUMNS": "200"}, workdir, "--help")
    assert done.returncode == 0, done.stderr
    assert "--install-completion" in done.stdout and "--show-completion" in done.stdout
    assert "--version" in done.stdout
    shown = ws({**env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}, workdir, "--show-completion", "bash")
    assert shown.returncode == 0, shown.stderr
    assert "complete" in shown.stdout and "whispersync" in shown.stdout

