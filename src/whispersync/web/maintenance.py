"""HTTP view of the maintenance windows: ``GET /v1/maintenance`` (`whispersync maintenance list --json`)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from whispersync.app import Runtime
from whispersync.web._params import page

__all__ = ["build_router"]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/maintenance")
    def list_windows(limit: int = 100, next_token: str | None = None):
        """Every window, newest first, and the active one (null when alarm actions run as usual)."""
        engine = runtime.alarms
        if engine is None:  # no alarm engine: there are no actions to hold back
            windows, token = page(lambda n: [], limit, next_token)
            return {"windows": windows, "active": None, "next_token": token}
        store = engine.alarm_store.maintenance
        now_ms = int(time.time() * 1000)
        windows, token = page(lambda n: store.list(now_ms, limit=n), limit, next_token)
        return {"windows": windows, "active": store.active(now_ms), "next_token": token}

    return router
