"""`POST /v1/logs/query`: Logs Insights over the local telemetry store.

Body ``{"query": "...", "start"?, "end"?, "saved"?}``, times as ISO 8601 or epoch
milliseconds (default: the last hour); answers ``{"columns", "rows",
"statistics"}`` like ``whispersync logs query --json``. A query that does not
parse is a 400 ``{"error": {"code": "bad_query", "message", "reason", "position",
"line", "column"}}`` (from the app's error handler).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.monitoring.logs.insights import run_query, saved_query
from whispersync.web._json import read_json
from whispersync.web._params import client_time

_MAX_BODY = 256 * 1024


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/logs/query")
    async def query_logs(request: Request):
        payload = await read_json(request, max_bytes=_MAX_BODY)
        if not isinstance(payload, dict):
            raise InputError("body must be a JSON object with a 'query' or 'saved' field")
        unknown = set(payload) - {"query", "start", "end", "saved"}
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}")
        text = payload.get("query")
        if payload.get("saved") is not None:
            if text is not None:
                raise InputError("give either 'query' or 'saved', not both")
            try:
                text = saved_query(str(payload["saved"]))
            except KeyError as exc:
                raise InputError(exc.args[0]) from None
        if not isinstance(text, str) or not text.strip():
            raise InputError("field 'query' (a Logs Insights query string) is required")
        start_ms, end_ms = client_time(payload.get("start"), "start"), client_time(payload.get("end"), "end")
        # A query that does not parse raises InsightsQueryError: a 400 from the app's handler.
        return await run_in_threadpool(run_query, runtime.store, text, start_ms=start_ms, end_ms=end_ms,
                                       timeout=runtime.settings.request_timeout)

    return router
