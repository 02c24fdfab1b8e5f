"""GET /v1/remediation: the remediation audit log from the outside."""

from __future__ import annotations

import time

import httpx
from helpers import ServerThread

from whispersync.web.api import create_app


def _alarm(runtime, state="ALARM"):
    return runtime.alarms.remediation.run("scale_up", alarm="HighQueueDepth", state=state, previous_state="OK",
                                          reason="Threshold Crossed", at_ms=int(time.time() * 1000))


def test_get_remediation_lists_the_audit_log_newest_first_in_pages(runtime):
    with ServerThread(create_app(runtime)) as server:
        assert httpx.get(f"{server.url}/v1/remediation").json() == {"remediations": [], "next_token": None}
        runtime.start(workers=1, inbox=False, collector=False, maintenance=False, sweep=False)
        _alarm(runtime)          # 1 -> 2
        _alarm(runtime)          # inside the cooldown: suppressed
        body = httpx.get(f"{server.url}/v1/remediation").json()
        assert [(e["action"], e["before"], e["after"], e["result"]) for e in body["remediations"]] == [
            ("scale_up", 2, 2, "suppressed"), ("scale_up", 1, 2, "executed")]
        assert body["remediations"][0]["occurred_at"].endswith("Z") and body["next_token"] is None
        first = httpx.get(f"{server.url}/v1/remediation", params={"limit": 1}).json()
        assert [e["result"] for e in first["remediations"]] == ["suppressed"] and first["next_token"]
        second = httpx.get(f"{server.url}/v1/remediation",
                           params={"limit": 1, "next_token": first["next_token"]}).json()
        assert [e["result"] for e in second["remediations"]] == ["executed"] and second["next_token"] is None
