"""The issue's end-to-end test: S3 → ingest handler → SQS → worker handler → S3 outputs + DynamoDB,
a poisoned message reported alone and then in the DLQ, and the same telemetry as a local run."""

from __future__ import annotations

import time

from whispersync.agents import Router, build_agents
from whispersync.domain import MemoStatus, Transcript
from whispersync.pipeline.aws import DynamoRecordStore
from whispersync.pipeline.blobs import DirBlobStore
from whispersync.pipeline.ingest import Ingestor
from whispersync.pipeline.queue import RedrivePolicy, SqliteQueueBroker
from whispersync.pipeline.records import SqliteRecordStore
from whispersync.pipeline.worker import MemoProcessor
from whispersync.telemetry import MemorySink, Telemetry, parse_emf

TEXT = "Standup. Need to fix the flaky deploy test. Will follow up with Sam about the release."
MEMO_ID = "memo0001"


def _metric_identities(records: list[dict]) -> set[tuple]:
    return {(r["namespace"], r["name"], tuple(sorted(r["dimensions"]))) for r in records}


def _log_fields(lines: list[dict]) -> dict[str, set[str]]:
    """message → keys of its log lines, minus the Lambda-only context keys."""
    lambda_only = {"cold_start", "function_name", "function_memory_size", "function_arn", "function_request_id",
                   "xray_trace_id"}
    fields: dict[str, set[str]] = {}
    for line in lines:
        fields.setdefault(line["message"], set()).update(set(line) - lambda_only)
    return fields


def _local_run(tmp_path) -> MemorySink:
    """The same memo through the local pipeline, as tests/pipeline/test_worker.py drives it."""
    sink = MemorySink()
    telemetry = Telemetry(sink, log_level="INFO")
    broker = SqliteQueueBroker(tmp_path / "queue.db")
    dlq = broker.queue("transcripts-dlq")
    queue = broker.queue("transcripts", redrive=RedrivePolicy("transcripts-dlq", 2))
    blobs = DirBlobStore(tmp_path / "blobs")
    records = SqliteRecordStore(tmp_path / "records.db")
    ingestor = Ingestor(blobs=blobs, records=records, queue=queue, telemetry=telemetry, max_bytes=1024 * 1024)
    processor = MemoProcessor(queue=queue, blobs=blobs, records=records, router=Router(),
                              agents=build_agents(tmp_path / "outputs"), telemetry=telemetry,
                              outputs_dir=tmp_path / "outputs", max_receive_count=2, dead_letter_queue=dlq)
    ingestor.accept(Transcript(text=TEXT, agent="work", source="s3"), memo_id=MEMO_ID)
    assert processor.process(queue.receive(1)[0])
    broker.close()
    records.close()
    return sink


def test_a_transcript_goes_from_s3_to_outputs_and_a_poisoned_message_to_the_dlq(deployed, lam, tmp_path) -> None:
    ingest, worker = deployed.modules["ingest"].handler, deployed.modules["worker"].handler
    key = f"transcripts/work/{MEMO_ID}.txt"
    deployed.s3.put_object(Bucket="whispersync-test-bucket", Key=key, Body=TEXT.encode())

    answer = ingest(lam.s3_event(key, size=len(TEXT)), lam.context("whispersync-ingest"))
    assert answer == {"accepted": [MEMO_ID], "rejected": []}

    # The ingest handler's message, and a poisoned one beside it in the same batch.
    deployed.sqs.send_message(QueueUrl=deployed.queue_url, MessageBody="{not json")
    arn = lam.queue_arn(deployed.sqs, deployed.queue_url)
    received = lam.receive_all(deployed.sqs, deployed.queue_url)
    assert len(received) == 2
    ours = next(m for m in received if m["Body"] != "{not json")
    assert set(ours["MessageAttributes"]) == {"correlationId", "traceparent"}
    poisoned_id = next(m["MessageId"] for m in received if m["Body"] == "{not json")

    result = worker(lam.sqs_event(received, arn), lam.context())
    assert result == {"batchItemFailures": [{"itemIdentifier": poisoned_id}]}

    memo = DynamoRecordStore(deployed.dynamodb, "whispersync-memos").get(MEMO_ID)
    assert memo.status is MemoStatus.DONE and memo.agent == "work"
    outputs = deployed.s3.list_objects_v2(Bucket="whispersync-test-bucket", Prefix="outputs/")["Contents"]
    assert {o["Key"] for o in outputs} == {f"outputs/{o}" for o in memo.result["outputs"]}
    assert any(o["Key"].endswith("_response.json") for o in outputs)

    # The poisoned message comes back (after the worker's 1 s backoff) until maxReceiveCount, then the DLQ.
    for receive in range(2, 4):
        deadline = time.monotonic() + 5
        again = []
        while not again and time.monotonic() < deadline:
            again = lam.receive_all(deployed.sqs, deployed.queue_url)
            if not again:
                time.sleep(0.2)
        if receive == 3:
            assert again == []  # moved to the DLQ by this receive
            break
        assert [m["MessageId"] for m in again] == [poisoned_id]
        answer = worker(lam.sqs_event(again, arn), lam.context())
        assert answer == {"batchItemFailures": [{"itemIdentifier": poisoned_id}]}
    dead = lam.receive_all(deployed.sqs, deployed.dlq_url)
    assert [m["MessageId"] for m in dead] == [poisoned_id]

    # Telemetry: the Lambda's stdout against a local run of the same memo.
    lines = lam.stdout_lines(deployed.stdout)
    emf = [r for line in lines if "_aws" in line for r in parse_emf(line)]
    logs = [line for line in lines if "level" in line and "message" in line]
    local = _local_run(tmp_path / "local")
    assert _metric_identities(local.records["metrics"]) <= _metric_identities(emf)
    local_fields = _log_fields(local.records["logs"])
    lambda_fields = _log_fields([line for line in logs if line["message"] in local_fields])
    assert lambda_fields == local_fields
    processed = next(line for line in logs if line["message"] == "Processing successful")
    assert processed["function_name"] == "whispersync-worker"
    assert processed["xray_trace_id"] == f"1-{memo.trace_id[:8]}-{memo.trace_id[8:]}"
    assert {"Transcript accepted", "Processing transcript", "Processing successful", "Processing failed"} <= {
        line["message"] for line in logs}
