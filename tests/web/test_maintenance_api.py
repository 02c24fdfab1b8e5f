"""GET /v1/maintenance and the console's maintenance banner, over a real server and runtime."""

from __future__ import annotations

import time


def _now_ms() -> int:
    return int(time.time() * 1000)


class TestMaintenanceOverHttp:
    def test_get_maintenance_lists_windows_and_the_active_one(self, api):
        runtime, server, client = api
        assert client.get("/v1/maintenance").json() == {"windows": [], "active": None, "next_token": None}
        window = runtime.alarms.alarm_store.maintenance.start(1800, "disk upgrade", now_ms=_now_ms())
        body = client.get("/v1/maintenance").json()
        assert body["active"]["id"] == window["id"] and body["active"]["reason"] == "disk upgrade"
        assert [w["id"] for w in body["windows"]] == [window["id"]]
        runtime.alarms.alarm_store.maintenance.end(now_ms=_now_ms())
        body = client.get("/v1/maintenance").json()
        assert body["active"] is None and body["windows"][0]["ended_at"].endswith("Z")

    def test_every_console_page_shows_a_banner_while_a_window_is_active(self, api):
        runtime, server, client = api
        pages = ("/", "/alarms", "/memos", "/logs")
        for path in pages:
            assert 'data-testid="maintenance-banner"' not in client.get(path).text
        runtime.alarms.alarm_store.maintenance.start(1800, "disk <upgrade>", now_ms=_now_ms())
        for path in pages:
            html = client.get(path).text
            assert 'data-testid="maintenance-banner"' in html, path
            assert "disk &lt;upgrade&gt;" in html  # the reason is escaped, not markup
        runtime.alarms.alarm_store.maintenance.end(now_ms=_now_ms())
        assert 'data-testid="maintenance-banner"' not in client.get("/").text
