"""moto for the Lambda handlers: a bucket, the queue and its DLQ, the table, and the env the stack sets.

Events are built in the documented shapes:
S3   https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
SQS  https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (example event)
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

import pytest

from whispersync import catalog
from whispersync.deploy.aws.environment import ENV

REGION = "eu-west-1"
BUCKET = "whispersync-test-bucket"
TABLE = "whispersync-memos"
MAX_RECEIVES = 2


@dataclass
class Deployed:
    s3: Any
    sqs: Any
    dynamodb: Any
    queue_url: str
    dlq_url: str
    stdout: io.StringIO
    modules: dict


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path):
    moto = pytest.importorskip("moto")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    with moto.mock_aws():
        yield


@pytest.fixture
def deployed(aws, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Deployed:
    """What the CDK stack deploys, in moto, and the handler modules reset to a cold container."""
    import boto3

    from whispersync.deploy.aws.handlers import _lambda, alert_router, collector, ingest, remediation, worker
    from whispersync.pipeline.aws import ensure_queue, ensure_table
    from whispersync.pipeline.queue import RedrivePolicy

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = ensure_queue(sqs, catalog.DEAD_LETTER_QUEUE)
    queue_url = ensure_queue(sqs, catalog.QUEUE, visibility_timeout=30,
                             redrive=RedrivePolicy(catalog.DEAD_LETTER_QUEUE, MAX_RECEIVES))
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    ensure_table(dynamodb, TABLE)
    for name, value in {ENV.BUCKET: BUCKET, ENV.QUEUE_URL: queue_url, ENV.DLQ_URL: dlq_url, ENV.TABLE: TABLE,
                        ENV.MAX_RECEIVE_COUNT: str(MAX_RECEIVES), ENV.POWERTOOLS_SERVICE_NAME: "whispersync",
                        "WHISPERSYNC_OUTPUTS_DIR": str(tmp_path / "lambda-tmp" / "outputs"),
                        "WHISPERSYNC_NOTIFY_DIR": str(tmp_path / "lambda-tmp")}.items():
        monkeypatch.setenv(name, value)
    stdout = io.StringIO()
    monkeypatch.delenv(ENV.SECRETS_NAME, raising=False)
    monkeypatch.delenv(ENV.PLAN_FILE, raising=False)  # the built-in plan unless a test ships one
    for module in (ingest, worker, collector, alert_router, remediation):
        monkeypatch.setattr(module, "_invocations", _lambda.Invocations(stdout))
    monkeypatch.setattr(ingest, "_ingestor", None)
    monkeypatch.setattr(worker, "_processor", None)
    monkeypatch.setattr(collector, "_queues", None)
    monkeypatch.setattr(alert_router, "_notifier", None)
    monkeypatch.setattr(remediation, "_lambda_client", None)
    return Deployed(s3, sqs, dynamodb, queue_url, dlq_url, stdout,
                    {"ingest": ingest, "worker": worker, "collector": collector, "alert_router": alert_router,
                     "remediation": remediation})


def lambda_context(name: str = "whispersync-worker", request_id: str = "req-1") -> SimpleNamespace:
    return SimpleNamespace(function_name=name, memory_limit_in_mb=512, aws_request_id=request_id,
                           invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}")


def s3_event(key: str, *, size: int, etag: str = "0123456789abcdef0123456789abcdef") -> dict:
    """One ObjectCreated:Put record (event structure version 2.1)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-12-02T14:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810",
                             "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "transcripts",
               "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                          "arn": f"arn:aws:s3:::{BUCKET}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag,
                          "sequencer": "0055AED6DCD90281E5"}},
    }]}


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """Messages as ReceiveMessage returned them (All attributes), as Lambda's SQS event source passes them."""
    records = []
    for m in messages:
        records.append({
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": {k: v for k, v in m.get("Attributes", {}).items()
                           if k in ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                    "ApproximateFirstReceiveTimestamp", "AWSTraceHeader")},
            "messageAttributes": {k: {"stringValue": v["StringValue"], "stringListValues": [], "binaryListValues": [],
                                      "dataType": v["DataType"]} for k, v in m.get("MessageAttributes", {}).items()},
            "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
            "awsRegion": REGION,
        })
    return {"Records": records}


def receive_all(sqs: Any, url: str, wanted: int = 10) -> list[dict]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=wanted, MessageAttributeNames=["All"],
                                 MessageSystemAttributeNames=["All"])
    return answer.get("Messages", [])


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def stdout_lines(stdout: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]


def http_event(body: str, *, content_type: str = "application/json", method: str = "POST",
               path: str = "/v1/transcripts", headers: dict | None = None) -> dict:
    """A function URL request (payload format 2.0)."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": content_type, "host": "abc.lambda-url.eu-west-1.on.aws", **(headers or {})},
        "requestContext": {"accountId": "123456789012", "apiId": "abc", "domainName": "abc.lambda-url.eu-west-1.on.aws",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.7", "userAgent": "curl/8"},
                           "requestId": "req-http", "routeKey": "$default", "stage": "$default",
                           "time": "02/Dec/2026:14:00:00 +0000", "timeEpoch": 1796220000000},
        "body": body, "isBase64Encoded": False,
    }


@pytest.fixture
def lam() -> SimpleNamespace:
    """The event builders and readers above, for the test modules (conftest is not importable by name)."""
    return SimpleNamespace(context=lambda_context, s3_event=s3_event, sqs_event=sqs_event, receive_all=receive_all,
                           queue_arn=queue_arn, stdout_lines=stdout_lines, http_event=http_event)
