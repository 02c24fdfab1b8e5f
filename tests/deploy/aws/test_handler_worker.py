"""The worker handler: SQS batches through MemoProcessor, failures reported per item, writes once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from whispersync.domain import Memo, MemoStatus
from whispersync.errors import RecordExists
from whispersync.pipeline.aws import DynamoRecordStore
from whispersync.pipeline.records import SqliteRecordStore


def _submit(deployed, lam, text: str, memo_id: str) -> None:
    key = f"transcripts/work/{memo_id}.txt"
    deployed.s3.put_object(Bucket="whispersync-test-bucket", Key=key, Body=text.encode())
    assert deployed.modules["ingest"].handler(lam.s3_event(key, size=len(text)), lam.context())["accepted"] == [memo_id]


def test_a_memo_delivered_twice_is_processed_and_written_once(deployed, lam) -> None:
    worker = deployed.modules["worker"].handler
    _submit(deployed, lam, "Need to review the PR before Friday", "twice1")
    [message] = lam.receive_all(deployed.sqs, deployed.queue_url)
    arn = lam.queue_arn(deployed.sqs, deployed.queue_url)
    assert worker(lam.sqs_event([message], arn), lam.context()) == {"batchItemFailures": []}
    store = DynamoRecordStore(deployed.dynamodb, "whispersync-memos")
    first = store.get("twice1")
    # SQS is at-least-once: the same message again (its receipt handle is gone, the memo is not).
    assert worker(lam.sqs_event([message], arn), lam.context()) == {"batchItemFailures": []}
    assert store.get("twice1") == first
    assert first.status is MemoStatus.DONE
    messages = [line["message"] for line in lam.stdout_lines(deployed.stdout) if "message" in line]
    assert messages.count("Processing successful") == 1
    assert "Memo already processed; acknowledging" in messages


def test_a_record_the_event_cannot_describe_fails_alone(deployed, lam) -> None:
    worker = deployed.modules["worker"].handler
    _submit(deployed, lam, "Need to fix the build", "alone1")
    [message] = lam.receive_all(deployed.sqs, deployed.queue_url)
    event = lam.sqs_event([message], lam.queue_arn(deployed.sqs, deployed.queue_url))
    broken = {"messageId": "broken-1", "eventSource": "aws:sqs"}  # no body, no receipt handle
    event["Records"].insert(0, broken)
    assert worker(event, lam.context()) == {"batchItemFailures": [{"itemIdentifier": "broken-1"}]}
    assert DynamoRecordStore(deployed.dynamodb, "whispersync-memos").get("alone1").status is MemoStatus.DONE


def test_the_worker_continues_the_messages_xray_trace_when_it_has_no_traceparent(deployed, lam) -> None:
    deployed.sqs.send_message(QueueUrl=deployed.queue_url, MessageBody="{bad")
    [message] = lam.receive_all(deployed.sqs, deployed.queue_url)
    event = lam.sqs_event([message], "arn:aws:sqs:eu-west-1:123456789012:transcripts")
    event["Records"][0]["attributes"]["AWSTraceHeader"] = (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    deployed.modules["worker"].handler(event, lam.context())
    failed = next(line for line in lam.stdout_lines(deployed.stdout) if line.get("message") == "Processing failed")
    assert failed["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


@pytest.mark.parametrize("store", ["sqlite", "dynamodb"])
def test_both_record_stores_refuse_a_second_create_with_record_exists(store, aws, tmp_path) -> None:
    if store == "sqlite":
        records = SqliteRecordStore(tmp_path / "records.db")
    else:
        import boto3

        from whispersync.pipeline.aws import ensure_table

        client = boto3.client("dynamodb")
        ensure_table(client, "memos")
        records = DynamoRecordStore(client, "memos")
    memo = Memo(id="m-1", key="transcripts/m-1.txt", correlation_id="c", trace_id="t" * 32,
                status=MemoStatus.QUEUED, created_at=1.0, updated_at=1.0)
    records.create(memo)
    with pytest.raises(RecordExists):
        records.create(memo)


def test_importing_the_worker_handler_pulls_no_engine_web_or_boto3() -> None:
    """The cold start: a fresh interpreter, as Lambda's, imports the handler module and nothing heavy."""
    heavy = ["duckdb", "fastapi", "jinja2", "starlette", "uvicorn", "pydantic", "boto3",
             "whispersync.monitoring", "whispersync.app", "whispersync.web"]
    code = ("import sys, json; import whispersync.deploy.aws.handlers.worker; "
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert json.loads(done.stdout) == []
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "whispersync.deploy.aws.handlers.worker" in imported
    assert not {name for name in imported if name.split(".")[0] in {"duckdb", "fastapi", "jinja2", "starlette"}}
