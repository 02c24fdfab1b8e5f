"""`whispersync notifications list` and `retry`: the outbox from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "monitoring" / "notify"))  # importlib mode
from notify_support import Receiver, notification  # noqa: E402

from whispersync.cli import app  # noqa: E402
from whispersync.monitoring.notify import Notifier  # noqa: E402
from whispersync.app import notifier_config
from whispersync.settings import Settings  # noqa: E402
from whispersync.telemetry import NullSink, Telemetry  # noqa: E402


@pytest.fixture
def slack():
    receiver = Receiver().up()
    yield receiver
    receiver.down()


class TestCli:
    def test_list_and_retry(self, slack, tmp_path):
        """`notifications list --status failed --json` shows the failure; `retry` re-queues it."""
        slack.status = 410
        settings = Settings.load(home=tmp_path / "home", WHISPERSYNC_SLACK_WEBHOOK=f"{slack.base}/services/T0/B0/x")
        notifier = Notifier(notifier_config(settings), telemetry=Telemetry(NullSink()))
        notifier.publish("high", notification(priority="P2"))
        notifier.deliver_due()
        notifier.close()

        runner = CliRunner()
        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "list", "--status", "failed",
                                     "--json"])
        assert result.exit_code == 0, result.output
        [failed] = orjson.loads(result.stdout)["deliveries"]
        assert failed["channel"] == "slack_high" and failed["attempts"][0]["http_status"] == 410
        assert failed["attempts"][0]["attempted_at"].endswith("Z") and failed["created_at"].endswith("Z")

        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "retry", "--json"])
        assert orjson.loads(result.stdout) == {"requeued": 1}
        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "list", "--status", "pending",
                                     "--json"])
        assert [d["id"] for d in orjson.loads(result.stdout)["deliveries"]] == [failed["id"]]

        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "list", "--status", "nope"])
        assert result.exit_code == 2


class TestIdsAndWidth:
    @pytest.fixture
    def failed_home(self, slack, tmp_path):
        slack.status = 410
        settings = Settings.load(home=tmp_path / "home", WHISPERSYNC_SLACK_WEBHOOK=f"{slack.base}/services/T0/B0/x")
        notifier = Notifier(notifier_config(settings), telemetry=Telemetry(NullSink()))
        notifier.publish("high", notification(priority="P2"))
        notifier.deliver_due()
        notifier.close()
        return settings.home

    def run(self, home, *args, columns=250):
        return CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": str(columns)})

    def test_retry_takes_a_unique_prefix_and_refuses_an_unknown_id(self, failed_home):
        [failed] = orjson.loads(self.run(failed_home, "notifications", "list", "--status", "failed",
                                         "--json").stdout)["deliveries"]
        unknown = self.run(failed_home, "notifications", "retry", "zzzzzzzz")
        assert unknown.exit_code == 2 and "no delivery" in unknown.output  # it used to say "re-queued 0"
        prefix = failed["id"][:failed["id"].index("-") + 2]  # "<notification>-s" of slack_high
        result = self.run(failed_home, "notifications", "retry", prefix, "--json")
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout) == {"requeued": 1}

    def test_list_at_80_columns_is_one_line_per_delivery(self, failed_home):
        count = len(orjson.loads(self.run(failed_home, "notifications", "list", "--json").stdout)["deliveries"])
        result = self.run(failed_home, "notifications", "list", columns=80)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80 and len(lines) == count + 4
