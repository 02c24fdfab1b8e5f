"""The console's pages: server-rendered HTML over the same functions the /v1 routes call.

Each page is a plain function of (query parameters, context) run off the event loop,
returning a template name, its values and a status; `_page` wraps it with access
(login when a token is configured), errors as HTML pages, and the session cookie.
The pages are Starlette routes, not API routes: they take no JSON, appear in no
OpenAPI schema, and answer every error as a page a person can read.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from whispersync import catalog
from whispersync.app import Runtime, dead_letters
from whispersync.domain import MemoStatus
from whispersync.errors import InputError, NotFound, QuerySyntaxError, WhisperSyncError
from whispersync.monitoring.cost import load_price_table, memo_cost
from whispersync.monitoring.logs.insights import SAVED_QUERIES, run_query
from whispersync.monitoring.times import lookback_start
from whispersync.monitoring.traces import find_trace_ids, get_trace, search_traces
from whispersync.plan import STATES
from whispersync.web._audit import note
from whispersync.web._json import media_type, read_body
from whispersync.web._params import client_duration, client_time
from whispersync.web.console import _actions, _dashboards
from whispersync.web.console._sessions import COOKIE, Sessions
from whispersync.web.console._waterfall import waterfall

HERE = Path(__file__).parent
TIME_RANGES = ("15m", "1h", "3h", "12h", "24h", "7d")
EXECUTIVE = "executive"  # the plan's dashboard the overview shows
_MAX_FORM_BYTES = 4096
_MAX_ROWS = 1000
_MIN_TRACE_PREFIX = 4  # as the API's and the CLI's
# Pages may be shown only by this server (no framing: clickjacking), and load nothing from
# elsewhere (the assets are vendored). Inline style attributes place the waterfall bars.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Context:
    """What every template sees besides its own values."""

    path: str
    csrf_token: str
    token_required: bool  # a token is configured: the session is a login, and logout means something
    maintenance: dict[str, Any] | None = None  # the active maintenance window: every page shows a banner


def _active_maintenance(runtime: Runtime) -> dict[str, Any] | None:
    """The maintenance window in force now, or None (one indexed SQLite read: cheap enough for every page)."""
    engine = runtime.alarms
    return None if engine is None else engine.alarm_store.maintenance.active(int(time.time() * 1000))


@dataclass
class Page:
    template: str
    values: dict[str, Any]
    status: int = 200


def routes(runtime: Runtime, sessions: Sessions, token: str | None) -> list:
    """The console's routes and its static files, to add to the app."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["ms"] = _format_ms
    env.filters["markdown"] = _markdown
    log = runtime.telemetry.logger("whispersync.console")
    pages = _Pages(runtime)

    def render(page: Page, ctx: Context | None) -> HTMLResponse:
        html = env.get_template(page.template).render(ctx=ctx, **page.values)
        return HTMLResponse(html, status_code=page.status, headers=_SECURITY_HEADERS)

    def error_page(status: int, title: str, message: str, ctx: Context | None) -> HTMLResponse:
        return render(Page("error.html", {"title": title, "message": message}, status), ctx)

    def session_of(request: Request) -> str | None:
        kinds = ("auth",) if token is not None else ("auth", "open")
        return sessions.session_id(request.cookies.get(COOKIE), kinds=kinds)

    def set_cookie(response: Response, request: Request, value: str) -> None:
        response.set_cookie(COOKIE, value, max_age=int(sessions.max_age), path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")

    def page(view: Callable[[dict[str, str], Context], Page]) -> Callable:
        async def endpoint(request: Request) -> Response:
            sid, new_cookie = session_of(request), None
            if sid is None:
                if token is not None:
                    return RedirectResponse(f"/login?next={quote(_here(request), safe='')}", status_code=303)
                new_cookie, sid = sessions.open("open")  # no login here, but forms still need a CSRF token
            ctx = Context(request.url.path, sessions.csrf_token(sid), token is not None, _active_maintenance(runtime))
            params = {k: v for k, v in request.query_params.items()}
            params.update(request.path_params)
            try:
                response = render(await run_in_threadpool(view, params, ctx), ctx)
            except NotFound as exc:
                response = error_page(404, "Not found", str(exc), ctx)
            except InputError as exc:
                response = error_page(exc.http_status, "Cannot show this", str(exc), ctx)
            except WhisperSyncError as exc:
                log.error("Console page failed", error_type=type(exc).__name__, path=request.url.path)
                response = error_page(500, "Something went wrong", "the server log has the details", ctx)
            if new_cookie is not None:
                set_cookie(response, request, new_cookie)
            return response

        return endpoint

    async def login(request: Request) -> Response:
        target = _safe_next(request.query_params.get("next"))
        if token is None:
            return RedirectResponse(target, status_code=303)
        if request.method == "GET":
            return render(Page("login.html", {"title": "Sign in", "next": target}), None)
        form = await _form(request)
        target = _safe_next(form.get("next", target))
        given = form.get("token", "")
        accepted = bool(given) and hmac.compare_digest(given.encode(), token.encode())
        # CloudTrail's name for a console sign-in, and its errorMessage when the credentials were wrong.
        note(request, action="ConsoleLogin", authenticated=accepted)
        if not accepted:
            # Said plainly, and the form comes back empty: the token typed is never echoed.
            log.warning("Console login refused", client=request.client.host if request.client else None)
            note(request, error="Failed authentication")
            # Counted as web/api.py's admit counts a refused token: by Route, and in the total AuthFailureBurst watches.
            for dims in ({"Route": "/login"}, {}):
                runtime.telemetry.metrics.record(catalog.AUTH_FAILURES, 1, dims)
            return render(Page("login.html", {"title": "Sign in", "next": target,
                                              "refused": "That is not the token this server was started with."},
                               401), None)
        cookie, _ = sessions.open("auth")
        response = RedirectResponse(target, status_code=303)
        set_cookie(response, request, cookie)
        return response

    async def logout(request: Request) -> Response:
        sid = session_of(request)
        form = await _form(request)
        if not sessions.csrf_ok(sid, form.get("csrf_token")):
            return error_page(403, "Refused", "this form is stale or came from another site; reload the page "
                              "and try again", None)
        sessions.end(sid)
        response = RedirectResponse("/login" if token is not None else "/", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
        return response

    def guarded_form(handler: Callable) -> Callable:
        """A form whose body cannot be read (too large, not a form) answers with a page, not JSON."""
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except InputError as exc:
                return error_page(exc.http_status, "Cannot take this form", str(exc), None)

        return endpoint

    return [
        Route("/", page(pages.overview), methods=["GET"], name="console_overview"),
        Route("/memos", page(pages.memos), methods=["GET"], name="console_memos"),
        Route("/memos/{memo_id}", page(pages.memo), methods=["GET"], name="console_memo"),
        Route("/logs", page(pages.logs), methods=["GET"], name="console_logs"),
        Route("/traces", page(pages.traces), methods=["GET"], name="console_traces"),
        Route("/traces/{trace_id}", page(pages.trace), methods=["GET"], name="console_trace"),
        Route("/alarms", page(pages.alarms), methods=["GET"], name="console_alarms"),
        Route("/alarms/{name}", page(pages.alarm), methods=["GET"], name="console_alarm"),
        Route("/dashboards", page(pages.dashboards), methods=["GET"], name="console_dashboards"),
        Route("/dashboards/{name}", page(pages.dashboard), methods=["GET"], name="console_dashboard"),
        Route("/login", guarded_form(login), methods=["GET", "POST"], name="console_login"),
        Route("/logout", guarded_form(logout), methods=["POST"], name="console_logout"),
        *_actions.routes(runtime, sessions, session_of=session_of, error_page=error_page, read_form=_form),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="console_static"),
    ]


class _Pages:
    """One method per page: (query and path parameters, context) -> Page."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def overview(self, params: dict[str, str], ctx: Context) -> Page:
        alarms = self._alarms()
        counts = {state: sum(1 for a in alarms if a["state"] == state) for state in STATES}
        return Page("overview.html", {
            "title": "Overview", "alarms": alarms, "counts": counts,
            "firing": [a for a in alarms if a["state"] == "ALARM"],
            "memo_counts": self.runtime.records.count_by_status(),
            "queue": self.runtime.queue.counts(), "dlq": self.runtime.dlq.counts(),
            "executive": self._executive(),
        })

    def memos(self, params: dict[str, str], ctx: Context) -> Page:
        status, agent = params.get("status") or None, params.get("agent") or None
        if status is not None and status not in {s.value for s in MemoStatus}:
            raise InputError(f"unknown status {status[:40]!r}; one of: {', '.join(s.value for s in MemoStatus)}")
        limit = _whole(params.get("limit"), "limit", 100, 1, _MAX_ROWS)
        # The record store filters by status; the agent is picked from its newest memos.
        found = self.runtime.records.list(status=MemoStatus(status) if status else None,
                                          limit=_MAX_ROWS if agent else limit)
        memos = [m for m in found if agent is None or m.agent == agent][:limit]
        return Page("memos.html", {
            "title": "Memos", "memos": memos, "status": status, "agent": agent,
            "statuses": [s.value for s in MemoStatus], "agents": sorted(self.runtime.agents),
            "durations": {m.id: _memo_duration_ms(m) for m in memos},
            "dead_letters": [dead_letters.entry(m, self.runtime.records) for m in self.runtime.dlq.peek(_MAX_ROWS)],
            "redriven": _redriven(params),
        })

    def memo(self, params: dict[str, str], ctx: Context) -> Page:
        memo = self.runtime.records.get(params["memo_id"])  # NotFound: a 404 page
        try:
            transcript = self.runtime.blobs.get(memo.key).decode("utf-8", errors="replace")
        except (KeyError, FileNotFoundError, NotFound):
            transcript = None
        store = self.runtime.store
        traces, spans = [], []
        for trace_id in store.trace_ids_for(memo.correlation_id) or [memo.trace_id]:
            try:
                trace = get_trace(store, trace_id)
            except NotFound:
                continue
            rows, total = waterfall(trace["spans"])
            traces.append({"trace_id": trace_id, "rows": rows, "total_ms": total})
            spans += trace["spans"]
        logs = store.logs(correlation_id=memo.correlation_id, limit=_MAX_ROWS, order="asc")
        s = self.runtime.settings  # the memo's estimated cost at list price (issue 14 §2)
        cost = memo_cost(spans, memo, load_price_table(), memory_mb=s.lambda_memory_mb,
                         elevenlabs_usd_per_1k_characters=s.elevenlabs_usd_per_1k_characters)
        return Page("memo.html", {"title": f"Memo {memo.id}", "memo": memo, "transcript": transcript,
                                  "traces": traces, "logs": logs, "duration_ms": _memo_duration_ms(memo),
                                  "cost": cost,
                                  "in_dlq": memo.id in dead_letters.memo_ids_in(self.runtime.dlq),
                                  "redriven": _redriven(params)})

    def logs(self, params: dict[str, str], ctx: Context) -> Page:
        saved = params.get("saved") or None
        text = params.get("query") or ""
        if saved is not None and saved not in SAVED_QUERIES:
            raise InputError(f"no saved query {saved[:60]!r}; known: {', '.join(sorted(SAVED_QUERIES))}")
        if saved is not None and not text.strip():
            text = SAVED_QUERIES[saved]
        since = params.get("since") or "1h"
        values: dict[str, Any] = {"title": "Logs", "query": text, "saved": saved, "saved_queries": SAVED_QUERIES,
                                  "since": since, "ranges": TIME_RANGES, "start": params.get("start") or "",
                                  "end": params.get("end") or "", "result": None, "error": None,
                                  "histogram": None}
        if not text.strip():
            return Page("logs.html", values)
        start_ms, end_ms = _range(params, since)
        end_ms = end_ms if end_ms is not None else int(time.time() * 1000)  # one range for both queries
        try:
            values["result"] = run_query(self.runtime.store, text, start_ms=start_ms, end_ms=end_ms,
                                         timeout=self.runtime.settings.request_timeout)
        except QuerySyntaxError as exc:
            values["error"] = _positioned(exc, text)
            return Page("logs.html", values, exc.http_status)
        values["histogram"] = self._logs_histogram(text, start_ms, end_ms)
        return Page("logs.html", values)

    # Bin widths for the histogram, in seconds: the smallest giving at most _MAX_BARS bars is used.
    _BINS_S = (1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400)
    _MAX_BARS = 60
    # Commands that only decide which events match (or name fields for that): kept for the histogram.
    _EVENT_COMMANDS = ("source", "fields", "display", "parse", "filter", "where")

    def _logs_histogram(self, text: str, start_ms: int, end_ms: int) -> dict[str, Any] | None:
        """Matching events over time, as the Logs Insights console draws above the results.

        The Insights engine counts them: the query's event part (its SOURCE, fields, parse
        and filter commands, up to the first other command) followed by
        `stats count(*) by bin(...)`, so the bars add up to the query's recordsMatched.
        None when that query cannot run: the results are shown without it.
        """
        from datetime import UTC, datetime

        from whispersync.monitoring.logs.insights import InsightsQueryError, parse_query

        def event_part(query: str) -> str:
            # Cut at the first `|` that starts another command; a `|` inside a string, a regex
            # or a comment leaves a prefix that does not parse, or does not start a command.
            for cut in (-1, *(i for i, char in enumerate(query) if char == "|")):
                word = query[cut + 1:].split(None, 1)
                if word and word[0].split("(")[0].lower() in self._EVENT_COMMANDS:
                    continue
                if cut == -1:
                    return ""
                try:
                    parse_query(query[:cut])
                except InsightsQueryError:
                    continue
                return query[:cut]
            return query

        span_s = max((end_ms - start_ms) / 1000, 1)
        bin_s = next((b for b in self._BINS_S if span_s / b <= self._MAX_BARS), self._BINS_S[-1])
        events = event_part(text)
        # A newline before the pipe: the event part may end in a `#` comment.
        counting = (events + "\n| " if events.strip() else "") + f"stats count(*) as events by bin({bin_s}s) as bin"
        try:
            answer = run_query(self.runtime.store, counting, start_ms=start_ms, end_ms=end_ms,
                               timeout=self.runtime.settings.request_timeout)
        except InsightsQueryError:
            return None
        bin_ms = bin_s * 1000
        counts = dict.fromkeys(range(start_ms // bin_ms * bin_ms, end_ms + 1, bin_ms), 0)
        for when, count in answer["rows"]:
            at = int(datetime.strptime(when, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp() * 1000)
            counts[at] = counts.get(at, 0) + int(count)
        tallest = max(counts.values(), default=0) or 1
        bars = [{"start": datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"), "count": count,
                 "height": round(100 * count / tallest, 1)} for at, count in sorted(counts.items())]
        return {"bars": bars, "bin_seconds": bin_s, "total": sum(counts.values())}

    def traces(self, params: dict[str, str], ctx: Context) -> Page:
        text = params.get("filter") or ""
        errors = params.get("errors") in ("1", "on", "true")
        since = params.get("since") or "1h"
        min_duration = params.get("min_duration_ms") or ""
        values: dict[str, Any] = {"title": "Traces", "filter": text, "errors": errors, "since": since,
                                  "ranges": TIME_RANGES, "min_duration_ms": min_duration, "error": None,
                                  "traces": []}
        start_ms = lookback_start(int(time.time() * 1000), client_duration(since, "since"))
        try:
            values["traces"] = search_traces(
                self.runtime.store, filter=text or None, errors=errors, start_ms=start_ms,
                min_duration_ms=_number(min_duration, "min_duration_ms"), limit=100,
                timeout=self.runtime.settings.request_timeout)
        except QuerySyntaxError as exc:
            values["error"] = _positioned(exc, text)
            return Page("traces.html", values, exc.http_status)
        return Page("traces.html", values)

    def trace(self, params: dict[str, str], ctx: Context) -> Page:
        trace_id = params["trace_id"]
        if len(trace_id) >= _MIN_TRACE_PREFIX:  # a unique prefix is enough, as in the API and the CLI
            found = find_trace_ids(self.runtime.store, trace_id)
            if len(found) > 1 and trace_id not in found:
                raise InputError(f"the trace id {trace_id!r} is ambiguous; it starts: {', '.join(found)}")
            if len(found) == 1:
                trace_id = found[0]
        trace = get_trace(self.runtime.store, trace_id)  # NotFound: a 404 page
        rows, total = waterfall(trace["spans"])
        return Page("trace.html", {"title": f"Trace {trace_id}", "trace": trace, "rows": rows, "total_ms": total})

    def alarms(self, params: dict[str, str], ctx: Context) -> Page:
        state = params.get("state") or None
        if state is not None and state not in STATES:
            raise InputError(f"unknown state {state[:40]!r}; one of: {', '.join(STATES)}")
        alarms = [a for a in self._alarms() if state is None or a["state"] == state]
        return Page("alarms.html", {"title": "Alarms", "alarms": alarms, "state": state, "states": STATES,
                                    "enabled": self.runtime.alarms is not None})

    def alarm(self, params: dict[str, str], ctx: Context) -> Page:
        name = params["name"]
        if self.runtime.alarms is None:
            raise NotFound("alarms are not enabled in this process")
        try:
            history = self.runtime.alarms.history(name, 100)
        except KeyError:
            raise NotFound(f"no alarm named {name!r}") from None
        current = next((a for a in self.runtime.alarms.describe() if a["name"] == name), None)
        notifier = self.runtime.notifier
        # The outbox lists deliveries newest first; this alarm's are picked from its newest.
        deliveries = [d for d in (notifier.deliveries(limit=_MAX_ROWS) if notifier else [])
                      if d["alarm_name"] == name]
        return Page("alarm.html", {"title": f"Alarm {name}", "name": name, "alarm": current, "history": history,
                                   "deliveries": deliveries, "notifier": notifier is not None})

    def dashboards(self, params: dict[str, str], ctx: Context) -> Page:
        return Page("dashboards.html", {"title": "Dashboards", "dashboards": _dashboards.listed(self.runtime)})

    def dashboard(self, params: dict[str, str], ctx: Context) -> Page:
        since = params.get("range") or None
        if since is not None and since not in TIME_RANGES:
            raise InputError(f"range must be one of {', '.join(TIME_RANGES)}")
        refresh = params.get("refresh") or "off"
        if refresh not in _dashboards.REFRESH_CHOICES:
            raise InputError(f"refresh must be one of {', '.join(_dashboards.REFRESH_CHOICES)}")
        # A custom range (the form's datetime-local inputs, UTC; or ISO 8601 / epoch ms) wins over `range`.
        start_ms = client_time(params.get("start") or None, "start")
        end_ms = client_time(params.get("end") or None, "end")
        custom = start_ms is not None or end_ms is not None
        shown = _dashboards.show(self.runtime, params["name"], None if custom else since, start_ms, end_ms)
        return Page("dashboard.html", {"title": f"Dashboard {shown['name']}", "dashboard": shown, "range": since,
                                       "custom": custom, "ranges": TIME_RANGES, "refresh": refresh,
                                       "refresh_seconds": _dashboards.REFRESH_CHOICES[refresh],
                                       "refreshes": list(_dashboards.REFRESH_CHOICES)})

    def _executive(self) -> dict[str, Any] | None:
        """The executive dashboard over its own range (the overview's "at a glance"), or None
        when there is none or it cannot be drawn: the overview still shows the alarms."""
        try:
            if not any(d.name == EXECUTIVE for d in _dashboards.listed(self.runtime)):
                return None
            return _dashboards.show(self.runtime, EXECUTIVE, None)
        except WhisperSyncError:  # a plan file broken since start-up, a store that cannot be read
            return None

    def _alarms(self) -> list[dict[str, Any]]:
        return self.runtime.alarms.describe() if self.runtime.alarms is not None else []


def _range(params: dict[str, str], since: str) -> tuple[int, int | None]:
    """(start ms, end ms) from a custom start/end, else the `since` lookback."""
    start_ms = client_time(params.get("start") or None, "start")
    end_ms = client_time(params.get("end") or None, "end")
    if start_ms is None:
        start_ms = lookback_start(end_ms or int(time.time() * 1000), client_duration(since, "since"))
    return start_ms, end_ms


def _positioned(exc: QuerySyntaxError, text: str) -> dict[str, Any]:
    """A syntax error to show under the query: its place, its reason and the line it is on."""
    lines = text.splitlines() or [""]
    line = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
    return {"message": str(exc), "line": exc.line, "column": exc.column, "reason": exc.reason,
            "source_line": line, "caret": " " * max(exc.column - 1, 0) + "^"}


def _whole(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise InputError(f"{name} must be a whole number from {low} to {high}")
    return int(value)


def _number(value: str, name: str) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{name} must be a number of milliseconds") from None
    if not 0 <= number < 1e12:
        raise InputError(f"{name} must be a number of milliseconds from 0")
    return number


def _memo_duration_ms(memo) -> float | None:
    if memo.status not in (MemoStatus.DONE, MemoStatus.FAILED):
        return None
    return max(0.0, (memo.updated_at - memo.created_at) * 1000)


# CommonMark with raw HTML off: a text widget's Markdown cannot inject markup or scripts
# (markdown-it also refuses javascript: and data: links).
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def _markdown(text: str | None) -> Markup:
    """A text widget's Markdown as HTML (CloudWatch renders it; so does the console)."""
    return Markup(_MARKDOWN.render(text or ""))


def _format_ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _redriven(params: dict[str, str]) -> int | None:
    """How many messages the Redrive form just moved (its 303 says so in `?redriven=`)."""
    value = params.get("redriven") or ""
    return int(value) if value.isdigit() and len(value) <= 9 else None


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never `//evil.example` or `/\\evil.example` (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or target.startswith("/login"):
        return "/"
    if any(ord(c) < 0x20 for c in target) or len(target) > 2000:
        return "/"
    return target


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form body (what a browser posts); the last value of a repeated field wins."""
    kind, _ = media_type(request)
    body = await read_body(request, max_bytes=_MAX_FORM_BYTES, what="form")
    if body and kind != "application/x-www-form-urlencoded":
        raise InputError("send the form as application/x-www-form-urlencoded")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise InputError("the form is not valid UTF-8 form data") from None
    return {name: values[-1] for name, values in fields.items()}
