"""Real `whispersync` processes under a temporary home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from helpers import Server, free_port, wait_until


@pytest.fixture
def server(cli_env, tmp_path: Path):
    srv = Server(tmp_path / "home", cli_env)
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait(10)


class SplitServer(Server):
    """A `whispersync up` whose stdout (the event lines) is kept apart from its stderr."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        super().__init__(home, env)
        self.stdout = home.parent / "server.stdout"

    def start(self, *extra: str) -> "SplitServer":
        self.env["WHISPERSYNC_PORT"] = str(free_port())
        (self.home / "server.json").unlink(missing_ok=True)
        with self.stdout.open("ab") as out, self.log.open("ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "whispersync", "up", *extra], env=self.env,
                                         stdout=out, stderr=err)
        wait_until(lambda: (self.home / "server.json").exists() or self.proc.poll() is not None, timeout=30)
        if self.proc.poll() is not None:
            raise RuntimeError(f"whispersync up did not start:\n{self.log.read_text()}")
        self.url = orjson.loads((self.home / "server.json").read_bytes())["url"]
        return self

    def events(self) -> list[dict]:
        """Every line of stdout so far, each parsed as one JSON object (a non-JSON line fails)."""
        lines = self.stdout.read_text().splitlines()
        return [orjson.loads(line) for line in lines if line.strip()]


@pytest.fixture
def split_server(cli_env, tmp_path: Path):
    srv = SplitServer(tmp_path / "home", cli_env)
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait(10)
