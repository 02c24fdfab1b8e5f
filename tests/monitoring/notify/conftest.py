"""Fixtures for the notify tests: real loopback receivers, a steppable clock, captured telemetry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: make notify_support importable

from helpers import FakeClock
from notify_support import (
    PD_KEY,
    SLACK_SECRET,
    T0,
    WEBHOOK_SECRET,
    Receiver,
    notification,
)

from whispersync.telemetry.testing import capture_telemetry


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    made = {name: Receiver().up() for name in ("slack", "pagerduty", "webhook")}
    yield made
    for r in made.values():
        r.down()


@pytest.fixture
def cap():
    with capture_telemetry() as captured:
        yield captured




@pytest.fixture
def make_notification():
    return notification


@pytest.fixture
def make_settings(tmp_path: Path, receivers: dict[str, Receiver]):
    """Settings with every HTTP channel pointed at the local receivers (email off unless given)."""
    from whispersync.settings import Settings

    def make(**overrides):
        values = {
            "home": tmp_path / "home",
            "slack_webhook": f"{receivers['slack'].base}/services/{SLACK_SECRET}",
            "slack_critical_webhook": f"{receivers['slack'].base}/services/critical/{SLACK_SECRET}",
            "slack_high_webhook": f"{receivers['slack'].base}/services/high/{SLACK_SECRET}",
            "pagerduty_routing_key": PD_KEY,
            "pagerduty_url": f"{receivers['pagerduty'].base}/v2/enqueue",
            "webhook_url": f"{receivers['webhook'].base}/hooks/alarm?token=querysecret987",
            "webhook_secret": WEBHOOK_SECRET,
        }
        for key, value in overrides.items():
            if value is None:
                values.pop(key, None)  # Settings.load drops None: leave the channel unconfigured
            else:
                values[key] = value
        # Fields with a validation alias only accept the alias as a keyword (no populate_by_name).
        aliased = {"slack_webhook", "slack_critical_webhook", "slack_high_webhook", "pagerduty_routing_key"}
        values = {f"WHISPERSYNC_{k.upper()}" if k in aliased else k: v for k, v in values.items()}
        return Settings.load(**values)

    return make


