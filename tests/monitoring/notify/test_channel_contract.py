"""The HTTP notification channels run the Channel contract (tests/contracts/channel.py)."""

from __future__ import annotations

import pytest
from contracts.channel import ChannelContract
from notify_support import PD_KEY, SLACK_SECRET, WEBHOOK_SECRET, Receiver

from whispersync.monitoring.notify.channels import PagerDutyChannel, SlackChannel, WebhookChannel


@pytest.fixture
def receiver():
    made = Receiver().up()
    yield made
    made.down()


class TestSlackChannel(ChannelContract):
    secrets = (SLACK_SECRET,)

    def make_channel(self, base_url):
        return SlackChannel(f"{base_url}/services/{SLACK_SECRET}")


class TestPagerDutyChannel(ChannelContract):
    secrets = (PD_KEY,)

    def make_channel(self, base_url):
        return PagerDutyChannel(PD_KEY, f"{base_url}/v2/enqueue", source="test-host")


class TestWebhookChannel(ChannelContract):
    secrets = (WEBHOOK_SECRET, "querysecret987", "hookpathsecret")

    def make_channel(self, base_url):
        return WebhookChannel(f"{base_url}/hooks/hookpathsecret?token=querysecret987", WEBHOOK_SECRET)
