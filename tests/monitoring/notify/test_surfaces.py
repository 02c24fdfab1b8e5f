"""The outbox from the outside: `whispersync notifications` and GET /v1/notifications."""

from __future__ import annotations

import httpx
import orjson
from notify_support import notification
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.monitoring.notify import AlarmNotification, Notifier
from whispersync.telemetry import NullSink, Telemetry


class TestCli:
    def test_list_and_retry(self, make_settings, receivers, tmp_path):
        """`notifications list --status failed --json` shows the failure; `retry` re-queues it."""
        receivers["slack"].status = 410
        settings = make_settings()
        notifier = Notifier(settings, telemetry=Telemetry(NullSink()))
        notifier.publish("high", notification(priority="P2"))
        notifier.deliver_due()
        notifier.close()

        runner = CliRunner()
        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "list", "--status", "failed",
                                     "--json"])
        assert result.exit_code == 0, result.output
        [failed] = orjson.loads(result.stdout)["deliveries"]
        assert failed["channel"] == "slack_high" and failed["attempts"][0]["http_status"] == 410

        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "retry", "--json"])
        assert orjson.loads(result.stdout) == {"requeued": 1}
        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "list", "--status", "pending",
                                     "--json"])
        assert [d["id"] for d in orjson.loads(result.stdout)["deliveries"]] == [failed["id"]]

        result = runner.invoke(app, ["--home", str(settings.home), "notifications", "list", "--status", "nope"])
        assert result.exit_code == 2


class TestHttp:
    def test_get_notifications_lists_deliveries(self, runtime):
        """GET /v1/notifications returns the runtime notifier's deliveries; a bad status is a 400."""
        from helpers import ServerThread

        from whispersync.web.api import create_app

        runtime.notifier.publish("critical", AlarmNotification(
            alarm_name="DLQMessages", description=None, priority="P1", old_state="OK", new_state="ALARM",
            reason="5 messages", reason_data={}, timestamp=1_767_225_600.0))
        with ServerThread(create_app(runtime)) as server:
            body = httpx.get(f"{server.url}/v1/notifications").json()
            statuses = {d["channel"]: d["status"] for d in body["deliveries"]}
            assert statuses["pagerduty"] == "skipped" and statuses["console"] == "pending"
            assert httpx.get(f"{server.url}/v1/notifications", params={"status": "skipped"}).status_code == 200
            assert httpx.get(f"{server.url}/v1/notifications", params={"status": "bogus"}).status_code == 400


def test_the_public_api_is_what_all_lists():
    """Other layers use only the names in __all__ (an exported-members check, as in httpx)."""
    from whispersync.monitoring import notify

    assert sorted(notify.__all__) == sorted(
        ["DEFAULT_ROUTES", "DELIVERY_STATUSES", "PRIORITIES", "AlarmNotification", "Channel", "Notifier",
         "TransportError", "topic_name"])
    assert all(hasattr(notify, name) for name in notify.__all__)
