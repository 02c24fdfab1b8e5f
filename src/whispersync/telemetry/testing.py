"""Test helpers: capture telemetry as dicts and assert on structure, not strings.

    from whispersync.telemetry.testing import capture_telemetry

    def test_it_logs_the_agent():
        with capture_telemetry() as cap:
            run_worker_once(telemetry=cap.telemetry)
        assert cap.logs_where(message="Processing transcript")[0]["agent_type"] == "work"
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ._sink import MemorySink
from ._telemetry import Telemetry

__all__ = ["CapturedTelemetry", "capture_telemetry"]


def _matches(record: dict[str, Any], match: dict[str, Any]) -> bool:
    return all(key in record and record[key] == value for key, value in match.items())


class CapturedTelemetry:
    """A :class:`Telemetry` on a :class:`MemorySink`, plus record finders."""

    def __init__(self, telemetry: Telemetry, sink: MemorySink) -> None:
        self.telemetry = telemetry
        self.sink = sink

    @property
    def logs(self) -> list[dict[str, Any]]:
        return self.sink.records["logs"]

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return self.sink.records["metrics"]

    @property
    def spans(self) -> list[dict[str, Any]]:
        return self.sink.records["spans"]

    def logs_where(self, **match: Any) -> list[dict[str, Any]]:
        """Log records whose keys equal every given value."""
        return [r for r in self.logs if _matches(r, match)]

    def spans_named(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.spans if r["name"] == name]

    def metric_values(self, namespace: str, name: str, **dimensions: str) -> list[float]:
        """Values of one metric whose dimensions include *dimensions*."""
        return [
            r["value"]
            for r in self.metrics
            if r["namespace"] == namespace and r["name"] == name and _matches(r["dimensions"], dimensions)
        ]

    def clear(self) -> None:
        self.sink.clear()

    def __enter__(self) -> CapturedTelemetry:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.telemetry.close()


def capture_telemetry(
    *, service: str = "whispersync", clock_ns: Callable[[], int] = time.time_ns, log_level: str = "DEBUG"
) -> CapturedTelemetry:
    """A fresh telemetry whose records are kept in memory; usable as a context manager."""
    sink = MemorySink()
    return CapturedTelemetry(Telemetry(sink, service=service, clock_ns=clock_ns, log_level=log_level), sink)
