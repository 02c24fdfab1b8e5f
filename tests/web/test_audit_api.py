"""The audit trail on a real server: what a state-changing request leaves behind (and what a read does not),
who it names, what it never stores, refused console logins, and a broken trail that changes no answer."""

from __future__ import annotations

import time

import boto3
import httpx
import pytest
from botocore.config import Config

from whispersync import catalog, sqlite_db
from whispersync.monitoring.audit import AuditTrail, token_id

TOKEN = "tok-" + "9" * 28
SECRET = "sk-" + "Q" * 30  # a value shaped like an API key, sent where a careless caller might put one
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def events(runtime, action: str | None = None) -> list[dict]:
    return AuditTrail(runtime.settings.monitoring_db, read_only=True).entries(action_prefix=action)


def database_bytes(runtime) -> bytes:
    db = runtime.settings.monitoring_db
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def total(runtime, metric: catalog.Metric, dimensions: dict[str, str]) -> int:
    runtime.telemetry.flush()
    runtime.store.flush()
    series = runtime.store.metric_statistics(metric.namespace, metric.name, dimensions=dimensions, statistic="Sum",
                                             start_ms=0, end_ms=int(time.time() * 1000) + 60_000)
    return int(sum(series.values)) if series.values else 0


@pytest.fixture
def locked(make_api):
    """A server with a token, and a client that carries it."""
    runtime, server = make_api(api_token=TOKEN)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield runtime, server, client


