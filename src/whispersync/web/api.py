"""The HTTP API: a thin shell over the runtime's functions.

Every answer that is not a success is a JSON body `{"error": {"code", "message"}}`,
404 and 405 included; the process keeps serving whatever a client sends. A client's
fault is a 4xx and never counts towards the plan's Api5xx alarm: only the server's
own failures do, each logged as one structured line (never a traceback on stderr).

Errors map to answers in one place, `whispersync_error`: an InputError is its own
`http_status` and `code` (a QuerySyntaxError adds `reason`, `position`, `line` and
`column`), NotFound is a 404. Routes raise; they do not build error bodies. Anything
else, a plain ValueError included, is a bug: a 500, logged and counted.
"""

from __future__ import annotations

import asyncio
import codecs
import dataclasses
import errno
import hashlib
import hmac
import sqlite3
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from whispersync import catalog
from whispersync.app import Runtime
from whispersync.domain import MemoStatus, Transcript
from whispersync.errors import (
    InputError,
    NotFound,
    QuerySyntaxError,
    StorageFull,
    TranscriptTooLarge,
    WhisperSyncError,
)
from whispersync.web import alarms, dlq, logs, maintenance, metrics, notifications, prometheus, traces
from whispersync.web import remediation
from whispersync.web import audit
from whispersync.web import slo as slo_routes
from whispersync.web import health
from whispersync.web._guard import SAFE_METHODS, RequestGuard
from whispersync.web._audit import RequestAudit, note
from whispersync.monitoring.audit import AuditTrail
from whispersync.web.aws import routes as aws_routes
from whispersync.web.console import COOKIE, Sessions, console_routes
from whispersync.web._params import page
from whispersync.web._json import (
    BodyTooLarge,
    UnsupportedMediaType,
    media_type,
    read_body,
)

# Charsets a text/plain transcript may declare; anything else is refused, not guessed.
_TEXT_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "utf-16", "utf-16le", "utf-16be",
                            "utf-32", "utf-32le", "utf-32be", "iso-8859-1", "latin-1", "latin1", "windows-1252"})
_IDEMPOTENCY_KEY_MAX = 255
_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _text_body(body: bytes, charset: str | None) -> bytes:
    """A text/plain body as UTF-8 bytes, honouring its declared charset."""
    if charset is None or charset in ("utf-8", "utf8"):
        return body
    if charset not in _TEXT_CHARSETS:
        raise UnsupportedMediaType(f"charset {charset[:40]!r} is not accepted; send UTF-8 (or UTF-16, Latin-1)")
    try:
        return codecs.decode(body, charset).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"transcript is not valid {charset} (byte {exc.start}: {exc.reason})") from None


def _memo_id_for(idempotency_key: str | None) -> str | None:
    """The same Idempotency-Key always names the same memo, so a retried POST is not a second memo."""
    if idempotency_key is None:
        return None
    key = idempotency_key.strip()
    if not key or len(key) > _IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise InputError(f"Idempotency-Key must be 1 to {_IDEMPOTENCY_KEY_MAX} printable ASCII characters")
    return hashlib.sha256(b"idempotency-key:" + key.encode()).hexdigest()[:32]


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in text or "no space left" in text


