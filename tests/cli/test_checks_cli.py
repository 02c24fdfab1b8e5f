"""`checks run end-to-end` from the shell: with no `up` on the home it starts a worker for the check, holds the
home's lock meanwhile, and leaves nothing behind."""

from __future__ import annotations

import orjson
import pytest

from whispersync.home_lock import lock_home


@pytest.fixture
def cli(tmp_path):
    from typer.testing import CliRunner

    from whispersync.cli import app

    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, ["--home", str(tmp_path / "home"), *args], env={"COLUMNS": "200", **(env or {})})

    return run


class TestChecksRunEndToEnd:
    def test_with_no_up_it_processes_its_memo_here_and_leaves_nothing(self, cli, tmp_path):
        result = cli("checks", "run", "end-to-end", "--json")
        assert result.exit_code == 0, result.output
        run = orjson.loads(result.stdout)
        assert (run["canary"], run["state"]) == ("end-to-end", "PASSED")
        assert [s["name"] for s in run["steps"]] == ["submit", "process", "cleanup"]
        memos = orjson.loads(cli("memos", "--json").stdout)
        assert memos.get("memos", memos) == []
        outputs = tmp_path / "home" / "outputs"
        assert not [p for p in outputs.rglob("*") if p.is_file()]
        # The lock was released: `up` may start now.
        lock_home(tmp_path / "home", url="test").release()

    def test_it_is_listed_and_its_history_kept(self, cli):
        listed = orjson.loads(cli("checks", "list", "--json").stdout)["checks"]
        assert {"name": "end-to-end", "kind": "end-to-end", "schedule": "rate(5 minutes)"}.items() <= \
            next(c for c in listed if c["name"] == "end-to-end").items()
        assert cli("checks", "run", "end-to-end").exit_code == 0
        history = orjson.loads(cli("checks", "history", "end-to-end", "--json").stdout)["runs"]
        assert [r["state"] for r in history] == ["PASSED"]

    def test_with_up_holding_the_home_it_leaves_the_memo_to_ups_workers(self, cli, tmp_path):
        """Only `up`'s lock here, no worker of its: the CLI does not process the memo, so the run times out."""
        plan = tmp_path / "plan.toml"
        plan.write_text('[[health_checks]]\nname = "end-to-end"\nkind = "end-to-end"\ntimeout_seconds = 3\n')
        (tmp_path / "home").mkdir()
        lock = lock_home(tmp_path / "home", url="http://127.0.0.1:1")
        try:
            result = cli("checks", "run", "end-to-end", "--json", env={"WHISPERSYNC_PLAN_FILE": str(plan)})
        finally:
            lock.release()
        assert result.exit_code == 1, result.output
        run = orjson.loads(result.stdout)
        assert (run["state"], run["failure_code"], run["reason"]) == ("FAILED", "CANARY_FAILURE", "timeout")
