"""What a dead-lettered message says about its failure, and the redrives that read and change it."""

from __future__ import annotations

import pytest

from whispersync.domain import MemoStatus, Transcript
from whispersync.errors import ProcessingError
from whispersync.pipeline import dead_letters
from whispersync.pipeline.queue import MAX_ATTRIBUTES
from whispersync.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    """One receive before the DLQ, so a transient failure is dead-lettered without waiting out backoffs."""
    return Settings.load(home=tmp_path / "home", visibility_timeout=5, collector_interval=3600,
                         compaction_interval=3600, max_receive_count=1)


class Failing:
    name = "work"

    def __init__(self, permanent: bool) -> None:
        self.permanent = permanent

    def process(self, memo):
        raise ProcessingError("no", permanent=self.permanent)


def _dead_letter(runtime, text: str, *, permanent: bool) -> str:
    runtime.processor.agents = {**runtime.agents, "work": Failing(permanent)}
    memo_id = runtime.ingestor.accept(Transcript(text=text, agent="work")).id
    [message] = runtime.queue.receive(1)
    runtime.processor.process(message)
    # A final transient failure is released at once; this receive moves it (the redrive policy).
    assert runtime.queue.receive(1) == []
    assert memo_id in dead_letters.memo_ids_in(runtime.dlq)
    return memo_id


def _attributes(runtime, memo_id: str, queue=None) -> dict[str, str]:
    [message] = [m for m in (queue or runtime.dlq).peek() if memo_id in m.body]
    return message.attributes


def _args(runtime) -> dict:
    return {"dlq": runtime.dlq, "queue": runtime.queue, "records": runtime.records}


def test_the_worker_marks_a_permanent_failure_and_the_redrive_policy_leaves_a_transient_one_unmarked(runtime):
    permanent = _dead_letter(runtime, "Need to ship it", permanent=True)
    transient = _dead_letter(runtime, "Need to fix it", permanent=False)
    assert _attributes(runtime, permanent)[dead_letters.FAILURE_ATTRIBUTE] == dead_letters.PERMANENT
    assert dead_letters.FAILURE_ATTRIBUTE not in _attributes(runtime, transient)
    assert _attributes(runtime, permanent)["correlationId"]       # the others travel along


def test_redrive_transient_moves_only_unmarked_memos_and_marks_them(runtime):
    permanent = _dead_letter(runtime, "Need to ship it", permanent=True)
    transient = _dead_letter(runtime, "Need to fix it", permanent=False)
    done = dead_letters.redrive_transient(runtime.broker, **_args(runtime), limit=10, now=1_767_225_600)
    assert (done.moved, done.memo_ids, done.permanent, done.already_redriven) == (1, [transient], [permanent], [])
    assert runtime.records.get(transient).status is MemoStatus.QUEUED
    assert _attributes(runtime, transient, runtime.queue)[dead_letters.AUTO_REDRIVEN_ATTRIBUTE] == \
        "2026-01-01T00:00:00.000Z"
    assert dead_letters.memo_ids_in(runtime.dlq) == {permanent}


def test_a_limit_of_zero_moves_nothing_and_says_what_waits(runtime):
    transient = _dead_letter(runtime, "Need to fix it", permanent=False)
    done = dead_letters.redrive_transient(runtime.broker, **_args(runtime), limit=0)
    assert (done.moved, done.over_limit) == (0, [transient])
    with pytest.raises(ValueError, match="limit"):
        dead_letters.redrive_transient(runtime.broker, **_args(runtime), limit=-1)


def test_a_person_s_redrive_clears_the_failure_mark_but_keeps_the_automatic_redrive_mark(runtime):
    """The failure it described is over; the one automatic redrive stays spent."""
    permanent = _dead_letter(runtime, "Need to ship it", permanent=True)
    moved = dead_letters.redrive(runtime.broker, **_args(runtime))
    assert moved.memo_ids == [permanent]
    assert dead_letters.FAILURE_ATTRIBUTE not in _attributes(runtime, permanent, runtime.queue)


def test_a_permanent_mark_needs_room_among_sqs_s_ten_attributes():
    full = {f"a{i}": "x" for i in range(MAX_ATTRIBUTES)}
    assert dead_letters.marked_permanent(full) == full
    assert dead_letters.marked_permanent({"correlationId": "c"}) == {"correlationId": "c", "failure": "permanent"}


def test_the_broker_s_attributes_patch_is_a_json_merge_patch(runtime):
    runtime.dlq.send("{}", attributes={"keep": "1", "drop": "2"})
    moved = runtime.broker.redrive(runtime.dlq.name, destination=runtime.queue.name,
                                   attributes_patch={"drop": None, "add": "3"})
    assert moved == 1
    [message] = runtime.queue.peek()
    assert message.attributes == {"keep": "1", "add": "3"}
