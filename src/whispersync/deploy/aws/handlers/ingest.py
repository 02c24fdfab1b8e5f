"""Ingest on Lambda: S3 ObjectCreated under `transcripts/`, and POST /v1/transcripts on the function URL.

Both go through the local `Ingestor.accept`: the same validation, the same record
and the same message (attributes `correlationId` and `traceparent`).

An uploaded object's memo id: for a key of the Ingestor's own shape,
`transcripts/[<agent>/]<id>.txt` with `id` of letters, digits, `-` or `_`, it is `id`
(so the object the function URL stored is recognised, not taken twice); any other key
under `transcripts/` gets a memo id derived from the key and its ETag (a re-upload with
new content is a new memo, as the local inbox does), and its text is stored again under
the Ingestor's key, whose own event then finds the memo already recorded.

An S3 event's bad transcript is logged ("Transcript rejected") and skipped: retrying
cannot heal it. Any other failure raises, so Lambda retries the event.
Event shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
HTTP shape (payload format 2.0): https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import unquote_plus

import orjson

from whispersync import catalog
from whispersync.deploy.aws.environment import ENV
from whispersync.deploy.aws.handlers._lambda import Invocations, env, env_int, lambda_traceparent
from whispersync.domain import AGENTS, Transcript
from whispersync.errors import InputError, RecordExists, TranscriptTooLarge
from whispersync.pipeline.aws import DynamoRecordStore, S3BlobStore, SqsQueue
from whispersync.pipeline.ingest import Ingestor, Receipt

__all__ = ["handler"]

_DEFAULT_MAX_BYTES = 1024 * 1024  # Settings.max_transcript_bytes' default
_OWN_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
# The JSON body's fields and the route, as web/api.py's POST /v1/transcripts takes them.
_ROUTE = "/v1/transcripts"
_IDEMPOTENCY_KEY_MAX = 255

_invocations = Invocations()
_ingestor: Ingestor | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    telemetry = _invocations.start(context)
    try:
        if isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"]:
            return _http(event)
        return _s3(event)
    finally:
        telemetry.flush()


def ingestor() -> Ingestor:
    """Built at the first invocation and kept for the container's life (cold start pays once)."""
    global _ingestor
    if _ingestor is None:
        _ingestor = Ingestor(
            blobs=S3BlobStore(None, env(ENV.BUCKET)),
            records=DynamoRecordStore(None, env(ENV.TABLE)),
            queue=SqsQueue(None, env(ENV.QUEUE_URL)),
            telemetry=_invocations.telemetry,
            max_bytes=env_int(ENV.MAX_TRANSCRIPT_BYTES, _DEFAULT_MAX_BYTES),
            agents=AGENTS,
        )
    return _ingestor


# -- S3 ObjectCreated ------------------------------------------------------------------


def _s3(event: dict[str, Any]) -> dict[str, Any]:
    accepted: list[str] = []
    rejected: list[str] = []
    for record in event.get("Records", []):
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])  # S3 event keys are URL-encoded, spaces as "+"
        receipt = _take_object(key, etag=str(obj.get("eTag", "")), size=obj.get("size"))
        (accepted if receipt is not None else rejected).append(receipt.id if receipt else key)
    return {"accepted": accepted, "rejected": rejected}


def _take_object(key: str, *, etag: str, size: int | None) -> Receipt | None:
    ing = ingestor()
    log = ing.telemetry.logger("whispersync.ingest")
    parts = key.split("/")
    if parts[0] != catalog.TRANSCRIPTS_PREFIX or len(parts) not in (2, 3) or not parts[-1]:
        log.warning("Transcript rejected", error_type="InputError", source="s3", transcript_key=key,
                    reason="keys must be transcripts/<name> or transcripts/<agent>/<name>")
        return None
    agent = parts[1] if len(parts) == 3 else None
    name = parts[-1]
    stem = name[:-len(".txt")] if name.endswith(".txt") else None
    own = stem is not None and _OWN_KEY.fullmatch(stem) is not None
    memo_id = stem if own else hashlib.sha256(f"s3:{key}:{etag}".encode()).hexdigest()[:32]
    try:
        if size is not None and size > ing.max_bytes:
            raise TranscriptTooLarge(f"transcript is {size} bytes; the limit is {ing.max_bytes} bytes")
        text = ing.decode(ing.blobs.get(key))
    except InputError as exc:
        log.warning("Transcript rejected", error_type=type(exc).__name__, reason=str(exc), source="s3",
                    transcript_key=key)
        return None
    title = None if own else (name.rsplit(".", 1)[0] if "." in name else name)
    transcript = Transcript(text=text, agent=agent, title=title, source="s3")
    uploaded = _Uploaded(ing.blobs, key)
    try:
        return _accept(ing, uploaded, transcript, memo_id=memo_id, traceparent=lambda_traceparent())
    except InputError:
        return None  # Ingestor.accept has logged it ("Transcript rejected")


