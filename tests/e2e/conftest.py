"""Real `whispersync` processes under a temporary home."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import Server


@pytest.fixture
def server(cli_env, tmp_path: Path):
    srv = Server(tmp_path / "home", cli_env)
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait(10)
