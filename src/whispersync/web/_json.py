"""Reading a request body: size-checked while it streams, time-boxed, typed.

Every router reads its body through here, so every route has the same limits: a
body over the limit is refused after at most `limit` bytes were read (413), a client
that sends too slowly is cut off (408), and a JSON route takes only
`Content-Type: application/json` (415), which a cross-site form or `fetch` without
a CORS preflight cannot send.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import Request

from whispersync.errors import InputError

MAX_JSON_BODY = 1024 * 1024
# Used when the app did not set `app.state.body_timeout` (settings.http_body_timeout).
DEFAULT_BODY_TIMEOUT = 30.0


class BodyTooLarge(InputError):
    code = "body_too_large"
    http_status = 413


class BodyTimeout(InputError):
    code = "body_timeout"
    http_status = 408


class UnsupportedMediaType(InputError):
    code = "unsupported_media_type"
    http_status = 415


def media_type(request: Request) -> tuple[str, dict[str, str]]:
    """`text/plain; charset=UTF-16` → ("text/plain", {"charset": "utf-16"})."""
    kind, *params = request.headers.get("content-type", "").split(";")
    parsed = {}
    for param in params:
        name, _, value = param.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"').lower()
    return kind.strip().lower(), parsed


async def read_body(request: Request, *, max_bytes: int, what: str = "request body") -> bytes:
    """The whole body, never buffering more than `max_bytes` of it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"{what} is {int(declared)} bytes; the limit is {max_bytes} bytes")
    timeout = getattr(request.app.state, "body_timeout", DEFAULT_BODY_TIMEOUT)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise BodyTooLarge(f"{what} is over {max_bytes} bytes; the limit is {max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(f"the {what} did not arrive within {timeout:g} s") from None
    return b"".join(chunks)


async def read_json(request: Request, *, required: bool = True, max_bytes: int = MAX_JSON_BODY) -> Any:
    """The parsed body; an empty optional body is `{}`. Bad JSON, a body too large or
    sent as anything but application/json is an InputError."""
    body = await read_body(request, max_bytes=max_bytes)
    if not body.strip():
        if required:
            raise InputError("a JSON body is required")
        return {}
    kind, params = media_type(request)
    if kind != "application/json":
        raise UnsupportedMediaType(f"send the body as Content-Type: application/json (got {kind[:60] or 'none'!r})")
    if params.get("charset", "utf-8") not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("JSON bodies are UTF-8 (RFC 8259); drop the charset or make it utf-8")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc}") from None
