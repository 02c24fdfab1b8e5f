"""The dashboards the console shows: the plan's, then the stored ones (as `whispersync dashboards list`),
each widget's data from `monitoring.dashboards.widget_data`, the engine `dashboards show` uses."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from whispersync.app import ListedDashboard, Runtime, list_dashboards
from whispersync.errors import InputError, NotFound
from whispersync.monitoring.dashboards import DEFAULT_RANGE_SECONDS, parse_body, relative_seconds, widget_data
from whispersync.monitoring.times import parse_duration

REFRESH_CHOICES = {"off": None, "10s": 10, "1m": 60, "5m": 300}


def listed(runtime: Runtime) -> list[ListedDashboard]:
    return list_dashboards(runtime.settings)


def show(runtime: Runtime, name: str, since: str | None, start_ms: int | None = None,
         end_ms: int | None = None) -> dict[str, Any]:
    """One dashboard with each widget's data over `since` (1h, 24h...), a custom range from
    `start_ms` to `end_ms` (default now), or the body's own range."""
    found = next((d for d in listed(runtime) if d.name == name), None)
    if found is None:
        raise NotFound(f"no dashboard named {name!r}")
    body, messages = parse_body(found.body, name=found.name)
    now_ms = int(time.time() * 1000)
    if since:
        try:
            seconds = parse_duration(since)
        except InputError as exc:
            raise InputError(f"range: {exc}") from None
    else:
        seconds = relative_seconds(body.start) or DEFAULT_RANGE_SECONDS
    if start_ms is not None:
        end_ms = now_ms if end_ms is None else end_ms
        if end_ms <= start_ms:
            raise InputError("the range is empty: end must be after start")
        seconds = (end_ms - start_ms) / 1000
    elif end_ms is not None:
        raise InputError("end needs a start")
    else:
        start_ms, end_ms = now_ms - int(seconds * 1000), now_ms
    widgets = [{"x": w.x, "y": w.y, "width": w.width, "height": w.height,
                **widget_data(w, store=runtime.store, alarms=runtime.alarms, start_ms=start_ms, end_ms=end_ms,
                              now_ms=now_ms, timeout=runtime.settings.request_timeout,
                              period_override=body.period_override)}
               for w in sorted(body.widgets, key=lambda w: (w.y, w.x))]
    return {"name": found.name, "source": found.source, "description": found.description, "widgets": widgets,
            "messages": [m.to_dict() for m in messages if m.level == "error"], "start_ms": start_ms,
            "end_ms": end_ms, "range_seconds": seconds, "start_minute": _minute(start_ms),
            "end_minute": _minute(end_ms)}


def _minute(ms: int) -> str:
    """A time as a datetime-local input shows it (UTC, to the minute)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")
