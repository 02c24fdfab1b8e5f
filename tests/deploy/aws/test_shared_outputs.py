"""Files many memos write (the week's journal, the memory archive, an idea folder's owner) survive
concurrent Lambda containers, each with its own /tmp: no entry is lost, none is written twice.

A "container" here is the worker module's processor built with its own outputs dir, as a cold
Lambda container builds it; interleaving uses botocore's event hooks on one container's S3 client,
so the other container really writes between its download and its upload.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from whispersync.domain import MemoStatus
from whispersync.pipeline.aws import DynamoRecordStore

BUCKET = "whispersync-test-bucket"
WORK_TEXT = "Need to send the release notes to Priya by Friday."
MEMORY_TEXT = "We had a lovely picnic at the lake with my sister Anna."
IDEA_TEXT = "An app called Plant Pal. It should remind me to water the plants. Users can share photos."


@dataclass
class Container:
    """One Lambda container: its own /tmp and its own clients, driven through the real handler."""

    worker: Any
    processor: Any

    def run(self, event: dict, context: Any) -> dict:
        self.worker._processor = self.processor  # the module global a warm container keeps
        return self.worker.handler(event, context)

    @property
    def s3(self) -> Any:
        return self.processor.blobs.client


@pytest.fixture
def container(deployed, monkeypatch, tmp_path):
    worker = deployed.modules["worker"]

    def cold(name: str) -> Container:
        monkeypatch.setenv("WHISPERSYNC_OUTPUTS_DIR", str(tmp_path / name / "tmp" / "outputs"))
        monkeypatch.setattr(worker, "_processor", None)
        return Container(worker, worker.memo_processor())

    return cold


def _submit(deployed, lam, agent: str, memo_id: str, text: str) -> dict:
    """The memo through the ingest handler; its SQS message as the worker's event record shape."""
    key = f"transcripts/{agent}/{memo_id}.txt"
    deployed.s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    assert deployed.modules["ingest"].handler(lam.s3_event(key, size=len(text)), lam.context())["accepted"] == [memo_id]
    [message] = lam.receive_all(deployed.sqs, deployed.queue_url, 1)
    return message


def _event(deployed, lam, message: dict) -> dict:
    return lam.sqs_event([message], lam.queue_arn(deployed.sqs, deployed.queue_url))


def _objects(deployed, prefix: str) -> dict[str, bytes]:
    listed = deployed.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: deployed.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def _journal_ids(deployed) -> Counter:
    """Memo ids of the entries in the S3 journal (one week: the memos are recorded now)."""
    journals = _objects(deployed, "outputs/work/journal/")
    assert len(journals) == 1, sorted(journals)
    [text] = journals.values()
    return Counter(re.findall(r"<!-- memo:([^\s>]+) -->", text.decode()))


def _archive_ids(deployed) -> Counter:
    text = _objects(deployed, "outputs/memory/archive.jsonl")["outputs/memory/archive.jsonl"].decode()
    return Counter(json.loads(line)["id"] for line in text.splitlines() if line.startswith("{"))


def _idea_owners(deployed) -> set[str]:
    return {json.loads(data)["memo_id"] for key, data in _objects(deployed, "outputs/github_ideas/").items()
            if key.endswith("/spec.json")}


@pytest.mark.parametrize(("agent", "text", "ids"), [
    ("work", WORK_TEXT, _journal_ids),
    ("memory", MEMORY_TEXT, _archive_ids),
])
def test_two_containers_appending_to_one_file_keep_both_entries(deployed, lam, container, agent, text, ids) -> None:
    """The second container's /tmp lacks the first one's entry; its upload must not erase it."""
    first, second = container("a"), container("b")
    one = _submit(deployed, lam, agent, f"{agent}-one", text)
    two = _submit(deployed, lam, agent, f"{agent}-two", text)
    assert first.run(_event(deployed, lam, one), lam.context()) == {"batchItemFailures": []}
    assert second.run(_event(deployed, lam, two), lam.context()) == {"batchItemFailures": []}
    assert ids(deployed) == {f"{agent}-one": 1, f"{agent}-two": 1}
    # Per-memo files are still copied as they are.
    assert len(_objects(deployed, f"outputs/{agent}/")) == 3 + (agent == "memory") * 2


