"""HTTP trace search: ``GET /v1/traces`` and ``GET /v1/traces/{trace_id}``."""

from __future__ import annotations

import time

from fastapi import APIRouter

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.monitoring.times import lookback_start
from whispersync.monitoring.traces import find_trace_ids, get_trace, search_traces
from whispersync.web._params import MAX_LIMIT, client_duration, client_time, page

__all__ = ["build_router"]

MIN_PREFIX = 4  # as the CLI's: shorter prefixes name too much to be meant


class AmbiguousTraceId(InputError):
    code = "ambiguous_id"


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
        next_token: str | None = None,
    ):
        start_ms, end_ms = client_time(start_ms, "start_ms"), client_time(end_ms, "end_ms")
        if start_ms is None:
            start_ms = lookback_start(int(time.time() * 1000), client_duration(since, "since"))
        if slowest is not None and slowest < 1:
            raise InputError("slowest must be at least 1")
        if slowest is not None:
            slowest = min(slowest, MAX_LIMIT)  # clamped like `limit`: one answer is at most a page
            next_token = None  # the N slowest are one answer, not a list to page through

        def fetch(n: int) -> list:
            # A filter that does not parse raises TraceFilterError: a 400 from the app's handler.
            return search_traces(runtime.store, filter=filter, correlation_id=correlation_id, errors=errors,
                                 min_duration_ms=min_duration_ms, start_ms=start_ms, end_ms=end_ms,
                                 slowest=slowest, limit=n, timeout=runtime.settings.request_timeout)

        found, token = page(fetch, limit, next_token)
        return {"traces": [t.to_dict() for t in found], "next_token": None if slowest is not None else token}

    @router.get("/v1/traces/{trace_id}")
    def show(trace_id: str):
        """A trace by its id, or by a unique prefix of it (as `traces show` and git's short hashes)."""
        if len(trace_id) >= MIN_PREFIX:
            found = find_trace_ids(runtime.store, trace_id)
            if len(found) > 1 and trace_id not in found:
                raise AmbiguousTraceId(f"the trace id {trace_id!r} is ambiguous; it starts: {', '.join(found)}. "
                                       "Give more characters.")
            if len(found) == 1:
                trace_id = found[0]
        return get_trace(runtime.store, trace_id)  # NotFound -> 404 by the app's handler

    return router
