"""Reading a JSON request body with a size limit; every router uses this one way."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from whispersync.errors import InputError

MAX_JSON_BODY = 1024 * 1024


async def read_json(request: Request, *, required: bool = True, max_bytes: int = MAX_JSON_BODY) -> Any:
    """The parsed body; an empty optional body is `{}`. Bad JSON or a body too large is an InputError."""
    body = await request.body()
    if len(body) > max_bytes:
        raise InputError(f"request body is over {max_bytes} bytes")
    if not body.strip():
        if required:
            raise InputError("a JSON body is required")
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc}") from None
