"""HTTP view of the remediation audit log: ``GET /v1/remediation`` (`whispersync remediation list --json`)."""

from __future__ import annotations

from fastapi import APIRouter

from whispersync.app import Runtime
from whispersync.monitoring.remediation import RemediationAudit
from whispersync.web._params import page

__all__ = ["build_router"]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/remediation")
    def list_remediations(limit: int = 100, next_token: str | None = None):
        """Every remediation decision, newest first: rule, alarm, state reason, before/after, result."""
        audit = RemediationAudit(runtime.settings.monitoring_db, read_only=True)
        entries, token = page(audit.entries, limit, next_token)
        return {"remediations": entries, "next_token": token}

    return router
