"""Sinks: where finished records go. The one seam between telemetry and storage.

A sink receives plain dicts on three streams, ``"logs"``, ``"metrics"`` and
``"spans"``. It may raise; :class:`~whispersync.telemetry.Telemetry` counts the
failure in ``faults`` and carries on, so a sink needs no defensive code.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Any, Protocol, runtime_checkable

import orjson

STREAMS = ("logs", "metrics", "spans")


@runtime_checkable
class Sink(Protocol):
    """Receives finished telemetry records."""

    def emit(self, stream: str, record: dict) -> None:
        """Take ownership of *record*; *stream* is "logs", "metrics" or "spans"."""

    def flush(self) -> None:
        """Push buffered records to their destination."""

    def close(self) -> None:
        """Flush and release resources; later emits may be dropped."""


class NullSink:
    """Drops everything. Telemetry built on it skips record-building altogether."""

    def emit(self, stream: str, record: dict) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class MemorySink:
    """Keeps records in ``records["logs" | "metrics" | "spans"]``, for tests."""

    def __init__(self) -> None:
        self.records: dict[str, list[dict]] = {stream: [] for stream in STREAMS}

    def emit(self, stream: str, record: dict) -> None:
        self.records[stream].append(record)  # list.append is atomic under the GIL

    def clear(self) -> None:
        for records in self.records.values():
            records.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _default(value: Any) -> str:
    # Records should hold JSON types only; anything else is written as its str()
    # rather than losing the line.
    return str(value)


def _emf_single(record: dict) -> dict:
    """emf_document for one record, minus the checks Metrics.put has already made (~4x cheaper)."""
    dimensions = record["dimensions"]
    name = record["name"]
    doc = {
        "_aws": {
            "Timestamp": record["timestamp"],
            "CloudWatchMetrics": [
                {
                    "Namespace": record["namespace"],
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": record["unit"]}],
                }
            ],
        }
    }
    if dimensions:
        doc.update(dimensions)
    doc[name] = record["value"]
    return doc


class StdoutSink:
    """One JSON object per line, the shape Lambda ships to CloudWatch Logs.

    Logs and spans are written as they are; each metric record becomes an EMF
    document, so CloudWatch extracts it without an API call. Lines are written
    as they arrive (a crash loses nothing); ``flush`` flushes the stream.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()  # keep concurrent lines whole

    def emit(self, stream: str, record: dict) -> None:
        doc = _emf_single(record) if stream == "metrics" else record
        line = orjson.dumps(doc, default=_default, option=orjson.OPT_APPEND_NEWLINE).decode()
        with self._lock:
            self._stream.write(line)

    def flush(self) -> None:
        with self._lock:
            self._stream.flush()

    def close(self) -> None:
        self.flush()
