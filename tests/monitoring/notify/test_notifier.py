"""The Notifier end to end against real loopback receivers: routing, retries, restart, secrets."""

from __future__ import annotations

import random
import re
from datetime import datetime

import orjson
import pytest
from notify_support import (
    PD_KEY,
    SLACK_SECRET,
    WEBHOOK_SECRET,
    all_files_text,
    notification,
)

from whispersync.app import notifier_config
from whispersync.monitoring.notify import Notifier, topic_name
from whispersync.plan import ROUTES as DEFAULT_ROUTES


def _by_channel(notifier: Notifier) -> dict[str, dict]:
    return {d["channel"]: d for d in notifier.deliveries()}


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class TestOutput:
    def test_deliveries_write_times_as_iso_utc_with_milliseconds(self, make_settings, receivers, clock, cap):
        """docs/json.md: a point in time is ISO 8601 UTC with milliseconds, under a key ending in _at."""
        receivers["slack"].down()
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, rng=random.Random(7))
        notifier.publish("critical", notification())
        notifier.deliver_due()
        found = notifier.deliveries()
        pending = next(d for d in found if d["status"] == "pending")
        delivered = next(d for d in found if d["status"] == "delivered")
        for value in (pending["created_at"], pending["next_attempt_at"], delivered["delivered_at"],
                      pending["attempts"][0]["attempted_at"], delivered["attempts"][0]["attempted_at"]):
            assert isinstance(value, str) and ISO_MS.match(value), value
        assert abs(_epoch(pending["created_at"]) - clock.now) < 0.001
        assert set(delivered["attempts"][0]) == {"attempt", "attempted_at", "outcome", "http_status", "error",
                                                 "duration_ms"}
        notifier.close()


class TestRouting:
    def test_it_pages_p1_alarms_and_posts_to_slack_critical(self, make_settings, receivers, clock, cap):
        """P1 goes to PagerDuty, the critical Slack webhook, the webhook and the log."""
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
        ids = notifier.publish("critical", notification())
        assert len(ids) == 4
        assert notifier.deliver_due() == 4
        assert {d["channel"]: d["status"] for d in notifier.deliveries()} == {
            "pagerduty": "delivered", "slack_critical": "delivered", "webhook": "delivered", "console": "delivered"}
        assert [r["path"] for r in receivers["slack"].requests] == [f"/services/critical/{SLACK_SECRET}"]
        assert receivers["pagerduty"].bodies[0]["event_action"] == "trigger"
        assert cap.logs_where(message="[P1] ALARM: SystemDown", alarm_name="SystemDown", level="ERROR")
        notifier.close()

    @pytest.mark.parametrize(("priority", "slack_path"), [("P2", "/services/high/"), ("P3", "/services/"),
                                                          ("P4", "/services/")])
    def test_it_routes_lower_priorities_to_slack_without_paging(self, make_settings, receivers, clock, cap,
                                                                priority, slack_path):
        """P2 goes to Slack high; P3 and P4 to the default Slack webhook and email; none pages."""
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
        notifier.publish("arn:aws:sns:eu-west-1:123456789012:whispersync-high", notification(priority=priority))
        notifier.deliver_due()
        channels = {d["channel"]: d["status"] for d in notifier.deliveries()}
        assert set(channels) == set(DEFAULT_ROUTES[priority])
        assert "pagerduty" not in channels
        assert receivers["pagerduty"].requests == []
        assert receivers["slack"].requests[0]["path"] == slack_path + SLACK_SECRET
        assert {d["topic"] for d in notifier.deliveries()} == {"whispersync-high"}
        if priority != "P2":
            assert channels["email"] == "skipped"  # no SMTP host configured
        notifier.close()

    def test_an_unconfigured_channel_is_skipped_and_says_why(self, make_settings, clock, cap):
        """Without a routing key the P1 page is recorded as skipped, never silently absent."""
        notifier = Notifier(notifier_config(make_settings(pagerduty_routing_key=None)), telemetry=cap.telemetry, clock=clock)
        notifier.publish("critical", notification())
        notifier.deliver_due()
        page = _by_channel(notifier)["pagerduty"]
        assert page["status"] == "skipped"
        assert page["target"] == "unconfigured"
        assert "WHISPERSYNC_PAGERDUTY_ROUTING_KEY" in page["last_error"]
        assert page["attempts"] == []
        notifier.close()

    def test_publishing_the_same_state_change_twice_delivers_once(self, make_settings, receivers, clock, cap):
        """An alarm with actions on two topics (or re-published after a crash) is not sent twice."""
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
        first = notifier.publish("critical", notification())
        second = notifier.publish("high", notification())
        assert first == second
        notifier.deliver_due()
        assert len(receivers["pagerduty"].requests) == 1
        notifier.close()

    def test_custom_routes_must_name_known_channels(self, make_settings, clock, cap):
        """A typo in a route is a clear error at construction."""
        with pytest.raises(ValueError, match="unknown channel"):
            Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, routes={"P1": ["pagerdooty"]})

    def test_topic_name_takes_the_last_part_of_an_arn(self):
        """Topics are names or SNS-style ARNs."""
        assert topic_name("arn:aws:sns:us-east-1:1:critical") == "critical"
        assert topic_name("high") == "high"
        with pytest.raises(ValueError):
            topic_name(" ")


