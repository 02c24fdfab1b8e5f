"""Each channel's wire format, checked by real receivers on loopback."""

from __future__ import annotations

import orjson
import pytest
from notify_support import PD_KEY, T0, WEBHOOK_SECRET, notification

from whispersync.monitoring.notify import Notifier

from whispersync.app import notifier_config
from whispersync.monitoring.notify.channels.webhook import verify


def _deliver(make_settings, cap, clock, *notes, **overrides) -> Notifier:
    notifier = Notifier(notifier_config(make_settings(**overrides)), telemetry=cap.telemetry, clock=clock)
    for n in notes:
        notifier.publish("alarms", n)
    notifier.deliver_due()
    return notifier


class TestSlack:
    def test_it_posts_a_readable_block_kit_message(self, make_settings, receivers, clock, cap):
        """Alarm, state change, priority, reason and a dashboard link are all in the message."""
        notifier = _deliver(make_settings, cap, clock, notification(priority="P2"),
                            dashboard_url="http://dash.example/ws")
        [body] = receivers["slack"].bodies
        assert body["text"].startswith(":rotating_light: [P2] ALARM: SystemDown")
        text = orjson.dumps(body["blocks"]).decode()
        for expected in ("OK → ALARM", "P2 – Response within 1 hour", "Threshold Crossed",
                         "<http://dash.example/ws|Open the dashboard>", "2026-01-01T00:00:00.000+0000"):
            assert expected in text
        assert body["blocks"][0]["type"] == "header"
        notifier.close()

    def test_a_revoked_webhook_fails_permanently(self, make_settings, receivers, clock, cap):
        """Slack's 404 no_service will not heal by retrying."""
        receivers["slack"].status, receivers["slack"].body = 404, b"no_service"
        notifier = _deliver(make_settings, cap, clock, notification(priority="P2"))
        slack = next(d for d in notifier.deliveries() if d["channel"] == "slack_high")
        assert slack["status"] == "failed" and "HTTP 404: no_service" in slack["last_error"]
        notifier.close()


class TestPagerDuty:
    def test_it_triggers_then_resolves_with_the_same_dedup_key(self, make_settings, receivers, clock, cap):
        """ALARM -> trigger with payload; OK -> resolve; one dedup_key per alarm."""
        receivers["pagerduty"].status = 202
        receivers["pagerduty"].body = b'{"status":"success","message":"Event processed","dedup_key":"x"}'
        notifier = _deliver(make_settings, cap, clock, notification(),
                            notification(old="ALARM", new="OK", at=T0 + 300, reason="Threshold Crossed: no longer"))
        trigger, resolve = sorted(receivers["pagerduty"].bodies, key=lambda b: b["event_action"] != "trigger")
        assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
        assert trigger["dedup_key"] == resolve["dedup_key"] == "whispersync/SystemDown"
        assert trigger["routing_key"] == resolve["routing_key"] == PD_KEY
        payload = trigger["payload"]
        assert payload["severity"] == "critical"
        assert payload["summary"].startswith("[P1] SystemDown: Threshold Crossed")
        assert payload["source"] and payload["timestamp"] == "2026-01-01T00:00:00.000+0000"
        assert payload["custom_details"]["reason_data"] == {"recentDatapoints": [12.0], "threshold": 10.0}
        assert "payload" not in resolve
        pages = [d for d in notifier.deliveries() if d["channel"] == "pagerduty"]
        assert {d["status"] for d in pages} == {"delivered"}
        assert {d["attempts"][0]["http_status"] for d in pages} == {202}
        notifier.close()

    def test_rate_limiting_is_retried(self, make_settings, receivers, clock, cap):
        """429 is retryable; the page goes out once PagerDuty accepts again."""
        receivers["pagerduty"].status = 429
        notifier = _deliver(make_settings, cap, clock, notification())
        page = next(d for d in notifier.deliveries() if d["channel"] == "pagerduty")
        assert page["status"] == "pending" and page["attempts"][0]["http_status"] == 429
        receivers["pagerduty"].status = 202
        clock.advance(2)
        notifier.deliver_due()
        page = next(d for d in notifier.deliveries() if d["channel"] == "pagerduty")
        assert page["status"] == "delivered"
        notifier.close()

    def test_insufficient_data_neither_triggers_nor_resolves(self, make_settings, receivers, clock, cap):
        """It is recorded as skipped (not applicable)."""
        notifier = _deliver(make_settings, cap, clock, notification(new="INSUFFICIENT_DATA"))
        page = next(d for d in notifier.deliveries() if d["channel"] == "pagerduty")
        assert page["status"] == "skipped" and "not applicable" in page["last_error"]
        assert receivers["pagerduty"].requests == []
        notifier.close()


