"""The HTTP API: a thin shell over the runtime's functions.

Every error is a JSON body `{"error": {"code", "message"}}` with a 4xx/5xx status;
the process keeps serving whatever a client sends.
"""

from __future__ import annotations

import dataclasses
import hmac

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from whispersync.app import Runtime
from whispersync.domain import MemoStatus, Transcript
from whispersync.errors import InputError, NotFound, WhisperSyncError
from whispersync.monitoring.plan import API_5XX_METRIC
from whispersync.pipeline.ingest import decode_transcript
from whispersync.web import alarms, logs, metrics, notifications, traces

_JSON_FIELDS = {"text", "agent", "title", "recorded_at"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes:
    """Read the body, refusing more than `limit` bytes without buffering all of it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _parse_json_transcript(body: bytes, agent_param: str | None) -> Transcript:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("JSON body must be an object with a 'text' field")
    unknown = set(data) - _JSON_FIELDS
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_JSON_FIELDS))}")
    for name in _JSON_FIELDS:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise InputError(f"field '{name}' must be a string")
    if "text" not in data or data["text"] is None:
        raise InputError("field 'text' is required")
    agent = data.get("agent") or agent_param
    return Transcript(text=data["text"], agent=agent, title=data.get("title"),
                      recorded_at=data.get("recorded_at"), source="api")


def create_app(runtime: Runtime) -> FastAPI:
    settings = runtime.settings
    token = settings.api_token.get_secret_value() if settings.api_token else None
    app = FastAPI(title="WhisperSync", version="0.1.0")
    log = runtime.telemetry.logger("whispersync.api")

    # The plan's Api5xx alarm watches this count: one datapoint per 5xx response.
    def count_5xx() -> None:
        namespace, name, dimensions = API_5XX_METRIC
        runtime.telemetry.metrics.put(namespace, name, 1, unit="Count", dimensions=dimensions)

    @app.middleware("http")
    async def count_server_errors(request: Request, call_next):
        try:
            response = await call_next(request)
        except Exception:
            count_5xx()  # unhandled: Starlette answers 500
            raise
        if response.status_code >= 500:
            count_5xx()
        return response

    @app.middleware("http")
    async def authenticate(request: Request, call_next):
        if token is not None and request.url.path.startswith("/v1/"):
            given = request.headers.get("authorization", "")
            scheme, _, credential = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(credential.encode(), token.encode()):
                return _error(401, "unauthorized", "missing or wrong bearer token")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        # FastAPI's default body is {"detail": [...]}; keep the one error shape.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())) or 'request'}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        return _error(422, "invalid_input", problems or "invalid request")

    @app.exception_handler(WhisperSyncError)
    async def whispersync_error(request: Request, exc: WhisperSyncError):
        if isinstance(exc, InputError):
            return _error(exc.http_status, exc.code, str(exc))
        if isinstance(exc, NotFound):
            return _error(404, "not_found", str(exc))
        return _error(500, "internal_error", f"{type(exc).__name__}")

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception):
        # The one error shape for bugs too; the exception text stays in the (redacted)
        # log, since it may carry details a client should not see.
        log.exception("Unhandled API error", error_type=type(exc).__name__, path=request.url.path)
        return _error(500, "internal_error", "internal error; the server log has the details")

    for area in (logs, metrics, traces, alarms, notifications):
        app.include_router(area.build_router(runtime))

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "queue": dataclasses.asdict(runtime.queue.counts()),
                "dlq": dataclasses.asdict(runtime.dlq.counts())}

    @app.post("/v1/transcripts", status_code=202)
    async def post_transcript(request: Request):
        agent_param = request.query_params.get("agent") or None
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            body = await _read_limited(request, settings.max_transcript_bytes + 64 * 1024)
        except _TooLarge as exc:
            return _error(413, "transcript_too_large",
                          f"request body is over {exc.size} bytes; the limit is {settings.max_transcript_bytes} bytes")
        if content_type == "application/json":
            transcript = _parse_json_transcript(body, agent_param)
        elif content_type in ("text/plain", ""):
            text = decode_transcript(body, max_bytes=settings.max_transcript_bytes)
            transcript = Transcript(text=text, agent=agent_param, title=request.query_params.get("title"),
                                    source="api")
        else:
            return _error(415, "unsupported_media_type",
                          f"content type {content_type!r} is not accepted; send application/json or text/plain")
        # Ingest does blocking I/O (SQLite, files); run it off the event loop.
        receipt = await run_in_threadpool(
            runtime.ingestor.accept, transcript, correlation_id=request.headers.get("x-correlation-id")
        )
        return JSONResponse(receipt.to_dict(), status_code=202,
                            headers={"X-Correlation-ID": receipt.correlation_id})

    @app.get("/v1/memos")
    def list_memos(status: str | None = None, limit: int = 100):
        if status is not None and status not in {s.value for s in MemoStatus}:
            raise InputError(f"unknown status {status!r}; one of: {', '.join(s.value for s in MemoStatus)}")
        limit = max(1, min(limit, 1000))
        memos = runtime.records.list(status=MemoStatus(status) if status else None, limit=limit)
        return {"memos": [m.to_dict() for m in memos]}

    @app.get("/v1/memos/{memo_id}")
    def get_memo(memo_id: str):
        return runtime.records.get(memo_id).to_dict()

    return app