class TestRetries:
    def test_a_channel_that_is_down_gets_its_notification_once_it_comes_back(self, make_settings, receivers,
                                                                                clock, cap):
        """Connection refused, then 503, then up: retried with backoff until delivered."""
        receivers["slack"].down()
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, rng=random.Random(7))
        notifier.publish("high", notification(priority="P2"))
        notifier.deliver_due()
        slack = _by_channel(notifier)["slack_high"]
        assert slack["status"] == "pending"
        assert slack["attempts"][0]["outcome"] == "retry"
        assert "could not reach http://127.0.0.1" in slack["attempts"][0]["error"]
        assert _epoch(slack["next_attempt_at"]) <= clock.now + 1.0  # first backoff ceiling: base 1 s

        receivers["slack"].up()
        receivers["slack"].status, receivers["slack"].body = 503, b"rollup_error"
        clock.advance(1.0)
        notifier.deliver_due()
        slack = _by_channel(notifier)["slack_high"]
        assert slack["attempts"][1]["http_status"] == 503
        assert _epoch(slack["next_attempt_at"]) - clock.now <= 2.0  # second ceiling: 2 s

        receivers["slack"].status, receivers["slack"].body = 200, b"ok"
        clock.advance(2.0)  # past the second ceiling, whatever the jitter drew
        notifier.deliver_due()
        slack = _by_channel(notifier)["slack_high"]
        assert slack["status"] == "delivered"
        assert [a["outcome"] for a in slack["attempts"]] == ["retry", "retry", "delivered"]
        assert slack["attempts"][-1]["http_status"] == 200
        assert len([r for r in receivers["slack"].requests if r["json"]]) == 2  # the 503 one and the good one
        notifier.close()

    def test_backoff_is_full_jitter_under_an_exponential_cap(self, make_settings, clock, cap):
        """Delays stay within [0, min(300, 2**(n-1))] and spread out."""
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, rng=random.Random(1))
        for attempt, ceiling in [(1, 1), (2, 2), (5, 16), (9, 256), (10, 300), (40, 300)]:
            delays = [notifier.backoff(attempt) for _ in range(200)]
            assert 0 <= min(delays) and max(delays) <= ceiling
            assert max(delays) > ceiling * 0.8
        notifier.close()

    def test_a_permanent_error_fails_at_once_and_retry_requeues_it(self, make_settings, receivers, clock, cap):
        """A 400 from PagerDuty is not retried; `retry` queues it again and it goes out."""
        receivers["pagerduty"].status = 400
        receivers["pagerduty"].body = b'{"status":"invalid event","message":"Event object is invalid","errors":["bad"]}'
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
        notifier.publish("critical", notification())
        notifier.deliver_due()
        [page] = notifier.deliveries(status="failed")
        assert page["channel"] == "pagerduty" and page["attempts"][0]["http_status"] == 400
        assert "HTTP 400: bad" in page["last_error"]
        clock.advance(3600)
        assert notifier.deliver_due() == 0  # failed rows are not retried on their own

        receivers["pagerduty"].status, receivers["pagerduty"].body = 202, b'{"status":"success"}'
        assert notifier.retry() == 1
        notifier.deliver_due()
        page = _by_channel(notifier)["pagerduty"]
        assert page["status"] == "delivered"
        assert [a["outcome"] for a in page["attempts"]] == ["failed", "delivered"]
        notifier.close()

    def test_it_gives_up_after_max_attempts_but_keeps_the_record(self, make_settings, receivers, clock, cap):
        """Never dropped silently: a delivery that keeps failing ends as failed, with every attempt."""
        receivers["slack"].status = 500
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, max_attempts=3)
        notifier.publish("high", notification(priority="P2"))
        for _ in range(5):
            notifier.deliver_due()
            clock.advance(400)
        slack = _by_channel(notifier)["slack_high"]
        assert slack["status"] == "failed"
        assert len(slack["attempts"]) == 3
        assert slack["last_error"].startswith("gave up after 3 attempts")
        assert cap.logs_where(message="Notification delivery failed", channel="slack_high")
        notifier.close()


