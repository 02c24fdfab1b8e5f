"""The worker on Lambda: SQS event source batches through the local `MemoProcessor`.

Each record is processed on its own; the failed ones are returned as
`batchItemFailures`, so with the event source's ReportBatchItemFailures only they
come back (and, after the queue's maxReceiveCount, go to its DLQ), never the batch.
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html

The processor acknowledges and releases messages itself, as locally (DeleteMessage on
success, a short ChangeMessageVisibility backoff on failure, the DLQ at once for a
permanent failure): all valid on a message Lambda received. A memo processed twice is
written once: its record is DONE, and a second create raises RecordExists.

Agents write under a local folder (/tmp on Lambda); each file a memo's result names is
copied to the bucket under `outputs/<same path>`. Files several memos write (the week's
journal, the memory archive, an idea folder's owner: each agent's `shared_paths`) cannot
be copied like that: every container has its own /tmp, so its copy lacks the entries other
containers appended, and uploading it would erase them. Those files are merged through the
bucket instead, optimistically: download the current object and its ETag into /tmp, let
the agent append, upload with `If-Match` (`If-None-Match: *` for a new object). When
another container wrote in between, S3 refuses the upload; we download again and re-run
the agent, which is idempotent per memo (its entry carries a memo marker, so it is appended
once), a few times, then fail the record so SQS brings it back later.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html

Importing this module must stay cheap (the cold start): no DuckDB, FastAPI, Jinja2 or
monitoring engine, and boto3 only when the first invocation builds its clients.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from whispersync.agents import Agent, AgentInput, Router, build_agents
from whispersync.deploy.aws.environment import ENV
from whispersync.deploy.aws.handlers._lambda import Invocations, env, env_int, traceparent_from_xray
from whispersync.domain import AgentResult
from whispersync.errors import ProcessingError
from whispersync.pipeline.aws import DynamoRecordStore, S3BlobStore, SqsQueue
from whispersync.pipeline.queue import Message
from whispersync.pipeline.worker import MemoProcessor

__all__ = ["OUTPUTS_PREFIX", "handler", "message_from_record"]

OUTPUTS_PREFIX = "outputs"
_OUTPUTS_DIR = "WHISPERSYNC_OUTPUTS_DIR"  # where agents write before the copy; /tmp is Lambda's writable disk
_DEFAULT_RECEIVES = 3  # Settings.max_receive_count's default
# Rounds of download-append-upload before a memo gives up on a shared file and fails (SQS retries it later).
SHARED_WRITE_ATTEMPTS = 5

_invocations = Invocations()
_processor: MemoProcessor | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    telemetry = _invocations.start(context)
    processor = memo_processor()
    failures = []
    try:
        for record in event.get("Records", []):
            try:
                ok = processor.process(message_from_record(record))
            except Exception as exc:  # noqa: BLE001 - a record we cannot even read fails alone
                telemetry.logger("whispersync.worker").exception(
                    "Unreadable SQS record", error_type=type(exc).__name__)
                ok = False
            if not ok:
                failures.append({"itemIdentifier": record.get("messageId", "")})
    finally:
        telemetry.flush()
    return {"batchItemFailures": failures}


def message_from_record(record: dict[str, Any]) -> Message:
    """An SQS event record as the Queue port's Message.

    Record shape: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (messageAttributes
    carry stringValue; attributes the system ones). Without a `traceparent` attribute the
    trace continues from the message's AWSTraceHeader (X-Ray), when it has one."""
    system = record.get("attributes") or {}
    attributes = {name: value["stringValue"] for name, value in (record.get("messageAttributes") or {}).items()
                  if isinstance(value, dict) and value.get("stringValue") is not None}
    if not attributes.get("traceparent"):
        upstream = traceparent_from_xray(system.get("AWSTraceHeader"))
        if upstream:
            attributes["traceparent"] = upstream
    first = system.get("ApproximateFirstReceiveTimestamp")
    return Message(
        message_id=record["messageId"],
        body=record["body"],
        attributes=attributes,
        receipt_handle=record["receiptHandle"],
        receive_count=int(system.get("ApproximateReceiveCount", 1)),
        sent_at=int(system.get("SentTimestamp", 0)) / 1000,
        first_received_at=int(first) / 1000 if first else None,
    )


