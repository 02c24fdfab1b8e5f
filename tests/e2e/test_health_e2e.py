"""Readiness and the dependencies canary against a real `whispersync up` whose blob store
stops accepting writes: /readyz turns 503 naming it, `checks run dependencies` FAILS with
reason dependency:blobs, SystemHealth 0 is published and the DependenciesUnhealthy alarm fires."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import orjson

from helpers import run_cli
from whispersync.plan import DEFAULT_PLAN

TOKEN = "health-test-token-0123456789abcdef"


def break_blob_store(blobs: Path) -> None:
    """A real fault: the blob directory stops accepting writes. chmod does not stop root, so as
    root the directory becomes a link into /proc, a filesystem where nobody may create files."""
    if os.geteuid() != 0:
        blobs.chmod(0o500)
    else:
        shutil.rmtree(blobs)
        blobs.symlink_to("/proc/1")


def test_an_unwritable_blob_store_is_not_ready_fails_the_canary_and_fires_its_alarm(server, cli_env, tmp_path):
    cli_env.update(WHISPERSYNC_API_TOKEN=TOKEN, WHISPERSYNC_ALARM_INTERVAL="3600",
                   WHISPERSYNC_COLLECTOR_INTERVAL="3600")
    server.start("--quiet")
    auth = {"Authorization": f"Bearer {TOKEN}"}

    ready = httpx.get(f"{server.url}/readyz", headers=auth, timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert [d["name"] for d in ready.json()["dependencies"] if d["ok"]] == ["blobs", "queue", "records", "telemetry"]
    passed = run_cli(cli_env, "checks", "run", "dependencies", "--json")
    assert passed.returncode == 0, passed.stderr
    assert orjson.loads(passed.stdout)["state"] == "PASSED"

    blobs = tmp_path / "home" / "blobs"
    break_blob_store(blobs)
    try:
        # Without the token: the status alone; with it, which dependency failed and why.
        anonymous = httpx.get(f"{server.url}/readyz", timeout=10)
        assert anonymous.status_code == 503 and anonymous.json() == {"status": "not_ready"}
        detailed = httpx.get(f"{server.url}/readyz", headers=auth, timeout=10)
        assert detailed.status_code == 503
        failed = [d for d in detailed.json()["dependencies"] if not d["ok"]]
        assert [d["name"] for d in failed] == ["blobs"] and failed[0]["reason"], detailed.text
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200  # alive, only not ready

        run = run_cli(cli_env, "checks", "run", "dependencies", "--json")
        assert run.returncode == 1, run.stderr
        result = orjson.loads(run.stdout)
        assert (result["state"], result["failure_code"], result["reason"]) == (
            "FAILED", "CANARY_FAILURE", "dependency:blobs")
        run_ms = result["started_ms"]
    finally:
        if blobs.is_symlink():
            blobs.unlink()
            blobs.mkdir()
        else:
            blobs.chmod(0o700)

    history = orjson.loads(run_cli(cli_env, "checks", "history", "dependencies", "--json").stdout)["runs"]
    assert [(r["state"], r["reason"]) for r in history] == [("FAILED", "dependency:blobs"), ("PASSED", None)]

    # SystemHealth: 1 from the passing run, then 0.
    got = run_cli(cli_env, "metrics", "get", "WhisperSync/Health", "SystemHealth", "--stat", "Minimum",
                  "--period", "60", "--since", "1h", "--json")
    assert got.returncode == 0, got.stderr
    assert 0.0 in orjson.loads(got.stdout)["values"], got.stdout

    # The plan's alarm, evaluated once the 5-minute period holding the failed run is complete.
    fire_at = run_ms // 300_000 * 300_000 + 300_000 + 1_000
    evaluated = run_cli(cli_env, "alarms", "evaluate", "--at", str(fire_at), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    states = {a["name"]: a for a in orjson.loads(evaluated.stdout)["alarms"]}
    assert states["DependenciesUnhealthy"]["state"] == "ALARM", states["DependenciesUnhealthy"]
    assert server.terminate() == 0


def test_up_schedules_each_plan_check_at_its_interval(tmp_path):
    """`up` (Runtime.start) runs the plan's canaries as periodic tasks, one per check, at the schedule's interval."""
    from whispersync.app import build_runtime
    from whispersync.settings import Settings

    runtime = build_runtime(Settings(home=tmp_path / "home"))
    try:
        runtime.start(workers=1, inbox=False, collector=False, maintenance=False, notifications=False, alarms=False,
                      sweep=False)
        tasks = {s.name: s.interval for s in runtime._services if getattr(s, "name", "").startswith("check-")}
        assert tasks == {f"check-{c.name}": c.interval_seconds for c in DEFAULT_PLAN.health_checks}
        assert tasks["check-dependencies"] == 300
    finally:
        runtime.close()
