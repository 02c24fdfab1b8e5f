"""The alert router: subscribed to every topic, it picks channels by priority (plan §4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from whispersync.plan import PRIORITIES, ROUTES

from .events import AlarmNotification

__all__ = ["Router", "topic_name"]


def topic_name(topic: str) -> str:
    """``"critical"`` or ``"arn:aws:sns:eu-west-1:123:critical"`` -> ``"critical"``."""
    if not isinstance(topic, str) or not topic.strip():
        raise ValueError("topic must be a non-empty string (a name or an SNS-style ARN)")
    return topic.strip().rsplit(":", 1)[-1] or topic.strip()


class Router:
    """Maps a notification to the names of the channels that receive it."""

    def __init__(self, routes: Mapping[str, Sequence[str]] | None = None, *,
                 known_channels: Sequence[str] | None = None) -> None:
        routes = dict(ROUTES if routes is None else routes)  # the plan's §4 routing by default
        unknown = set(routes) - set(PRIORITIES)
        if unknown:
            raise ValueError(f"routes name unknown priorities {sorted(unknown)}; known: {list(PRIORITIES)}")
        if known_channels is not None:
            for priority, names in routes.items():
                missing = [n for n in names if n not in known_channels]
                if missing:
                    raise ValueError(f"route {priority} names unknown channel(s) {missing}; "
                                     f"known: {sorted(known_channels)}")
        # Keep order, drop duplicates: one delivery per (notification, channel).
        self.routes = {p: tuple(dict.fromkeys(routes.get(p, ()))) for p in PRIORITIES}

    def channels_for(self, topic: str, notification: AlarmNotification) -> tuple[str, ...]:
        # Every topic reaches the router (it subscribes to all of them); the
        # topic is recorded with the delivery but the priority decides.
        topic_name(topic)
        return self.routes[notification.priority]
