"""The HTTP side of the audit trail (``monitoring.audit``): one middleware records every state-changing
request that reached a route, refused ones included, after it was answered.

What is recorded:

* ``/v1`` writes (POST, PUT, PATCH, DELETE) as ``METHOD /route/{template}``, source ``api``, except the
  POSTs that only read (queries);
* the console's forms (``/login`` as ``ConsoleLogin``, CloudTrail's name for it; ``/logout``, redrive,
  set-state), source ``console``;
* the CloudWatch and CloudWatch Logs wire APIs' management calls by their AWS action name (PutMetricAlarm,
  DeleteAlarms, SetAlarmState, PutDashboard, PutMetricFilter...), source ``aws-api``. Telemetry ingestion
  (PutMetricData, PutLogEvents) is not: it is data-plane traffic, which CloudTrail calls data events and
  does not log unless asked (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-events.html),
  and a record per metric batch would drown the changes people look for. The OTLP receiver, on its own
  port, is ingestion too.

A route adds what only it knows (the AWS action and its parameters, whether SigV4 verified, an error)
with ``note(request, ...)``. Bodies are never stored: parameters are the path and query parameters plus
what a route notes, summarized and redacted by ``monitoring.audit.summarize``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from whispersync.monitoring.audit import ANONYMOUS, UNAUTHENTICATED, AuditTrail, token_id
from whispersync.web._guard import STATE_CHANGING

__all__ = ["DATA_EVENTS", "READ_ONLY_POSTS", "RequestAudit", "note"]

_NOTE = "whispersync_audit"
# POST routes that only read: a query sent as a body is no change.
READ_ONLY_POSTS = frozenset({"/v1/metrics/query", "/v1/logs/query"})
# AWS actions that are telemetry ingestion (see the module docstring); every other write verb is recorded.
DATA_EVENTS = frozenset({"PutMetricData", "PutLogEvents"})
_AWS_WRITE_VERBS = ("Put", "Delete", "Set", "Enable", "Disable", "Create", "Tag", "Untag")
_MAX_ERROR_BODY = 8192


def note(request: Request, **fields: Any) -> None:
    """Tell the audit about this request: ``action``, ``source``, ``parameters`` (a dict, merged),
    ``authenticated`` (bool) or ``error`` (text). Without the middleware in front, nothing happens."""
    noted = request.scope.get("state", {}).get(_NOTE)
    if noted is None:
        return
    parameters = fields.pop("parameters", None)
    if isinstance(parameters, Mapping):
        noted.setdefault("parameters", {}).update(parameters)
    noted.update(fields)


def _path_params(scope: dict[str, Any], routes: list) -> dict[str, Any]:
    """The path parameters of a request the guard refused before routing (the alarm it tried to change)."""
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        if hasattr(route, "original_router"):  # FastAPI wraps an included router in one entry
            return _path_params(scope, route.original_router.routes)
        return dict(child.get("path_params", {}))
    return {}


def _is_aws_management(action: str) -> bool:
    return action.startswith(_AWS_WRITE_VERBS) and action not in DATA_EVENTS


def _small_json(start: Message) -> bool:
    """An answer whose body the audit may read for its error: JSON, of a declared length up to 8 KB."""
    headers = Headers(raw=start.get("headers", []))
    length = headers.get("content-length")
    return bool(length) and length.isdigit() and int(length) <= _MAX_ERROR_BODY \
        and "json" in headers.get("content-type", "")


def _error_of(body: bytes) -> str | None:
    """`{"error": {"code", "message"}}` (ours) or `{"__type", "message"}` (AWS JSON) as "code: message"."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    inner = data.get("error") if isinstance(data.get("error"), dict) else data
    code = inner.get("code") or inner.get("__type")
    message = inner.get("message") or inner.get("Message")
    return ": ".join(str(part) for part in (code, message) if part) or None


