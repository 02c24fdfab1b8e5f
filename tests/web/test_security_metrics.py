"""WhisperSync/Security: AuthFailures by Route and RejectedInputs by Reason from the API guard, and the
plan's AuthFailureBurst alarm over them, on a real server and runtime."""

from __future__ import annotations

import time

import httpx

from whispersync import catalog
from whispersync.plan import ALARM

TOKEN = "t" * 32


def total(runtime, metric: catalog.Metric, dimensions: dict[str, str]) -> int:
    runtime.telemetry.flush()
    runtime.store.flush()
    series = runtime.store.metric_statistics(metric.namespace, metric.name, dimensions=dimensions, statistic="Sum",
                                             start_ms=0, end_ms=int(time.time() * 1000) + 60_000)
    return int(sum(series.values)) if series.values else 0


class TestAuthFailures:
    def test_each_refused_token_counts_by_route_template_and_in_the_total(self, make_api):
        runtime, server = make_api(api_token=TOKEN)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for memo_id in ("a", "b", "c"):  # three raw paths, one route
                assert client.get(f"/v1/memos/{memo_id}", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.get("/v1/alarms").status_code == 401  # no token at all
            assert client.get("/v1/no-such-route-xyz").status_code == 401
            assert client.get("/v1/alarms", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        metric = catalog.AUTH_FAILURES
        assert total(runtime, metric, {"Route": "/v1/memos/{memo_id}"}) == 3
        assert total(runtime, metric, {"Route": "/v1/alarms"}) == 1
        assert total(runtime, metric, {"Route": "other"}) == 1
        assert total(runtime, metric, {}) == 5  # the accepted request is not counted
        assert total(runtime, metric, {"Route": "/v1/memos/a"}) == 0  # never the raw path

    def test_a_burst_of_auth_failures_sets_off_the_plan_alarm(self, make_api):
        runtime, server = make_api(api_token=TOKEN)
        if time.time() % 60 > 50:  # keep the burst inside one minute (one period)
            time.sleep(61 - time.time() % 60)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(20):
                client.get("/v1/memos", headers={"Authorization": "Bearer guess"})
        runtime.telemetry.flush()
        runtime.store.flush()
        next_minute_ms = (int(time.time() * 1000) // 60_000 + 1) * 60_000
        results = {r.name: r for r in runtime.alarms.evaluate(next_minute_ms)}
        assert results["AuthFailureBurst"].state == ALARM and results["AuthFailureBurst"].priority == "P2"


class TestRejectedInputs:
    def test_refused_inputs_count_by_their_error_code(self, api):
        runtime, _, client = api
        assert client.post("/v1/transcripts", content=b"{not json",
                           headers={"Content-Type": "application/json"}).status_code == 400
        assert client.post("/v1/transcripts", json={"text": ""}).status_code == 400
        assert client.get("/v1/memos", params={"limit": "many"}).status_code == 422
        refused = client.post("/v1/alarms/SystemDown/state", json={"state": "ALARM", "reason": "x"},
                              headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        metric = catalog.REJECTED_INPUTS
        assert total(runtime, metric, {"Reason": "invalid_input"}) == 2  # bad JSON, and the 422
        assert total(runtime, metric, {"Reason": "empty_transcript"}) == 1
        assert total(runtime, metric, {"Reason": "cross_origin_refused"}) == 1
        assert total(runtime, metric, {}) == 4
