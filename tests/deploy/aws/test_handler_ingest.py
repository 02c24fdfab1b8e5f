"""The ingest handler: S3 events and function URL requests, with POST /v1/transcripts' rules."""

from __future__ import annotations

import json

from whispersync.domain import MemoStatus
from whispersync.pipeline.aws import DynamoRecordStore


def test_an_uploaded_file_of_any_name_becomes_one_memo_and_one_message(deployed, lam) -> None:
    ingest = deployed.modules["ingest"].handler
    key = "transcripts/memory/Grandma birthday.txt"
    text = b"Grandma turned ninety today and we all sang."
    deployed.s3.put_object(Bucket="whispersync-test-bucket", Key=key, Body=text)
    first = ingest(lam.s3_event(key, size=len(text)), lam.context("whispersync-ingest"))
    [memo_id] = first["accepted"]
    memo = DynamoRecordStore(deployed.dynamodb, "whispersync-memos").get(memo_id)
    assert (memo.status, memo.agent, memo.title, memo.key) == (
        MemoStatus.QUEUED, "memory", "Grandma birthday", f"transcripts/memory/{memo_id}.txt")
    # The copy under the Ingestor's key raises its own event: recognised, no second memo or message.
    assert ingest(lam.s3_event(memo.key, size=len(text)), lam.context("whispersync-ingest"))["accepted"] == [memo_id]
    messages = lam.receive_all(deployed.sqs, deployed.queue_url)
    assert [json.loads(m["Body"])["memo_id"] for m in messages] == [memo_id]


def test_a_bad_upload_is_logged_as_rejected_and_nothing_is_stored(deployed, lam) -> None:
    ingest = deployed.modules["ingest"].handler
    for key, body in (("transcripts/poetry/x.txt", b"a poem"), ("transcripts/work/blank.txt", b"  \n"),
                      ("transcripts/work/bin.txt", b"\xff\xfe\x00")):
        deployed.s3.put_object(Bucket="whispersync-test-bucket", Key=key, Body=body)
        assert ingest(lam.s3_event(key, size=len(body)), lam.context())["rejected"] == [key]
    rejected = [line for line in lam.stdout_lines(deployed.stdout) if line.get("message") == "Transcript rejected"]
    assert [line["error_type"] for line in rejected] == ["UnknownAgent", "EmptyTranscript", "NotUtf8"]
    assert lam.receive_all(deployed.sqs, deployed.queue_url) == []


def test_the_function_url_answers_as_the_local_api(deployed, lam) -> None:
    ingest = deployed.modules["ingest"].handler
    ok = ingest(lam.http_event(json.dumps({"text": "Need to ship the release", "agent": "work"}),
                               headers={"x-correlation-id": "corr-http-1"}), lam.context())
    assert ok["statusCode"] == 202
    receipt = json.loads(ok["body"])
    assert receipt["correlation_id"] == "corr-http-1"
    assert ok["headers"]["traceparent"].split("-")[1] == receipt["trace_id"]
    bad = {
        "unknown agent": (lam.http_event(json.dumps({"text": "hi", "agent": "poetry"})), 422, "unknown_agent"),
        "not JSON": (lam.http_event("{"), 400, "invalid_input"),
        "empty": (lam.http_event("   ", content_type="text/plain"), 400, "empty_transcript"),
        "media type": (lam.http_event("x", content_type="image/png"), 415, "unsupported_media_type"),
        "method": (lam.http_event("x", method="GET"), 405, "method_not_allowed"),
        "route": (lam.http_event("x", path="/v1/other"), 404, "not_found"),
    }
    for case, (event, status, code) in bad.items():
        answer = ingest(event, lam.context())
        assert (answer["statusCode"], json.loads(answer["body"])["error"]["code"]) == (status, code), case
    assert len(lam.receive_all(deployed.sqs, deployed.queue_url)) == 1


def test_the_invocation_trace_is_continued_from_lambda_s_xray_header(deployed, lam, monkeypatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    answer = deployed.modules["ingest"].handler(lam.http_event(json.dumps({"text": "hello there"})), lam.context())
    assert json.loads(answer["body"])["trace_id"] == "5759e988bd862e3fe1be46a994272793"
    accepted = next(line for line in lam.stdout_lines(deployed.stdout) if line.get("message") == "Transcript accepted")
    assert accepted["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert accepted["cold_start"] is True and accepted["function_request_id"] == "req-1"