class TestApiWrites:
    def test_a_submission_is_recorded_with_who_from_where_and_its_result(self, locked) -> None:
        runtime, _, client = locked
        answer = client.post("/v1/transcripts", params={"agent": "work"}, content=b"Write the release notes.",
                             headers={**BEARER, "Content-Type": "text/plain", "X-Correlation-ID": "corr-audit-1"})
        assert answer.status_code == 202
        [event] = events(runtime)
        assert (event["source"], event["action"], event["identity"], event["result"], event["status"]) == (
            "api", "POST /v1/transcripts", token_id(TOKEN), "ok", 202)
        assert event["source_address"] == "127.0.0.1" and event["correlation_id"] == "corr-audit-1"
        assert event["parameters"] == {"agent": "work", "memo_id": answer.json()["id"]}

    def test_reads_and_queries_leave_no_record(self, locked) -> None:
        runtime, _, client = locked
        assert client.get("/v1/memos", headers=BEARER).status_code == 200
        assert client.post("/v1/logs/query", json={"query": "fields @message | limit 1"},
                           headers=BEARER).status_code in (200, 422)
        assert client.post("/v1/no-such-route", headers=BEARER).status_code == 404
        assert client.delete("/v1/audit", headers=BEARER).status_code == 405
        assert events(runtime) == []

    def test_get_v1_audit_lists_the_trail_to_a_caller_with_the_token(self, locked) -> None:
        runtime, _, client = locked
        client.post("/v1/alarms/evaluate", headers=BEARER)
        client.post("/v1/dlq/redrive", json={}, headers=BEARER)
        assert client.get("/v1/audit").status_code == 401
        listed = client.get("/v1/audit", params={"action": "POST /v1/alarms", "since": "1h"}, headers=BEARER)
        assert listed.status_code == 200
        body = listed.json()
        assert [e["action"] for e in body["events"]] == ["POST /v1/alarms/evaluate"] and body["next_token"] is None
        paged = client.get("/v1/audit", params={"limit": 1}, headers=BEARER).json()
        assert [e["action"] for e in paged["events"]] == ["POST /v1/dlq/redrive"] and paged["next_token"]
        assert client.get("/v1/audit", params={"since": "soon"}, headers=BEARER).status_code == 400

    def test_a_refused_write_is_recorded_as_unauthenticated(self, locked) -> None:
        runtime, _, client = locked
        refused = client.post("/v1/alarms/SystemDown/state", json={"state": "ALARM", "reason": "x"},
                              headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        [event] = events(runtime)
        assert (event["action"], event["identity"], event["result"], event["status"]) == (
            "POST /v1/alarms/{name}/state", "unauthenticated", "error", 401)
        assert event["parameters"] == {"name": "SystemDown"}
        # The message goes through the log redaction too, which masks the word after "bearer" (its regex cannot
        # tell a token from the word token); the code is what matters.
        assert event["error"].startswith("unauthorized: missing or wrong bearer")
        assert refused.json()["error"]["code"] == "unauthorized"  # the body read for the record still arrives

    def test_a_secret_in_a_parameter_is_masked_and_the_token_is_never_stored(self, locked) -> None:
        runtime, _, client = locked
        client.post("/v1/transcripts", params={"agent": "work", "title": f"key {SECRET}", "api_key": "plain-value"},
                    content=b"hello", headers={**BEARER, "Content-Type": "text/plain"})
        client.post("/v1/dlq/redrive", json={}, headers=BEARER)
        [redrive, submission] = events(runtime)
        assert redrive["action"] == "POST /v1/dlq/redrive" and redrive["result"] == "ok"
        assert submission["parameters"]["api_key"] == "***" and SECRET not in submission["parameters"]["title"]
        stored = database_bytes(runtime)
        assert TOKEN.encode() not in stored and SECRET.encode() not in stored and b"plain-value" not in stored
        assert token_id(TOKEN).encode() in stored

    def test_without_a_token_the_caller_is_anonymous(self, api) -> None:
        runtime, _, client = api
        assert client.post("/v1/alarms/evaluate").status_code == 200
        [event] = events(runtime)
        assert (event["action"], event["identity"]) == ("POST /v1/alarms/evaluate", "anonymous")


class TestConsole:
    def test_a_refused_login_counts_as_an_auth_failure_and_is_audited(self, locked) -> None:
        runtime, _, client = locked
        page = client.post("/login", data={"token": "guess-" + TOKEN[6:]})
        assert page.status_code == 401
        [event] = events(runtime)
        assert (event["source"], event["action"], event["identity"], event["result"], event["status"],
                event["error"]) == ("console", "ConsoleLogin", "unauthenticated", "error", 401,
                                    "Failed authentication")
        assert total(runtime, catalog.AUTH_FAILURES, {"Route": "/login"}) == 1
        assert total(runtime, catalog.AUTH_FAILURES, {}) == 1  # the total the AuthFailureBurst alarm watches
        assert b"guess-" not in database_bytes(runtime)

    def test_a_login_and_a_form_after_it_act_as_the_token(self, locked) -> None:
        runtime, _, client = locked
        assert client.post("/login", data={"token": TOKEN}).status_code == 303
        assert client.cookies  # the session
        logout = client.post("/logout", data={"csrf_token": "stale"})
        assert logout.status_code == 403
        [form, login] = events(runtime)
        assert (login["action"], login["identity"], login["result"]) == ("ConsoleLogin", token_id(TOKEN), "ok")
        assert (form["action"], form["identity"], form["result"], form["status"]) == (
            "POST /logout", token_id(TOKEN), "error", 403)
        assert total(runtime, catalog.AUTH_FAILURES, {}) == 0


class TestCloudWatchWire:
    def test_management_calls_are_recorded_by_their_aws_name_and_ingestion_is_not(self, locked) -> None:
        runtime, server, _ = locked
        cloudwatch = boto3.client("cloudwatch", endpoint_url=server.url, region_name="us-east-1",
                                  aws_access_key_id="whispersync", aws_secret_access_key=TOKEN,
                                  config=Config(retries={"max_attempts": 1}))
        cloudwatch.put_metric_data(Namespace="Test/Audit", MetricData=[{"MetricName": "Hits", "Value": 1}])
        cloudwatch.put_metric_alarm(AlarmName="AuditedAlarm", Namespace="Test/Audit", MetricName="Hits",
                                    Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                    ComparisonOperator="GreaterThanThreshold")
        cloudwatch.describe_alarms(AlarmNames=["AuditedAlarm"])
        cloudwatch.delete_alarms(AlarmNames=["AuditedAlarm"])
        [deleted, put] = events(runtime)
        assert (put["source"], put["action"], put["identity"], put["result"]) == (
            "aws-api", "PutMetricAlarm", token_id(TOKEN), "ok")
        assert put["parameters"]["AlarmName"] == "AuditedAlarm" and put["parameters"]["Threshold"] == 1
        assert (deleted["action"], deleted["parameters"]["AlarmNames"]) == ("DeleteAlarms", ["AuditedAlarm"])

    def test_a_badly_signed_management_call_is_recorded_as_refused(self, locked) -> None:
        runtime, server, _ = locked
        cloudwatch = boto3.client("cloudwatch", endpoint_url=server.url, region_name="us-east-1",
                                  aws_access_key_id="whispersync", aws_secret_access_key="not-the-token",
                                  config=Config(retries={"max_attempts": 1}))
        with pytest.raises(Exception):
            cloudwatch.set_alarm_state(AlarmName="SystemDown", StateValue="ALARM", StateReason="test")
        [event] = events(runtime)
        assert (event["action"], event["identity"], event["result"]) == ("SetAlarmState", "unauthenticated", "error")
        assert event["error"].startswith("SignatureDoesNotMatch")


class TestBrokenTrail:
    def test_a_trail_that_cannot_be_written_changes_no_answer(self, locked) -> None:
        runtime, server, client = locked
        con = sqlite_db.connect(runtime.settings.monitoring_db)
        con.execute("CREATE VIEW IF NOT EXISTS audit_trail AS SELECT 1 AS id")  # the trail's name, unusable
        con.close()
        answer = client.post("/v1/transcripts", content=b"still accepted",
                             headers={**BEARER, "Content-Type": "text/plain"})
        assert answer.status_code == 202
        assert client.get(f"/v1/memos/{answer.json()['id']}", headers=BEARER).status_code == 200
        assert server.server.config.app.state.audit_trail.failures == 1  # counted (and logged)
