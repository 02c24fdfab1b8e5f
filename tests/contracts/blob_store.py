"""The BlobStore port's contract: put, get and exists on S3-style keys.

    class TestDirBlobStore(BlobStoreContract):
        @pytest.fixture(autouse=True)
        def _adapter(self, tmp_path): ...

        def make_store(self): ...   # an empty store

Keys follow the S3 convention (``transcripts/<agent>/<id>.txt``): the same key
means the same object on every adapter.
"""

from __future__ import annotations

import threading

import pytest

from whispersync.errors import NotFound
from whispersync.pipeline.blobs import BlobStore


class BlobStoreContract:
    def make_store(self) -> BlobStore:
        raise NotImplementedError

    def test_the_adapter_has_every_method_of_the_port(self):
        store = self.make_store()
        for name in ("put", "get", "exists", "delete"):
            assert callable(getattr(store, name)), name

    def test_get_returns_exactly_what_was_put(self):
        """Bytes in, the same bytes out: every byte value, nothing added or decoded."""
        store = self.make_store()
        data = bytes(range(256)) * 3
        store.put("transcripts/work/a.txt", data)
        assert store.get("transcripts/work/a.txt") == data
        assert store.exists("transcripts/work/a.txt")

    def test_an_empty_blob_is_a_blob(self):
        store = self.make_store()
        store.put("transcripts/work/empty.txt", b"")
        assert store.get("transcripts/work/empty.txt") == b""
        assert store.exists("transcripts/work/empty.txt")

    def test_a_missing_key_is_not_found_and_does_not_exist(self):
        store = self.make_store()
        with pytest.raises(NotFound):
            store.get("transcripts/work/missing.txt")
        assert not store.exists("transcripts/work/missing.txt")

    def test_put_replaces_the_blob_under_the_same_key(self):
        store = self.make_store()
        store.put("transcripts/work/a.txt", b"first, and longer")
        store.put("transcripts/work/a.txt", b"second")
        assert store.get("transcripts/work/a.txt") == b"second"

    def test_keys_are_exact_not_prefixes(self):
        """`a.txt` and `a.txt.bak`, or a key and its "folder", are different objects."""
        store = self.make_store()
        store.put("transcripts/work/a.txt", b"a")
        store.put("transcripts/work/a.txt.bak", b"bak")
        store.put("transcripts/memory/a.txt", b"memory")
        assert store.get("transcripts/work/a.txt") == b"a"
        assert store.get("transcripts/work/a.txt.bak") == b"bak"
        assert store.get("transcripts/memory/a.txt") == b"memory"
        assert not store.exists("transcripts/work")
        assert not store.exists("transcripts/work/a")

    def test_delete_removes_that_blob_only_and_a_missing_one_is_no_error(self):
        store = self.make_store()
        store.put("transcripts/work/a.txt", b"a")
        store.put("transcripts/work/a.txt.bak", b"bak")
        store.delete("transcripts/work/a.txt")
        assert not store.exists("transcripts/work/a.txt")
        with pytest.raises(NotFound):
            store.get("transcripts/work/a.txt")
        assert store.get("transcripts/work/a.txt.bak") == b"bak"
        store.delete("transcripts/work/a.txt")
        with pytest.raises(ValueError):
            store.delete("../outside.txt")

    def test_unicode_keys_round_trip(self):
        store = self.make_store()
        store.put("transcripts/work/réunion été.txt", "café".encode())
        assert store.get("transcripts/work/réunion été.txt") == "café".encode()

    def test_a_reader_never_sees_half_a_blob(self):
        """Writers replace a blob while readers read it: each read is one whole version."""
        store = self.make_store()
        versions = [bytes([i]) * 200_000 for i in range(2)]
        store.put("transcripts/work/big.txt", versions[0])
        stop = threading.Event()
        seen: list[bytes] = []

        def write() -> None:
            i = 0
            while not stop.is_set():
                i += 1
                store.put("transcripts/work/big.txt", versions[i % 2])

        writer = threading.Thread(target=write)
        writer.start()
        try:
            for _ in range(100):
                seen.append(store.get("transcripts/work/big.txt"))
        finally:
            stop.set()
            writer.join()
        assert all(blob in versions for blob in seen)