class TestRetryAfter:
    """Slack: on HTTP 429 "a Retry-After header containing the number of seconds until you can retry";
    continuing to send while rate limited risks having the app disabled."""

    def _rate_limited(self, receivers, retry_after: str) -> None:
        receivers["slack"].status, receivers["slack"].body = 429, b"rate_limited"
        receivers["slack"].headers = {"Retry-After": retry_after}

    def _slack_posts(self, receivers) -> int:
        return len([r for r in receivers["slack"].requests if r["json"]])

    def test_the_next_attempt_waits_at_least_retry_after(self, make_settings, receivers, clock, cap):
        self._rate_limited(receivers, "30")
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, rng=random.Random(3))
        notifier.publish("high", notification(priority="P2"))
        notifier.deliver_due()
        slack = _by_channel(notifier)["slack_high"]
        assert slack["status"] == "pending" and slack["attempts"][0]["http_status"] == 429
        assert _epoch(slack["next_attempt_at"]) >= clock.now + 30 - 0.001  # not the 0-1 s of the first backoff

        receivers["slack"].status, receivers["slack"].body, receivers["slack"].headers = 200, b"ok", {}
        clock.advance(29)
        notifier.deliver_due()
        assert self._slack_posts(receivers) == 1
        clock.advance(1.5)
        notifier.deliver_due()
        assert _by_channel(notifier)["slack_high"]["status"] == "delivered"
        assert self._slack_posts(receivers) == 2
        notifier.close()

    def test_other_deliveries_to_the_rate_limited_channel_wait_too(self, make_settings, receivers, clock, cap):
        self._rate_limited(receivers, "20")
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, rng=random.Random(3))
        notifier.publish("high", notification("First", priority="P2"))
        notifier.deliver_due()
        notifier.publish("high", notification("Second", priority="P2", at=clock.now + 1))
        clock.advance(5)
        notifier.deliver_due()
        assert self._slack_posts(receivers) == 1  # the second waits out the first's Retry-After
        [second] = [d for d in notifier.deliveries() if (d["alarm_name"], d["channel"]) == ("Second", "slack_high")]
        assert second["attempts"] == [] and _epoch(second["next_attempt_at"]) >= clock.now + 14

        receivers["slack"].status, receivers["slack"].body, receivers["slack"].headers = 200, b"ok", {}
        clock.advance(16)
        notifier.deliver_due()
        assert {d["alarm_name"]: d["status"] for d in notifier.deliveries() if d["channel"] == "slack_high"} == {
            "First": "delivered", "Second": "delivered"}
        notifier.close()

    @pytest.mark.parametrize("header", ["999999999", "99999999999999999999999999"])
    def test_a_huge_retry_after_is_bounded(self, make_settings, receivers, clock, cap, header):
        self._rate_limited(receivers, header)
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
        notifier.publish("high", notification(priority="P2"))
        notifier.deliver_due()
        wait = _epoch(_by_channel(notifier)["slack_high"]["next_attempt_at"]) - clock.now
        assert wait <= notifier.max_retry_after == 300
        notifier.close()


class TestRestart:
    def test_a_new_notifier_on_the_same_db_delivers_what_was_pending(self, make_settings, receivers, clock, cap):
        """Pending deliveries survive a restart (the outbox is SQLite)."""
        receivers["pagerduty"].down()
        first = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
        first.publish("critical", notification())
        first.deliver_due()
        first.close()
        assert _pending_channels(make_settings, cap, clock) == ["pagerduty"]

        receivers["pagerduty"].up()
        receivers["pagerduty"].status = 202
        clock.advance(600)
        second = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
        assert second.deliver_due() == 1
        assert _by_channel(second)["pagerduty"]["status"] == "delivered"
        assert receivers["pagerduty"].bodies[-1]["dedup_key"] == "whispersync/SystemDown"
        second.close()

    def test_a_delivery_interrupted_mid_attempt_is_tried_again_after_its_lease(self, make_settings, receivers,
                                                                               clock, cap):
        """A crash between claiming and recording leaves the row pending; it is claimed again later."""
        notifier = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock, lease=120)
        notifier.publish("high", notification(priority="P2"))
        notifier._outbox.claim_due(clock.now, 120)  # claimed by a process that then died
        assert notifier.deliver_due() == 0
        clock.advance(121)
        assert notifier.deliver_due() == 3  # slack_high, webhook, console
        assert _by_channel(notifier)["slack_high"]["status"] == "delivered"
        notifier.close()

    def test_up_delivers_in_the_background_without_being_called(self, make_settings, receivers):
        """Runtime.start (what `up` runs) schedules deliver_due; close() ends it."""
        from helpers import wait_until
        from whispersync.app import build_runtime

        runtime = build_runtime(make_settings())
        runtime.start(workers=1, inbox=False, collector=False, maintenance=False, alarms=False, sweep=False)
        try:
            runtime.notifier.publish("high", notification(priority="P2"))
            wait_until(lambda: _by_channel(runtime.notifier)["slack_high"]["status"] == "delivered", timeout=10)
        finally:
            runtime.close(timeout=5)


