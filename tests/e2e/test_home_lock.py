"""One `whispersync up` per home: a second one is refused and says who holds the home."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from helpers import free_port

pytestmark = pytest.mark.e2e


def _second_up(env: dict[str, str], port: int) -> subprocess.CompletedProcess:
    env = {**env, "WHISPERSYNC_PORT": str(port)}
    try:
        return subprocess.run([sys.executable, "-m", "whispersync", "up"], env=env, capture_output=True, text=True,
                              check=False, timeout=20)
    except subprocess.TimeoutExpired:  # run() kills the child on timeout
        pytest.fail("a second `up` on the same home started and kept running")


@pytest.mark.parametrize("same_port", [False, True], ids=["other-port", "same-port"])
def test_a_second_up_on_the_same_home_is_refused_and_names_the_first(server, cli_env, same_port) -> None:
    server.start()
    first_port = int(cli_env["WHISPERSYNC_PORT"])
    server_json = (server.home / "server.json").read_bytes()

    second = _second_up(cli_env, first_port if same_port else free_port())

    assert second.returncode != 0
    said = " ".join((second.stdout + second.stderr).split())  # rich wraps long lines
    assert f"pid {server.proc.pid}" in said, said
    assert server.url in said, said
    assert f"kill {server.proc.pid}" in said, said  # how to stop it
    # The refused one touched nothing: the first's server.json stays, and it still serves.
    assert (server.home / "server.json").read_bytes() == server_json
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert server.terminate() == 0


def test_a_killed_up_does_not_block_the_next(server) -> None:
    server.start()
    server.kill()  # SIGKILL: no clean-up ran, the lock file stays behind
    assert (server.home / "up.lock").exists()
    server.start()  # the lock died with the process
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert server.terminate() == 0
