"""The cost ledger: each memo's billable units, from the telemetry WhisperSync records about it.

Nothing here is guessed from averages. A memo's spans say what ran for it: the `ingest`
span (blob PUT, record created), its `queue` span (one SendMessage), one `worker` span per
delivery (a Lambda invocation of that span's duration, a ReceiveMessage, a GetItem, and on
success the updates, the transcript GET, the output PUTs and the DeleteMessage), a `tts`
span when a voice reply was made. Item and message sizes come from the memo's record, laid
out as the DynamoDB adapter stores it (pipeline/aws/dynamodb.py: JSON fields as strings,
None attributes omitted, plus the `created` and `shard` index keys) and as the queue
message is sent (body + attribute names, types and values).

Where telemetry cannot say, the estimate leans high and says so in the memo's notes
(e.g. a reply's characters when the tts span does not carry them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from whispersync.domain import SYNTHETIC_SOURCE, Memo
from whispersync.monitoring.cost._prices import PriceTable
from whispersync.monitoring.cost._units import Usage, dynamodb_item_bytes, read_units, sqs_requests, write_units

__all__ = ["MemoUsage", "meter_memos"]

# The longest spoken reply the agents produce (agents' MAX_REPLY_CHARS): the upper bound
# used when a tts span does not say how many characters it synthesized.
REPLY_CHARS_UPPER_BOUND = 300
# The memo table's global secondary indexes (pipeline/aws/dynamodb.py): by_status projects
# ALL attributes, so every write that changes the item writes it there too; by_id is
# KEYS_ONLY on keys that never change, so only the item's creation writes it. GSI writes
# are billed as write units like the table's:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
# (a changed index key costs two writes: delete the old entry, put the new one).
_KEYS_ONLY_ENTRY_BYTES = 100  # id + shard + the table key: far below 1 KB, so one unit


@dataclass(frozen=True)
class MemoUsage:
    """One memo's billable units and where it came from."""

    memo_id: str
    correlation_id: str
    agent: str
    started_at: float  # epoch seconds of its first span
    synthetic: bool    # a canary's memo: its cost is overhead, not a memo's
    usage: Usage
    deliveries: int
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"memo_id": self.memo_id, "correlation_id": self.correlation_id, "agent": self.agent,
                "started_at": self.started_at, "synthetic": self.synthetic, "deliveries": self.deliveries,
                "units": self.usage.to_dict(), "notes": list(self.notes)}


def meter_memos(spans: Iterable[Mapping[str, Any]], records: Mapping[str, Memo], table: PriceTable) -> list[MemoUsage]:
    """Every memo that has an `ingest` or `worker` span among ``spans``, metered; oldest first.

    ``records`` maps memo ids to their records (a memo without one, such as a canary's
    deleted memo, is sized from its ingest fields only, and noted).
    """
    spans = list(spans)
    by_id = {(s.get("trace_id"), s.get("span_id")): s for s in spans}
    children: dict[tuple, list[Mapping[str, Any]]] = {}
    for span in spans:
        children.setdefault((span.get("trace_id"), span.get("parent_span_id")), []).append(span)
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for span in spans:
        memo_id = _memo_of(span, by_id)
        if memo_id is not None:
            grouped.setdefault(memo_id, []).append(span)
    metered = [_meter(memo_id, memo_spans, records.get(memo_id), children, table)
               for memo_id, memo_spans in grouped.items()
               if any(s.get("name") in ("ingest", "worker") for s in memo_spans)]
    return sorted(metered, key=lambda m: (m.started_at, m.memo_id))


def _memo_of(span: Mapping[str, Any], by_id: Mapping[tuple, Mapping[str, Any]]) -> str | None:
    """The memo a span belongs to: its own `memo_id` annotation, else its nearest ancestor's."""
    seen = 0
    while span is not None and seen < 64:  # a cycle in bad data must not hang the report
        memo_id = (span.get("annotations") or {}).get("memo_id")
        if isinstance(memo_id, str) and memo_id:
            return memo_id
        span = by_id.get((span.get("trace_id"), span.get("parent_span_id")))
        seen += 1
    return None


