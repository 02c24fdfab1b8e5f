"""`whispersync maintenance start|end|list` against a real home's monitoring database."""

from __future__ import annotations

import time

import orjson
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.monitoring.alarms import MaintenanceWindows
from whispersync.settings import Settings

runner = CliRunner()


def _run(home, *args):
    return runner.invoke(app, ["--home", str(home), "maintenance", *args])


class TestMaintenanceCli:
    def test_start_list_end(self, tmp_path):
        """A window started for 30m is listed as active, and the engine's store sees it until it is ended."""
        home = tmp_path / "home"
        home.mkdir()
        started = _run(home, "start", "--for", "30m", "--reason", "disk upgrade", "--json")
        assert started.exit_code == 0, started.output
        window = orjson.loads(started.stdout)
        assert window["reason"] == "disk upgrade" and window["active"] is True

        windows = MaintenanceWindows(Settings.load(home=home).monitoring_db)
        now_ms = int(time.time() * 1000)
        assert windows.active(now_ms)["id"] == window["id"]
        # The planned end is 30 minutes after the start.
        assert windows.active(now_ms + 29 * 60_000 + 50_000) is not None
        assert windows.active(now_ms + 31 * 60_000) is None

        listed = orjson.loads(_run(home, "list", "--json").stdout)
        assert [(w["id"], w["active"]) for w in listed["windows"]] == [(window["id"], True)]

        ended = _run(home, "end", "--json")
        assert ended.exit_code == 0, ended.output
        assert orjson.loads(ended.stdout)["ended"]["id"] == window["id"]
        assert windows.active(int(time.time() * 1000)) is None
        assert orjson.loads(_run(home, "list", "--json").stdout)["windows"][0]["active"] is False
        windows.close()

    def test_a_second_start_is_an_error_line_not_a_trace(self, tmp_path):
        home = tmp_path / "home"
        home.mkdir()
        assert _run(home, "start", "--for", "1h", "--reason", "first").exit_code == 0
        second = _run(home, "start", "--for", "1h", "--reason", "second")
        assert second.exit_code == 2
        assert "is active until" in second.output and "Traceback" not in second.output

    def test_a_bad_duration_is_refused(self, tmp_path):
        home = tmp_path / "home"
        home.mkdir()
        result = _run(home, "start", "--for", "soon", "--reason", "x")
        assert result.exit_code == 2
        assert "not a duration" in result.output

    def test_end_without_a_window_says_so(self, tmp_path):
        home = tmp_path / "home"
        home.mkdir()
        result = _run(home, "end", "--json")
        assert result.exit_code == 0 and orjson.loads(result.stdout) == {"ended": None}
