"""HTTP view of the alert outbox: ``GET /v1/notifications``."""

from __future__ import annotations

from fastapi import APIRouter

from whispersync.app import Runtime
from whispersync.errors import InputError

__all__ = ["build_router"]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/notifications")
    def list_notifications(status: str | None = None, limit: int = 100):
        from whispersync.monitoring.notify import DELIVERY_STATUSES

        if status is not None and status not in DELIVERY_STATUSES:
            raise InputError(f"unknown status {status!r}; one of: {', '.join(DELIVERY_STATUSES)}")
        if runtime.notifier is None:
            return {"deliveries": []}
        return {"deliveries": runtime.notifier.deliveries(status=status, limit=max(1, min(limit, 1000)))}

    return router
