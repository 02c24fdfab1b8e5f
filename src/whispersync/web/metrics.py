"""`POST /v1/metrics/query`: GetMetricData over the local telemetry store.

Takes our shape or GetMetricData's own field names (see
``monitoring.metrics.parse_request``) and answers in the same vocabulary:
``{"results": [...]}`` or ``{"MetricDataResults": [...]}``. A bad request is a
400 ``{"error": {"code": "invalid_input", "message"}}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from whispersync.app import Runtime
from whispersync.monitoring.metrics import get_metric_data, parse_request
from whispersync.web._json import read_json

_MAX_BODY = 1024 * 1024


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/metrics/query")
    async def query_metrics(request: Request) -> dict:
        payload = await read_json(request, max_bytes=_MAX_BODY)

        def run() -> dict:
            # A bad request raises MetricQueryError (or MetricMathError): a 400 from the app's handler.
            queries, start_ms, end_ms, scan_by, aws = parse_request(payload)
            results = get_metric_data(runtime.store, queries, start_ms=start_ms, end_ms=end_ms,
                                      scan_by=scan_by, timeout=runtime.settings.request_timeout)
            if aws:
                return {"MetricDataResults": [r.to_aws() for r in results], "Messages": []}
            return {"results": [r.to_dict() for r in results]}

        # DuckDB queries block: run them off the event loop.
        return await run_in_threadpool(run)

    return router
