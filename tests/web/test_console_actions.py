"""The console's forms that change state (issue 10): Redrive from the DLQ view and a memo's page,
an alarm's set-state. Plain form POSTs with the session's CSRF token; without it nothing changes."""

from __future__ import annotations

import re

import httpx
import pytest

from whispersync.domain import MemoStatus, Transcript

TOKEN = "console-actions-token-" + "k3" * 10


def dead_letter(runtime, text: str = "🙂 🎉") -> str:
    """A memo the worker dead-letters at once: a transcript with no words fails permanently."""
    receipt = runtime.ingestor.accept(Transcript(text=text, agent="work"))
    [message] = runtime.queue.receive(1)
    assert runtime.processor.process(message) is False
    return receipt.id


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def failed(api):
    """An open loopback console with one dead-lettered memo."""
    runtime, _, client = api
    return runtime, client, dead_letter(runtime)


class TestRedrive:
    def test_the_dlq_view_lists_the_memo_with_its_error_and_a_redrive_button(self, failed) -> None:
        _, client, memo_id = failed
        html = client.get("/memos").text
        [row] = re.findall(r'<tr data-testid="dlq-row"[^>]*>.*?</tr>', html, re.DOTALL)
        assert f'data-memo-id="{memo_id}"' in row and "transcript has no words" in row
        assert 'data-testid="redrive"' in row and 'data-testid="redrive-all"' in html

    def test_redrive_moves_the_memo_back_and_sets_it_queued(self, failed) -> None:
        runtime, client, memo_id = failed
        token = csrf_of(client.get("/memos").text)
        response = client.post("/dlq/redrive", data={"csrf_token": token, "memo_id": memo_id})
        assert response.status_code == 303 and response.headers["location"] == "/memos?redriven=1#dlq"
        assert runtime.records.get(memo_id).status is MemoStatus.QUEUED
        assert runtime.dlq.counts().visible == 0 and runtime.queue.counts().visible == 1
        page = client.get(response.headers["location"]).text
        assert "Moved 1 message(s)" in page and 'data-testid="dlq-row"' not in page

    def test_redrive_all_from_the_list(self, failed) -> None:
        runtime, client, first = failed
        second = dead_letter(runtime)
        token = csrf_of(client.get("/memos").text)
        response = client.post("/dlq/redrive", data={"csrf_token": token})
        assert response.headers["location"] == "/memos?redriven=2#dlq"
        assert {runtime.records.get(i).status for i in (first, second)} == {MemoStatus.QUEUED}

    def test_a_failed_memos_page_has_the_button_and_comes_back_to_itself(self, failed) -> None:
        _, client, memo_id = failed
        html = client.get(f"/memos/{memo_id}").text
        assert 'data-testid="memo-dlq"' in html
        response = client.post("/dlq/redrive", data={"csrf_token": csrf_of(html), "memo_id": memo_id,
                                                     "back": "memo"})
        assert response.headers["location"] == f"/memos/{memo_id}?redriven=1"
        after = client.get(response.headers["location"]).text
        assert 'data-testid="memo-dlq"' not in after and "Moved back to the transcripts queue" in after

    @pytest.mark.parametrize("token", [None, "", "0" * 64])
    def test_a_missing_or_stale_csrf_token_is_refused_and_changes_nothing(self, failed, token) -> None:
        runtime, client, memo_id = failed
        client.get("/memos")  # a session cookie, so only the token is wrong
        form = {"memo_id": memo_id} | ({"csrf_token": token} if token is not None else {})
        response = client.post("/dlq/redrive", data=form)
        assert response.status_code == 403 and "text/html" in response.headers["content-type"]
        assert runtime.records.get(memo_id).status is MemoStatus.FAILED
        assert runtime.dlq.counts().visible == 1

    def test_a_token_from_another_session_is_refused(self, failed, api) -> None:
        runtime, client, memo_id = failed
        _, server, _ = api
        with httpx.Client(base_url=server.url, timeout=10) as other:
            token = csrf_of(other.get("/memos").text)
        assert client.post("/dlq/redrive", data={"csrf_token": token, "memo_id": memo_id}).status_code == 403
        assert runtime.dlq.counts().visible == 1

    def test_with_an_api_token_the_form_needs_a_signed_in_session(self, make_api) -> None:
        runtime, server = make_api(api_token=TOKEN)
        memo_id = dead_letter(runtime)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.post("/dlq/redrive", data={"csrf_token": "x", "memo_id": memo_id}).status_code == 403
            client.post("/login", data={"token": TOKEN, "next": "/memos"})
            token = csrf_of(client.get("/memos").text)
            assert client.post("/dlq/redrive", data={"csrf_token": token, "memo_id": memo_id}).status_code == 303
        assert runtime.records.get(memo_id).status is MemoStatus.QUEUED


class TestAlarmSetState:
    NAME = "DLQMessages"

    def test_set_state_changes_the_state_and_the_page_shows_it(self, api) -> None:
        runtime, _, client = api
        html = client.get(f"/alarms/{self.NAME}").text
        assert 'data-testid="alarm-set-state"' in html
        response = client.post(f"/alarms/{self.NAME}/state",
                               data={"csrf_token": csrf_of(html), "state": "ALARM", "reason": "drill"})
        assert response.status_code == 303 and response.headers["location"] == f"/alarms/{self.NAME}"
        [alarm] = [a for a in runtime.alarms.describe() if a["name"] == self.NAME]
        assert (alarm["state"], alarm["reason"]) == ("ALARM", "drill")
        assert re.search(r'data-testid="alarm-state">ALARM<', client.get(f"/alarms/{self.NAME}").text)

    @pytest.mark.parametrize("form, status", [
        ({"state": "ALARM", "reason": "drill", "csrf_token": "stale"}, 403),
        ({"state": "ON_FIRE", "reason": "drill"}, 400),
        ({"state": "ALARM", "reason": " "}, 400),
    ])
    def test_a_bad_form_changes_nothing(self, api, form, status) -> None:
        runtime, _, client = api
        token = csrf_of(client.get(f"/alarms/{self.NAME}").text)
        before = [a["state"] for a in runtime.alarms.describe() if a["name"] == self.NAME]
        response = client.post(f"/alarms/{self.NAME}/state", data={"csrf_token": token} | form)
        assert response.status_code == status and "text/html" in response.headers["content-type"]
        assert [a["state"] for a in runtime.alarms.describe() if a["name"] == self.NAME] == before

    def test_an_unknown_alarm_is_a_404_page(self, api) -> None:
        _, _, client = api
        token = csrf_of(client.get(f"/alarms/{self.NAME}").text)
        response = client.post("/alarms/NoSuchAlarm/state",
                               data={"csrf_token": token, "state": "OK", "reason": "x"})
        assert response.status_code == 404 and "text/html" in response.headers["content-type"]