def _pending_channels(make_settings, cap, clock) -> list[str]:
    reader = Notifier(notifier_config(make_settings()), telemetry=cap.telemetry, clock=clock)
    try:
        return [d["channel"] for d in reader.deliveries(status="pending")]
    finally:
        reader.close()


class TestSecrets:
    def test_secrets_never_appear_in_records_logs_or_the_database(self, make_settings, receivers, clock, cap,
                                                                   tmp_path):
        """Webhook paths, routing keys and signing keys are masked everywhere, even when a server echoes them."""
        receivers["slack"].status = 404
        receivers["slack"].body = f"no_service for /services/critical/{SLACK_SECRET}".encode()
        receivers["pagerduty"].status = 400
        receivers["pagerduty"].body = orjson.dumps({"status": "invalid event",
                                                   "errors": [f"routing_key {PD_KEY} is not valid"]})
        receivers["webhook"].down()
        settings = make_settings(smtp_host="127.0.0.1", smtp_port=1, email_to=["ops@example.com"],
                                 smtp_user="ops", smtp_password="smtp-pass-0123456789")
        notifier = Notifier(notifier_config(settings), telemetry=cap.telemetry, clock=clock)
        notifier.publish("critical", notification())
        notifier.publish("low", notification(priority="P3"))
        notifier.deliver_due()
        clock.advance(10)
        notifier.deliver_due()
        recorded = orjson.dumps(notifier.deliveries()) + orjson.dumps(cap.logs) + orjson.dumps(cap.metrics)
        recorded += repr(notifier).encode() + repr(notifier.channels).encode()
        assert {d["channel"]: d["status"] for d in notifier.deliveries() if d["priority"] == "P1"}["pagerduty"] == "failed"
        notifier.close()
        recorded += all_files_text(tmp_path / "home")
        for secret in (SLACK_SECRET, "slacksecretpath", PD_KEY, WEBHOOK_SECRET, "querysecret987",
                       "smtp-pass-0123456789"):
            at = recorded.find(secret.encode())
            assert at < 0, (secret, recorded[max(0, at - 300):at + 100])
        assert b"http://127.0.0.1:" in recorded  # the masked target is still there to tell targets apart

    def test_secrets_can_come_from_a_secrets_file(self, make_settings, receivers, clock, cap, tmp_path):
        """A TOML secrets file supplies webhook URLs and keys not set in the environment."""
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(f'pagerduty_token = "{PD_KEY}"\nslack_critical_webhook = '
                           f'"{receivers["slack"].base}/services/fromfile/{SLACK_SECRET}"\n')
        receivers["pagerduty"].status = 202
        settings = make_settings(secrets_file=secrets, pagerduty_routing_key=None, slack_critical_webhook=None,
                                 slack_webhook=None)
        notifier = Notifier(notifier_config(settings), telemetry=cap.telemetry, clock=clock)
        notifier.publish("critical", notification())
        notifier.deliver_due()
        assert receivers["pagerduty"].bodies[0]["routing_key"] == PD_KEY
        assert receivers["slack"].requests[0]["path"] == f"/services/fromfile/{SLACK_SECRET}"
        notifier.close()

    def test_an_unknown_key_in_the_secrets_file_is_an_error_that_hides_values(self, make_settings, cap, tmp_path):
        """Checked loudly at start-up, naming the key only."""
        from whispersync.errors import ConfigError

        secrets = tmp_path / "secrets.toml"
        secrets.write_text('slack_wehbook = "https://hooks.slack.com/services/T/B/topsecretvalue"\n')
        with pytest.raises(ConfigError, match="slack_wehbook") as info:
            Notifier(notifier_config(make_settings(secrets_file=secrets)), telemetry=cap.telemetry)
        assert "topsecretvalue" not in str(info.value)
