"""The dashboards the console shows: the plan's, then the stored ones (as `whispersync dashboards list`),
each widget's data from `monitoring.dashboards.widget_data`, the engine `dashboards show` uses."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import orjson
from markupsafe import Markup

from whispersync.app import ListedDashboard, Runtime, list_dashboards
from whispersync.errors import InputError, NotFound
from whispersync.monitoring.dashboards import DEFAULT_RANGE_SECONDS, parse_body, relative_seconds, widget_data
from whispersync.monitoring.times import parse_duration

REFRESH_CHOICES = {"off": None, "10s": 10, "1m": 60, "5m": 300}
# Widgets are computed concurrently (DuckDB releases the GIL while it scans), by at most this many
# threads shared by every request: enough to overlap a page's queries, few enough for a small machine.
WIDGET_THREADS = 4
_WIDGET_POOL = ThreadPoolExecutor(max_workers=WIDGET_THREADS, thread_name_prefix="whispersync-widget")


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

    def one(w: Any) -> dict[str, Any]:
        # widget_data turns a widget's own failure into its "error"; the others are unaffected.
        shown = {"x": w.x, "y": w.y, "width": w.width, "height": w.height,
                 **widget_data(w, store=runtime.store, alarms=runtime.alarms, start_ms=start_ms, end_ms=end_ms,
                               now_ms=now_ms, timeout=runtime.settings.request_timeout,
                               period_override=body.period_override)}
        if shown.get("view") == "timeSeries" and shown.get("series"):
            shown["chart_json"] = _chart_json({"series": shown["series"], "y_axis": shown["y_axis"],
                                               "lines": shown["lines"], "start_ms": start_ms, "end_ms": end_ms})
        return shown

    # map keeps the widgets' order (top to bottom, left to right) whatever order they finish in.
    widgets = list(_WIDGET_POOL.map(one, sorted(body.widgets, key=lambda w: (w.y, w.x))))
    return {"name": found.name, "source": found.source, "description": found.description, "widgets": widgets,
            "messages": [m.to_dict() for m in messages if m.level == "error"], "start_ms": start_ms,
            "end_ms": end_ms, "range_seconds": seconds, "start_minute": _minute(start_ms),
            "end_minute": _minute(end_ms)}


def _chart_json(chart: dict[str, Any]) -> Markup:
    """A chart's data for a ``<script type="application/json">``, escaped as Jinja's ``tojson`` escapes it.

    Serialised here with orjson rather than by ``tojson`` in the template: a week of minutes over
    ~200 series is megabytes of JSON, which ``json.dumps`` takes ~10x longer to write. The four
    characters that could end the script element or an attribute are written as JSON escapes.
    """
    try:
        text = orjson.dumps(chart).decode()
    except orjson.JSONEncodeError:  # what orjson refuses (an integer past 64 bits in the body's options)
        text = json.dumps(chart)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)


def _minute(ms: int) -> str:
    """A time as a datetime-local input shows it (UTC, to the minute)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")