class TestWebhook:
    def test_it_signs_the_raw_body_with_a_timestamp(self, make_settings, receivers, clock, cap):
        """The receiver verifies HMAC-SHA256 over "<timestamp>.<body>" and gets CloudWatch's field names."""
        notifier = _deliver(make_settings, cap, clock, notification(priority="P3"))
        [request] = receivers["webhook"].requests
        headers = request["headers"]
        assert headers["x-whispersync-timestamp"] == str(int(T0))
        assert headers["x-whispersync-signature"].startswith("sha256=")
        assert verify(WEBHOOK_SECRET, headers["x-whispersync-timestamp"], request["raw"],
                      headers["x-whispersync-signature"], now=T0 + 10)
        assert not verify(WEBHOOK_SECRET, headers["x-whispersync-timestamp"], request["raw"] + b" ",
                          headers["x-whispersync-signature"], now=T0 + 10)
        assert not verify(WEBHOOK_SECRET, headers["x-whispersync-timestamp"], request["raw"],
                          headers["x-whispersync-signature"], now=T0 + 3600)  # a replay, an hour later
        body = request["json"]
        assert body["AlarmName"] == "SystemDown" and body["NewStateValue"] == "ALARM"
        assert body["OldStateValue"] == "OK" and body["StateChangeTime"] == "2026-01-01T00:00:00.000+0000"
        assert body["Priority"] == "P3" and headers["x-whispersync-notification-id"] == body["NotificationId"]
        assert request["path"] == "/hooks/alarm?token=querysecret987"
        notifier.close()


class TestEmail:
    @pytest.fixture
    def smtp(self):
        from aiosmtpd.controller import Controller
        from helpers import free_port

        class Handler:
            def __init__(self) -> None:
                self.messages: list = []

            async def handle_DATA(self, server, session, envelope):
                self.messages.append(envelope)
                return "250 OK"

        handler = Handler()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        yield controller, handler
        controller.stop()

    def test_it_mails_a_readable_alert(self, make_settings, clock, cap, smtp):
        """Subject "[P3] ALARM: SystemDown"; the body names state, priority, reason and dashboard."""
        controller, handler = smtp
        notifier = _deliver(make_settings, cap, clock, notification(priority="P3"), smtp_host="127.0.0.1",
                            smtp_port=controller.port, smtp_starttls=False, email_to=["ops@example.com"],
                            dashboard_url="http://dash.example/ws", slack_webhook=None)
        [envelope] = handler.messages
        assert envelope.rcpt_tos == ["ops@example.com"]
        text = envelope.content.decode()
        assert "Subject: [P3] ALARM: SystemDown" in text
        for expected in ("State:     OK -> ALARM", "Priority:  P3 (Response within 4 hours)",
                         "Threshold Crossed", "Dashboard: http://dash.example/ws"):
            assert expected in text
        email = next(d for d in notifier.deliveries() if d["channel"] == "email")
        assert email["status"] == "delivered" and email["target"] == f"smtp://127.0.0.1:{controller.port}"
        notifier.close()

    def test_it_refuses_to_send_in_clear_when_starttls_is_required(self, make_settings, clock, cap, smtp):
        """A server without STARTTLS gets nothing, not even the login."""
        controller, handler = smtp
        notifier = _deliver(make_settings, cap, clock, notification(priority="P4"), smtp_host="127.0.0.1",
                            smtp_port=controller.port, smtp_starttls=True, email_to=["ops@example.com"],
                            smtp_user="ops", smtp_password="hunter2hunter2")
        email = next(d for d in notifier.deliveries() if d["channel"] == "email")
        assert email["status"] == "failed" and "does not offer STARTTLS" in email["last_error"]
        assert handler.messages == []
        notifier.close()


class TestRetryAfterHeader:
    @pytest.mark.parametrize(("value", "expected"), [
        ("30", 30.0), (" 0 ", 0.0), (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: retry now
    ])
    def test_it_reads_delay_seconds_or_an_http_date(self, value, expected):
        from whispersync.monitoring.notify.channels._http import parse_retry_after

        assert parse_retry_after(value) == expected

    def test_an_http_date_in_the_future_is_seconds_from_now(self):
        import time
        from email.utils import formatdate

        from whispersync.monitoring.notify.channels._http import parse_retry_after

        assert 50 <= parse_retry_after(formatdate(time.time() + 60, usegmt=True)) <= 61
