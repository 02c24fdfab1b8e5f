"""GET /v1/slo: the SLO report over HTTP, behind the API token like every /v1 route."""

from __future__ import annotations

import time

import httpx

from whispersync import catalog

TOKEN = "t0ken-t0ken-t0ken-t0ken"


def test_get_slo_answers_the_report_with_alarm_states_and_needs_the_token(make_api):
    runtime, server = make_api(api_token=TOKEN)
    runtime.store.put_metrics(
        [{"namespace": catalog.MEMO_LATENCY.namespace, "name": catalog.MEMO_LATENCY.name, "value": v,
          "unit": "Milliseconds", "timestamp": int(time.time() * 1000) - 60_000} for v in (800, 4_000, 30_000)])
    assert httpx.get(f"{server.url}/v1/slo").status_code == 401
    answer = httpx.get(f"{server.url}/v1/slo", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    [report] = answer.json()["slos"]
    assert (report["name"], report["window"]["good"], report["window"]["total"]) == ("memo-latency", 2, 3)
    # T = 2.5 s: 800 ms satisfied, 4 s tolerating, 30 s frustrated: (1 + 0.5) / 3.
    assert report["apdex"]["last_hour"]["score"] == 0.5
    assert {a["state"] for a in report["alarms"]} == {"INSUFFICIENT_DATA"}
