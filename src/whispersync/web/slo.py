"""HTTP view of the plan's SLOs: ``GET /v1/slo`` (`whispersync slo --json`)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from whispersync.app import Runtime, load_plan
from whispersync.monitoring.slo import slo_report

__all__ = ["build_router"]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/slo")
    def list_slos():
        """Each SLO's SLI, error budget, burn rates, Apdex and its burn-rate alarms with their states."""
        reports = slo_report(runtime.store, load_plan(runtime.settings).slos, now_ms=int(time.time() * 1000))
        states = runtime.alarms.alarm_store.states() if runtime.alarms is not None else {}
        for report in reports:
            for alarm in report["alarms"]:
                alarm["state"] = states.get(alarm["name"], {}).get("state", "INSUFFICIENT_DATA")
        return {"slos": reports}

    return router