def memo_processor() -> MemoProcessor:
    """Built at the first invocation and kept for the container's life."""
    global _processor
    if _processor is None:
        outputs_dir = Path(os.environ.get(_OUTPUTS_DIR) or "/tmp/whispersync/outputs")
        blobs = S3BlobStore(None, env(ENV.BUCKET))
        dlq_url = os.environ.get(ENV.DLQ_URL)
        agents = {name: _CopiedToBucket(agent, blobs, outputs_dir) for name, agent in build_agents(outputs_dir).items()}
        _processor = MemoProcessor(
            queue=SqsQueue(None, env(ENV.QUEUE_URL)),
            blobs=blobs,
            records=DynamoRecordStore(None, env(ENV.TABLE)),
            router=Router(),
            agents=agents,
            telemetry=_invocations.telemetry,
            outputs_dir=outputs_dir,
            voice=None,
            max_receive_count=env_int(ENV.MAX_RECEIVE_COUNT, _DEFAULT_RECEIVES),
            dead_letter_queue=SqsQueue(None, dlq_url) if dlq_url else None,
        )
    return _processor


class _CopiedToBucket:
    """An agent whose output files are copied to the bucket under outputs/ once it has written them.

    Files the agent shares with other memos are first brought up to date from the bucket
    and then written back only if nobody changed them meanwhile (see the module docstring)."""

    def __init__(self, agent: Agent, blobs: S3BlobStore, outputs_dir: Path) -> None:
        self._agent = agent
        self._blobs = blobs
        self._outputs_dir = outputs_dir
        self.name = getattr(agent, "name", "")

    def process(self, memo: AgentInput) -> AgentResult:
        shared_paths = getattr(self._agent, "shared_paths", None)
        shared = list(shared_paths(memo)) if shared_paths else []
        for attempt in range(SHARED_WRITE_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.05 * attempt))  # spread out writers that keep colliding
            versions = {relative: self._download(relative) for relative in shared}
            result = self._agent.process(memo)
            if all(self._upload_if_unchanged(relative, *versions[relative]) for relative in shared):
                break
        else:
            raise ProcessingError(
                f"{', '.join(shared)} changed under every one of {SHARED_WRITE_ATTEMPTS} attempts to write them")
        for relative in result.outputs:
            if relative not in shared:
                self._blobs.put(f"{OUTPUTS_PREFIX}/{relative}", (self._outputs_dir / relative).read_bytes())
        return result

    def _download(self, relative: str) -> tuple[bytes | None, str | None]:
        """The bucket's version of a shared file into /tmp, replacing whatever this container had."""
        data, etag = self._blobs.get_tagged(f"{OUTPUTS_PREFIX}/{relative}")
        path = self._outputs_dir / relative
        if data is None:
            path.unlink(missing_ok=True)
        else:
            _replace(path, data)
        return data, etag

    def _upload_if_unchanged(self, relative: str, before: bytes | None, etag: str | None) -> bool:
        """Write the agent's version back unless another writer got there first; True when the bucket has ours."""
        try:
            after = (self._outputs_dir / relative).read_bytes()
        except FileNotFoundError:
            after = None
        if after is None or after == before:
            return True  # nothing of ours to add (the entry was already there)
        return self._blobs.put_if_unchanged(f"{OUTPUTS_PREFIX}/{relative}", after, etag)


def _replace(path: Path, data: bytes) -> None:
    """Write by renaming a new file over the old: the agents' append-once logs notice a new inode and
    re-read their ids (a rewrite in place of the same size would look unchanged to them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
