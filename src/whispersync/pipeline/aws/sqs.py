"""The Queue port on Amazon SQS (standard queues).

`SqsQueue` wraps one queue URL and a boto3 SQS client (built lazily from a region
and endpoint when none is given, so moto and a real account both work). SQS is
the specification the local `SqliteQueue` imitates, so most methods are one API
call; the differences are SQS's own and are worth knowing:

- Message attributes travel as String `MessageAttributes` (`correlationId`,
  `traceparent`); the receive count is `ApproximateReceiveCount`, `sent_at` and
  `first_received_at` are `SentTimestamp` and `ApproximateFirstReceiveTimestamp`.
- A message with a W3C `traceparent` attribute also carries it as the `AWSTraceHeader`
  message system attribute, in X-Ray's form (`Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;
  Sampled=<0|1>`): X-Ray reads that one to link the sender's trace to the Lambda the
  queue invokes (its service map shows ingest → SQS → worker). SendMessage: "the only
  supported message system attribute is AWSTraceHeader ... its size doesn't count
  towards the total size of a message"
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
- SQS counts whole seconds: a fractional delay, visibility timeout or wait is
  rounded up (a shorter wait than asked would return empty too early).
- Dead-lettering is the queue's RedrivePolicy, set when the queue is made
  (`ensure_queue`); SQS moves the message, this adapter never does.
- `counts().oldest_age_seconds`: GetQueueAttributes has no age; SQS publishes
  ApproximateAgeOfOldestMessage only as a CloudWatch metric. Given a CloudWatch
  client the adapter reads the latest one-minute Maximum of it (minutes behind);
  without one the age is 0.
- `peek`: SQS cannot look at a message without receiving it, nor list messages
  in flight or delayed. `peek` receives what is visible (up to `limit`), releases
  it at once, and so adds one to each message's receive count. On a DLQ (no
  redrive policy of its own) that is harmless; on a source queue it counts
  towards maxReceiveCount, so do not peek a working queue.
- `purge` returns the count SQS reported just before PurgeQueue (approximate);
  SQS allows one purge per queue every 60 seconds.
- `delete` with a stale receipt handle: SQS "might" delete the message; which
  it does is SQS's choice (API reference, DeleteMessage).

Sizes are checked before sending, as SQS counts them (body + each attribute's
name, data type and value, UTF-8), against the port's 256 KiB limit.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from whispersync.errors import QueueError
from whispersync.pipeline.queue import (
    MAX_ATTRIBUTES,
    MAX_DELAY_SECONDS,
    MAX_MESSAGE_BYTES,
    MAX_RECEIVE_BATCH,
    MAX_VISIBILITY_TIMEOUT,
    MAX_WAIT_SECONDS,
    Message,
    QueueCounts,
    RedrivePolicy,
)

__all__ = ["SqsQueue", "ensure_queue", "sqs_client", "xray_trace_header"]

_STRING = "String"
_COUNT_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]
_MAX_SEND_BATCH = 10  # SendMessageBatch entries


def sqs_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 SQS client; boto3 is imported here, on first use, never by `import whispersync`."""
    import boto3

    return boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)


def ensure_queue(
    client: Any, name: str, *, visibility_timeout: float = 30, redrive: RedrivePolicy | None = None
) -> str:
    """Create queue `name` (and its dead-letter queue) if missing, set its attributes; return its URL.

    For tests and deploy scripts; the CDK stack owns the queues in a real deployment.
    """
    _check_visibility_timeout(visibility_timeout)
    attributes = {"VisibilityTimeout": str(_whole_seconds(visibility_timeout))}
    if redrive is not None:
        if redrive.dead_letter_queue == name:
            raise ValueError("a queue cannot be its own dead-letter queue")
        dlq_url = _create_or_get(client, redrive.dead_letter_queue)
        dlq_arn = _call(client.get_queue_attributes, QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": redrive.max_receive_count}
        )
    url = _create_or_get(client, name)
    _call(client.set_queue_attributes, QueueUrl=url, Attributes=attributes)
    return url


