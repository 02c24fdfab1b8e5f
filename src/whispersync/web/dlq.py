"""HTTP view of the dead-letter queue: ``GET /v1/dlq`` and ``POST /v1/dlq/redrive``.

The same operations as `whispersync dlq list --json` and `whispersync dlq redrive`
(`pipeline.dead_letters`); the console's Redrive buttons call them too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from whispersync.app import Runtime, dead_letters
from whispersync.errors import InputError
from whispersync.web._json import read_json
from whispersync.web._params import MAX_LIMIT, page

__all__ = ["build_router", "redrive"]

_REDRIVE_FIELDS = ("memo_ids", "limit")
_MEMO_ID_MAX = 128  # as AgentInput's memo ids


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/dlq")
    def list_dead_letters(limit: int = 100, next_token: str | None = None):
        messages, token = page(runtime.dlq.peek, limit, next_token)
        return {"messages": [dead_letters.entry(m, runtime.records) for m in messages], "next_token": token}

    @router.post("/v1/dlq/redrive")
    async def redrive_dead_letters(request: Request) -> dict:
        memo_ids, limit = redrive_request(await read_json(request, required=False))
        result = await run_in_threadpool(redrive, runtime, memo_ids=memo_ids, limit=limit)
        return result.to_dict()

    return router


def redrive(runtime: Runtime, *, memo_ids: list[str] | None = None,
            limit: int | None = None) -> dead_letters.Redriven:
    """Move dead-lettered memos back to the transcripts queue: all, the first `limit`, or these."""
    return dead_letters.redrive(runtime.broker, dlq=runtime.dlq, queue=runtime.queue, records=runtime.records,
                                memo_ids=memo_ids, limit=limit)


def redrive_request(payload: Any) -> tuple[list[str] | None, int | None]:
    """`{}` (every message), `{"limit": N}` or `{"memo_ids": [...]}` as (memo_ids, limit)."""
    shape = 'the body is {}, {"limit": N} or {"memo_ids": ["...", ...]}'
    if not isinstance(payload, dict):
        raise InputError(f"{shape}, not {type(payload).__name__}")
    unknown = set(payload) - set(_REDRIVE_FIELDS)
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))[:200]}; {shape}")
    if "memo_ids" in payload and "limit" in payload:
        raise InputError(f"give memo_ids or limit, not both; {shape}")
    limit, memo_ids = payload.get("limit"), payload.get("memo_ids")
    if "limit" in payload and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InputError("limit must be a whole number >= 0")
    if "memo_ids" in payload:
        if not isinstance(memo_ids, list) or not memo_ids or len(memo_ids) > MAX_LIMIT:
            raise InputError(f"memo_ids must be a list of 1 to {MAX_LIMIT} memo ids")
        for i, memo_id in enumerate(memo_ids):
            if not isinstance(memo_id, str) or not 1 <= len(memo_id) <= _MEMO_ID_MAX:
                raise InputError(f"memo_ids[{i}] must be a memo id (1 to {_MEMO_ID_MAX} characters)")
    return memo_ids, limit
