"""GET /v1/dlq and POST /v1/dlq/redrive: the dead-letter queue over HTTP, as `whispersync dlq` shows and moves it."""

from __future__ import annotations

import orjson
import pytest

from whispersync.domain import MemoStatus, Transcript


def dead_letter(runtime, text: str = "🙂 🎉") -> str:
    """A memo the worker dead-letters at once: a transcript with no words fails permanently."""
    receipt = runtime.ingestor.accept(Transcript(text=text, agent="work"))
    [message] = runtime.queue.receive(1)
    assert runtime.processor.process(message) is False
    return receipt.id


class TestList:
    def test_dead_lettered_memos_are_listed_with_their_error(self, api) -> None:
        """Each message as `dlq list --json` shows it: the memo id and its last error."""
        runtime, _, client = api
        memo_id = dead_letter(runtime)
        doc = client.get("/v1/dlq").json()
        [message] = doc["messages"]
        assert doc["next_token"] is None
        assert message["memo_id"] == memo_id and message["error"].startswith("ProcessingError")
        assert message["sent_at"].endswith("Z") and message["body"]["memo_id"] == memo_id

    def test_the_list_is_paged(self, api) -> None:
        runtime, _, client = api
        ids = [dead_letter(runtime) for _ in range(3)]
        first = client.get("/v1/dlq", params={"limit": 2}).json()
        rest = client.get("/v1/dlq", params={"limit": 2, "next_token": first["next_token"]}).json()
        assert [m["memo_id"] for m in first["messages"] + rest["messages"]] == ids
        assert rest["next_token"] is None


class TestRedrive:
    def test_chosen_memos_go_back_to_the_queue_as_queued(self, api) -> None:
        runtime, _, client = api
        moved_id, kept_id = dead_letter(runtime), dead_letter(runtime)
        response = client.post("/v1/dlq/redrive", json={"memo_ids": [moved_id, "not-in-the-dlq"]})
        assert response.status_code == 200, response.text
        assert response.json() == {"moved": 1, "memo_ids": [moved_id]}
        assert runtime.records.get(moved_id).status is MemoStatus.QUEUED
        assert runtime.records.get(kept_id).status is MemoStatus.FAILED
        assert [m["memo_id"] for m in client.get("/v1/dlq").json()["messages"]] == [kept_id]
        [message] = runtime.queue.receive(1)
        assert orjson.loads(message.body)["memo_id"] == moved_id

    def test_limit_moves_the_oldest_and_an_empty_body_moves_all(self, api) -> None:
        runtime, _, client = api
        ids = [dead_letter(runtime) for _ in range(3)]
        assert client.post("/v1/dlq/redrive", json={"limit": 1}).json() == {"moved": 1, "memo_ids": ids[:1]}
        assert client.post("/v1/dlq/redrive").json() == {"moved": 2, "memo_ids": sorted(ids[1:])}
        assert client.post("/v1/dlq/redrive", json={}).json() == {"moved": 0, "memo_ids": []}
        assert {runtime.records.get(i).status for i in ids} == {MemoStatus.QUEUED}

    def test_a_message_in_flight_stays_and_its_memo_keeps_its_status(self, api) -> None:
        """Someone is inspecting the message (received from the DLQ): it does not move, the memo stays failed."""
        runtime, _, client = api
        memo_id = dead_letter(runtime)
        assert runtime.dlq.receive(1)
        assert client.post("/v1/dlq/redrive", json={"memo_ids": [memo_id]}).json() == {"moved": 0, "memo_ids": []}
        assert runtime.records.get(memo_id).status is MemoStatus.FAILED

    @pytest.mark.parametrize("body", [
        [], {"memo_ids": "abc"}, {"memo_ids": []}, {"memo_ids": [1]}, {"limit": -1}, {"limit": True},
        {"limit": "2"}, {"memo_ids": ["a"], "limit": 1}, {"all": True},
    ])
    def test_a_bad_body_is_a_400_that_moves_nothing(self, api, body) -> None:
        runtime, _, client = api
        memo_id = dead_letter(runtime)
        response = client.post("/v1/dlq/redrive", json=body)
        assert response.status_code == 400, response.text
        assert set(response.json()["error"]) == {"code", "message"}
        assert runtime.records.get(memo_id).status is MemoStatus.FAILED
        assert runtime.dlq.counts().visible == 1

    def test_a_body_that_is_not_json_is_refused(self, api) -> None:
        _, _, client = api
        response = client.post("/v1/dlq/redrive", content=b"{", headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.json()["error"]["code"]
