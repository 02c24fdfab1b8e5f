"""`whispersync cost`: a real memo processed under a home, then estimated by the CLI."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.domain import Transcript

runner = CliRunner()


@pytest.fixture
def home_with_memos(runtime):
    for text, agent in (("Standup. Need to fix the flaky deploy test.", "work"),
                        ("Need to review the PR", "work"),
                        ("Remember the lake trip with Ana, the water was cold.", "memory")):
        runtime.ingestor.accept(Transcript(text=text, agent=agent))
    while messages := runtime.queue.receive(1):
        runtime.processor.process(messages[0])
    runtime.telemetry.flush()
    return runtime.settings.home


def cost(home, *args: str):
    result = runner.invoke(app, ["--home", str(home), "cost", *args])
    return result


class TestCostCommand:
    def test_json_is_labelled_as_an_estimate_with_its_price_table(self, home_with_memos) -> None:
        result = cost(home_with_memos, "--json")
        assert result.exit_code == 0, result.output
        report = orjson.loads(result.stdout)
        assert report["estimate"] is True
        assert report["price_table"]["region"] == "us-east-1" and report["price_table"]["version"] == "2026-12.1"
        assert report["configuration"] == {"lambda_memory_mb": 512, "elevenlabs_usd_per_1k_characters": 0.0}
        assert report["memos"] == 3
        direct = report["direct"]
        assert direct["units"]["lambda_requests"] == 3 and direct["units"]["sqs_requests"] == 9
        assert direct["per_memo_usd"] == pytest.approx(direct["total_usd"] / 3)
        assert direct["total_usd"] == pytest.approx(sum(direct["by_service"].values()))
        # Overhead is its own line: 0 canaries here, CloudWatch's share for the window.
        assert report["overhead"]["canary_memos"] == 0
        assert report["overhead"]["total_usd"] >= 0

    def test_the_monthly_view_applies_the_free_tier(self, home_with_memos) -> None:
        report = orjson.loads(cost(home_with_memos, "--json").stdout)
        [month] = report["monthly"]
        # Three memos are deep inside Lambda's and SQS's free tier; S3 and DynamoDB have none here.
        assert month["with_free_tier_by_service"]["Lambda"] == 0 and month["with_free_tier_by_service"]["SQS"] == 0
        assert month["with_free_tier_usd"] == pytest.approx(
            report["direct"]["by_service"]["S3"] + report["direct"]["by_service"]["DynamoDB"])
        assert month["list_price_usd"] == pytest.approx(report["direct"]["total_usd"])

    def test_by_agent_splits_the_direct_cost(self, home_with_memos) -> None:
        report = orjson.loads(cost(home_with_memos, "--by", "agent", "--json").stdout)
        groups = {g["key"]: g for g in report["groups"]}
        assert (groups["work"]["memos"], groups["memory"]["memos"]) == (2, 1)
        assert sum(g["total_usd"] for g in groups.values()) == pytest.approx(report["direct"]["total_usd"])

    def test_by_service_and_day(self, home_with_memos) -> None:
        by_service = orjson.loads(cost(home_with_memos, "--by", "service", "--json").stdout)
        assert [g["key"] for g in by_service["groups"]] == ["Lambda", "SQS", "S3", "DynamoDB", "ElevenLabs"]
        by_day = orjson.loads(cost(home_with_memos, "--by", "day", "--json").stdout)
        assert sum(g["memos"] for g in by_day["groups"]) == 3

    def test_the_table_says_estimate_and_names_the_prices(self, home_with_memos) -> None:
        result = runner.invoke(app, ["--home", str(home_with_memos), "cost", "--by", "agent"],
                               env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "estimate" in result.stdout.lower() and "table 2026-12.1 of 2026-12-01" in result.stdout
        assert "direct: 3 memos" in result.stdout and "overhead" in result.stdout

    def test_a_bad_grouping_or_price_table_is_a_clear_error(self, home_with_memos, tmp_path) -> None:
        result = cost(home_with_memos, "--by", "colour")
        assert result.exit_code == 2 and "--by must be one of agent, service, day" in result.output
        bad = tmp_path / "prices.toml"
        bad.write_text('version = "x"\n')
        result = cost(home_with_memos, "--prices", str(bad))
        assert result.exit_code == 2 and "`region` must be a non-empty string" in result.output

    def test_the_memory_setting_changes_the_lambda_cost(self, home_with_memos, monkeypatch) -> None:
        small = orjson.loads(cost(home_with_memos, "--json").stdout)
        monkeypatch.setenv("WHISPERSYNC_LAMBDA_MEMORY_MB", "1024")
        large = orjson.loads(cost(home_with_memos, "--json").stdout)
        compute = lambda r: r["direct"]["by_service"]["Lambda"] - 3 * 0.20 / 1e6  # noqa: E731
        assert large["configuration"]["lambda_memory_mb"] == 1024
        assert compute(large) == pytest.approx(2 * compute(small))


class TestCostImport:
    """`whispersync cost import FILE`: the estimate of the bill's days beside the bill."""

    def test_a_cost_explorer_export_beside_the_estimate(self, home_with_memos, tmp_path) -> None:
        import datetime as dt

        by_day = orjson.loads(cost(home_with_memos, "--by", "day", "--json").stdout)["groups"]
        today = dt.date.fromisoformat(by_day[-1]["key"])  # the memos' day (not the clock's: midnight may pass)
        yesterday = today - dt.timedelta(days=1)
        bill = tmp_path / "costs.csv"
        bill.write_text('"Service","Lambda($)","DynamoDB($)","Total costs($)"\n'
                        '"Service total","0.0001","0.002","0.0021"\n'
                        f'"{yesterday}","0","0.001","0.001"\n'
                        f'"{today}","0.0001","0.001","0.0011"\n', encoding="utf-8")
        estimate = orjson.loads(cost(home_with_memos, "--by", "service", "--json").stdout)["direct"]["by_service"]
        result = cost(home_with_memos, "import", str(bill), "--json")
        assert result.exit_code == 0, result.output
        report = orjson.loads(result.stdout)
        assert report["estimate"] is True and report["bill"]["layout"] == "cost-explorer"
        rows = {(r["day"], r["service"]): r for r in report["rows"]}
        # Today's three memos priced as `cost` prices them; yesterday had none.
        assert rows[(str(today), "DynamoDB")]["estimate_usd"] == pytest.approx(estimate["DynamoDB"])
        assert rows[(str(today), "DynamoDB")]["difference_usd"] == pytest.approx(0.001 - estimate["DynamoDB"])
        assert rows[(str(yesterday), "Lambda")] == {"day": str(yesterday), "service": "Lambda", "estimate_usd": 0.0,
                                                    "actual_usd": 0.0, "difference_usd": 0.0}
        table = runner.invoke(app, ["--home", str(home_with_memos), "cost", "import", str(bill)],
                              env={"COLUMNS": "200"})
        assert table.exit_code == 0 and "DynamoDB" in table.stdout and "versus the bill" in table.stdout

    def test_a_file_that_is_neither_export_is_refused(self, home_with_memos, tmp_path) -> None:
        other = tmp_path / "bank.csv"
        other.write_text("date,amount\n2026-12-01,3\n", encoding="utf-8")
        result = cost(home_with_memos, "import", str(other))
        assert result.exit_code == 2
        assert "neither a Cost Explorer CSV export" in result.output and "lineItem/UnblendedCost" in result.output


def test_trace_shows_the_memos_estimated_cost(home_with_memos) -> None:
    report = orjson.loads(cost(home_with_memos, "--by", "agent", "--json").stdout)
    memory = next(g for g in report["groups"] if g["key"] == "memory")  # one memo: its total is the memo's
    memos = orjson.loads(runner.invoke(app, ["--home", str(home_with_memos), "memos", "--json"]).stdout)
    rows = memos["memos"] if isinstance(memos, dict) else memos
    [memo_id] = [m["id"] for m in rows if m["agent"] == "memory"]
    result = runner.invoke(app, ["--home", str(home_with_memos), "trace", memo_id], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert f"estimated cost of memo {memo_id}: ${memory['total_usd']:,.8f} direct" in result.stdout
    assert "table 2026-12.1 of 2026-12-01" in result.stdout
