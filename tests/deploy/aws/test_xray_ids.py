"""X-Ray on Lambda: a memo is one trace from ingest through SQS to the worker, under an id X-Ray accepts.

X-Ray trace ids: 8 hex digits of the original request's epoch seconds, then a 96-bit random part
https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-traceids
"""

from __future__ import annotations

import time

from whispersync.deploy.aws.handlers._lambda import new_xray_trace_id
from whispersync.pipeline.aws import DynamoRecordStore

TEXT = "Standup. Need to fix the flaky deploy test. Will follow up with Sam about the release."
BUCKET = "whispersync-test-bucket"


def _spans(lam, deployed) -> list[dict]:
    return [line for line in lam.stdout_lines(deployed.stdout) if "span_id" in line and "start_time_unix_nano" in line]


def _ingest_and_process(deployed, lam, memo_id: str) -> list[dict]:
    """One memo through the ingest handler (S3 event) and the worker handler (its SQS message)."""
    key = f"transcripts/work/{memo_id}.txt"
    deployed.s3.put_object(Bucket=BUCKET, Key=key, Body=TEXT.encode())
    answer = deployed.modules["ingest"].handler(lam.s3_event(key, size=len(TEXT)), lam.context("whispersync-ingest"))
    assert answer["accepted"] == [memo_id]
    received = lam.receive_all(deployed.sqs, deployed.queue_url)
    event = lam.sqs_event(received, lam.queue_arn(deployed.sqs, deployed.queue_url))
    assert deployed.modules["worker"].handler(event, lam.context()) == {"batchItemFailures": []}
    return received


class TestXrayTraceIds:
    def test_a_memo_is_one_trace_from_ingest_to_worker_with_an_xray_id(self, deployed, lam):
        """Ingest starts the trace (no Lambda tracing header): its id begins with now's epoch seconds,
        and the worker's spans continue it."""
        before = int(time.time())
        _ingest_and_process(deployed, lam, "memo0001")
        after = int(time.time())
        spans = _spans(lam, deployed)
        services = {line.get("function_name") for line in lam.stdout_lines(deployed.stdout) if "level" in line}
        assert {"whispersync-ingest", "whispersync-worker"} <= services
        trace_ids = {span["trace_id"] for span in spans}
        assert len(trace_ids) == 1 and len(spans) >= 2
        (trace_id,) = trace_ids
        assert before - 2 <= int(trace_id[:8], 16) <= after + 2
        memo = DynamoRecordStore(deployed.dynamodb, "whispersync-memos").get("memo0001")
        assert memo.trace_id == trace_id
        roots = [span for span in spans if span["parent_span_id"] is None]
        assert len(roots) == 1 and int(trace_id[:8], 16) == roots[0]["start_time_unix_nano"] // 1_000_000_000

    def test_with_lambda_tracing_on_the_invocations_trace_is_continued(self, deployed, lam, monkeypatch):
        """Active tracing: Lambda's `_X_AMZN_TRACE_ID` root is the memo's trace, through SQS to the worker."""
        root, parent = f"1-{int(time.time()):08x}-a006649127e371903a2de979", "53995c3f42cd8ad8"
        monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent={parent};Sampled=1")
        _ingest_and_process(deployed, lam, "memo0002")
        monkeypatch.delenv("_X_AMZN_TRACE_ID")
        assert {span["trace_id"] for span in _spans(lam, deployed)} == {root[2:].replace("-", "")}

    def test_the_worker_continues_an_sqs_aws_trace_header(self, deployed, lam):
        """A message without a traceparent attribute (sent by an X-Ray SDK) continues its AWSTraceHeader."""
        trace_id = f"{int(time.time()):08x}bd862e3fe1be46a994272793"
        deployed.sqs.send_message(
            QueueUrl=deployed.queue_url, MessageBody='{"memo_id": "nope"}',
            MessageSystemAttributes={"AWSTraceHeader": {
                "StringValue": f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent=53995c3f42cd8ad8;Sampled=1",
                "DataType": "String"}})
        received = lam.receive_all(deployed.sqs, deployed.queue_url)
        assert received[0]["Attributes"].get("AWSTraceHeader")
        event = lam.sqs_event(received, lam.queue_arn(deployed.sqs, deployed.queue_url))
        deployed.modules["worker"].handler(event, lam.context())
        spans = _spans(lam, deployed)
        assert spans and {span["trace_id"] for span in spans} == {trace_id}


class TestNewXrayTraceId:
    def test_it_is_the_start_seconds_then_random_bits(self):
        """8 hex digits of epoch seconds, 24 random hex digits: X-Ray's `1-<8>-<24>` without the dashes."""
        start_ns = 1_480_615_200_000_000_000  # X-Ray's own example: 58406520
        first, second = new_xray_trace_id(start_ns), new_xray_trace_id(start_ns)
        assert first[:8] == second[:8] == "58406520"
        assert len(first) == 32 and int(first, 16) and first[8:] != second[8:]