def test_two_ideas_with_one_name_in_two_containers_keep_both_specs(deployed, lam, container) -> None:
    """The folder claim is shared too: the second idea must see the first owns `<slug>/` and move aside."""
    first, second = container("a"), container("b")
    one = _submit(deployed, lam, "github_ideas", "idea-one", IDEA_TEXT)
    two = _submit(deployed, lam, "github_ideas", "idea-two", IDEA_TEXT)
    assert first.run(_event(deployed, lam, one), lam.context()) == {"batchItemFailures": []}
    assert second.run(_event(deployed, lam, two), lam.context()) == {"batchItemFailures": []}
    assert _idea_owners(deployed) == {"idea-one", "idea-two"}


def test_a_file_changed_between_download_and_upload_is_merged_again(deployed, lam, container) -> None:
    """Container b writes the journal while container a holds its copy: a's upload is refused, it retries."""
    first, second = container("a"), container("b")
    one = _submit(deployed, lam, "work", "work-one", WORK_TEXT)
    two = _submit(deployed, lam, "work", "work-two", WORK_TEXT)
    interleaved = []

    def other_container_writes_first(params: dict, **_: Any) -> None:
        if params["Key"].startswith("outputs/work/journal/") and not interleaved:
            interleaved.append(params.get("IfMatch") or params.get("IfNoneMatch"))
            assert second.run(_event(deployed, lam, two), lam.context()) == {"batchItemFailures": []}

    first.s3.meta.events.register("before-parameter-build.s3.PutObject", other_container_writes_first)
    assert first.run(_event(deployed, lam, one), lam.context()) == {"batchItemFailures": []}
    assert interleaved, "container a never uploaded the journal"
    assert _journal_ids(deployed) == {"work-one": 1, "work-two": 1}


def test_a_file_that_keeps_changing_fails_the_record_and_loses_nothing(deployed, lam, container) -> None:
    """After the bounded retries the record fails (SQS brings it back); the other writers' lines stay."""
    first = container("a")
    one = _submit(deployed, lam, "memory", "memory-one", MEMORY_TEXT)
    foreign = []

    def someone_else_appends(params: dict, **_: Any) -> None:
        if params["Key"] == "outputs/memory/archive.jsonl":
            foreign.append(json.dumps({"id": f"other-{len(foreign)}"}))
            deployed.s3.put_object(Bucket=BUCKET, Key=params["Key"], Body="".join(f"{f}\n" for f in foreign).encode())

    first.s3.meta.events.register("before-parameter-build.s3.PutObject", someone_else_appends)
    result = first.run(_event(deployed, lam, one), lam.context())
    assert result == {"batchItemFailures": [{"itemIdentifier": one["MessageId"]}]}
    assert foreign and _archive_ids(deployed) == {f"other-{i}": 1 for i in range(len(foreign))}
    assert DynamoRecordStore(deployed.dynamodb, "whispersync-memos").get("memory-one").status is not MemoStatus.DONE


def test_a_memo_processed_again_in_another_container_is_in_the_journal_once(deployed, lam, container) -> None:
    """SQS redelivers a memo whose container died after its upload (record not DONE) to a fresh container."""
    one = _submit(deployed, lam, "work", "work-one", WORK_TEXT)
    two = _submit(deployed, lam, "work", "work-two", WORK_TEXT)
    assert container("a").run(_event(deployed, lam, one), lam.context()) == {"batchItemFailures": []}
    assert container("b").run(_event(deployed, lam, two), lam.context()) == {"batchItemFailures": []}
    records = DynamoRecordStore(deployed.dynamodb, "whispersync-memos")
    records.update("work-one", status=MemoStatus.QUEUED)  # as if a had died before marking it done
    assert container("c").run(_event(deployed, lam, one), lam.context()) == {"batchItemFailures": []}
    assert records.get("work-one").status is MemoStatus.DONE
    assert _journal_ids(deployed) == {"work-one": 1, "work-two": 1}