class SqsQueue:
    """One SQS queue; implements `Queue`.

        memos = SqsQueue(client, queue_url)        # or SqsQueue(None, url, region="eu-west-1")
        memos.send('{"key": "..."}', attributes={"correlationId": cid})
        for m in memos.receive(10, wait_seconds=20):
            handle(m)
            memos.delete(m.receipt_handle)

    `visibility_timeout=None` on receive uses the queue's own VisibilityTimeout.
    """

    def __init__(
        self,
        client: Any | None,
        queue_url: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        cloudwatch: Any | None = None,
    ) -> None:
        self.queue_url = queue_url
        self.name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self._cloudwatch = cloudwatch

    def __repr__(self) -> str:
        return f"SqsQueue({self.queue_url!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = sqs_client(region=self._region, endpoint_url=self._endpoint_url)
        return self._client

    # -- the port -------------------------------------------------------------

    def send(
        self, body: str, *, attributes: Mapping[str, str] | None = None, delay_seconds: float = 0
    ) -> str:
        """Enqueue `body` (delay 0..900 s, rounded up to whole seconds); returns the message id."""
        entry = _entry(body, attributes, delay_seconds)
        return _call(self.client.send_message, QueueUrl=self.queue_url, **entry)["MessageId"]

    def send_batch(self, bodies: list[tuple[str, Mapping[str, str] | None]]) -> list[str]:
        """Send (body, attributes) pairs, ten per SendMessageBatch; returns the ids in order.

        Every message is checked before any is sent. A batch SQS refuses in part
        raises QueueError naming how many; the ones sent before it stay sent
        (at-least-once: the caller may resend all).
        """
        checked = [_entry(body, attrs, 0) for body, attrs in bodies]  # refuse a bad batch before sending any
        ids: list[str] = []
        for start in range(0, len(checked), _MAX_SEND_BATCH):
            chunk = checked[start:start + _MAX_SEND_BATCH]
            entries = [{"Id": str(i), **entry} for i, entry in enumerate(chunk)]
            answer = _call(self.client.send_message_batch, QueueUrl=self.queue_url, Entries=entries)
            if answer.get("Failed"):
                reasons = sorted({f.get("Code", "?") for f in answer["Failed"]})
                raise QueueError(f"SQS refused {len(answer['Failed'])} of {len(chunk)} messages ({', '.join(reasons)})")
            by_entry = {s["Id"]: s["MessageId"] for s in answer["Successful"]}
            ids += [by_entry[str(i)] for i in range(len(chunk))]
        return ids

    def receive(
        self, max_messages: int = 1, *, visibility_timeout: float | None = None, wait_seconds: float = 0
    ) -> list[Message]:
        """Receive up to `max_messages` (1..10); `wait_seconds` (0..20) long-polls (ReceiveMessage)."""
        if not 1 <= max_messages <= MAX_RECEIVE_BATCH:
            raise ValueError(f"max_messages must be 1..{MAX_RECEIVE_BATCH}")
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError(f"wait_seconds must be 0..{MAX_WAIT_SECONDS}")
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": _whole_seconds(wait_seconds),
            "MessageAttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            _check_visibility_timeout(visibility_timeout)
            request["VisibilityTimeout"] = _whole_seconds(visibility_timeout)
        answer = _call(self.client.receive_message, **request)
        return [_message(raw) for raw in answer.get("Messages", [])]

    def delete(self, receipt_handle: str) -> None:
        """Delete the message received under `receipt_handle`; deleting twice is harmless."""
        _call(self.client.delete_message, QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)

    def change_visibility(self, receipt_handle: str, visibility_timeout: float) -> None:
        """Hide an in-flight message for `visibility_timeout` seconds from now (0 releases it)."""
        _check_visibility_timeout(visibility_timeout)
        _call(
            self.client.change_message_visibility,
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=_whole_seconds(visibility_timeout),
        )

    def counts(self) -> QueueCounts:
        """ApproximateNumberOfMessages{,NotVisible,Delayed}; the age as the module docstring says."""
        values = _call(self.client.get_queue_attributes, QueueUrl=self.queue_url,
                       AttributeNames=_COUNT_ATTRIBUTES)["Attributes"]
        visible, in_flight, delayed = (int(values.get(name, 0)) for name in _COUNT_ATTRIBUTES)
        age = self._oldest_age() if visible or in_flight else 0.0
        return QueueCounts(visible=visible, in_flight=in_flight, delayed=delayed, oldest_age_seconds=age)

    def peek(self, limit: int = 100) -> list[Message]:
        """Visible messages, received and released at once (see the module docstring); receipt_handle is ""."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        seen: dict[str, Message] = {}
        held: list[str] = []
        try:
            while len(seen) < limit:
                # Hold each batch for a while, so the next receive returns other messages.
                batch = self.receive(min(MAX_RECEIVE_BATCH, limit - len(seen)), visibility_timeout=60)
                fresh = [m for m in batch if m.message_id not in seen]
                held += [m.receipt_handle for m in batch]
                if not fresh:
                    break
                for m in fresh:
                    seen[m.message_id] = _without_handle(m)
        finally:
            for handle in held:
                try:
                    self.change_visibility(handle, 0)
                except QueueError:
                    pass  # deleted or taken by someone else meanwhile: nothing to release
        return list(seen.values())[:limit]

    def purge(self) -> int:
        """PurgeQueue; returns how many messages SQS counted just before (approximate)."""
        counts = self.counts()
        _call(self.client.purge_queue, QueueUrl=self.queue_url)
        return counts.visible + counts.in_flight + counts.delayed

    # -- internals --------------------------------------------------------------

    def _oldest_age(self) -> float:
        if self._cloudwatch is None:
            return 0.0
        now = time.time()
        answer = _call(
            self._cloudwatch.get_metric_statistics,
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": self.name}],
            StartTime=now - 600,
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )
        points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return float(points[-1]["Maximum"]) if points else 0.0


# W3C traceparent: version-traceid-parentid-flags (https://www.w3.org/TR/trace-context/#traceparent-header).
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def xray_trace_header(traceparent: str) -> str | None:
    """A W3C traceparent as X-Ray's trace header; None when it is not a valid one (no header is better than a
    wrong one). The trace id's first 8 hex digits are X-Ray's epoch part: ids made for X-Ray have them."""
    match = _TRACEPARENT.fullmatch(traceparent.strip()) if isinstance(traceparent, str) else None
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    trace_id, parent, flags = match.groups()
    sampled = int(flags, 16) & 1
    return f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={parent};Sampled={sampled}"


def _entry(body: str, attributes: Mapping[str, str] | None, delay_seconds: float) -> dict[str, Any]:
    """One SendMessage request's fields, checked as SQS would check them."""
    if not isinstance(body, str):
        raise TypeError("body must be str")
    if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise ValueError(f"delay_seconds must be 0..{MAX_DELAY_SECONDS}")
    attrs = dict(attributes or {})
    if len(attrs) > MAX_ATTRIBUTES:
        raise QueueError(f"a message may carry at most {MAX_ATTRIBUTES} attributes")
    size = len(body.encode())
    for key, value in attrs.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("message attribute names and values must be str")
        size += len(key.encode()) + len(_STRING) + len(value.encode())
    if size > MAX_MESSAGE_BYTES:
        raise QueueError(f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES} (256 KiB)")
    entry: dict[str, Any] = {"MessageBody": body, "DelaySeconds": _whole_seconds(delay_seconds)}
    if attrs:
        entry["MessageAttributes"] = {k: {"DataType": _STRING, "StringValue": v} for k, v in attrs.items()}
    header = xray_trace_header(attrs["traceparent"]) if "traceparent" in attrs else None
    if header is not None:
        entry["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": _STRING, "StringValue": header}}
    return entry


