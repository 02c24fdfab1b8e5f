"""HTTP trace search: ``GET /v1/traces`` and ``GET /v1/traces/{trace_id}``."""

from __future__ import annotations

import re
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.monitoring.traces import TraceFilterError, get_trace, search_traces

__all__ = ["build_router"]

_SINCE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*")


def _since_seconds(value: str) -> float:
    match = _SINCE.fullmatch(value)
    if not match:
        raise InputError(f"since={value!r} is not a duration like 30s, 15m, 1h or 7d")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/traces")
    def search(
        filter: str | None = None,
        correlation_id: str | None = None,
        errors: bool = False,
        min_duration_ms: float | None = None,
        slowest: int | None = None,
        since: str = "1h",
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ):
        if start_ms is None:
            start_ms = int((time.time() - _since_seconds(since)) * 1000)
        if slowest is not None and slowest < 1:
            raise InputError("slowest must be at least 1")
        try:
            found = search_traces(runtime.store, filter=filter, correlation_id=correlation_id, errors=errors,
                                  min_duration_ms=min_duration_ms, start_ms=start_ms, end_ms=end_ms,
                                  slowest=slowest, limit=max(1, min(limit, 1000)))
        except TraceFilterError as exc:
            return JSONResponse({"error": {"code": exc.code, "message": str(exc), "reason": exc.reason,
                                           "position": exc.position}}, status_code=400)
        return {"traces": [t.to_dict() for t in found]}

    @router.get("/v1/traces/{trace_id}")
    def show(trace_id: str):
        return get_trace(runtime.store, trace_id)  # NotFound -> 404 by the app's handler

    return router
