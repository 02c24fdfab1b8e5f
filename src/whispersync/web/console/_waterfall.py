"""A trace as waterfall rows: one per span, in tree order, placed on the trace's time axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A span too short to see still gets a sliver, so every row shows a bar.
_MIN_WIDTH_PCT = 0.4


@dataclass(frozen=True)
class SpanRow:
    span: dict[str, Any]
    depth: int
    offset_ms: float   # from the trace's first span start
    offset_pct: float  # of the trace's whole duration
    width_pct: float


def waterfall(spans: list[dict[str, Any]]) -> tuple[list[SpanRow], float]:
    """(rows, total duration in ms): children right under their parent, siblings by start time.

    A span whose parent is not in the trace (not yet flushed, or from another service)
    is drawn as a root, not dropped.
    """
    timed = [s for s in spans if s.get("start_time_unix_nano") is not None]
    if not timed:
        return [], 0.0
    start = min(s["start_time_unix_nano"] for s in timed)
    end = max(_end_ns(s) for s in timed)
    total_ns = max(end - start, 1)
    ids = {s["span_id"] for s in timed}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in sorted(timed, key=lambda s: (s["start_time_unix_nano"], s["span_id"])):
        parent = s.get("parent_span_id") if s.get("parent_span_id") in ids else None
        children.setdefault(parent, []).append(s)
    rows: list[SpanRow] = []
    seen: set[str] = set()

    def add(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            if s["span_id"] in seen:  # a cycle in bad data: draw each span once
                continue
            seen.add(s["span_id"])
            offset = s["start_time_unix_nano"] - start
            width = (_end_ns(s) - s["start_time_unix_nano"]) / total_ns * 100
            offset_pct = min(offset / total_ns * 100, 100 - _MIN_WIDTH_PCT)
            rows.append(SpanRow(s, depth, offset / 1e6, offset_pct,
                                max(_MIN_WIDTH_PCT, min(width, 100 - offset_pct))))
            add(s["span_id"], depth + 1)

    add(None, 0)
    return rows, total_ns / 1e6


def _end_ns(span: dict[str, Any]) -> int:
    if span.get("end_time_unix_nano") is not None:
        return span["end_time_unix_nano"]
    return span["start_time_unix_nano"] + int((span.get("duration_ms") or 0) * 1e6)
