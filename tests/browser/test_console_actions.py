"""The console's Redrive button in a real browser (issue 10, "Done when": the redrive button moves a
DLQ memo back and it gets processed), against the session's `whispersync up --demo`.

A memo is dead-lettered the way it happens in life: its agent cannot write its output. The work
agent appends to `outputs/work/journal/<ISO week>.md`; a directory squatting on that path makes
every attempt fail until the worker gives up and the memo lands in the DLQ. Once the path is
free again, Redrive gives the memo another try and it is done.
"""

from __future__ import annotations

import httpx
import pytest

from helpers import wait_until

pytestmark = pytest.mark.e2e  # a real `whispersync up` process

# A week no demo memo was recorded in, so only this test's memo writes that journal.
RECORDED_AT = "2019-01-08T09:00:00Z"
JOURNAL = "2019-W02.md"


def memo_status(server, memo_id: str) -> str:
    return httpx.get(f"{server.url}/v1/memos/{memo_id}", timeout=10).json()["status"]


def dead_lettered_ids(server) -> set[str]:
    messages = httpx.get(f"{server.url}/v1/dlq", params={"limit": 1000}, timeout=10).json()["messages"]
    return {m.get("memo_id") for m in messages}


def test_redrive_moves_a_dead_lettered_memo_back_and_it_is_processed(page, console, screenshot, expect):
    squatter = console.home / "outputs" / "work" / "journal" / JOURNAL
    squatter.mkdir(parents=True)
    try:
        response = httpx.post(f"{console.url}/v1/transcripts", timeout=10, json={
            "text": "Need to call the plumber about the kitchen leak", "agent": "work", "recorded_at": RECORDED_AT})
        assert response.status_code == 202, response.text
        memo_id = response.json()["id"]
        # Three tries with 1 s and 2 s backoffs, then the DLQ.
        wait_until(lambda: memo_id in dead_lettered_ids(console), timeout=60, interval=0.5)
        assert memo_status(console, memo_id) == "failed"
    finally:
        squatter.rmdir()

    page.goto(console.url + "/memos")
    row = page.locator(f'[data-testid="dlq-row"][data-memo-id="{memo_id}"]')
    expect(row).to_contain_text("IsADirectoryError")
    row.get_by_test_id("redrive").click()
    expect(page.get_by_test_id("redrive-result")).to_contain_text("Moved 1 message(s)")
    expect(row).to_have_count(0)

    wait_until(lambda: memo_status(console, memo_id) == "done", timeout=30, interval=0.5)
    assert memo_id not in dead_lettered_ids(console)
    page.goto(f"{console.url}/memos/{memo_id}")
    expect(page.locator("dl.facts .status")).to_have_text("done")
    expect(page.get_by_test_id("memo-dlq")).to_have_count(0)
    expect(page.get_by_test_id("memo-output")).to_contain_text(JOURNAL)
    screenshot(page)
