"""The console's state-changing forms: redrive dead-lettered memos, set an alarm's state.

Plain HTML forms, POSTed as application/x-www-form-urlencoded with the session's CSRF
token in `csrf_token`; a stale or missing token is a 403 page and changes nothing. Each
answers 303 back to the page the form was on (post/redirect/get), saying what happened
in the query string. The work is the API's own: `web.dlq.redrive` and the alarm engine's
`set_state`, as `POST /v1/dlq/redrive` and `POST /v1/alarms/{name}/state` do it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from whispersync.app import Runtime
from whispersync.errors import InputError, NotFound
from whispersync.web import dlq
from whispersync.web.console._sessions import Sessions

_STALE = "this form is stale or came from another site; reload the page and try again"


def routes(runtime: Runtime, sessions: Sessions, *, session_of: Callable[[Request], str | None],
           error_page: Callable[..., Response], read_form: Callable[[Request], Awaitable[dict[str, str]]]) -> list:
    """The POST routes; `session_of`, `error_page` and `read_form` are the pages' own."""

    async def checked_form(request: Request) -> dict[str, str] | None:
        """The form, or None when its CSRF token is not this session's."""
        form = await read_form(request)
        return form if sessions.csrf_ok(session_of(request), form.get("csrf_token")) else None

    def answering_errors(handler: Callable[[Request], Awaitable[Response]]) -> Callable:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFound as exc:
                return error_page(404, "Not found", str(exc), None)
            except InputError as exc:
                return error_page(exc.http_status, "Cannot take this form", str(exc), None)

        return endpoint

    async def redrive(request: Request) -> Response:
        """Redrive one memo (`memo_id`) or, without it, every dead-lettered message."""
        form = await checked_form(request)
        if form is None:
            return error_page(403, "Refused", _STALE, None)
        memo_id = form.get("memo_id") or None
        memo_ids, _ = dlq.redrive_request({"memo_ids": [memo_id]} if memo_id else {})
        result = await run_in_threadpool(dlq.redrive, runtime, memo_ids=memo_ids)
        # Back to the memo's own page when the form was there; else to the list's DLQ section.
        back = f"/memos/{quote(memo_id, safe='')}" if memo_id and form.get("back") == "memo" else "/memos"
        anchor = "" if back != "/memos" else "#dlq"
        return RedirectResponse(f"{back}?{urlencode({'redriven': result.moved})}{anchor}", status_code=303)

    async def set_alarm_state(request: Request) -> Response:
        """SetAlarmState from the alarm's page: `state` and `reason`, as `alarms set-state` takes them."""
        name = request.path_params["name"]
        form = await checked_form(request)
        if form is None:
            return error_page(403, "Refused", _STALE, None)
        engine = runtime.alarms
        if engine is None:
            raise NotFound("alarms are not enabled in this process")

        def run() -> None:
            try:
                engine.set_state(name, form.get("state", ""), form.get("reason", ""))
            except KeyError:
                raise NotFound(f"no alarm named {name!r}") from None

        await run_in_threadpool(run)  # AlarmError (an InputError): a bad state or an empty reason
        return RedirectResponse(f"/alarms/{quote(name, safe='')}", status_code=303)

    return [
        Route("/dlq/redrive", answering_errors(redrive), methods=["POST"], name="console_redrive"),
        Route("/alarms/{name}/state", answering_errors(set_alarm_state), methods=["POST"],
              name="console_alarm_set_state"),
    ]
