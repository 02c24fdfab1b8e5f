"""Times as users and APIs write them, to epoch milliseconds: one parser for the CLI,
the HTTP API and the query engine, so `--start`, `"start"` and `StartTime` agree."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_time"]


def parse_time(value: Any, *, numbers_in_seconds: bool = False) -> int:
    """ISO 8601 (UTC unless it says otherwise) or an epoch number to epoch milliseconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, (int, float)):
        return int(value * 1000) if numbers_in_seconds else int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{10,16}", text):
            return int(text)
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return int(when.timestamp() * 1000)
    raise ValueError(f"{value!r} is not ISO 8601 (2026-11-27T13:00:00Z) or epoch milliseconds")
