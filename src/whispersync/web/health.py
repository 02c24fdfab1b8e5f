"""``GET /readyz``: readiness, the process can do its work (``/healthz`` says only that it answers).

Each dependency (blob store, queue, record store, telemetry store) gets one cheap real
operation with a timeout (``app.dependency_checks``): 200 when all pass, 503 otherwise,
so a load balancer stops sending work. With an API token configured, only a caller
presenting it sees which dependency failed, its latency and why (paths and errors tell
an attacker about the host); everyone else gets the status alone.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from whispersync.app import Runtime, dependency_checks

__all__ = ["build_router"]


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()
    token = runtime.settings.api_token.get_secret_value() if runtime.settings.api_token else None

    def authenticated(request: Request) -> bool:
        if token is None:
            return True
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        return scheme.lower() == "bearer" and bool(credential) and hmac.compare_digest(credential.encode(),
                                                                                       token.encode())

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks = await run_in_threadpool(dependency_checks, runtime)
        ready = all(c.ok for c in checks)
        body: dict = {"status": "ready" if ready else "not_ready"}
        if authenticated(request):
            body["dependencies"] = [c.to_dict() for c in checks]
        return JSONResponse(body, status_code=200 if ready else 503,
                            headers={"Cache-Control": "no-store"})

    return router
