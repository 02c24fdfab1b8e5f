"""The notification Channel port's contract, for channels that deliver over HTTP.

    class TestSlackChannel(ChannelContract):
        secrets = ("the-webhook-path-secret",)   # strings no error or target may show

        def make_channel(self, base_url): ...    # a channel that posts to base_url

The test module provides a ``receiver`` fixture: an HTTP server on 127.0.0.1 with
``base`` (its URL), ``status`` and ``headers`` (what it answers), ``body``,
``requests`` (what it got) and ``down()`` (see tests/monitoring/notify/notify_support.py).

A channel returns on success (with the HTTP status), and raises TransportError on
failure: ``permanent`` when a retry cannot help (a 4xx other than 408 and 429, or
a redirect, which is not followed), retryable on 408, 429, 5xx and network errors.
Its secret (webhook path, routing key, query token) never shows in ``target``,
``repr`` or an error.
"""

from __future__ import annotations

import pytest

from whispersync.monitoring.notify import AlarmNotification
from whispersync.monitoring.notify.channels import Channel, TransportError

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def alarm(new_state: str = "ALARM", old_state: str = "OK") -> AlarmNotification:
    return AlarmNotification(alarm_name="SystemDown", description="Worker errors >= 10 in 1 minute", priority="P1",
                             old_state=old_state, new_state=new_state,
                             reason="Threshold Crossed: 1 datapoint [12.0] was >= the threshold (10.0).",
                             reason_data={"recentDatapoints": [12.0], "threshold": 10.0}, timestamp=T0)


class ChannelContract:
    secrets: tuple[str, ...] = ()

    def make_channel(self, base_url: str) -> Channel:
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _receiver(self, receiver) -> None:
        self.receiver = receiver
        self.channel = self.make_channel(receiver.base)

    def assert_no_secret(self, text: str) -> None:
        for secret in self.secrets:
            assert secret not in text, f"a secret shows in {text!r}"

    def failure(self) -> TransportError:
        with pytest.raises(TransportError) as caught:
            self.channel.notify(alarm())
        self.assert_no_secret(str(caught.value))
        self.assert_no_secret(repr(caught.value))
        return caught.value

    def test_it_is_a_configured_channel_whose_target_is_the_host_only(self):
        assert isinstance(self.channel, Channel)
        assert self.channel.configured
        assert self.channel.kind
        assert self.channel.target == self.receiver.base  # scheme://host:port, no path or query
        self.assert_no_secret(repr(self.channel))

    def test_it_takes_a_change_to_alarm_and_back_to_ok(self):
        assert self.channel.skip_reason(alarm("ALARM")) is None
        assert self.channel.skip_reason(alarm("OK", old_state="ALARM")) is None

    def test_a_notification_is_one_json_post_that_names_the_alarm(self):
        self.receiver.status = 202
        assert self.channel.notify(alarm()) == 202
        [request] = self.receiver.requests
        assert request["headers"]["content-type"] == "application/json"
        assert b"SystemDown" in request["raw"]

    @pytest.mark.parametrize("status", [400, 403, 404, 410, 302])
    def test_a_refusal_is_permanent(self, status):
        """The service said no (or moved): the same request will get the same answer."""
        self.receiver.status = status
        error = self.failure()
        assert error.permanent
        assert error.http_status == status
        assert error.retry_after is None

    @pytest.mark.parametrize("status", [408, 500, 502, 503])
    def test_a_server_error_is_retryable(self, status):
        self.receiver.status = status
        error = self.failure()
        assert not error.permanent
        assert error.http_status == status

    def test_a_rate_limit_is_retryable_after_the_time_the_service_asks(self):
        self.receiver.status = 429
        self.receiver.headers = {"Retry-After": "17"}
        error = self.failure()
        assert not error.permanent
        assert (error.http_status, error.retry_after) == (429, 17.0)

    def test_an_unreachable_service_is_retryable(self):
        self.receiver.down()
        error = self.failure()
        assert not error.permanent
        assert error.http_status is None

    def test_an_error_body_that_echoes_the_request_does_not_leak_the_secret(self):
        """Some servers answer a 404 with the path they were asked for; the error must not repeat it."""
        self.receiver.status = 404
        self.receiver.body = ("Not found: " + " ".join(self.secrets)).encode()
        self.failure()
