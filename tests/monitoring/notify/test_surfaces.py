"""The notify package's public face."""

from __future__ import annotations


def test_the_public_api_is_what_all_lists():
    """Other layers use only the names in __all__ (an exported-members check, as in httpx)."""
    from whispersync.monitoring import notify

    assert sorted(notify.__all__) == sorted(
        ["DELIVERY_STATUSES", "SECRET_NAMES", "AlarmNotification", "Channel", "ChannelConfig", "ChannelSecrets",
         "Notifier", "NotifierConfig", "TransportError", "read_secrets", "topic_name"])
    assert all(hasattr(notify, name) for name in notify.__all__)
