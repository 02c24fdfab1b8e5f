"""The web console (whispersync.web.console): pages over a real runtime, access, sessions, CSRF.

No browser here (the browser tests drive chromium); these read the HTML the server sends
and check the data-testid contract the browser tests rely on.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from whispersync.domain import Transcript
from whispersync.web.console import COOKIE, Sessions

TOKEN = "console-test-token-" + "q7" * 10
PAGES = ["/", "/memos", "/logs", "/traces", "/alarms", "/dashboards"]


def submit_and_process(runtime, text: str, agent: str) -> str:
    """Accept a memo and run it through the worker, telemetry flushed: a memo with a trace and log lines."""
    receipt = runtime.ingestor.accept(Transcript(text=text, agent=agent))
    [message] = runtime.queue.receive(1)
    runtime.processor.process(message)
    runtime.telemetry.flush()
    runtime.store.flush()
    return receipt.id


def ids_in(html: str) -> set[str]:
    return set(re.findall(r'data-testid="([^"]+)"', html))


def rows(html: str, testid: str) -> list[str]:
    """The opening tags of the elements with this testid."""
    return re.findall(rf'<[a-z]+[^>]*data-testid="{testid}"[^>]*>', html)


@pytest.fixture
def console(api):
    runtime, server, client = api
    memo_id = submit_and_process(runtime, "Need to ship the release", "work")
    return runtime, client, runtime.records.get(memo_id)


class TestPages:
    def test_every_page_renders_with_a_title(self, console) -> None:
        """Each page answers 200 HTML with the page-title heading, readable without JavaScript."""
        runtime, client, memo = console
        for path in PAGES + [f"/memos/{memo.id}", f"/traces/{memo.trace_id}", "/alarms/SystemDown"]:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            assert response.headers["content-type"].startswith("text/html")
            assert re.search(r'<h1 data-testid="page-title">', response.text), path

    def test_the_memo_list_links_each_memo(self, console) -> None:
        runtime, client, memo = console
        html = client.get("/memos").text
        [row] = re.findall(r'<tr data-testid="memo-row".*?</tr>', html, re.S)
        assert f'href="/memos/{memo.id}"' in row and "done" in row and "work" in row

    def test_the_memo_list_filters_by_status_and_agent(self, console) -> None:
        runtime, client, memo = console
        other = submit_and_process(runtime, "Remember the milk", "memory")
        assert len(rows(client.get("/memos").text, "memo-row")) == 2
        only_memory = client.get("/memos", params={"agent": "memory"}).text
        assert len(rows(only_memory, "memo-row")) == 1 and f"/memos/{other}" in only_memory
        none_failed = client.get("/memos", params={"status": "failed"}).text
        assert rows(none_failed, "memo-row") == [] and "empty" in ids_in(none_failed)

    def test_an_unknown_status_filter_is_a_400_page(self, console) -> None:
        response = console[1].get("/memos", params={"status": "bogus"})
        assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
        assert "unknown status" in response.text

    def test_a_memo_page_shows_transcript_output_trace_and_logs(self, console) -> None:
        runtime, client, memo = console
        html = client.get(f"/memos/{memo.id}").text
        assert {"memo-transcript", "memo-output", "memo-trace", "memo-logs", "span-row"} <= ids_in(html)
        assert "Need to ship the release" in html
        assert memo.result["summary"] in html
        assert "Transcript accepted" in html  # a log line of this memo
        spans = runtime.store.spans(trace_id=memo.trace_id)
        assert len(rows(html, "span-row")) == len(spans) > 1

    def test_the_waterfall_places_spans_on_the_time_axis(self, console) -> None:
        runtime, client, memo = console
        html = client.get(f"/traces/{memo.trace_id}").text
        spans = runtime.store.spans(trace_id=memo.trace_id)
        first = min(s["start_time_unix_nano"] for s in spans)
        placed = re.findall(r'data-span-id="([0-9a-f]+)" data-offset-ms="([\d.]+)"', html)
        assert len(placed) == len(spans)
        by_id = {s["span_id"]: s for s in spans}
        for span_id, offset in placed:
            assert float(offset) == pytest.approx((by_id[span_id]["start_time_unix_nano"] - first) / 1e6, abs=1e-3)
        assert 'margin-left: 0.000%' in html  # the first span starts the axis

    def test_an_unknown_memo_or_trace_is_a_404_page_not_json(self, console) -> None:
        client = console[1]
        for path in ["/memos/" + "0" * 32, "/traces/" + "0" * 32, "/alarms/NoSuchAlarm"]:
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("text/html")
            assert 'data-testid="page-title"' in response.text and "Not found" in response.text

    def test_a_logs_query_shows_a_results_table(self, console) -> None:
        client = console[1]
        html = client.get("/logs", params={"query": "fields @timestamp, @message | limit 5", "since": "1h"}).text
        assert {"logs-form", "logs-run", "logs-results"} <= ids_in(html)
        assert '<textarea name="query"' in html
        assert 1 <= len(rows(html, "logs-row")) <= 5

    def test_a_saved_query_fills_the_editor_and_runs(self, console) -> None:
        from whispersync.monitoring.logs.insights import SAVED_QUERIES

        name = sorted(SAVED_QUERIES)[0]
        response = console[1].get("/logs", params={"saved": name})
        assert response.status_code == 200
        assert "logs-results" in ids_in(response.text) or "empty" in ids_in(response.text)
        assert SAVED_QUERIES[name].splitlines()[0].replace('"', "&#34;") in response.text

    def test_a_bad_logs_query_shows_its_line_and_column(self, console) -> None:
        response = console[1].get("/logs", params={"query": "fields @message\n| stats count(*) by"})
        assert response.status_code == 400
        [box] = re.findall(r'data-testid="query-error">(.*?)</div>', response.text, re.S)
        assert "line 2, column 20" in box
        assert "logs-results" not in ids_in(response.text)

    def test_the_logs_page_before_a_query_is_an_empty_state(self, console) -> None:
        html = console[1].get("/logs").text
        assert "empty" in ids_in(html) and "logs-results" not in ids_in(html)

    def test_trace_search_lists_traces_and_shows_a_bad_filter_positioned(self, console) -> None:
        runtime, client, memo = console
        html = client.get("/traces", params={"filter": 'agent_type = "work"'}).text
        assert f"/traces/{memo.trace_id}" in html
        bad = client.get("/traces", params={"filter": "agent_type ="})
        assert bad.status_code == 400 and "line 1, column 13" in bad.text and "query-error" in ids_in(bad.text)

    def test_alarm_rows_carry_their_state(self, console) -> None:
        runtime, client, memo = console
        runtime.alarms.set_state("SystemDown", "ALARM", "set by the console test")
        html = client.get("/alarms").text
        states = dict(re.findall(r'data-testid="alarm-row" data-state="(\w+)" data-name="([^"]+)"', html))
        assert states and set(states) <= {"OK", "ALARM", "INSUFFICIENT_DATA"}
        assert re.search(r'data-testid="alarm-row" data-state="ALARM" data-name="SystemDown"', html)
        overview = client.get("/").text
        assert "alarm-summary" in ids_in(overview) and "set by the console test" in overview
        history = client.get("/alarms/SystemDown").text
        assert "set by the console test" in history and len(rows(history, "history-row")) >= 1

    def test_a_fresh_server_shows_empty_states(self, make_api) -> None:
        runtime, server = make_api()
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for path in ["/memos", "/traces", "/logs"]:
                assert "empty" in ids_in(client.get(path).text), path

    def test_assets_are_vendored_with_their_licences(self, console) -> None:
        client = console[1]
        for path in ["/static/console.css", "/static/vendor/htmx/htmx.min.js", "/static/vendor/htmx/LICENSE",
                     "/static/vendor/uplot/uPlot.iife.min.js", "/static/vendor/uplot/uPlot.min.css",
                     "/static/vendor/uplot/LICENSE"]:
            assert client.get(path).status_code == 200, path
        assert 'version:"2.' in client.get("/static/vendor/htmx/htmx.min.js").text
        for path in PAGES:
            html = client.get(path).text
            assert not re.search(r'(src|href)="(https?:)?//', html), path  # nothing from a CDN

    def test_pages_may_not_be_framed(self, console) -> None:
        headers = console[1].get("/").headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"

    def test_the_json_api_is_unchanged(self, console) -> None:
        client = console[1]
        assert client.get("/v1/memos").json()["memos"]
        response = client.get("/v1/nothing-here")
        assert response.status_code == 404 and set(response.json()) == {"error"}


class TestDashboards:
    def test_the_plan_dashboards_are_listed_and_each_renders(self, console) -> None:
        client = console[1]
        html = client.get("/dashboards").text
        names = re.findall(r'<tr data-testid="dashboard-row"><td><a href="/dashboards/([^"]+)"', html)
        assert {"worker-performance", "queue-health", "executive", "cost"} <= set(names)
        for name in names:
            page = client.get(f"/dashboards/{name}")
            assert page.status_code == 200, (name, page.text[:300])
            assert "widget" in ids_in(page.text) and "dashboard-range" in ids_in(page.text)
        assert 'href="/dashboards/executive"' in client.get("/").text  # the overview links it

    def test_a_time_series_widget_carries_its_points_for_the_chart(self, console) -> None:
        html = console[1].get("/dashboards/worker-performance", params={"range": "1h"}).text
        charts = re.findall(r'data-testid="chart" data-points="(\d+)"', html)
        assert charts
        [first_data] = re.findall(r'<script type="application/json" class="chart-data">(.*?)</script>', html,
                                  re.S)[:1]
        series = orjson.loads(first_data)["series"]
        assert int(charts[0]) == sum(len(s["values"]) for s in series)
        assert '<script src="/static/vendor/uplot/uPlot.iife.min.js"' in html

    def test_the_alarm_widget_shows_the_alarm_state(self, console) -> None:
        runtime, client, memo = console
        runtime.alarms.set_state("whispersync-system-health", "ALARM", "set by the console test")
        html = client.get("/dashboards/executive").text
        assert re.search(r'data-testid="alarm-row" data-state="ALARM"><a href="/alarms/whispersync-system-health"',
                         html)

    def test_range_and_refresh_are_checked_and_honoured(self, console) -> None:
        client = console[1]
        assert '<meta http-equiv="refresh" content="10">' in client.get(
            "/dashboards/queue-health", params={"refresh": "10s"}).text
        assert "http-equiv" not in client.get("/dashboards/queue-health").text
        assert client.get("/dashboards/queue-health", params={"range": "2y"}).status_code == 400
        assert client.get("/dashboards/queue-health", params={"refresh": "1s"}).status_code == 400
        missing = client.get("/dashboards/no-such-dashboard")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


@pytest.fixture
def locked(make_api):
    """A server with a token configured, and a client that has not signed in."""
    runtime, server = make_api(api_token=TOKEN)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield runtime, client


def sign_in(client: httpx.Client, token: str = TOKEN, next_path: str = "/memos") -> httpx.Response:
    return client.post("/login", data={"token": token, "next": next_path})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class TestAccess:
    def test_an_open_loopback_console_needs_no_login(self, console) -> None:
        client = console[1]
        assert client.get("/memos").status_code == 200
        response = client.get("/login")
        assert response.status_code == 303 and response.headers["location"] == "/"

    def test_with_a_token_a_browser_is_sent_to_the_login_page(self, locked) -> None:
        runtime, client = locked
        for path in PAGES + ["/memos/abc", "/logs?query=x"]:
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == f"/login?next={quote(path, safe='')}"
        page = client.get("/login")
        assert page.status_code == 200 and "login-form" in ids_in(page.text)
        assert '<input type="password" name="token"' in page.text
        assert client.get("/static/console.css").status_code == 200  # the login page needs its style

    def test_a_wrong_token_is_refused_without_a_cookie(self, locked) -> None:
        runtime, client = locked
        response = sign_in(client, token="not-the-token-at-all-0000")
        assert response.status_code == 401 and "login-form" in ids_in(response.text)
        assert "set-cookie" not in response.headers
        assert "not-the-token-at-all-0000" not in response.text
        assert client.get("/memos").status_code == 303

    def test_the_right_token_sets_a_session_cookie_and_goes_back(self, locked) -> None:
        runtime, client = locked
        response = sign_in(client, next_path="/alarms?state=OK")
        assert response.status_code == 303 and response.headers["location"] == "/alarms?state=OK"
        cookie = response.headers["set-cookie"]
        attributes = {a.strip().lower() for a in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert "secure" not in attributes  # plain http here; https sets it (next test)
        value = client.cookies[COOKIE]
        assert TOKEN not in value and TOKEN not in cookie
        assert client.get("/memos").status_code == 200

    def test_the_cookie_is_secure_over_https(self, make_api) -> None:
        import asyncio
        import concurrent.futures

        from whispersync.web import create_app

        runtime, _ = make_api(api_token=TOKEN)

        async def post() -> httpx.Response:
            # In process, as a TLS-terminating server would hand the request on: scheme https.
            transport = httpx.ASGITransport(app=create_app(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="https://127.0.0.1") as client:
                return await client.post("/login", data={"token": TOKEN})

        # On a thread of its own: an event loop left running in this thread by another test must not matter.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            response = pool.submit(asyncio.run, post()).result()
        assert response.status_code == 303
        assert "secure" in {a.strip().lower() for a in response.headers["set-cookie"].split(";")}

    def test_login_never_redirects_off_the_server(self, locked) -> None:
        runtime, client = locked
        for target in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]:
            client.cookies.clear()
            assert sign_in(client, next_path=target).headers["location"] == "/", target

    def test_a_forged_or_open_cookie_is_not_a_login(self, locked) -> None:
        runtime, client = locked
        sign_in(client)
        value = client.cookies[COOKIE]
        client.cookies.clear()
        client.cookies.set(COOKIE, value[:-1] + ("0" if value[-1] != "0" else "1"))
        assert client.get("/memos").status_code == 303
        client.cookies.clear()
        client.cookies.set(COOKIE, value.replace("auth.", "open.", 1))
        assert client.get("/memos").status_code == 303

    def test_logout_needs_the_csrf_token_and_ends_the_session(self, locked) -> None:
        runtime, client = locked
        sign_in(client)
        html = client.get("/memos").text
        token = csrf_of(html)
        assert client.post("/logout", data={}).status_code == 403
        assert client.post("/logout", data={"csrf_token": "0" * len(token)}).status_code == 403
        assert client.get("/memos").status_code == 200  # the refused POSTs changed nothing
        old_cookie = client.cookies[COOKIE]
        response = client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303 and response.headers["location"] == "/login"
        client.cookies.clear()
        client.cookies.set(COOKIE, old_cookie)
        assert client.get("/memos").status_code == 303  # the old cookie no longer opens the console

    def test_a_cross_site_post_is_refused_before_the_form_is_read(self, locked) -> None:
        runtime, client = locked
        sign_in(client)
        token = csrf_of(client.get("/memos").text)
        response = client.post("/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403
        assert client.get("/memos").status_code == 200

    def test_the_session_reads_the_json_api_and_writes_only_with_the_csrf_header(self, locked) -> None:
        runtime, client = locked
        assert client.get("/v1/memos").status_code == 401
        sign_in(client)
        assert client.get("/v1/memos").status_code == 200
        assert client.post("/v1/alarms/evaluate", json={"dry_run": True}).status_code == 401
        token = csrf_of(client.get("/memos").text)
        response = client.post("/v1/alarms/evaluate", json={"dry_run": True}, headers={"X-CSRF-Token": token})
        assert response.status_code == 200, response.text

    def test_the_token_appears_in_no_answer(self, locked) -> None:
        runtime, client = locked
        answers = [client.get("/"), client.get("/login"), sign_in(client, token=TOKEN[:-1] + "x"), sign_in(client)]
        answers += [client.get(path) for path in PAGES + ["/v1/memos", "/healthz"]]
        answers.append(client.post("/logout", data={"csrf_token": csrf_of(answers[-3].text)}))
        for response in answers:
            assert TOKEN not in response.text, response.url
            assert all(TOKEN not in value for value in response.headers.values()), response.url


class TestSessions:
    def test_a_cookie_expires(self) -> None:
        now = [1_000_000.0]
        sessions = Sessions(max_age=60, clock=lambda: now[0])
        cookie, sid = sessions.open("auth")
        assert sessions.session_id(cookie) == sid
        now[0] += 61
        assert sessions.session_id(cookie) is None

    def test_csrf_tokens_belong_to_their_session(self) -> None:
        sessions = Sessions()
        _, one = sessions.open("open")
        _, two = sessions.open("open")
        assert sessions.csrf_ok(one, sessions.csrf_token(one))
        assert not sessions.csrf_ok(two, sessions.csrf_token(one))
        assert not sessions.csrf_ok(None, sessions.csrf_token(one))

    def test_another_process_secret_refuses_the_cookie(self) -> None:
        cookie, _ = Sessions().open("auth")
        assert Sessions().session_id(cookie) is None


class TestConsoleFuzz:
    def test_no_console_request_gets_a_5xx_or_json(self, console) -> None:
        """Whatever a client sends to a page, the answer is a page (or a redirect), never a 5xx."""
        client = console[1]
        paths = ["/", "/memos", "/memos/{}", "/logs", "/traces", "/traces/{}", "/alarms", "/alarms/{}",
                 "/dashboards", "/dashboards/{}", "/dashboards/executive"]
        names = ["status", "agent", "limit", "query", "saved", "since", "start", "end", "filter", "errors",
                 "min_duration_ms", "state", "next", "range", "refresh"]
        values = st.text(max_size=40) | st.sampled_from(["1h", "7d", "-1", "1e400", "nan", "done", "ALARM",
                                                         "stats count(*) by", "((((", "9999999d", "0" * 32])

        @hsettings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
        @given(path=st.sampled_from(paths), ident=st.text(min_size=1, max_size=60),
               params=st.dictionaries(st.sampled_from(names), values, max_size=4))
        @example(path="/memos/{}", ident="/", params={})  # found by this test: a redirect, no body
        def one(path, ident, params) -> None:
            response = client.get(path.replace("{}", quote(ident, safe="")), params=params)
            assert response.status_code < 500, (path, ident, params, response.text[:300])
            if response.is_redirect:  # "/memos/%2F" is "/memos//": redirected to "/memos", as any trailing "/"
                assert response.headers["location"].startswith(str(client.base_url)), response.headers
                return
            if not response.headers["content-type"].startswith("text/html"):
                # Only a path no page matches (an id with a '/' in it) reaches the API's JSON 404.
                assert response.status_code == 404 and "/" in ident, (path, ident, params, response.text[:300])

        one()


class TestBanner:
    def test_up_prints_the_console_url_first_and_serves_it(self, cli_env, tmp_path) -> None:
        from helpers import Server, wait_until

        server = Server(tmp_path / "home", cli_env).start("--log-format", "text", "--workers", "1")
        try:
            text = wait_until(lambda: (t := server.log.read_text()) and "WhisperSync is up" in t and t)
            lines = [ln for ln in text.splitlines() if ln.strip()]
            up = next(i for i, ln in enumerate(lines) if "WhisperSync is up" in ln)
            assert lines[up - 1].split() == ["Console:", f"{server.url}/"], lines[up - 1]
            page = httpx.get(f"{server.url}/", timeout=10)
            assert page.status_code == 200 and 'data-testid="alarm-summary"' in page.text
        finally:
            assert server.terminate() == 0


class TestLogsHistogram:
    """The Logs page's bar chart of matching events over time, counted by the Insights engine."""

    @staticmethod
    def emit_marked(runtime, minutes_ago: list[int], marker: str) -> None:
        import time

        now = time.time()
        for n, ago in enumerate(minutes_ago):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - ago * 60))
            runtime.store.emit("logs", {"timestamp": stamp, "level": "INFO", "message": f"event {n} a|b",
                                        "marker": marker})
        runtime.store.flush()

    @staticmethod
    def bars(html: str) -> list[int]:
        return [int(c) for c in re.findall(r'data-testid="histogram-bar" data-count="(\d+)"', html)]

    def test_the_bars_add_up_to_the_matching_events(self, console) -> None:
        runtime, client, _ = console
        self.emit_marked(runtime, [1, 2, 2, 10, 30, 31, 55], "histo")
        self.emit_marked(runtime, [3, 4], "other")
        # A limit below the match count, and a `|` inside a string: the bars count matches, not rows.
        query = 'filter marker = "histo" and message like "a|b" | fields @timestamp, message | limit 2'
        html = client.get("/logs", params={"query": query, "since": "1h"}).text
        assert "histogram" in ids_in(html)
        counts = self.bars(html)
        assert sum(counts) == 7 and len(rows(html, "logs-row")) == 2
        assert 1 < len(counts) <= 61 and sum(1 for c in counts if c) == 6  # two events share minute 2
        assert "7 matched of" in html

    def test_a_stats_query_counts_every_event_it_reads(self, console) -> None:
        runtime, client, _ = console
        self.emit_marked(runtime, [5, 6, 7], "histo")
        html = client.get("/logs", params={"query": 'filter marker = "histo" | stats count(*) by level',
                                           "since": "7d"}).text
        counts = self.bars(html)
        assert sum(counts) == 3 and len(counts) <= 61

    def test_a_query_with_a_syntax_error_shows_no_histogram(self, console) -> None:
        runtime, client, _ = console
        self.emit_marked(runtime, [1], "histo")
        response = client.get("/logs", params={"query": 'filter marker = "histo" | stats count(*) by'})
        assert response.status_code == 400
        assert "histogram" not in ids_in(response.text) and not self.bars(response.text)


