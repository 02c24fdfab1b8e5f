"""HTTP view of the alert outbox: ``GET /v1/notifications``."""

from __future__ import annotations

from fastapi import APIRouter

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.web._params import page

__all__ = ["build_router"]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/notifications")
    def list_notifications(status: str | None = None, limit: int = 100, next_token: str | None = None):
        from whispersync.monitoring.notify import DELIVERY_STATUSES

        if status is not None and status not in DELIVERY_STATUSES:
            raise InputError(f"unknown status {status!r}; one of: {', '.join(DELIVERY_STATUSES)}")
        notifier = runtime.notifier
        if notifier is None:
            deliveries, token = page(lambda n: [], limit, next_token)
        else:
            deliveries, token = page(lambda n: notifier.deliveries(status=status, limit=n), limit, next_token)
        return {"deliveries": deliveries, "next_token": token}

    return router
