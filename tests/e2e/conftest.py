"""Real `whispersync` processes under a temporary home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import Server


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    env.update(WHISPERSYNC_HOME=str(tmp_path / "home"), WHISPERSYNC_CONFIG=str(tmp_path / "none.toml"),
               WHISPERSYNC_INBOX_POLL_INTERVAL="0.2")
    return env


@pytest.fixture
def server(cli_env, tmp_path: Path):
    srv = Server(tmp_path / "home", cli_env)
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait(10)
