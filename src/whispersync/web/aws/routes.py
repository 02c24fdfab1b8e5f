"""CloudWatch's and CloudWatch Logs' own APIs on the API port, for boto3, the AWS CLI and SDKs
(``endpoint_url``):

* ``POST /service/GraniteServiceVersion20100801/operation/{Operation}``: CloudWatch over Smithy
  RPC v2 CBOR;
* ``POST /`` carrying ``X-Amz-Target: GraniteServiceVersion20100801.{Operation}`` (CloudWatch over
  AWS JSON 1.0) or a form body (CloudWatch's query protocol, ``Action=…``);
* ``POST /`` carrying ``X-Amz-Target: Logs_20140328.{Operation}``: CloudWatch Logs over AWS JSON
  1.1, answered by ``logs_ops.handle_logs``.

Any other request does not match here at all (``GET /`` stays the console, a JSON ``POST /`` the
usual 405). With an API token, a call must be SigV4-signed (see ``_sigv4``); without one (the
server then listens on loopback only) any credentials, or none, are accepted, as local emulators
do. Every answer, errors included, is in the protocol the request came in.
"""

from __future__ import annotations

import re

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.web._audit import note
from whispersync.web._json import BodyTooLarge, read_body
from whispersync.web.aws import _alarm_ops, _anomaly_ops, _dashboard_ops, _metrics_ops, _protocol, _sigv4
from whispersync.web.aws._protocol import AwsError
from whispersync.web.aws.logs_ops import handle_logs

CLOUDWATCH = "cloudwatch"
CLOUDWATCH_TARGET = "GraniteServiceVersion20100801"
LOGS_TARGET = "Logs_20140328"  # CloudWatch Logs, AWS JSON 1.1: its operations are logs_ops'
# PutMetricData's limit is 1 MB per request, gzip allowed; a decompressed body gets room to
# grow (query-protocol text is verbose) but not without bound.
MAX_BODY = 1024 * 1024
MAX_DECOMPRESSED = 16 * 1024 * 1024
# PutLogEvents' limit is 1,048,576 bytes of *events* (each message + 26 bytes), which logs_ops checks
# with CloudWatch's own error; the JSON that carries them is larger (quotes, escapes, field names).
MAX_LOGS_BODY = 8 * 1024 * 1024
OPERATIONS = {**_metrics_ops.OPERATIONS, **_alarm_ops.OPERATIONS, **_anomaly_ops.OPERATIONS,
              **_dashboard_ops.OPERATIONS}


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def is_served_root_call(scope: Scope) -> bool:
    """A ``POST /`` for CloudWatch or CloudWatch Logs: their X-Amz-Target, or a form body (CloudWatch's
    query protocol has no target)."""
    target = _header(scope, b"x-amz-target")
    if target:
        return target.partition(".")[0] in (CLOUDWATCH_TARGET, LOGS_TARGET)
    return _header(scope, b"content-type").split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


_OPERATION_PATH = re.compile(r"^/service/[^/]+/operation/[^/]+$")


def is_aws_call(scope: Scope) -> bool:
    if scope.get("type") != "http" or scope.get("method") != "POST":
        return False
    path = scope.get("path", "")
    return bool(_OPERATION_PATH.match(path)) or (path == "/" and is_served_root_call(scope))


class AwsCalls(Mount):
    """The AWS calls, whatever their path: a mount that matches only what ``is_aws_call`` accepts, so any
    other request goes on to the next route as if this one were not there (``GET /`` to the console,
    another service's ``X-Amz-Target`` to its own route, a JSON ``POST /`` to the usual 405).

    A mount, not an APIRoute: these routes answer in AWS's shapes, not the API's ``{"error"}`` one, and
    FastAPI keeps a mount's own ``matches`` when its router is included (it rebuilds plain routes)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__("/aws", app=app)  # the path only names the mount: ``matches`` decides alone

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not is_aws_call(scope):
            return Match.NONE, {}
        return Match.FULL, {"endpoint": self.app, "path_params": {}}


def build_router(runtime: Runtime) -> APIRouter:
    settings = runtime.settings
    token = settings.api_token.get_secret_value() if settings.api_token else None
    model = _protocol.service_model(CLOUDWATCH)
    json_version = model.metadata.get("jsonVersion", "1.0")

    async def received(request: Request, max_bytes: int = MAX_BODY) -> bytes:
        """The body, checked against the signature when there is a token, and inflated."""
        try:
            raw = await read_body(request, max_bytes=max_bytes, what="request body")
        except BodyTooLarge as exc:
            limit = ("PutMetricData's limit is 1 MB" if max_bytes == MAX_BODY
                     else "PutLogEvents' limit is 1 MB of events")
            raise AwsError("RequestEntityTooLarge", f"{exc} ({limit})", status=413) from None
        if token is not None:
            _sigv4.verify(request.method, request.url.path, request.url.query, list(request.headers.items()), raw,
                          token, host=request.headers.get("host", ""))
            note(request, authenticated=True)  # signed with the token: the audit names it by its id
        return _protocol.decompress(raw, request.headers.get("content-encoding"), MAX_DECOMPRESSED)

    async def answer_logs(request: Request, operation: str) -> Response:
        try:
            body = await received(request, MAX_LOGS_BODY)
            try:
                params = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError:
                raise AwsError("SerializationException", "the request body is not valid JSON") from None
            note(request, parameters=params if isinstance(params, dict) else None)
            output = await run_in_threadpool(handle_logs, runtime, operation, params)
        except AwsError as err:
            note(request, error=f"{err.code}: {err.message}")
            return _protocol.json_error_response(err, "1.1")
        except InputError as exc:
            note(request, error=f"InvalidParameterException: {exc}")
            return _protocol.json_error_response(AwsError("InvalidParameterException", str(exc)), "1.1")
        return Response(orjson.dumps(output), media_type="application/x-amz-json-1.1")

    async def answer(request: Request) -> Response:
        path = request.url.path
        target = request.headers.get("x-amz-target", "")
        # The action as far as the headers name it (the query protocol names it in the body: after decode).
        note(request, source="aws-api", action=target.partition(".")[2] or path.rpartition("/operation/")[2] or None)
        if path == "/" and target.startswith(LOGS_TARGET + "."):
            return await answer_logs(request, target.removeprefix(LOGS_TARGET + "."))
        protocol = _protocol.detect(path, request.headers, form_action=path == "/" and not target) or _protocol.QUERY
        try:
            body = await received(request)
            call = _protocol.decode(protocol, model, path, request.headers, body)
            note(request, action=call.operation.name, parameters=call.params)
            operation = OPERATIONS.get(call.operation.name)
            if operation is None:
                raise AwsError("InvalidAction" if protocol == _protocol.QUERY else "UnknownOperationException",
                               f"{call.operation.name} is not supported by WhisperSync; supported: "
                               f"{', '.join(sorted(OPERATIONS))}")
            output = await run_in_threadpool(operation, runtime, call.params)
            return _protocol.encode(call, output)
        except AwsError as err:
            note(request, error=f"{err.code}: {err.message}")
            return _protocol.error_response(err, protocol, model, json_version)
        except InputError as exc:  # the engine's word on a request it cannot answer (a query timeout...)
            note(request, error=f"InvalidParameterValue: {exc}")
            return _protocol.error_response(_protocol.invalid(str(exc)), protocol, model, json_version)

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        response = await answer(Request(scope, receive))
        await response(scope, receive, send)

    router = APIRouter()
    router.routes.append(AwsCalls(asgi))
    return router
