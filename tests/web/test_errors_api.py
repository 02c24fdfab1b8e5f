"""The error tree over HTTP, mapped in one place (issue 8 §5): a client's bad query is a
4xx with where it went wrong; a ValueError from our own code is a bug, a 500."""

from __future__ import annotations

import time

import pytest
from web.test_hardening import count_5xx

METRICS_QUERY = {
    "queries": [{"id": "m1", "metric_stat": {"namespace": "WhisperSync/Test", "name": "Errors", "period": 60}}],
    "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:05:00Z",
}


def unhandled_errors(runtime) -> list[dict]:
    runtime.store.flush()
    lines = runtime.store.logs(start_ms=0, end_ms=int(time.time() * 1000) + 1000)
    return [r for r in lines if r.get("message") == "Unhandled API error"]


class TestABugIsA500:
    def test_a_value_error_in_a_metric_query_is_a_500_logged_and_counted(self, api, monkeypatch) -> None:  # noqa: F811
        """It was answered 400 invalid_input: the web layer took every ValueError for the client's."""
        runtime, _, client = api

        def broken(*args, **kwargs):
            raise ValueError("simulated bug")

        # Our own code path, reached through the real route.
        monkeypatch.setattr(runtime.store, "metric_statistics_batch", broken)
        response = client.post("/v1/metrics/query", json=METRICS_QUERY)
        monkeypatch.undo()  # count_5xx reads through the same method
        assert response.status_code == 500, response.text
        assert response.json()["error"]["code"] == "internal_error"
        assert "simulated bug" not in response.text
        assert count_5xx(runtime) == 1
        errors = unhandled_errors(runtime)
        assert len(errors) == 1 and errors[0]["error_type"] == "ValueError"

    def test_the_same_route_still_answers_a_bad_request_with_a_400(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        response = client.post("/v1/metrics/query", json={**METRICS_QUERY, "start": "yesterday-ish"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_input"
        assert count_5xx(runtime) == 0


class TestQuerySyntaxErrors:
    """Every query language answers the same shape: code, message, reason, position, line, column."""

    def test_an_insights_error_on_the_second_line_says_so(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        response = client.post("/v1/logs/query", json={"query": "fields @message\n| stats count( by x"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "bad_query"
        assert (error["line"], error["position"]) == (2, len("fields @message\n") + error["column"] - 1)
        assert error["message"] == f"line 2, column {error['column']}: {error['reason']}"
        assert count_5xx(runtime) == 0

    @pytest.mark.parametrize(("path", "params", "code", "column"), [
        ("/v1/traces", {"filter": "agent_type ="}, "invalid_filter", 13),
        ("/v1/traces", {"filter": "a = 1 AND\n  (b"}, "invalid_filter", 5),
    ])
    def test_a_trace_filter_error_has_the_place(self, api, path, params, code, column) -> None:  # noqa: F811
        _, _, client = api
        error = client.get(path, params=params).json()["error"]
        assert error["code"] == code and error["column"] == column
        assert error["message"].startswith(f"line {error['line']}, column {column}: ")

    def test_a_bad_alarm_rule_is_a_400_naming_the_field(self, api) -> None:  # noqa: F811
        runtime, _, client = api
        response = client.put("/v1/alarms", json={"AlarmName": "c", "AlarmRule": "ALARM(x) AND"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_input"
        assert response.json()["error"]["message"].startswith("AlarmRule: line 1, column 13: ")
        assert count_5xx(runtime) == 0
