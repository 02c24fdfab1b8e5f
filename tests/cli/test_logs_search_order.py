"""`logs search` lists newest first (docs/json.md: event lists are newest first), and --limit keeps
the newest lines of the window; `--order asc` reads as a log file does."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from whispersync.cli._common import app
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC
LINES = [{"timestamp": f"2026-11-27T12:00:0{n}.000Z", "level": "INFO", "message": f"line {n}"} for n in range(5)]


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()
    home = tmp_path / "home"
    home.mkdir()
    log_file = tmp_path / "app.log"
    log_file.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in LINES))

    def run(*args: str):
        return runner.invoke(app, ["--home", str(home), *args])

    assert run("logs", "import", str(log_file)).exit_code == 0
    return run


def _messages(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [e["message"] for e in orjson.loads(result.stdout)["events"]]


def test_search_is_newest_first_and_the_limit_keeps_the_newest(cli) -> None:
    assert _messages(cli("logs", "search", "--since", "36500d", "--json")) == [f"line {n}" for n in (4, 3, 2, 1, 0)]
    assert _messages(cli("logs", "search", "--since", "36500d", "--limit", "2", "--json")) == ["line 4", "line 3"]


def test_order_asc_reads_as_a_log_file_and_its_limit_keeps_the_oldest(cli) -> None:
    assert _messages(cli("logs", "search", "--since", "36500d", "--order", "asc", "--limit", "2", "--json")) == [
        "line 0", "line 1"]
    result = cli("logs", "search", "--order", "sideways")
    assert result.exit_code == 2


def test_the_store_orders_before_it_limits(tmp_path) -> None:
    store = TelemetryStore(tmp_path / "telemetry")
    for n in range(5):
        store.emit("logs", {**LINES[n]})
    store.flush()
    assert [r["message"] for r in store.logs(order="desc", limit=2)] == ["line 4", "line 3"]
    assert [r["message"] for r in store.logs(order="asc", limit=2)] == ["line 0", "line 1"]
    assert [r["message"] for r in store.logs(limit=2)] == ["line 0", "line 1"]  # the default is unchanged
    with pytest.raises(ValueError):
        store.logs(order="sideways")
    store.close()
