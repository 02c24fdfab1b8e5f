"""DirBlobStore: the BlobStore contract, and keys that must never leave the directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from contracts.blob_store import BlobStoreContract

from whispersync.pipeline.blobs import DirBlobStore


class TestDirBlobStore(BlobStoreContract):
    @pytest.fixture(autouse=True)
    def _adapter(self, tmp_path: Path) -> None:
        self.root = tmp_path / "blobs"

    def make_store(self) -> DirBlobStore:
        return DirBlobStore(self.root)


ESCAPING_KEYS = [
    "../outside.txt",
    "transcripts/../../outside.txt",
    "transcripts/work/../../../outside.txt",
    "..",
    "/etc/passwd",
    "//etc/passwd",
    "",
    ".",
    "transcripts/..",
]


class TestKeys:
    @pytest.fixture
    def store(self, tmp_path: Path) -> DirBlobStore:
        return DirBlobStore(tmp_path / "blobs")

    @pytest.mark.parametrize("key", ESCAPING_KEYS)
    def test_a_key_that_would_leave_the_directory_is_refused(self, store, tmp_path, key):
        """`..` segments and absolute keys are refused by put, get and exists alike; nothing is written."""
        (tmp_path / "outside.txt").write_bytes(b"not yours")
        with pytest.raises(ValueError):
            store.put(key, b"x")
        with pytest.raises(ValueError):
            store.get(key)
        with pytest.raises(ValueError):
            store.exists(key)
        assert (tmp_path / "outside.txt").read_bytes() == b"not yours"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs", "outside.txt"]

    def test_dot_and_double_slash_segments_stay_inside(self, store, tmp_path):
        """`a//b` and `a/./b` name a file under the root (as the same S3 key would not, but harmlessly)."""
        store.put("transcripts//work/./a.txt", b"x")
        assert (tmp_path / "blobs" / "transcripts" / "work" / "a.txt").read_bytes() == b"x"

    def test_a_key_with_a_nul_byte_is_refused(self, store):
        with pytest.raises(ValueError):
            store.put("transcripts/a\0.txt", b"x")


class TestFiles:
    def test_a_blob_is_a_file_at_its_key_and_no_temp_file_is_left(self, tmp_path):
        store = DirBlobStore(tmp_path / "blobs")
        store.put("transcripts/work/a.txt", b"hello")
        files = [p.relative_to(tmp_path / "blobs").as_posix() for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
        assert files == ["transcripts/work/a.txt"]

    def test_a_failed_write_leaves_the_old_blob_and_no_temp_file(self, tmp_path, monkeypatch):
        """The rename is the commit point: a failure before it changes nothing."""
        store = DirBlobStore(tmp_path / "blobs")
        store.put("transcripts/work/a.txt", b"old")

        def broken_replace(src, dst):
            raise OSError("disk full")

        monkeypatch.setattr(os, "replace", broken_replace)
        with pytest.raises(OSError):
            store.put("transcripts/work/a.txt", b"new")
        monkeypatch.undo()
        assert store.get("transcripts/work/a.txt") == b"old"
        assert [p.name for p in (tmp_path / "blobs" / "transcripts" / "work").iterdir()] == ["a.txt"]

    def test_a_second_store_on_the_same_directory_sees_the_blobs(self, tmp_path):
        DirBlobStore(tmp_path / "blobs").put("transcripts/work/a.txt", b"kept")
        assert DirBlobStore(tmp_path / "blobs").get("transcripts/work/a.txt") == b"kept"
