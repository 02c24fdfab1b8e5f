"""`whispersync slo`: the plan's SLO from the command line, as a table and as JSON, over a real store."""

from __future__ import annotations

import time

import orjson
from typer.testing import CliRunner

from whispersync import catalog
from whispersync.cli import app
from whispersync.monitoring.store import TelemetryStore

runner = CliRunner()


def _memos(settings, at_ms: int, latencies: list[float], failed: int) -> None:
    store = TelemetryStore(settings.telemetry_dir)
    try:
        store.put_metrics(
            [{"namespace": catalog.MEMO_LATENCY.namespace, "name": catalog.MEMO_LATENCY.name, "value": v,
              "unit": "Milliseconds", "timestamp": at_ms} for v in latencies]
            + [{"namespace": catalog.MEMOS_FAILED.namespace, "name": catalog.MEMOS_FAILED.name, "value": 1,
                "unit": "Count", "timestamp": at_ms}] * failed)
    finally:
        store.close()


def test_it_shows_sli_budget_burn_and_apdex_as_json_and_as_a_table(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    # 90 s ago, inside every window: 3 memos in 1 s, one in 20 s, one failed. 5 memos, 2 bad.
    _memos(settings, int(time.time() * 1000) - 90_000, [1_000, 1_000, 1_000, 20_000], failed=1)
    result = runner.invoke(app, ["--home", str(settings.home), "slo", "--json"])
    assert result.exit_code == 0, result.output
    [report] = orjson.loads(result.stdout)["slos"]
    assert report["name"] == "memo-latency"
    assert {k: report["window"][k] for k in ("good", "done", "failed", "total", "bad", "sli")} == {
        "good": 3, "done": 4, "failed": 1, "total": 5, "bad": 2, "sli": 0.6}
    # 1 % of 5 memos may be bad: 0.05; 2 were: 1 - 2 / 0.05 = -39 (overspent).
    assert report["error_budget"] == {"allowed_bad": 0.05, "spent": 2, "remaining": -1.95,
                                      "remaining_fraction": -39.0}
    assert [(b["window"], b["burn_rate"]) for b in report["burn_rates"]] == [
        ("5m", 40.0), ("30m", 40.0), ("1h", 40.0), ("6h", 40.0)]  # 2/5 bad over a 1 % budget
    assert report["apdex"]["last_hour"] == {"satisfied": 3, "tolerating": 0, "frustrated": 2, "total": 5,
                                            "score": 0.6}
    assert {a["name"]: a["state"] for a in report["alarms"]}["SloFastBurn-memo-latency"] == "INSUFFICIENT_DATA"

    table = runner.invoke(app, ["--home", str(settings.home), "slo"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "SLI 60.000 % (3 good of 5: 4 done, 1 failed)" in table.stdout
    assert "error budget left -3900.0 %" in table.stdout
    assert "Apdex, last hour: 0.600" in table.stdout
    assert "40.00x" in table.stdout and "SloFastBurn-memo-latency" in table.stdout


def test_an_unknown_slo_is_a_clear_error(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    result = runner.invoke(app, ["--home", str(settings.home), "slo", "nope"])
    assert result.exit_code == 2
    assert "no SLO named 'nope'; the plan's SLOs: memo-latency" in result.output