class TestDashboardRangesThresholdsAndTrends:
    """The dashboard page's custom range, alarm thresholds on charts, and single values' change."""

    def test_a_custom_range_is_shown_and_checked(self, console) -> None:
        client = console[1]
        html = client.get("/dashboards/queue-health",
                          params={"start": "2026-01-01T00:00", "end": "1767229200000"}).text
        shown = rows(html, "dashboard-shown-range")[0]
        assert 'data-start-ms="1767225600000"' in shown and 'data-end-ms="1767229200000"' in shown
        assert 'name="start" value="2026-01-01T00:00"' in html and 'name="end" value="2026-01-01T01:00"' in html
        backwards = client.get("/dashboards/queue-health", params={"start": "2026-01-01T01:00",
                                                                    "end": "2026-01-01T00:00"})
        assert backwards.status_code == 400 and "end must be after start" in backwards.text
        bad = client.get("/dashboards/queue-health", params={"start": "yesterday-ish"})
        assert bad.status_code == 400 and "start:" in bad.text
        assert client.get("/dashboards/queue-health", params={"end": "2026-01-01T00:00"}).status_code == 400

    def test_alarm_thresholds_are_listed_with_their_state(self, console) -> None:
        runtime, client, _ = console
        runtime.alarms.set_state("SystemDown", "ALARM", "set by the console test")
        html = client.get("/dashboards/worker-performance").text
        assert rows(html, "threshold") == ['<li data-testid="threshold" data-kind="alarm" data-value="10.0" '
                                           'data-state="ALARM">']
        data = [orjson.loads(d) for d in re.findall(
            r'<script type="application/json" class="chart-data">(.*?)</script>', html, re.S)]
        assert [line["label"] for d in data for line in d["lines"]] == ["SystemDown"]

    def test_executive_single_values_carry_their_change(self, console) -> None:
        html = console[1].get("/dashboards/executive").text
        trends = rows(html, "trend")
        assert len(trends) == 4  # transcripts, success rate, processing time, availability
        assert "vs the range before" in html


