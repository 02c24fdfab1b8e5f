"""The OTLP/HTTP receiver `up` runs on its own port (4318, OTLP's default for HTTP).

``POST /v1/traces``, ``/v1/logs`` and ``/v1/metrics`` take OTLP export requests,
protobuf or JSON, gzip or not; the records go into the telemetry store
(``whispersync.monitoring.otlp``). Answers follow the OTLP/HTTP spec: 200 with an
``Export*ServiceResponse`` (``partial_success`` when items were rejected), 400 with a
``google.rpc.Status`` for a bad body, 413 for one too large, 415 for a type that is not
OTLP. When an API token is set, a request must carry it (``Authorization: Bearer …``,
which OTel SDKs send with ``OTEL_EXPORTER_OTLP_HEADERS``).
"""

from __future__ import annotations

import hmac

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from whispersync.monitoring.otlp import SIGNALS, OtlpReceiver
from whispersync.settings import Settings
from whispersync.web._json import BodyTimeout, BodyTooLarge, read_body
from whispersync.web.server import LimitedH11Protocol, ServerConfig


def create_otlp_app(receiver: OtlpReceiver, *, api_token: str | None = None, body_timeout: float = 30.0) -> Starlette:
    """A Starlette app serving ``receiver`` at ``/v1/{traces,logs,metrics}``."""

    async def export(request: Request) -> Response:
        signal = request.path_params["signal"]
        if signal not in SIGNALS:
            return _error(404, "not_found", f"no OTLP signal {signal!r}: POST to /v1/traces, /v1/logs or /v1/metrics")
        if api_token is not None and not _authorised(request, api_token):
            return _error(401, "unauthorized", "send the API token: Authorization: Bearer <WHISPERSYNC_API_TOKEN>")
        try:
            body = await read_body(request, max_bytes=receiver.max_bytes, what="the OTLP request body")
        except (BodyTooLarge, BodyTimeout) as exc:
            return _error(exc.http_status, exc.code, str(exc))
        except ClientDisconnect:
            return Response(status_code=400)
        answer = await run_in_threadpool(receiver.handle, signal, body, request.headers.get("content-type"),
                                         request.headers.get("content-encoding"))
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    app = Starlette(routes=[Route("/v1/{signal}", export, methods=["POST"])])
    app.state.body_timeout = body_timeout
    return app


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def build_otlp_server(receiver: OtlpReceiver, settings: Settings) -> uvicorn.Server:
    """The receiver's own uvicorn server on ``settings.host:settings.otlp_port``, with the API
    server's limits (header timeout, connection cap). It runs in a thread of `up`: signals
    stay with the API server, and `up` stops this one when that one stops."""
    token = settings.api_token.get_secret_value() if settings.api_token is not None else None
    app = create_otlp_app(receiver, api_token=token, body_timeout=settings.http_body_timeout)
    config = ServerConfig(
        app, host=settings.host, port=settings.otlp_port,
        http=LimitedH11Protocol, header_timeout=settings.http_header_timeout,
        max_connections=settings.http_max_connections,
        timeout_keep_alive=settings.http_keepalive_timeout,  # type: ignore[arg-type]
        log_config=None, log_level="warning", access_log=False,
    )
    return uvicorn.Server(config)
