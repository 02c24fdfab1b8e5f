"""The request path stays lean (issue 15): our middleware is plain ASGI, and what it does per request it
still does whole: a write's error answer reaches the client unchanged and is audited with its error,
a query (a POST that only reads) is neither audited nor slowed by the audit."""

from __future__ import annotations

import httpx
import pytest
from starlette.middleware.base import BaseHTTPMiddleware

from whispersync.monitoring.audit import AuditTrail, token_id
from whispersync.web import create_app

TOKEN = "tok-" + "7" * 28
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def events(runtime) -> list[dict]:
    return AuditTrail(runtime.settings.monitoring_db, read_only=True).entries()


@pytest.fixture
def locked(make_api):
    runtime, server = make_api(api_token=TOKEN)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield runtime, server, client


class TestMiddleware:
    def test_our_middleware_is_plain_asgi(self, locked) -> None:
        """BaseHTTPMiddleware runs each request in extra tasks and re-streams its body and answer: a few ms
        a layer on a loaded machine, for every request."""
        runtime, _, _ = locked
        app = create_app(runtime)
        assert app.user_middleware, "the app has its middleware"
        assert [m.cls for m in app.user_middleware if m.cls is BaseHTTPMiddleware] == []

    def test_a_refused_write_error_is_answered_whole_and_audited_with_its_error(self, locked) -> None:
        """The audit reads a small JSON error answer before it is sent: the client still gets all of it."""
        runtime, _, client = locked
        answer = client.put("/v1/alarms", json={"AlarmName": "c", "AlarmRule": "ALARM(x) AND"}, headers=BEARER)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "invalid_input" and error["message"].startswith("AlarmRule: line 1, column 13: ")
        assert int(answer.headers["content-length"]) == len(answer.content)
        [event] = events(runtime)
        assert (event["action"], event["identity"], event["status"], event["result"]) == (
            "PUT /v1/alarms", token_id(TOKEN), 400, "error")
        assert event["error"] == f"invalid_input: {error['message']}"

    def test_a_metrics_query_is_answered_and_leaves_no_record(self, locked) -> None:
        runtime, _, client = locked
        query = {"queries": [{"id": "m1", "metric_stat": {"namespace": "WhisperSync/Test", "name": "Errors",
                                                          "stat": "Sum", "period": 60}}],
                 "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:05:00Z"}
        for _ in range(3):  # on one kept-alive connection, as a dashboard polls
            answer = client.post("/v1/metrics/query", json=query, headers=BEARER)
            assert answer.status_code == 200, answer.text
            assert answer.json()["results"][0]["id"] == "m1"
        assert client.post("/v1/metrics/query", json=query).status_code == 401  # the token is still required
        assert events(runtime) == []
