"""S3BlobStore: the BlobStore contract under moto, and keys as S3 sees them."""

from __future__ import annotations

import pytest
from contracts.blob_store import BlobStoreContract

from whispersync.pipeline.aws.s3 import S3BlobStore, s3_client

from .conftest import REGION

BUCKET = "whispersync-test"


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture(autouse=True)
    def _adapter(self, aws) -> None:
        self.client = s3_client(region=REGION)
        self.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    def make_store(self) -> S3BlobStore:
        return S3BlobStore(self.client, BUCKET)

    @pytest.mark.skip(reason="moto's S3 backend closes an object's buffer when the key is overwritten, so a "
                             "concurrent GetObject fails with 'I/O operation on closed file'; S3 itself "
                             "guarantees an atomic PutObject (strong read-after-write consistency)")
    def test_a_reader_never_sees_half_a_blob(self):
        pass


class TestS3Keys:
    @pytest.fixture
    def store(self, aws) -> S3BlobStore:
        store = S3BlobStore(None, BUCKET, region=REGION)  # builds its own client on first use
        store.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        return store

    def test_keys_are_stored_as_given_with_no_prefix(self, store):
        """The object a user uploads to transcripts/work/… is the one the pipeline reads."""
        store.put("transcripts/work/m-1.txt", b"hello")
        store.put("outputs/work/m-1_response.json", b"{}")
        listed = store.client.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert sorted(o["Key"] for o in listed) == ["outputs/work/m-1_response.json", "transcripts/work/m-1.txt"]
        assert store.client.get_object(Bucket=BUCKET, Key="transcripts/work/m-1.txt")["Body"].read() == b"hello"

    @pytest.mark.parametrize("key", ["", "/etc/passwd", "transcripts/../x", "a//b", "transcripts/./x", "a/"])
    def test_keys_the_local_store_refuses_are_refused(self, store, key):
        """A key means the same object on both targets, so neither accepts what the other would remap."""
        with pytest.raises(ValueError):
            store.put(key, b"x")
        with pytest.raises(ValueError):
            store.get(key)

    def test_a_missing_bucket_is_a_processing_error_not_not_found(self, aws):
        """NotFound is for keys; a wrong bucket is a deployment fault the worker must not treat as 'no memo'."""
        from whispersync.errors import NotFound, ProcessingError

        store = S3BlobStore(s3_client(region=REGION), "no-such-bucket")
        with pytest.raises(ProcessingError) as raised:
            store.get("transcripts/work/a.txt")
        assert not isinstance(raised.value, NotFound)


class TestConditionalPut:
    """`get_tagged` + `put_if_unchanged`: a compare-and-swap on the object's ETag (S3 conditional writes)."""

    @pytest.fixture
    def store(self, aws) -> S3BlobStore:
        store = S3BlobStore(s3_client(region=REGION), BUCKET)
        store.client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        return store

    def test_a_missing_object_reads_as_none_and_is_created_only_once(self, store):
        """With no ETag the write means "only if there is no object": the second creator is refused."""
        assert store.get_tagged("outputs/work/journal/2026-W49.md") == (None, None)
        assert store.put_if_unchanged("outputs/work/journal/2026-W49.md", b"first", None)
        assert not store.put_if_unchanged("outputs/work/journal/2026-W49.md", b"second", None)
        assert store.get("outputs/work/journal/2026-W49.md") == b"first"

    def test_a_write_at_the_version_read_succeeds_and_a_stale_one_is_refused(self, store):
        store.put("outputs/memory/archive.jsonl", b"a\n")
        data, etag = store.get_tagged("outputs/memory/archive.jsonl")
        assert data == b"a\n" and etag
        assert store.put_if_unchanged("outputs/memory/archive.jsonl", b"a\nb\n", etag)
        # A second writer that read the same version loses: its copy lacks b.
        assert not store.put_if_unchanged("outputs/memory/archive.jsonl", b"a\nc\n", etag)
        assert store.get("outputs/memory/archive.jsonl") == b"a\nb\n"
        assert store.get_tagged("outputs/memory/archive.jsonl")[1] != etag

    def test_a_write_at_a_version_of_a_deleted_object_is_refused(self, store):
        store.put("outputs/memory/archive.jsonl", b"a\n")
        _, etag = store.get_tagged("outputs/memory/archive.jsonl")
        store.client.delete_object(Bucket=BUCKET, Key="outputs/memory/archive.jsonl")
        assert not store.put_if_unchanged("outputs/memory/archive.jsonl", b"a\nb\n", etag)

    def test_other_faults_are_processing_errors(self, aws):
        from whispersync.errors import ProcessingError

        store = S3BlobStore(s3_client(region=REGION), "no-such-bucket")
        with pytest.raises(ProcessingError):
            store.put_if_unchanged("outputs/x.md", b"x", None)
        with pytest.raises(ValueError):
            store.put_if_unchanged("../x", b"x", None)
