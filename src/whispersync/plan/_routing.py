"""Where alerts go (§4): one topic per priority, and the channels each priority reaches."""

from __future__ import annotations

from collections.abc import Mapping

# Each alarm publishes to its priority's topic on ALARM and on OK (so a page is
# resolved); the alert router subscribes to every topic and routes by priority.
TOPICS: Mapping[str, str] = {"P1": "critical", "P2": "high", "P3": "medium", "P4": "low"}

# Priority -> channel names. P1 pages (PagerDuty) and posts to the critical Slack
# channel, P2 to the high-priority one, P3/P4 to the default Slack webhook and
# email. Every notification also goes to the generic webhook (a no-op unless
# configured) and to the console/log, so the log holds every alert.
ROUTES: Mapping[str, tuple[str, ...]] = {
    "P1": ("pagerduty", "slack_critical", "webhook", "console"),
    "P2": ("slack_high", "webhook", "console"),
    "P3": ("slack", "email", "webhook", "console"),
    "P4": ("slack", "email", "webhook", "console"),
}
CHANNELS = ("pagerduty", "slack_critical", "slack_high", "slack", "email", "webhook", "console")


def topic_actions(priority: str) -> tuple[str, ...]:
    """The alarm actions that publish to a priority's topic."""
    return (f"topic:{TOPICS[priority]}",)
