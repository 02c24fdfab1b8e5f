"""`whispersync baselines show` and `list`, over a real telemetry store and monitoring database.

Seeded: 8 days of per-minute ProcessingDuration (and a Test:Latency with a Route dimension) whose value is
100 + 10 x the UTC hour, so each hour's expected value is that, and the band +-2 x 2.15 (the spread's floor,
1 % of the median hourly value 215) at k=2.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
from typer.testing import CliRunner

from whispersync import catalog
from whispersync.cli import app
from whispersync.monitoring.baselines import BaselineJob, BaselineStore
from whispersync.plan import DEFAULT_PLAN

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
TODAY = int(time.time() * 1000) // DAY * DAY
DAY0 = TODAY - DAY
DATE0 = datetime.fromtimestamp(DAY0 / 1000, UTC).date().isoformat()
runner = CliRunner()


def pattern(t: int) -> float:
    return 100.0 + 10 * (t % DAY // HOUR)


@pytest.fixture
def home(runtime):
    points = range(DAY0 - 8 * DAY, TODAY, MINUTE)
    runtime.store.put_metrics(
        [{"namespace": catalog.BUSINESS, "name": "ProcessingDuration", "value": pattern(t), "timestamp": t,
          "unit": "Milliseconds"} for t in points]
        + [{"namespace": "Test", "name": "Latency", "value": pattern(t), "timestamp": t,
            "dimensions": {"Route": "/a"}} for t in points])
    return runtime


def show(runtime, *args: str):
    return runner.invoke(app, ["--home", str(runtime.settings.home), "baselines", "show", *args])


class TestShow:
    def test_it_prints_24_hourly_rows_that_follow_the_pattern(self, home) -> None:
        result = show(home, "WhisperSync/Business:ProcessingDuration", "--date", DATE0, "--json")
        assert result.exit_code == 0, result.output
        [shown] = orjson.loads(result.stdout)["baselines"]
        assert (shown["metric_name"], shown["statistic"], shown["day"], shown["state"]) == (
            "ProcessingDuration", "Average", DATE0, "TRAINED_INSUFFICIENT_DATA")
        assert [h["expected"] for h in shown["hours"]] == pytest.approx([100.0 + 10 * h for h in range(24)])
        assert shown["hours"][9]["lower"] == pytest.approx(190 - 4.3)
        assert shown["hours"][9]["upper"] == pytest.approx(190 + 4.3)

        text = show(home, "WhisperSync/Business:ProcessingDuration", "--date", DATE0)
        assert text.exit_code == 0, text.output
        rows = [line.split() for line in text.stdout.splitlines() if line[:2].isdigit() and line[2:5] == ":00"]
        assert len(rows) == 24
        assert rows[9][:4] == ["09:00", "190", "185.7", "194.3"]

    def test_a_plan_baseline_name_brings_its_statistic_dimensions_and_k(self, home) -> None:
        result = show(home, "ProcessingDuration-p99", "Test:Latency", "--dimension", "Route=/a", "--k", "3",
                      "--date", DATE0, "--json")
        assert result.exit_code == 0, result.output
        p99, latency = orjson.loads(result.stdout)["baselines"]
        assert (p99["name"], p99["statistic"], p99["window_days"]) == ("ProcessingDuration-p99", "p99", 7)
        assert p99["hours"][23]["expected"] == pytest.approx(330.0)
        assert (latency["dimensions"], latency["k"]) == ({"Route": "/a"}, 3.0)
        assert latency["hours"][0]["upper"] == pytest.approx(100 + 3 * 2.15)

    def test_today_is_the_default_and_the_timezone_moves_the_hours(self, home) -> None:
        result = show(home, "Test:Latency", "-d", "Route=/a", "--timezone", "Asia/Kolkata", "--json")
        assert result.exit_code == 0, result.output
        [shown] = orjson.loads(result.stdout)["baselines"]
        assert shown["timezone"] == "Asia/Kolkata" and len(shown["hours"]) == 24
        assert shown["hours"][0]["start"].endswith("T18:30:00Z")  # local midnight, +05:30

    def test_a_plan_baseline_without_data_is_pending_training_not_zeros(self, runtime) -> None:
        result = show(runtime, "WorkerErrors")
        assert result.exit_code == 0, result.output
        assert "PENDING_TRAINING" in result.stdout and " 0 " not in result.stdout

    def test_a_metric_with_no_data_says_so_and_exits_1(self, home) -> None:
        result = show(home, "Test:Latency", "--date", DATE0)  # published only with Route=/a
        assert result.exit_code == 1
        assert "no data for Test:Latency" in result.output and "--dimension" in result.output

    @pytest.mark.parametrize(("args", "message"), [
        (["ProcessingDurration"], "not a baseline of the plan"),
        (["Test:"], "NAMESPACE:METRIC"),
        (["Test:Latency", "--stat", "Avg"], "unknown statistic 'Avg'"),
        (["Test:Latency", "--dimension", "Route"], "--dimension takes K=V"),
        (["Test:Latency", "--timezone", "Mars/Olympus"], "unknown metric timezone"),
        (["Test:Latency", "--k", "0"], "must be a positive number"),
        (["Test:Latency", "--date", "yesterday"], "--date takes YYYY-MM-DD"),
    ])
    def test_bad_input_is_a_clear_error(self, home, args, message) -> None:
        result = show(home, *args)
        assert result.exit_code == 2
        assert message in result.output and "Traceback" not in result.output


class TestList:
    def test_it_lists_the_stored_baselines_with_their_computed_time(self, home) -> None:
        cmd = ["--home", str(home.settings.home), "baselines", "list"]
        empty = runner.invoke(app, cmd)
        assert empty.exit_code == 0 and "no baselines computed yet" in empty.stdout
        store = BaselineStore(home.settings.monitoring_db)
        computed_at = (TODAY + 5 * MINUTE) / 1000
        BaselineJob(lambda: DEFAULT_PLAN.baselines, home.store, store, clock=lambda: computed_at).run()
        store.close()
        result = runner.invoke(app, [*cmd, "--json"])
        assert result.exit_code == 0, result.output
        listed = {b["name"]: b for b in orjson.loads(result.stdout)["baselines"]}
        assert len(listed) == 6
        average = listed["ProcessingDuration-Average"]
        assert average["computed"] == datetime.fromtimestamp(computed_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert average["state"] == "TRAINED_INSUFFICIENT_DATA" and len(average["hours"]) == 24
        assert listed["WorkerErrors"]["state"] == "PENDING_TRAINING"
        text = runner.invoke(app, cmd)
        assert text.exit_code == 0
        line = next(line for line in text.stdout.splitlines() if line.startswith("ProcessingDuration-Average"))
        assert "TRAINED_INSUFFICIENT_DATA" in line and datetime.fromtimestamp(computed_at, UTC).strftime(
            "%Y-%m-%d %H:%M") in line
