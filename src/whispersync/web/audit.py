"""HTTP view of the audit trail: ``GET /v1/audit`` (`whispersync audit --json`)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from whispersync.app import Runtime
from whispersync.monitoring.audit import AuditTrail
from whispersync.web._params import client_duration, page

__all__ = ["build_router"]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/audit")
    def list_audit(since: str | None = None, action: str | None = None, limit: int = 100,
                   next_token: str | None = None):
        """Every state-changing call and command, newest first: when, what, who, from where, how it ended."""
        since_ms = None if since is None else int(time.time() * 1000 - client_duration(since, "since") * 1000)
        trail = AuditTrail(runtime.settings.monitoring_db, read_only=True)
        events, token = page(lambda n: trail.entries(since_ms=since_ms, action_prefix=action, limit=n), limit,
                             next_token)
        return {"events": events, "next_token": token}

    return router
