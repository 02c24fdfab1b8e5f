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
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

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
    """The middleware (``app.middleware("http")(RequestAudit(...))``), outermost of ours so that it
    sees the guard's refusals too. ``route_of(request)`` names the matched route's template."""

    def __init__(self, trail: AuditTrail, *, token: str | None, logged_in: Callable[[Request], bool],
                 route_of: Callable[[Request], str], log: Any = None) -> None:
        self.trail = trail
        self._log = log
        self._token = token
        self._token_id = None if token is None else token_id(token)
        self._logged_in = logged_in
        self._route_of = route_of

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method not in STATE_CHANGING:
            return await call_next(request)
        noted: dict[str, Any] = {}
        # In the request's state dict, which the routes' Request objects share (the scope is passed on).
        request.scope.setdefault("state", {})[_NOTE] = noted
        identity = self._identity(request)  # before the call: /logout ends the session it was made in
        response = await call_next(request)
        try:
            if "authenticated" in noted and self._token is not None:  # SigV4, or the login form: the route checked
                identity = self._token_id if noted["authenticated"] else UNAUTHENTICATED
            response = await self._record(request, response, noted, identity)
        except Exception as exc:  # noqa: BLE001 - the audit never changes the answer (AuditTrail.record never raises)
            self.trail.failures += 1
            if self._log is not None:
                self._log.warning("Audit record not written", path=request.url.path, error_type=type(exc).__name__)
        return response

    async def _record(self, request: Request, response: Response, noted: dict[str, Any], identity: str) -> Response:
        path = request.url.path
        source = noted.get("source") or ("api" if path.startswith("/v1/") else "console")
        route = self._route_of(request)
        if source == "aws-api":
            action = noted.get("action")
            if not action or not _is_aws_management(action):
                return response  # a read, ingestion, or a call too broken to name
        else:
            if route in ("other", "/aws") or route in READ_ONLY_POSTS or response.status_code == 405:
                return response  # no route took it (an unknown path, a wrong method), or a query
            action = noted.get("action") or f"{request.method} {route}"
        status = response.status_code
        error = noted.get("error")
        if status >= 400 and error is None:
            response, error = await self._error_body(response)
        path_params = request.path_params
        if not path_params and "{" in route:  # the guard refused it before routing filled them in
            path_params = _path_params(request.scope, request.scope["app"].router.routes)
        parameters = {**path_params, **dict(request.query_params), **noted.get("parameters", {})}
        await run_in_threadpool(
            self.trail.record, source=source, action=action, identity=identity,
            parameters=parameters, source_address=request.client.host if request.client else None, status=status,
            ok=status < 400, error=error if status >= 400 else None,
            correlation_id=response.headers.get("x-correlation-id") or request.headers.get("x-correlation-id"))
        return response

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

    @staticmethod
    async def _error_body(response: Response) -> tuple[Response, str | None]:
        """The error code and message of a small JSON error answer; the body is replayed to the client."""
        length = response.headers.get("content-length")
        kind = response.headers.get("content-type", "")
        if not length or not length.isdigit() or int(length) > _MAX_ERROR_BODY or "json" not in kind:
            return response, None
        body_iterator = getattr(response, "body_iterator", None)
        if body_iterator is None:
            return response, _error_of(bytes(response.body))
        body = b"".join([chunk if isinstance(chunk, bytes) else chunk.encode() async for chunk in body_iterator])

        async def replay():
            yield body

        response.body_iterator = replay()
        return response, _error_of(body)
