"""A small store of hand-written log events; expected results are computed by hand from it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.store import TelemetryStore

T0 = int(datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp() * 1000)
START, END = T0 - 60_000, T0 + 3_600_000


def _line(seconds: float, level: str, message: str, **extra) -> dict:
    when = datetime.fromtimestamp((T0 + seconds * 1000) / 1000, UTC)
    return {"timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "level": level,
            "message": message, "service": "whispersync", **extra}


# 10 Powertools lines (agents work/memory/github) and one plain-text CloudWatch event.
EVENTS = [
    _line(0, "INFO", "Processing transcript", agent_type="work", correlation_id="c1", transcript_size=100),
    _line(10, "INFO", "Processing successful", agent_type="work", correlation_id="c1", duration_ms=120),
    _line(60, "INFO", "Processing transcript", agent_type="memory", correlation_id="c2", transcript_size=50),
    _line(70, "ERROR", "Processing failed", agent_type="memory", correlation_id="c2", error_type="ValueError"),
    _line(200, "INFO", "Processing transcript", agent_type="work", correlation_id="c3", transcript_size=7),
    _line(230, "INFO", "Processing successful", agent_type="work", correlation_id="c3", duration_ms=80),
    _line(320, "INFO", "Processing transcript", agent_type="github", correlation_id="c4", transcript_size=1000),
    _line(330, "ERROR", "Processing failed", agent_type="github", correlation_id="c4", error_type="TimeoutError"),
    _line(400, "WARNING", "Slow request", agent_type="work", correlation_id="c5", duration_ms=3000,
          http={"status": 503, "path": "/v1/transcripts"}),
    _line(500, "ERROR", "Processing failed", agent_type="work", correlation_id="c6", error_type="ValueError"),
]
TEXT_EVENT = {"timestamp": T0 + 540_000, "message": "2026-11-27 12:09:00 [ERROR] disk full",
              "logStreamName": "host-a"}


@pytest.fixture
def store(tmp_path: Path):
    store = TelemetryStore(tmp_path / "telemetry")
    data = b"".join(orjson.dumps(e) + b"\n" for e in [*EVENTS, TEXT_EVENT])
    report = import_logs(store, data, log_group="/whispersync/test")
    assert report.imported == 11 and not report.errors
    yield store
    store.close()


@pytest.fixture
def query(store):
    """Run a query over the fixture's time range."""
    from whispersync.monitoring.logs.insights import run_query

    return lambda text, **kw: run_query(store, text, start_ms=kw.pop("start_ms", START),
                                        end_ms=kw.pop("end_ms", END), **kw)