def _meter(memo_id: str, spans: list[Mapping[str, Any]], memo: Memo | None,
           children: Mapping[tuple, list[Mapping[str, Any]]], table: PriceTable) -> MemoUsage:
    chunk = int(table.price("sqs", "payload_chunk_bytes"))
    wu_bytes = int(table.price("dynamodb", "write_unit_bytes"))
    ru_bytes = int(table.price("dynamodb", "read_unit_bytes"))
    rounding = int(table.price("lambda", "duration_rounding_ms"))
    notes: list[str] = []

    def wu(item_bytes: int) -> int:
        return write_units(item_bytes, unit_bytes=wu_bytes)

    ingest = next((s for s in spans if s.get("name") == "ingest"), None)
    annotations = (ingest or {}).get("annotations") or {}
    correlation_id = memo.correlation_id if memo else str(spans[0].get("correlation_id") or "")
    agent = (memo.agent if memo else None) or _agent_of(spans) or "unknown"
    synthetic = (memo.source if memo else annotations.get("source")) == SYNTHETIC_SOURCE
    if memo is None:
        notes.append("no record (deleted or not found): item sizes from the ingest fields only")
    initial, processing, final = _item_sizes(memo_id, memo, annotations, correlation_id)
    message = _message_bytes(memo_id, memo, correlation_id)

    usage = Usage()
    if ingest is not None:
        # Blob PUT; GetItem of a not-yet-existing id (idempotency check); PutItem, written to
        # the table, the ALL-projection index and the KEYS_ONLY index.
        usage += Usage(s3_puts=1, dynamodb_read_units=read_units(0, unit_bytes=ru_bytes),
                       dynamodb_write_units=2 * wu(initial) + wu(_KEYS_ONLY_ENTRY_BYTES))
    for span in spans:
        if span.get("name") == "queue":
            usage += Usage(sqs_requests=sqs_requests(message, chunk_bytes=chunk))
    deliveries = 0
    outputs = len(((memo.result or {}).get("outputs") or []) if memo else [])
    for worker in (s for s in spans if s.get("name") == "worker"):
        deliveries += 1
        kids = {k.get("name"): k for k in children.get((worker.get("trace_id"), worker.get("span_id")), [])}
        duration_ms = _duration_ms(worker)
        billed = math.ceil(duration_ms / rounding) * rounding if duration_ms > 0 else rounding
        usage += Usage(lambda_requests=1, lambda_billed_ms=billed,
                       sqs_requests=sqs_requests(message, chunk_bytes=chunk),  # its ReceiveMessage
                       dynamodb_read_units=read_units(initial if deliveries == 1 else processing, unit_bytes=ru_bytes))
        success = (worker.get("annotations") or {}).get("success") is True
        if success and "agent_processing" not in kids:
            usage += Usage(sqs_requests=1)  # already done: acknowledged only (DeleteMessage)
            continue
        # UpdateItem to processing: the table, and the index twice (its status key changed).
        usage += Usage(dynamodb_write_units=wu(processing) + wu(initial) + wu(processing))
        if "transcript_download" in kids:
            usage += Usage(s3_gets=1)
        if success:
            # UpdateItem to done (sized at the larger of before and after), index twice; the
            # outputs PUT to the bucket; DeleteMessage.
            usage += Usage(dynamodb_write_units=wu(max(processing, final)) + wu(processing) + wu(final),
                           s3_puts=outputs, sqs_requests=1)
        else:
            # UpdateItem with the error, index twice; ChangeMessageVisibility (or a DLQ send + delete).
            usage += Usage(dynamodb_write_units=3 * wu(processing), sqs_requests=1)
        tts = kids.get("tts")
        if tts is not None:
            characters = (tts.get("metadata") or {}).get("characters")
            if isinstance(characters, int) and characters >= 0:
                usage += Usage(tts_characters=characters)
            else:
                usage += Usage(tts_characters=REPLY_CHARS_UPPER_BOUND)
                notes.append(f"tts characters not recorded: counted as the {REPLY_CHARS_UPPER_BOUND}-character "
                             "upper bound of a reply")
    started = min((s.get("start_time_unix_nano") or 0) for s in spans) / 1e9
    return MemoUsage(memo_id=memo_id, correlation_id=correlation_id, agent=agent, started_at=started,
                     synthetic=synthetic, usage=usage, deliveries=deliveries, notes=tuple(notes))


def _duration_ms(span: Mapping[str, Any]) -> float:
    start, end = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
    if isinstance(start, int) and isinstance(end, int) and end >= start:
        return (end - start) / 1e6
    value = span.get("duration_ms")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _agent_of(spans: list[Mapping[str, Any]]) -> str | None:
    for span in spans:
        agent = (span.get("annotations") or {}).get("agent_type")
        if isinstance(agent, str):
            return agent
    return None


def _item_sizes(memo_id: str, memo: Memo | None, annotations: Mapping[str, Any],
                correlation_id: str) -> tuple[int, int, int]:
    """Bytes of the record as created, while processing, and as it ends (DynamoDB's rules)."""
    if memo is None:
        base = {"id": memo_id, "key": f"transcripts/{memo_id}.txt", "correlation_id": correlation_id,
                "trace_id": "0" * 32, "status": "queued", "created_at": 1e9 + 0.123456, "updated_at": 1e9 + 0.123456,
                "agent": annotations.get("agent_type"), "source": annotations.get("source") or "api", "attempts": 0}
        final = base
    else:
        base = {"id": memo.id, "key": memo.key, "correlation_id": memo.correlation_id, "trace_id": memo.trace_id,
                "status": "queued", "created_at": memo.created_at, "updated_at": memo.created_at,
                "agent": memo.agent, "title": memo.title, "recorded_at": memo.recorded_at, "source": memo.source,
                "attempts": 0}
        final = {**base, "status": memo.status.value, "updated_at": memo.updated_at, "attempts": memo.attempts,
                 "error": memo.error,
                 **{name: orjson.dumps(value).decode() for name, value in
                    (("routing", memo.routing), ("result", memo.result)) if value is not None}}
    keys = {"created": f"{base['created_at']:020.6f}#{memo_id}", "shard": "memo"}
    initial = dynamodb_item_bytes({**base, **keys})
    processing = dynamodb_item_bytes({**base, **keys, "status": "processing", "attempts": 1})
    return initial, processing, dynamodb_item_bytes({**final, **keys})


def _message_bytes(memo_id: str, memo: Memo | None, correlation_id: str) -> int:
    """SendMessage payload: the body ingest sends plus its two String attributes (name + type + value)."""
    body = orjson.dumps({"memo_id": memo_id, "key": memo.key if memo else f"transcripts/{memo_id}.txt",
                         "agent": memo.agent if memo else None})
    traceparent = 55  # "00-<32 hex>-<16 hex>-01"
    return len(body) + len("correlationId") + len("String") + len(correlation_id.encode("utf-8")) \
        + len("traceparent") + len("String") + traceparent
