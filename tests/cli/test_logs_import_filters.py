"""Imported logs go through the plan's metric filters, as CloudWatch applies filters to ingested events."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from whispersync.cli._common import app

EVENTS = [  # CloudWatch's exported event shape: the raw line in "message"
    {"timestamp": 1795780800000, "logStreamName": "s1",
     "message": '{"level":"ERROR","message":"Processing failed","error_type":"KeyError"}'},
    {"timestamp": 1795780860000, "logStreamName": "s1",
     "message": '{"level":"INFO","message":"Processing successful"}'},
    {"timestamp": 1795780920000, "logStreamName": "s1", "message": "ERROR plain text, not JSON"},
]


def test_imported_error_events_are_counted_by_the_log_errors_filter(tmp_path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS))

    imported = runner.invoke(app, [*home, "logs", "import", str(path), "--json"])
    assert imported.exit_code == 0, imported.output
    series = runner.invoke(app, [*home, "metrics", "get", "WhisperSync/Logs", "LogErrors", "--period", "60",
                                 "--start", "2026-11-27T12:00:00Z", "--end", "2026-11-27T13:00:00Z", "--json"])
    assert series.exit_code == 0, series.output
    result = orjson.loads(series.stdout)
    # Only the JSON line whose level is ERROR counts, at the event's own time.
    assert result["timestamps"] == ["2026-11-27T12:00:00Z"]
    assert result["values"] == [1.0]