class _Uploaded:
    """The bucket, minus the one write that would store the uploaded object over itself."""

    def __init__(self, blobs: S3BlobStore, key: str) -> None:
        self._blobs = blobs
        self._key = key

    def put(self, key: str, data: bytes) -> None:
        if key != self._key:
            self._blobs.put(key, data)

    def get(self, key: str) -> bytes:
        return self._blobs.get(key)

    def exists(self, key: str) -> bool:
        return self._blobs.exists(key)


def _accept(ing: Ingestor, blobs: Any, transcript: Transcript, **kwargs: Any) -> Receipt:
    """Ingestor.accept with `blobs` as its store; a memo another invocation recorded meanwhile is that memo."""
    over = Ingestor(blobs=blobs, records=ing.records, queue=ing.queue, telemetry=ing.telemetry,
                    max_bytes=ing.max_bytes, agents=ing.agents)
    try:
        return over.accept(transcript, **kwargs)
    except RecordExists:
        # The S3 event of the function URL's own write can race its record: the first create wins.
        return over.accept(transcript, **kwargs)


# -- the function URL / API Gateway v2: POST /v1/transcripts ---------------------------------


def _http(event: dict[str, Any]) -> dict[str, Any]:
    ing = ingestor()
    log = ing.telemetry.logger("whispersync.api")
    http = event["requestContext"]["http"]
    path = event.get("rawPath") or http.get("path") or "/"
    if path.rstrip("/") != _ROUTE:
        return _error(404, "not_found", f"no route {path[:200]}")
    if http.get("method", "").upper() != "POST":
        return _error(405, "method_not_allowed", f"{http.get('method', '')[:10]} is not allowed on {_ROUTE}")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    try:
        body = event.get("body") or ""
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
        if len(raw) > ing.max_bytes + 64 * 1024:
            raise TranscriptTooLarge(f"request body is over {ing.max_bytes + 64 * 1024} bytes; "
                                     f"transcripts may be {ing.max_bytes} bytes")
        transcript = _transcript(ing, raw, headers.get("content-type", ""), query)
        receipt = _accept(ing, ing.blobs, transcript, correlation_id=headers.get("x-correlation-id"),
                          memo_id=_memo_id_for(headers.get("idempotency-key")),
                          traceparent=headers.get("traceparent") or lambda_traceparent())
    except InputError as exc:
        return _error(exc.http_status, exc.code, str(exc))
    except Exception as exc:  # noqa: BLE001 - a server fault: logged, answered without its text
        log.exception("Request failed", error_type=type(exc).__name__, path=_ROUTE)
        return _error(500, "internal_error", "the transcript could not be stored; try again")
    return {"statusCode": 202, "headers": {"content-type": "application/json",
                                           "x-correlation-id": receipt.correlation_id,
                                           "traceparent": receipt.traceparent},
            "body": orjson.dumps(receipt.to_dict()).decode()}


class _UnsupportedMediaType(InputError):
    code = "unsupported_media_type"
    http_status = 415


def _transcript(ing: Ingestor, body: bytes, content_type: str, query: dict[str, str]) -> Transcript:
    """The request's transcript, with web/api.py's rules (JSON object or text/plain UTF-8)."""
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    charset = params.partition("charset=")[2].strip().strip('"').lower() or None
    agent_param = query.get("agent") or None
    if media == "application/json":
        if charset not in (None, "utf-8", "utf8"):
            raise _UnsupportedMediaType("JSON bodies are UTF-8 (RFC 8259); drop the charset or make it utf-8")
        return Transcript.from_json(body, agent_param)
    if media in ("text/plain", ""):
        if charset not in (None, "utf-8", "utf8"):
            raise _UnsupportedMediaType(f"charset {charset[:40]!r} is not accepted here; send UTF-8")
        return Transcript(text=ing.decode(body), agent=agent_param, title=query.get("title"), source="api")
    raise _UnsupportedMediaType(f"content type {media[:60]!r} is not accepted; send application/json or text/plain")


def _memo_id_for(idempotency_key: str | None) -> str | None:
    """web/api.py's rule: the same Idempotency-Key always names the same memo."""
    if idempotency_key is None:
        return None
    key = idempotency_key.strip()
    if not key or len(key) > _IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise InputError(f"Idempotency-Key must be 1 to {_IDEMPOTENCY_KEY_MAX} printable ASCII characters")
    return hashlib.sha256(b"idempotency-key:" + key.encode()).hexdigest()[:32]


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": orjson.dumps({"error": {"code": code, "message": message}}).decode()}
