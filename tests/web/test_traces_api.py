"""Tests for the HTTP trace search (whispersync.web.traces)."""

from __future__ import annotations

import httpx
import pytest
from helpers import ServerThread
from monitoring.traces.test_traces import A, make_spans

from whispersync.web import create_app


@pytest.fixture
def api(runtime):
    for record in make_spans():
        runtime.store.emit("spans", record)
    runtime.store.flush()
    with ServerThread(create_app(runtime)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


class TestTracesApi:
    def test_it_searches_with_a_filter(self, api) -> None:
        response = api.get("/v1/traces", params={"filter": 'agent_type = "work" AND success = false',
                                                 "since": "36500d"})
        assert response.status_code == 200
        assert [t["trace_id"] for t in response.json()["traces"]] == [A]

    def test_a_bad_filter_is_a_400_with_the_position(self, api) -> None:
        response = api.get("/v1/traces", params={"filter": "agent_type ="})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_filter" and error["position"] == 12

    def test_it_shows_one_trace(self, api) -> None:
        body = api.get(f"/v1/traces/{A}").json()
        assert body["trace_id"] == A and len(body["spans"]) == 3

    def test_an_unknown_trace_is_404(self, api) -> None:
        assert api.get("/v1/traces/" + "0" * 32).status_code == 404