class TestTextWidgetMarkdown:
    """A text widget's Markdown is rendered (as CloudWatch renders it), and cannot inject markup."""

    def test_markdown_becomes_html_and_raw_html_stays_text(self, tmp_path):
        from whispersync.web.console._pages import _markdown

        html = str(_markdown("**Memory** is `ours`\n\n<script>alert(1)</script> [x](javascript:alert(1))"))
        assert "<strong>Memory</strong>" in html and "<code>ours</code>" in html
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert 'href="javascript:' not in html

    def test_the_plan_text_widget_is_rendered_on_its_page(self, console) -> None:
        html = console[1].get("/dashboards/worker-performance").text
        assert "<strong>Memory utilization</strong>" in html and "**Memory" not in html


class TestDashboardWidgetsTogether:
    """A dashboard's widgets are computed side by side: each keeps its place, its own error, its own data."""

    LABEL = "p99 </script><b>&'x'"

    def test_order_errors_and_chart_data_survive_computing_widgets_concurrently(self, console) -> None:
        import time

        from whispersync.app import open_dashboards

        runtime, client, _ = console
        now_ms = int(time.time() * 1000) // 60_000 * 60_000
        runtime.store.put_metrics([{"namespace": "Bench", "name": f"M{i}", "value": float(i * 10 + k),
                                    "timestamp": now_ms - (5 - k) * 60_000} for i in range(4) for k in range(5)])

        def graph(y: int, i: int, label: str | None = None) -> dict:
            options = {"label": label} if label else {}
            return {"type": "metric", "x": 0, "y": y, "width": 24, "height": 6,
                    "properties": {"title": f"graph {i}", "view": "timeSeries", "stat": "Maximum", "period": 60,
                                   "metrics": [["Bench", f"M{i}", options]]}}

        widgets = [graph(0, 0, self.LABEL), graph(6, 1),
                   {"type": "log", "x": 0, "y": 12, "width": 24, "height": 6,
                    "properties": {"title": "broken", "query": "fields @message | stats count( by"}},
                   graph(18, 2), graph(24, 3)]
        with open_dashboards(runtime.settings) as stored:
            # Listed in another order than the grid's: the page shows them top to bottom.
            stored.put("together", orjson.dumps({"start": "-PT1H", "widgets": widgets[::-1]}).decode())
        html = client.get("/dashboards/together").text
        assert re.findall(r"<h2>([^<]*)</h2>", html) == ["graph 0", "graph 1", "broken", "graph 2", "graph 3"]
        assert len(rows(html, "widget-error")) == 1
        charts = [orjson.loads(d) for d in re.findall(
            r'<script type="application/json" class="chart-data">(.*?)</script>', html, re.S)]
        assert [[s["label"] for s in c["series"]] for c in charts] == [[self.LABEL], ["M1"], ["M2"], ["M3"]]
        assert [c["series"][0]["values"] for c in charts] == [[float(i * 10 + k) for k in range(5)] for i in range(4)]
        assert "</script><b>" not in html  # the label cannot end the script element
        # Without JavaScript each series' latest value is on the page as text.
        latest = re.findall(r'data-testid="latest-value" data-value="([^"]*)"', html)
        assert latest == [str(float(i * 10 + 4)) for i in range(4)]

    def test_chart_data_is_json_a_script_element_cannot_be_ended_by(self) -> None:
        import json

        from whispersync.web.console._dashboards import _chart_json

        label = "</script><!-- & 'x'"
        text = str(_chart_json({"series": [{"label": label, "values": [1.5, float("nan")]}]}))
        assert not set("<>&'") & set(text)
        # NaN is no JSON: a browser's JSON.parse would refuse the whole chart. It is written as null (no value).
        assert orjson.loads(text) == {"series": [{"label": label, "values": [1.5, None]}]}
        # What orjson cannot write (an integer past 64 bits, from a body's options) is still written.
        text = str(_chart_json({"series": [{"label": label}], "y_axis": {"max": 2**70}}))
        assert not set("<>&'") & set(text)
        assert json.loads(text) == {"series": [{"label": label}], "y_axis": {"max": 2**70}}


class TestOverviewExecutive:
    """The overview is "the executive dashboard and the alarm states at a glance" (issue 10)."""

    def test_the_overview_draws_the_executive_dashboards_widgets(self, console) -> None:
        html = console[1].get("/").text
        section = html[html.index('data-testid="executive"'):]
        assert section.count('data-testid="widget"') == html.count('data-testid="widget"') >= 5
        assert 'data-testid="single-value"' in section and 'data-testid="trend"' in section
        assert 'data-testid="alarm-summary"' in html and 'href="/dashboards/executive"' in html