def create_app(runtime: Runtime) -> FastAPI:
    settings = runtime.settings
    token = settings.api_token.get_secret_value() if settings.api_token else None
    guard = RequestGuard(settings)
    sessions = Sessions()  # the console's logins; their secret lives in this process only
    app = FastAPI(title="WhisperSync", version="0.1.0")
    app.state.body_timeout = settings.http_body_timeout
    log = runtime.telemetry.logger("whispersync.api")

    # The plan's Api5xx alarm watches this count: one datapoint per 5xx response.
    def count_5xx() -> None:
        runtime.telemetry.metrics.record(catalog.API_5XX, 1)

    # WhisperSync/Security: each refusal once by its dimension, once in the total the plan's AuthFailureBurst watches.
    def count_refusal(metric: catalog.Metric, dimension: str, value: str) -> None:
        for dims in ({dimension: value}, {}):
            runtime.telemetry.metrics.record(metric, 1, dims)

    def route_of(request: Request, routes: list | None = None) -> str:
        """The route template the request matches (`/v1/memos/{memo_id}`): a bounded set, unlike raw paths."""
        for route in app.router.routes if routes is None else routes:
            if route.matches(request.scope)[0] == Match.NONE:
                continue
            if hasattr(route, "original_router"):  # FastAPI wraps an included router in one entry
                return route_of(request, route.original_router.routes)
            return getattr(route, "path", "other")
        return "other"

    # Our middleware is plain ASGI, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs
    # each request in a task group of its own and re-streams its body and answer through memory
    # streams, which cost a few ms a layer per request on a loaded machine (issue 15).
    def answer_every_error(inner: ASGIApp) -> ASGIApp:
        """Innermost of ours: a bug becomes a JSON 500 and one log line, here, so that
        Starlette's outer error middleware never re-raises it (which printed a traceback
        to stderr and dropped the keep-alive connection)."""

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await inner(scope, receive, send)
            started = False

            async def send_counted(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    if message["status"] >= 500:
                        count_5xx()
                await send(message)

            try:
                await inner(scope, receive, send_counted)
            except ClientDisconnect:
                if started:
                    return
                # The client went away mid-body: nobody reads this answer, and it is not our fault.
                await _error(400, "client_disconnected",
                             "the client closed the connection before the body arrived")(scope, receive, send)
            except Exception as exc:  # noqa: BLE001 - the one place every unexpected error ends up
                if started:  # part of the answer is out: nothing to replace it with
                    raise
                path = scope.get("path", "")
                if _is_disk_full(exc):
                    log.error("Storage full", error_type=type(exc).__name__, path=path)
                    response = _error(507, "storage_full", "the server's disk is full; nothing was stored")
                else:
                    log.exception("Unhandled API error", error_type=type(exc).__name__, path=path)
                    response = _error(500, "internal_error", "internal error; the server log has the details")
                await response(scope, receive, send_counted)

        return middleware

    def admit(inner: ASGIApp) -> ASGIApp:
        """Outermost of ours: refuse foreign hosts, cross-site writes and missing tokens
        before any work is done."""

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await inner(scope, receive, send)
            refusal = refuse(Request(scope))
            if refusal is not None:
                return await refusal(scope, receive, send)
            await inner(scope, receive, send)

        return middleware

    def refuse(request: Request) -> JSONResponse | None:
        host = request.headers.get("host")
        if not guard.host_allowed(host):
            count_refusal(catalog.REJECTED_INPUTS, "Reason", "misdirected_request")
            return _error(421, "misdirected_request",
                          "this server does not answer to that Host; add it to WHISPERSYNC_ALLOWED_HOSTS")
        if not guard.origin_allowed(request.method, request.headers.get("origin"), host):
            count_refusal(catalog.REJECTED_INPUTS, "Reason", "cross_origin_refused")
            return _error(403, "cross_origin_refused",
                          "cross-site requests are refused; add the origin to WHISPERSYNC_ALLOWED_ORIGINS")
        if token is not None and request.url.path.startswith("/v1/"):
            scheme, _, credential = request.headers.get("authorization", "").partition(" ")
            credential = credential.strip()
            if (scheme.lower() != "bearer" or not credential or not hmac.compare_digest(
                    credential.encode(), token.encode())) and not console_session(request):
                count_refusal(catalog.AUTH_FAILURES, "Route", route_of(request))
                return _error(401, "unauthorized", "missing or wrong bearer token")
        return None

    app.add_middleware(answer_every_error)
    app.add_middleware(admit)

    def console_session(request: Request) -> bool:
        """A console page's own requests to /v1 (charts, htmx): a logged-in session cookie, and for
        a request that changes state also its CSRF token in X-CSRF-Token, as the forms carry it."""
        sid = sessions.session_id(request.cookies.get(COOKIE), kinds=("auth",))
        if sid is None:
            return False
        return request.method in SAFE_METHODS or sessions.csrf_ok(sid, request.headers.get("x-csrf-token"))

    # Added after admit, so outside it: the audit trail records refused writes too (monitoring.audit).
    app.state.audit_trail = AuditTrail(settings.monitoring_db, log=log)
    app.add_middleware(
        RequestAudit, trail=app.state.audit_trail, token=token, route_of=route_of, log=log,
        logged_in=lambda request: sessions.session_id(request.cookies.get(COOKIE), kinds=("auth",)) is not None)

    if settings.allowed_origins:  # CORS stays closed unless configured
        app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Correlation-ID", "Idempotency-Key",
                                          "traceparent"],
                           expose_headers=["X-Correlation-ID", "traceparent"])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        # FastAPI's default body is {"detail": [...]}; keep the one error shape.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())) or 'request'}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        count_refusal(catalog.REJECTED_INPUTS, "Reason", "invalid_input")
        return _error(422, "invalid_input", problems[:500] or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = {404: f"no route {request.method} {request.url.path[:200]}",
                   405: f"{request.method} is not allowed on {request.url.path[:200]}"}.get(exc.status_code,
                                                                                          str(exc.detail))
        return _error(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(WhisperSyncError)
    async def whispersync_error(request: Request, exc: WhisperSyncError):
        """The one place the error tree becomes HTTP answers. Only WhisperSyncErrors get
        here: a plain ValueError (or any other) is a bug, a 500 from answer_every_error."""
        if isinstance(exc, QuerySyntaxError):
            if getattr(exc, "detail", None):  # the query engine's own words: for the operator, never the client
                log.warning("Query could not be run", error_type=type(exc).__name__, error=exc.detail)
            count_refusal(catalog.REJECTED_INPUTS, "Reason", exc.code)
            body = {"code": exc.code, "message": str(exc), "reason": exc.reason, "position": exc.position,
                    "line": exc.line, "column": exc.column}
            return JSONResponse({"error": body}, status_code=exc.http_status)
        if isinstance(exc, InputError):
            count_refusal(catalog.REJECTED_INPUTS, "Reason", exc.code)
            return _error(exc.http_status, exc.code, str(exc))
        if isinstance(exc, NotFound):
            return _error(404, "not_found", str(exc))
        raise exc  # a server-side failure: logged and answered by answer_every_error

    @app.get("/healthz")
    async def healthz() -> dict:
        # Routed before the areas: a probe polled every few seconds is matched first, not after ~30 routes.
        # async: answered on the event loop, so it stays fast when every worker thread is busy.
        return {"status": "ok", "queue": dataclasses.asdict(runtime.queue.counts()),
                "dlq": dataclasses.asdict(runtime.dlq.counts())}

    for area in (logs, metrics, traces, alarms, notifications, maintenance, remediation, dlq, prometheus,
                 aws_routes, slo_routes, audit):
        app.include_router(area.build_router(runtime))
    app.include_router(health.build_router(runtime))  # GET /readyz

    async def blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking work (SQLite, DuckDB, files) off the event loop, within the
        request's time budget. Queries stop themselves at the budget (a 422); this
        bound catches whatever else hangs."""
        try:
            return await asyncio.wait_for(run_in_threadpool(fn, *args, **kwargs),
                                          timeout=settings.request_timeout + 5)
        except TimeoutError:
            log.error("Request over its time budget", budget_s=settings.request_timeout)
            return _error(503, "busy", f"the request took over {settings.request_timeout:g} s; try again")

    @app.post("/v1/transcripts", status_code=202)
    async def post_transcript(request: Request):
        agent_param = request.query_params.get("agent") or None
        content_type, params = media_type(request)
        memo_id = _memo_id_for(request.headers.get("idempotency-key"))
        try:
            body = await read_body(request, max_bytes=settings.max_transcript_bytes + 64 * 1024, what="transcript")
        except BodyTooLarge as exc:
            raise TranscriptTooLarge(f"{exc}; transcripts may be {settings.max_transcript_bytes} bytes") from None
        if content_type == "application/json":
            if params.get("charset", "utf-8") not in ("utf-8", "utf8"):
                raise UnsupportedMediaType("JSON bodies are UTF-8 (RFC 8259); drop the charset or make it utf-8")
            transcript = Transcript.from_json(body, agent_param)
        elif content_type in ("text/plain", ""):
            text = runtime.ingestor.decode(_text_body(body, params.get("charset")))
            transcript = Transcript(text=text, agent=agent_param, title=request.query_params.get("title"),
                                    source="api")
        else:
            raise UnsupportedMediaType(f"content type {content_type[:60]!r} is not accepted; "
                                       "send application/json or text/plain")
        # An incoming W3C traceparent is continued (a malformed one starts a new trace);
        # the answer's traceparent names the ingest span, for the client's next span.
        receipt = await blocking(runtime.ingestor.accept, transcript,
                                 correlation_id=request.headers.get("x-correlation-id"), memo_id=memo_id,
                                 traceparent=request.headers.get("traceparent"))
        if isinstance(receipt, JSONResponse):
            return receipt
        note(request, parameters={"memo_id": receipt.id, "agent": transcript.agent})
        return JSONResponse(receipt.to_dict(), status_code=202,
                            headers={"X-Correlation-ID": receipt.correlation_id, "traceparent": receipt.traceparent})

    @app.get("/v1/memos")
    def list_memos(status: str | None = None, limit: int = 100, next_token: str | None = None):
        if status is not None and status not in {s.value for s in MemoStatus}:
            raise InputError(f"unknown status {status[:40]!r}; one of: {', '.join(s.value for s in MemoStatus)}")
        wanted = MemoStatus(status) if status else None
        memos, token = page(lambda n: runtime.records.list(status=wanted, limit=n), limit, next_token)
        return {"memos": [m.to_dict() for m in memos], "next_token": token}

    @app.get("/v1/memos/{memo_id}")
    def get_memo(memo_id: str):
        return runtime.records.get(memo_id).to_dict()

    # After every API route, so /v1 and /healthz always win.
    app.router.routes.extend(console_routes(runtime, sessions, token))
    return app
