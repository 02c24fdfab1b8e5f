"""Imported logs get the same secret redaction as our own log lines."""

from __future__ import annotations

import orjson

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.store import TelemetryStore


class TestImportRedaction:
    def test_secrets_in_imported_lines_are_masked_before_they_are_stored(self, tmp_path) -> None:
        store = TelemetryStore(tmp_path / "telemetry")
        lines = [
            {"timestamp": "2026-11-27T12:00:00.000Z", "level": "INFO", "message": "calling",
             "api_key": "sk-live-123456"},
            {"timestamp": 1795780800000, "logStreamName": "s",
             "message": "Authorization: Bearer abcdef0123456789abcdef"},
        ]
        report = import_logs(store, b"".join(orjson.dumps(line) + b"\n" for line in lines))
        assert report.imported == 2
        stored = orjson.dumps(store.logs()).decode()
        assert "sk-live-123456" not in stored
        assert "abcdef0123456789abcdef" not in stored
        store.close()
