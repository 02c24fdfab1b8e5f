"""`POST /v1/logs/query`: Logs Insights over the local telemetry store.

Body ``{"query": "...", "start"?, "end"?, "saved"?}``, times as ISO 8601 or epoch
milliseconds (default: the last hour); answers ``{"columns", "rows",
"statistics"}`` like ``whispersync logs query --json``. A query that does not
parse is a 400 ``{"error": {"code": "bad_query", "message", "reason", "position",
"line", "column"}}`` (from the app's error handler).

StartQuery's field names are accepted too: ``queryString`` (for ``query``),
``startTime``/``endTime`` in epoch SECONDS, both inclusive (the whole end second
is read), ``limit`` (1..10000 rows), and one of ``logGroupName``,
``logGroupNames`` or ``logGroupIdentifiers`` (names, or log group ARNs ending
``:log-group:NAME``; up to 50). They scope the query to those log groups
(``@log``), as ``SOURCE 'group'`` in the query does; a query with SOURCE may not
come with them too (StartQuery takes one or the other). Without either, every
log group is read.

``?format=cloudwatch`` answers in GetQueryResults' shape, ``{"status":
"Complete", "results": [[{"field", "value"}]], "statistics"}``: each row a list
of its non-null fields with the value as a string (no ``@ptr``: there is no
GetLogRecord to hand it to).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from whispersync.app import Runtime
from whispersync.errors import InputError
from whispersync.monitoring.logs.insights import run_query, saved_query
from whispersync.web._json import read_json
from whispersync.web._params import client_time

_MAX_BODY = 256 * 1024
_OURS = {"query", "start", "end", "saved"}
# StartQuery's request fields (CloudWatch Logs API reference) → ours where they mean the same.
_START_QUERY = {"queryString": "query", "startTime": "start", "endTime": "end"}
_LOG_GROUP_FIELDS = ("logGroupName", "logGroupNames", "logGroupIdentifiers")
_MAX_LIMIT = 10_000  # StartQuery's documented maximum
_FORMATS = ("cloudwatch",)


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/logs/query")
    async def query_logs(request: Request, format: str | None = None):
        if format is not None and format not in _FORMATS:
            raise InputError(f"unknown format {format[:40]!r}; leave it out, or format=cloudwatch for "
                             "GetQueryResults' shape")
        payload = await read_json(request, max_bytes=_MAX_BODY)
        if not isinstance(payload, dict):
            raise InputError("body must be a JSON object with a 'query' or 'saved' field")
        unknown = set(payload) - _OURS - set(_START_QUERY) - {"limit", *_LOG_GROUP_FIELDS}
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(sorted(unknown))[:300]}")
        text, start_ms, end_ms, limit = _request(payload)
        log_groups = _log_groups(payload)
        # A query that does not parse raises InsightsQueryError: a 400 from the app's handler.
        result = await run_in_threadpool(run_query, runtime.store, text, start_ms=start_ms, end_ms=end_ms,
                                         timeout=runtime.settings.request_timeout, log_groups=log_groups)
        if limit is not None:
            result["rows"] = result["rows"][:limit]
        return _get_query_results(result) if format == "cloudwatch" else result

    return router


def _request(payload: dict[str, Any]) -> tuple[str, int | None, int | None, int | None]:
    """(query text, start ms, end ms, row limit) from our field names or StartQuery's."""
    for theirs, ours in _START_QUERY.items():
        if theirs in payload and ours in payload:
            raise InputError(f"give either '{ours}' or '{theirs}', not both")
    _check_log_groups(payload)
    text = payload.get("query", payload.get("queryString"))
    if payload.get("saved") is not None:
        if text is not None:
            raise InputError("give either 'query' or 'saved', not both")
        try:
            text = saved_query(str(payload["saved"]))
        except KeyError as exc:
            raise InputError(exc.args[0]) from None
    if not isinstance(text, str) or not text.strip():
        raise InputError("field 'query' (a Logs Insights query string) is required")
    start_ms = client_time(payload.get("start"), "start")
    end_ms = client_time(payload.get("end"), "end")
    if "startTime" in payload:
        start_ms = _epoch_seconds(payload["startTime"], "startTime") * 1000
    if "endTime" in payload:
        end_ms = _epoch_seconds(payload["endTime"], "endTime") * 1000 + 999  # the end second is included
    limit = payload.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= _MAX_LIMIT):
        raise InputError(f"limit must be a whole number from 1 to {_MAX_LIMIT}")
    return text, start_ms, end_ms, limit


def _epoch_seconds(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 253402300799:
        raise InputError(f"{name} must be epoch seconds (a whole number, as StartQuery takes it)")
    return value


def _check_log_groups(payload: dict[str, Any]) -> None:
    given = [name for name in _LOG_GROUP_FIELDS if name in payload]
    if len(given) > 1:
        raise InputError(f"give exactly one of {', '.join(_LOG_GROUP_FIELDS)}, as StartQuery requires")
    if "logGroupName" in payload and not isinstance(payload["logGroupName"], str):
        raise InputError("logGroupName must be a string")
    for name in ("logGroupNames", "logGroupIdentifiers"):
        value = payload.get(name)
        if name in payload and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise InputError(f"{name} must be a list of strings")
        if name in payload and not value:
            raise InputError(f"{name} must name at least one log group")  # at most 50: run_query checks


def _log_groups(payload: dict[str, Any]) -> list[str] | None:
    """The log group names the request scopes the query to; None for every group."""
    if "logGroupName" in payload:
        names = [payload["logGroupName"]]
    elif "logGroupNames" in payload:
        names = payload["logGroupNames"]
    elif "logGroupIdentifiers" in payload:
        names = [_name_of(identifier) for identifier in payload["logGroupIdentifiers"]]
    else:
        return None
    if not all(names):
        raise InputError("a log group name may not be empty")
    return names


def _name_of(identifier: str) -> str:
    """A logGroupIdentifiers entry: a name, or an ARN ``arn:aws:logs:REGION:ACCOUNT:log-group:NAME``."""
    if not identifier.startswith("arn:"):
        return identifier
    _, marker, name = identifier.partition(":log-group:")
    if not marker or not name or name.endswith("*"):
        # StartQuery: "If you specify an ARN, the ARN can't end with an asterisk (*)."
        raise InputError(f"logGroupIdentifiers: {identifier[:200]!r} is not a log group ARN"
                         " (arn:aws:logs:REGION:ACCOUNT:log-group:NAME, without a trailing *)")
    return name


def _get_query_results(result: dict[str, Any]) -> dict[str, Any]:
    columns = result["columns"]
    rows = [[{"field": column, "value": _text(value)} for column, value in zip(columns, row) if value is not None]
            for row in result["rows"]]
    return {"status": "Complete", "results": rows, "statistics": result["statistics"]}


def _text(value: Any) -> str:
    """A result value as GetQueryResults gives it: always a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()