def _message(raw: dict[str, Any]) -> Message:
    system = raw.get("Attributes", {})
    first = system.get("ApproximateFirstReceiveTimestamp")
    return Message(
        message_id=raw["MessageId"],
        body=raw["Body"],
        attributes={k: v["StringValue"] for k, v in raw.get("MessageAttributes", {}).items() if "StringValue" in v},
        receipt_handle=raw["ReceiptHandle"],
        receive_count=int(system.get("ApproximateReceiveCount", 1)),
        sent_at=int(system["SentTimestamp"]) / 1000,
        first_received_at=int(first) / 1000 if first else None,
    )


def _without_handle(m: Message) -> Message:
    return Message(m.message_id, m.body, m.attributes, "", m.receive_count, m.sent_at, m.first_received_at)


def _whole_seconds(seconds: float) -> int:
    return math.ceil(seconds)


def _check_visibility_timeout(seconds: float) -> None:
    if not 0 <= seconds <= MAX_VISIBILITY_TIMEOUT:
        raise ValueError(f"visibility_timeout must be 0..{MAX_VISIBILITY_TIMEOUT} seconds")


def _create_or_get(client: Any, name: str) -> str:
    try:
        return client.get_queue_url(QueueName=name)["QueueUrl"]
    except Exception as exc:
        if _code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise _queue_error(exc) from exc
    return _call(client.create_queue, QueueName=name)["QueueUrl"]


# SQS error codes that mean "this receipt handle is not (or no longer) a lease on a message in flight".
_NOT_IN_FLIGHT = {
    "MessageNotInflight": "message is not in flight (its visibility timeout has expired)",
    "ReceiptHandleIsInvalid": "message is not in flight under this receipt handle (not a receipt handle, "
                              "deleted or received again)",
    "AWS.SimpleQueueService.MessageNotInflight": "message is not in flight (its visibility timeout has expired)",
}


def _call(operation: Any, **request: Any) -> Any:
    """One SQS call; its failures become QueueError, `from` the botocore error."""
    try:
        return operation(**request)
    except Exception as exc:
        raise _queue_error(exc, request) from exc


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _queue_error(exc: Exception, request: Mapping[str, Any] | None = None) -> QueueError:
    code = _code(exc)
    if code in _NOT_IN_FLIGHT:
        return QueueError(_NOT_IN_FLIGHT[code])
    if code == "InvalidParameterValue" and request and "VisibilityTimeout" in request and "ReceiptHandle" in request:
        return QueueError(f"visibility timeout may not end more than {MAX_VISIBILITY_TIMEOUT} s after the receive")
    if type(exc).__name__ == "ParamValidationError":  # botocore refused the request before sending it
        return QueueError(f"SQS request refused: {exc}")
    if code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        return QueueError(f"SQS {code}: {message}".rstrip(": "))
    return QueueError(f"SQS call failed: {type(exc).__name__}: {exc}")
