"""GET /v1/notifications: the outbox from the outside."""

from __future__ import annotations

import httpx
from helpers import ServerThread

from whispersync.monitoring.notify import AlarmNotification
from whispersync.web.api import create_app


class TestHttp:
    def test_get_notifications_lists_deliveries(self, runtime):
        """GET /v1/notifications returns the runtime notifier's deliveries; a bad status is a 400."""
        runtime.notifier.publish("critical", AlarmNotification(
            alarm_name="DLQMessages", description=None, priority="P1", old_state="OK", new_state="ALARM",
            reason="5 messages", reason_data={}, timestamp=1_767_225_600.0))
        with ServerThread(create_app(runtime)) as server:
            body = httpx.get(f"{server.url}/v1/notifications").json()
            statuses = {d["channel"]: d["status"] for d in body["deliveries"]}
            assert statuses["pagerduty"] == "skipped" and statuses["console"] == "pending"
            assert {d["created_at"] for d in body["deliveries"]} == {
                body["deliveries"][0]["created_at"]}  # one publish, one time
            assert body["deliveries"][0]["created_at"].endswith("Z")  # ISO UTC, docs/json.md
            assert httpx.get(f"{server.url}/v1/notifications", params={"status": "skipped"}).status_code == 200
            assert httpx.get(f"{server.url}/v1/notifications", params={"status": "bogus"}).status_code == 400
