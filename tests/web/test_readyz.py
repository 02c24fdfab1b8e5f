"""`GET /readyz` on a real server: every dependency's answer, and who may see the details."""

from __future__ import annotations

import httpx

TOKEN = "readyz-test-token-0123456789abcdef"


def test_without_a_token_configured_readyz_shows_every_dependency(api):
    runtime, _, client = api
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    assert [(d["name"], d["ok"], d["reason"]) for d in body["dependencies"]] == [
        ("blobs", True, None), ("queue", True, None), ("records", True, None), ("telemetry", True, None)]
    assert answer.headers["cache-control"] == "no-store"


def test_with_a_token_only_its_bearer_sees_details_and_healthz_stays_open(make_api):
    _, server = make_api(api_token=TOKEN)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/readyz").json() == {"status": "ready"}
        assert client.get("/readyz", headers={"Authorization": "Bearer wrong-token-0123456789abcdef"}).json() == {
            "status": "ready"}
        detailed = client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert len(detailed["dependencies"]) == 4
        assert client.get("/healthz").status_code == 200
