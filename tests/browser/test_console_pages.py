"""The web console as a person sees it (issue 10): each page in a real browser against
`whispersync up --demo`, checked against the JSON API of the same server, one screenshot each.

The pages mark what a person reads with data-testid attributes (the console's contract):
page-title on every page, memo-row, memo-transcript/-output/-trace/-logs, span-row,
logs-form/-run/-results/-row, query-error, alarm-row (data-state), alarm-summary, login-form.
"""

from __future__ import annotations

import re

import httpx
import pytest

from helpers import wait_until
from whispersync.app import samples_dir

pytestmark = pytest.mark.e2e  # real `whispersync up` processes

ALARM_STATES = {"OK", "ALARM", "INSUFFICIENT_DATA"}


def api(server, path: str, **params) -> dict:
    response = httpx.get(server.url + path, params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def query_logs(server, query: str) -> list[list]:
    response = httpx.post(server.url + "/v1/logs/query", json={"query": query}, timeout=10)
    response.raise_for_status()
    return response.json()["rows"]


def demo_memos(server) -> list[dict]:
    return api(server, "/v1/memos", limit=1000)["memos"]


def first_line(text: str) -> str:
    """The start of a transcript's first line, whitespace collapsed: what the page must show."""
    line = next(line for line in text.splitlines() if line.strip())
    return " ".join(line.split())[:60]


def test_overview_shows_the_alarm_summary(page, console, screenshot, expect):
    page.goto(console.url + "/")
    expect(page.get_by_test_id("page-title")).to_be_visible()
    summary = page.get_by_test_id("alarm-summary")
    expect(summary).to_be_visible()

    def summary_counts_each_state() -> bool:
        # "5 INSUFFICIENT_DATA": how many alarms are in each state the plan's alarms are in. An
        # alarm may change state between the API read and the page: re-read both until they agree.
        page.reload()
        states = [alarm["state"] for alarm in api(console, "/v1/alarms")["alarms"]]
        text = " ".join(summary.inner_text().split())
        return all(re.search(rf"\b{states.count(state)} {state}\b", text) for state in set(states))

    wait_until(summary_counts_each_state, timeout=20, interval=0.5)
    screenshot(page)


def test_memos_page_lists_the_demo_memos_and_a_memo_shows_its_transcript_and_trace(page, console, screenshot,
                                                                                    expect):
    memos = {memo["id"]: memo for memo in demo_memos(console)}
    assert len(memos) >= 30  # the demo's samples, processed before the session's first test
    page.goto(console.url + "/memos")
    rows = page.get_by_test_id("memo-row")
    expect(rows).to_have_count(len(memos))
    screenshot(page, "list")

    # A demo sample (other tests of the session post memos of their own, without a sample file).
    memo = next(m for m in memos.values() if m["status"] == "done" and m.get("title")
                and (samples_dir() / f"{m['title']}.txt").exists())
    link = rows.locator(f"a[href$='/memos/{memo['id']}']")
    expect(link).to_have_count(1)
    link.click()
    expect(page).to_have_url(re.compile(f"/memos/{memo['id']}$"))
    transcript = (samples_dir() / f"{memo['title']}.txt").read_text()
    expect(page.get_by_test_id("memo-transcript")).to_contain_text(first_line(transcript))
    expect(page.get_by_test_id("memo-output")).to_be_visible()
    spans = api(console, f"/v1/traces/{memo['trace_id']}")["spans"]
    expect(page.get_by_test_id("memo-trace").get_by_test_id("span-row")).to_have_count(len(spans))
    logged = query_logs(console, f'fields message | filter correlation_id = "{memo["correlation_id"]}" '
                                 '| sort @timestamp asc | limit 1')
    expect(page.get_by_test_id("memo-logs")).to_contain_text(logged[0][0])
    screenshot(page, "memo")


def test_logs_page_runs_a_query_and_shows_a_syntax_error_at_its_position(page, console, screenshot, expect):
    page.goto(console.url + "/logs")
    form = page.get_by_test_id("logs-form")
    form.locator("textarea[name=query]").fill('fields @timestamp, level, message\n| filter level = "INFO"\n| limit 7')
    page.get_by_test_id("logs-run").click()
    rows = page.get_by_test_id("logs-results").get_by_test_id("logs-row")
    expect(rows).to_have_count(7)  # the demo logged far more than 7 INFO lines
    expect(rows.first).to_contain_text("INFO")
    screenshot(page, "rows")

    # `=` has nothing after it: the parser stops at the `|` that opens line 3.
    page.get_by_test_id("logs-form").locator("textarea[name=query]").fill(
        "fields @timestamp, @message\n| filter level =\n| limit 5")
    page.get_by_test_id("logs-run").click()
    expect(page.get_by_test_id("query-error")).to_contain_text("line 3, column 1")
    screenshot(page, "error")


def test_trace_page_shows_the_waterfall(page, console, screenshot, expect):
    memo = next(m for m in demo_memos(console) if m["status"] == "done")
    spans = api(console, f"/v1/traces/{memo['trace_id']}")["spans"]
    assert spans
    page.goto(f"{console.url}/traces/{memo['trace_id']}")
    expect(page.get_by_test_id("page-title")).to_be_visible()
    expect(page.get_by_test_id("span-row")).to_have_count(len(spans))
    screenshot(page)


def test_alarms_page_lists_every_alarm_with_its_state(page, console, screenshot, expect):
    page.goto(console.url + "/alarms")
    rows = page.get_by_test_id("alarm-row")
    alarms = api(console, "/v1/alarms")["alarms"]
    expect(rows).to_have_count(len(alarms))

    def page_matches_api() -> bool:
        # An alarm may change state between the API read and the page: re-read both until they agree.
        page.reload()
        shown = {rows.nth(i).inner_text(): rows.nth(i).get_attribute("data-state") for i in range(rows.count())}
        wanted = {alarm["name"]: alarm["state"] for alarm in api(console, "/v1/alarms")["alarms"]}
        named = {name: next((state for text, state in shown.items() if re.search(rf"\b{re.escape(name)}\b", text)),
                            None) for name in wanted}
        return named == wanted

    wait_until(page_matches_api, timeout=20, interval=0.5)
    assert {rows.nth(i).get_attribute("data-state") for i in range(rows.count())} <= ALARM_STATES
    screenshot(page)


def test_login_page_blocks_an_unauthenticated_browser_and_lets_the_token_in(page, locked_console, screenshot,
                                                                           expect):
    page.goto(locked_console.url + "/alarms")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_test_id("alarm-row")).to_have_count(0)
    form = page.get_by_test_id("login-form")
    expect(form).to_be_visible()
    screenshot(page, "blocked")

    form.locator("input[name=token]").fill("not-the-token-" + "x" * 20)
    with page.expect_navigation():
        form.locator("input[name=token]").press("Enter")
    page.goto(locked_console.url + "/alarms")  # a wrong token opens nothing
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_test_id("alarm-row")).to_have_count(0)

    form = page.get_by_test_id("login-form")
    form.locator("input[name=token]").fill(locked_console.env["WHISPERSYNC_API_TOKEN"])
    with page.expect_navigation():
        form.locator("input[name=token]").press("Enter")
    expect(page).not_to_have_url(re.compile(r"/login"))
    expect(page.get_by_test_id("page-title")).to_be_visible()
    page.goto(locked_console.url + "/alarms")  # the session cookie now opens every page
    expect(page.get_by_test_id("alarm-row")).not_to_have_count(0)
    screenshot(page, "in")
