"""The audit trail's store: append-only, redacted and bounded parameters, filters, and a write that fails
without raising."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import FakeClock

from whispersync import sqlite_db
from whispersync.monitoring.audit import (
    MAX_PARAMETERS_BYTES,
    AuditTrail,
    summarize,
    token_id,
)
from whispersync.telemetry import MemorySink, Telemetry

SLACK_HOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"


@pytest.fixture
def trail(tmp_path):
    opened = AuditTrail(tmp_path / "monitoring.sqlite3", clock=FakeClock(1_800_000_000.0))
    yield opened
    opened.close()


class TestRecord:
    def test_a_record_reads_back_with_every_field(self, trail) -> None:
        """What was recorded is what `entries` gives, with the time as ISO UTC and a fresh event id."""
        event_id = trail.record(source="api", action="POST /v1/transcripts", identity=token_id("s3cret-token"),
                                parameters={"agent": "work"}, source_address="127.0.0.1", status=202,
                                correlation_id="c-1")
        [entry] = trail.entries()
        assert entry == {"id": 1, "occurred_at": "2027-01-15T08:00:00.000Z", "event_id": event_id, "source": "api",
                         "action": "POST /v1/transcripts", "identity": token_id("s3cret-token"),
                         "source_address": "127.0.0.1", "parameters": {"agent": "work"}, "result": "ok",
                         "status": 202, "error": None, "correlation_id": "c-1"}
        assert len(event_id) == 32

    def test_an_error_result_keeps_a_bounded_redacted_message(self, trail) -> None:
        trail.record(source="cli", action="alarms put", identity="local-user:me", status=2, ok=False,
                     error="failed posting to " + SLACK_HOOK + " " + "x" * 1000)
        [entry] = trail.entries()
        assert entry["result"] == "error" and entry["status"] == 2
        assert "XXXXXXXX" not in entry["error"] and len(entry["error"]) <= 300

    def test_the_token_id_is_stable_short_and_not_the_token(self) -> None:
        assert token_id("a" * 32) == token_id("a" * 32) != token_id("b" * 32)
        assert token_id("a" * 32).startswith("token:") and len(token_id("a" * 32)) == len("token:") + 12
        assert "a" * 12 not in token_id("a" * 32)


class TestAppendOnly:
    def test_rows_cannot_be_updated_or_deleted(self, trail) -> None:
        trail.record(source="cli", action="submit", identity="local-user:me")
        con = sqlite_db.connect(trail.path)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("UPDATE audit_trail SET action = 'nothing'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("DELETE FROM audit_trail")
        con.close()
        assert [e["action"] for e in trail.entries()] == ["submit"]

    def test_the_store_has_no_way_to_change_or_remove_a_record(self) -> None:
        public = {name for name in dir(AuditTrail) if not name.startswith("_")}
        assert public == {"record", "entries", "close"}


class TestParameters:
    def test_secrets_are_masked_by_key_and_by_shape(self) -> None:
        summary = summarize({"token": "abc", "api_key": "k", "webhook_url": SLACK_HOOK, "url": SLACK_HOOK,
                             "reason": "rotating password=hunter2 now", "name": "HighQueueDepth"})
        assert summary["token"] == summary["api_key"] == summary["webhook_url"] == "***"
        assert "XXXX" not in summary["url"] and "hunter2" not in summary["reason"]
        assert summary["name"] == "HighQueueDepth"

    def test_values_lists_objects_and_the_whole_are_bounded(self) -> None:
        summary = summarize({"long": "y" * 5000, "names": [f"n{i}" for i in range(100)],
                             "body": {"widgets": [1, 2, 3], "x": 1}, **{f"k{i}": "v" * 150 for i in range(50)}})
        assert len(summary["long"]) == 200 and summary["long"].endswith("…")
        assert summary["names"][:2] == ["n0", "n1"] and summary["names"][-1] == "… 80 more"
        assert summary["body"] == "<object with 2 keys>"  # a summary never copies a body
        import orjson

        assert len(orjson.dumps(summary)) <= MAX_PARAMETERS_BYTES
        assert summary["…"] == "parameters cut to fit the record"

    def test_a_cut_never_leaves_half_a_secret(self) -> None:
        """Redaction runs on the whole value before the cut."""
        summary = summarize({"note": "x" * 180 + " api_key=" + "s" * 100})
        assert "sss" not in summary["note"]


class TestEntries:
    def test_newest_first_filtered_by_time_and_action_prefix(self, tmp_path) -> None:
        clock = FakeClock(1_000.0)
        trail = AuditTrail(tmp_path / "m.sqlite3", clock=clock)
        for action in ("alarms put", "alarms delete", "submit", "POST /v1/alarms/{name}/state", "a%b"):
            trail.record(source="cli", action=action, identity="me")
            clock.now += 60
        assert [e["action"] for e in trail.entries()] == ["a%b", "POST /v1/alarms/{name}/state", "submit",
                                                            "alarms delete", "alarms put"]
        assert [e["action"] for e in trail.entries(action_prefix="alarms")] == ["alarms delete", "alarms put"]
        assert [e["action"] for e in trail.entries(action_prefix="a%")] == ["a%b"]  # % is no wildcard
        assert [e["action"] for e in trail.entries(since_ms=1_000_000 + 120_000)] == [
            "a%b", "POST /v1/alarms/{name}/state", "submit"]
        assert len(trail.entries(limit=2)) == 2
        trail.close()

    def test_a_read_only_trail_of_a_missing_file_is_empty_and_creates_nothing(self, tmp_path) -> None:
        path = tmp_path / "none" / "monitoring.sqlite3"
        assert AuditTrail(path, read_only=True).entries() == []
        assert not path.parent.exists()

    def test_a_read_only_trail_reads_what_a_writer_wrote(self, trail) -> None:
        trail.record(source="cli", action="submit", identity="me")
        assert [e["action"] for e in AuditTrail(trail.path, read_only=True).entries()] == ["submit"]


class TestFailure:
    def test_a_write_that_fails_returns_none_is_counted_and_logged(self, tmp_path) -> None:
        """The audit never breaks what it records: here its table is unusable (a view holds the name)."""
        path = tmp_path / "monitoring.sqlite3"
        con = sqlite_db.connect(path)
        con.execute("CREATE VIEW audit_trail AS SELECT 1 AS id")
        con.close()
        sink = MemorySink()
        telemetry = Telemetry(sink, service="test")
        trail = AuditTrail(path, log=telemetry.logger("test.audit"))
        assert trail.record(source="cli", action="alarms put", identity="me", parameters={"token": "abc"}) is None
        assert trail.record(source="cli", action="alarms put", identity="me") is None
        assert trail.failures == 2 and trail.last_error
        telemetry.flush()
        lines = [r for r in sink.records["logs"] if r.get("message") == "Audit record not written"]
        assert len(lines) == 2 and lines[0]["audit_action"] == "alarms put"
        trail.close()

    def test_a_read_only_trail_refuses_to_write_without_raising(self, tmp_path) -> None:
        trail = AuditTrail(tmp_path / "m.sqlite3", read_only=True)
        assert trail.record(source="cli", action="submit", identity="me") is None and trail.failures == 1
