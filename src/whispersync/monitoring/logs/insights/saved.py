"""Saved Logs Insights queries: the seed plan's three (§3), by name."""

from __future__ import annotations

from types import MappingProxyType

# Verbatim from the monitoring plan, §3 "Log Aggregation and Analysis".
SAVED_QUERIES = MappingProxyType({
    "error_analysis": (
        "fields @timestamp, @message, error_type, agent_type\n"
        "| filter @message like /ERROR/\n"
        "| stats count() by error_type, agent_type\n"
        "| sort count desc"
    ),
    "performance_analysis": (
        "fields @timestamp, duration_ms, agent_type\n"
        "| filter @message like /Processing successful/\n"
        "| stats avg(duration_ms), max(duration_ms), min(duration_ms) by agent_type"
    ),
    "user_activity": (
        "fields @timestamp, correlation_id, agent_type\n"
        "| filter @message like /Processing transcript/\n"
        "| stats count() by bin(5m) as time_bucket, agent_type\n"
        "| sort time_bucket desc"
    ),
})


def saved_query(name: str) -> str:
    """The text of the saved query ``name``; ``KeyError`` names the known ones."""
    try:
        return SAVED_QUERIES[name]
    except KeyError:
        known = ", ".join(sorted(SAVED_QUERIES))
        raise KeyError(f"no saved query {name!r}; known: {known}") from None
