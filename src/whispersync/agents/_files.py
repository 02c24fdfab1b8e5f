"""Safe writes for the agents: atomic replacement, and append-once logs.

Two shapes of write, both safe to repeat for the same memo:

- `write_atomic` writes a temporary file beside the target and `os.replace`s it,
  so a reader (or a crash) sees the old file or the new one, never half of one.
- `OnceLog.append_once` appends an entry tagged with a memo id to a shared file
  (a journal, an archive) unless an entry with that id is already there. The set
  of ids is read from the file once, then kept in memory; a stat before each
  append notices when someone else changed the file, and re-reads it.

Each entry is written with a single `os.write` on an `O_APPEND` descriptor, so a
crash of this process can not leave half an entry behind (the kernel finishes the
write call). Power loss is not covered: nothing here fsyncs, which would cost
about a millisecond per memo.

Locks are per file, per process: several worker threads are fine, several
processes writing one journal are not (the local target runs one worker pool).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically, creating parent folders as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class OnceLog:
    """An append-only file whose entries each carry a memo id, appended at most once per id."""

    def __init__(self, path: Path, read_ids: Callable[[str], Iterable[str]]) -> None:
        self.path = path
        self._read_ids = read_ids
        self._lock = threading.Lock()
        self._ids: set[str] | None = None
        self._known: tuple[int, int] | None = None  # (inode, size) after our last read or write

    def __contains__(self, memo_id: str) -> bool:
        with self._lock:
            return memo_id in self._load()

    def append_once(self, memo_id: str, entry: str, *, header: str = "") -> bool:
        """Append `entry` unless `memo_id` is already in the file; True when appended.

        `header` is written first when the file is new or empty (a journal's title).
        """
        with self._lock:
            ids = self._load()
            if memo_id in ids:
                return False
            if header and not (self._known and self._known[1] > 0):
                entry = header + entry
            data = entry.encode("utf-8")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, data)
                if written != len(data):  # only on a full disk or similar; finish the entry
                    os.write(fd, data[written:])
                st = os.fstat(fd)
            finally:
                os.close(fd)
            ids.add(memo_id)
            self._known = (st.st_ino, st.st_size)
            return True

    def _load(self) -> set[str]:
        try:
            st = os.stat(self.path)
            now = (st.st_ino, st.st_size)
        except FileNotFoundError:
            now = None
        if self._ids is None or now != self._known:
            # First use, or the file changed behind our back (edited, truncated, deleted).
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                text = ""
            self._ids = set(self._read_ids(text))
            self._known = now
        return self._ids


_registry: dict[Path, OnceLog] = {}
_registry_lock = threading.Lock()


def once_log(path: Path, read_ids: Callable[[str], Iterable[str]]) -> OnceLog:
    """The process-wide `OnceLog` for `path`: one lock and one id cache per file."""
    key = Path(os.path.abspath(path))
    with _registry_lock:
        log = _registry.get(key)
        if log is None:
            log = _registry[key] = OnceLog(key, read_ids)
        return log


_MARKER = re.compile(r"<!-- memo:([^\s>]+) -->")


def marker(memo_id: str) -> str:
    """The HTML comment that tags a Markdown entry with its memo id (invisible when rendered)."""
    return f"<!-- memo:{memo_id} -->"


def markdown_ids(text: str) -> Iterable[str]:
    return _MARKER.findall(text)
