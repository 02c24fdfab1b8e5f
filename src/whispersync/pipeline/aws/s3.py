"""The BlobStore port on Amazon S3: one bucket, keys as the pipeline gives them.

Keys are S3 keys already (`transcripts/<agent>/<id>.txt`, `outputs/<agent>/…`):
nothing is prefixed or rewritten, so an object the ingest Lambda reads is the
one a user uploaded. A key the local `DirBlobStore` refuses (empty, absolute,
with `.`/`..`/empty segments) is refused here too, so a key means the same
object on both targets. A PutObject is atomic: readers see the old object or
the new one, never half (S3's strong read-after-write consistency).

For files several writers change (a journal many memos append to), `get_tagged`
and `put_if_unchanged` give a compare-and-swap on the object's ETag: S3's
conditional writes, https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
"""

from __future__ import annotations

from typing import Any

from whispersync.errors import NotFound, ProcessingError

__all__ = ["S3BlobStore", "s3_client"]

_MISSING = {"NoSuchKey", "404", "NotFound"}
# What a conditional PutObject answers when its condition no longer holds: 412 when the
# ETag moved on (or the key appeared), 409 when another conditional write raced it, and
# NoSuchKey for an If-Match on an object deleted meanwhile (the conditional-writes page above).
_CONDITION_FAILED = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", *_MISSING}


def s3_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 S3 client; boto3 is imported here, on first use, never by `import whispersync`."""
    import boto3

    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url)


class S3BlobStore:
    """Blobs as objects in `bucket`; implements `BlobStore`."""

    def __init__(
        self, client: Any | None, bucket: str, *, region: str | None = None, endpoint_url: str | None = None
    ) -> None:
        self.bucket = bucket
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url

    def __repr__(self) -> str:
        return f"S3BlobStore({self.bucket!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(region=self._region, endpoint_url=self._endpoint_url)
        return self._client

    def put(self, key: str, data: bytes) -> None:
        _check_key(key)
        self._call(key, self.client.put_object, Bucket=self.bucket, Key=key, Body=bytes(data))

    def get(self, key: str) -> bytes:
        _check_key(key)
        answer = self._call(key, self.client.get_object, Bucket=self.bucket, Key=key)
        return answer["Body"].read()

    def get_tagged(self, key: str) -> tuple[bytes | None, str | None]:
        """(data, ETag) of the object, or (None, None) when there is none: the version `put_if_unchanged` expects."""
        _check_key(key)
        try:
            answer = self._call(key, self.client.get_object, Bucket=self.bucket, Key=key)
        except NotFound:
            return None, None
        return answer["Body"].read(), answer["ETag"]

    def put_if_unchanged(self, key: str, data: bytes, etag: str | None) -> bool:
        """Write only if the object is still at `etag` (None: only if there is no object); False when not.

        `If-Match: <etag>` or `If-None-Match: *` on the PutObject, so two writers that read the
        same version cannot both replace it: one gets False and must read again."""
        _check_key(key)
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), **condition)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in _CONDITION_FAILED:
                return False
            raise ProcessingError(f"S3 {code or type(exc).__name__} on s3://{self.bucket}/{key}") from exc
        return True

    def exists(self, key: str) -> bool:
        _check_key(key)
        try:
            self._call(key, self.client.head_object, Bucket=self.bucket, Key=key)
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove the object; DeleteObject answers 204 whether or not it existed (unversioned bucket)
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html)."""
        _check_key(key)
        self._call(key, self.client.delete_object, Bucket=self.bucket, Key=key)

    def _call(self, key: str, operation: Any, **request: Any) -> Any:
        try:
            return operation(**request)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise NotFound(f"no blob {key!r}") from None
            # An S3 fault fails the memo; the queue's retry may heal it (throttling, a 5xx).
            raise ProcessingError(f"S3 {code or type(exc).__name__} on s3://{self.bucket}/{key}") from exc


def _check_key(key: str) -> None:
    """The local adapter's rule (no empty, absolute, `.` or `..` segments), so keys mean the same on both."""
    parts = key.split("/") if isinstance(key, str) else []
    if not key or key.startswith("/") or any(p in ("..", ".", "") for p in parts):
        raise ValueError(f"invalid blob key: {key!r}")
