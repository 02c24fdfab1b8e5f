"""Tests for the HTTP trace search (whispersync.web.traces)."""

from __future__ import annotations

import httpx
import pytest
from helpers import ServerThread
from monitoring.traces.test_traces import A, make_spans, span

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

    def test_slowest_beyond_any_integer_the_store_holds_is_clamped_not_a_500(self, api) -> None:
        # Found by the HTTP fuzz test: 2**63 overflowed the store's BIGINT.
        response = api.get("/v1/traces", params={"slowest": str(2**63), "since": "36500d"})
        assert response.status_code == 200
        assert response.json()["traces"] and response.json()["next_token"] is None

    def test_it_shows_one_trace(self, api) -> None:
        body = api.get(f"/v1/traces/{A}").json()
        assert body["trace_id"] == A and len(body["spans"]) == 3

    def test_an_unknown_trace_is_404(self, api) -> None:
        assert api.get("/v1/traces/" + "0" * 32).status_code == 404

    def test_it_shows_a_trace_by_a_unique_prefix_as_the_cli_does(self, api) -> None:
        response = api.get(f"/v1/traces/{A[:6]}")
        assert response.status_code == 200, response.text
        assert response.json()["trace_id"] == A

    def test_an_ambiguous_prefix_is_a_400_listing_the_candidates(self, api, runtime) -> None:
        twins = ["dddd" + "1" * 28, "dddd" + "2" * 28]
        for n, trace_id in enumerate(twins):
            runtime.store.emit("spans", span(trace_id, f"{n:016x}", None, "process_memo", 0, 10))
        runtime.store.flush()
        response = api.get("/v1/traces/dddd")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "ambiguous_id"
        assert all(t in error["message"] for t in twins)

    def test_a_prefix_too_short_or_unknown_is_a_404(self, api) -> None:
        assert api.get(f"/v1/traces/{A[:3]}").status_code == 404
        assert api.get("/v1/traces/eeeeeeee").status_code == 404