class RequestAudit:
    """The middleware (``app.add_middleware(RequestAudit, trail=..., ...)``), outermost of ours so that it
    sees the guard's refusals too. ``route_of(request)`` names the matched route's template.

    Plain ASGI: a request that changes nothing (a read, a query) passes straight through. A write is
    recorded when its answer starts, before the client has it, as ``call_next`` did: a client that
    got its answer finds the record. A small JSON error answer is held until it is whole, to record
    its code and message, then sent on unchanged."""

    def __init__(self, app: ASGIApp, trail: AuditTrail, *, token: str | None, logged_in: Callable[[Request], bool],
                 route_of: Callable[[Request], str], log: Any = None) -> None:
        self.app = app
        self.trail = trail
        self._log = log
        self._token = token
        self._token_id = None if token is None else token_id(token)
        self._logged_in = logged_in
        self._route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING or scope["path"] in READ_ONLY_POSTS:
            return await self.app(scope, receive, send)
        noted: dict[str, Any] = {}
        # In the request's state dict, which the routes' Request objects share (the scope is passed on).
        scope.setdefault("state", {})[_NOTE] = noted
        request = Request(scope)
        identity = self._identity(request)  # before the call: /logout ends the session it was made in
        held: Message | None = None  # an error answer's start, while its body is read
        chunks: list[bytes] = []

        async def send_recorded(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                wanted = self._wanted(request, message["status"], noted)
                if wanted is not None and message["status"] >= 400 and noted.get("error") is None \
                        and _small_json(message):
                    held = message
                    return
                if wanted is not None:
                    await self._record(request, message, noted, identity, wanted, None)
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start, body, held = held, b"".join(chunks), None
                await self._record(request, start, noted, identity, self._wanted(request, start["status"], noted),
                                   _error_of(body))
                await send(start)
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, send_recorded)

    def _wanted(self, request: Request, status: int, noted: dict[str, Any]) -> tuple[str, str, str] | None:
        """(source, action, route) of a request the trail records; None for one it does not."""
        try:
            return self._what(request, status, noted)
        except Exception as exc:  # noqa: BLE001 - the audit never changes the answer
            self._failed(request, exc)
            return None

    def _what(self, request: Request, status: int, noted: dict[str, Any]) -> tuple[str, str, str] | None:
        path = request.url.path
        source = noted.get("source") or ("api" if path.startswith("/v1/") else "console")
        route = self._route_of(request)
        if source == "aws-api":
            action = noted.get("action")
            if not action or not _is_aws_management(action):
                return None  # a read, ingestion, or a call too broken to name
        else:
            if route in ("other", "/aws") or route in READ_ONLY_POSTS or status == 405:
                return None  # no route took it (an unknown path, a wrong method), or a query
            action = noted.get("action") or f"{request.method} {route}"
        return source, action, route

    async def _record(self, request: Request, start: Message, noted: dict[str, Any], identity: str,
                      wanted: tuple[str, str, str] | None, body_error: str | None) -> None:
        try:
            if wanted is None:
                return
            source, action, route = wanted
            if "authenticated" in noted and self._token is not None:  # SigV4, or the login form: the route checked
                identity = self._token_id if noted["authenticated"] else UNAUTHENTICATED
            status = start["status"]
            error = noted.get("error") or body_error
            headers = Headers(raw=start.get("headers", []))
            path_params = request.path_params
            if not path_params and "{" in route:  # the guard refused it before routing filled them in
                path_params = _path_params(request.scope, request.scope["app"].router.routes)
            parameters = {**path_params, **dict(request.query_params), **noted.get("parameters", {})}
            await run_in_threadpool(
                self.trail.record, source=source, action=action, identity=identity,
                parameters=parameters, source_address=request.client.host if request.client else None,
                status=status, ok=status < 400, error=error if status >= 400 else None,
                correlation_id=headers.get("x-correlation-id") or request.headers.get("x-correlation-id"))
        except Exception as exc:  # noqa: BLE001 - the audit never changes the answer (AuditTrail.record never raises)
            self._failed(request, exc)

    def _failed(self, request: Request, exc: Exception) -> None:
        self.trail.failures += 1
        if self._log is not None:
            self._log.warning("Audit record not written", path=request.url.path, error_type=type(exc).__name__)

    def _identity(self, request: Request) -> str:
        if self._token is None:
            return ANONYMOUS
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential and hmac.compare_digest(credential.encode(),
                                                                               self._token.encode()):
            return self._token_id
        # A console session was opened by logging in with the token: it acts as that token.
        return self._token_id if self._logged_in(request) else UNAUTHENTICATED
