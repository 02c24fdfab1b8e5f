"""The inbox: text files dropped into `inbox/<agent>/` (or `inbox/` to let the
router decide) are ingested while `whispersync up` runs. Text files are `.txt`,
`.text`, `.md` and `.markdown` (any case); any other file is rejected with that
reason, so nothing dropped in the inbox is silently ignored.

A file is taken once its size and mtime have held for `settle_seconds` across
scans, so a file still being written is not split into two memos. The mtime alone
is not trusted (a copier may preserve an old one, a network share may have a skewed
clock). A writer that wants its file taken at once writes a dot-file (never taken)
and renames it into place; the renamed file still waits out the settle time, which
keeps one rule for every file.

Accepted files move to `inbox/_accepted/`; a bad file moves to `inbox/_rejected/`
beside `<name>.error.txt` saying why. The memo id is derived from the file's path,
size and mtime, so a crash between ingest and the move does not ingest it twice.

Nothing outside the inbox is ever read or moved: every folder and file under it is
opened relative to its parent's descriptor without following symbolic links, so a
link (to a file or a folder, anywhere in the inbox) is rejected as the link itself,
and a file larger than the limit is refused from its size without being read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from whispersync.domain import TEXT_SUFFIXES, Transcript
from whispersync.errors import InputError
from whispersync.pipeline.ingest import (
    LINK_REASON,
    NOT_REGULAR_REASON,
    Ingestor,
    decode_transcript,
    read_transcript_file,
)
from whispersync.periodic import PeriodicTask
from whispersync.telemetry import Telemetry

ACCEPTED = "_accepted"
REJECTED = "_rejected"
# Must equal the default of Settings.inbox_settle_seconds (a test checks it).
DEFAULT_SETTLE_SECONDS = 2.0
# File names taken as transcripts (any case): plain text and Markdown, read as UTF-8 text.
# Any other file is rejected with this reason rather than left lying in the inbox unexplained.
NOT_TEXT_NAME_REASON = (f"it is not a text file: only {', '.join(TEXT_SUFFIXES)} files are taken "
                        "(rename it if it is UTF-8 text; audio must be transcribed first)")


def is_text_name(name: str) -> bool:
    return name.lower().endswith(TEXT_SUFFIXES)


class InboxWatcher:
    def __init__(
        self,
        root: Path,
        ingestor: Ingestor,
        telemetry: Telemetry,
        *,
        agents: tuple[str, ...],
        poll_seconds: float = 1.0,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        self.root = root
        self.ingestor = ingestor
        self.agents = agents
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        # relative path -> ((size, mtime_ns) last seen, monotonic time it was first seen so)
        self._seen: dict[str, tuple[tuple[int, int], float]] = {}
        self._log = telemetry.logger("whispersync.inbox")
        self._task = PeriodicTask("inbox", poll_seconds, self.scan, self._log, run_immediately=True)
        root.mkdir(parents=True, exist_ok=True)
        with _open_dir(root, follow=True) as root_fd:
            self._make_folders(root_fd)

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def scan(self) -> int:
        """Ingest every settled file now; returns how many files were handled."""
        handled = 0
        now = time.monotonic()
        seen: dict[str, tuple[tuple[int, int], float]] = {}
        # The inbox itself may be a link the owner set up; nothing below it is followed.
        with _open_dir(self.root, follow=True) as root_fd:
            for entry in _entries(root_fd):
                if entry.is_symlink():
                    if entry.name.startswith("_") and not is_text_name(entry.name):
                        continue  # where a folder of this name would be skipped, so is the link
                    # A linked .txt or a linked folder: reject the link, never its target.
                    handled += self._guarded(self._reject, root_fd, entry.name, Path(entry.name), LINK_REASON)
                elif entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("_"):
                        handled += self._scan_folder(root_fd, entry.name, now, seen)
                else:
                    handled += self._consider(root_fd, entry, Path(entry.name), None, now, seen)
            self._seen = seen
            self._make_folders(root_fd)  # an agent folder rejected as a link is replaced by a real one
        return handled

    def _scan_folder(self, root_fd: int, name: str, now: float, seen: dict) -> int:
        handled = 0
        with contextlib.ExitStack() as stack:
            try:
                folder_fd = stack.enter_context(_open_dir(name, dir_fd=root_fd))
            except OSError as exc:  # replaced by a link or removed since it was listed: look again next scan
                self._log.warning("Inbox folder skipped", folder=name, error_type=type(exc).__name__)
                return 0
            for entry in _entries(folder_fd):
                if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
                    handled += self._consider(folder_fd, entry, Path(name, entry.name), name, now, seen)
        return handled

    def _consider(self, folder_fd: int, entry: os.DirEntry, relative: Path, agent: str | None,
                  now: float, seen: dict) -> int:
        """Take, reject or wait for one file; returns 1 if it was handled now."""
        if entry.is_symlink():
            return self._guarded(self._reject, folder_fd, entry.name, relative, LINK_REASON)
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return 0
        if not stat.S_ISREG(info.st_mode):
            return self._guarded(self._reject, folder_fd, entry.name, relative, NOT_REGULAR_REASON)
        signature = (info.st_size, info.st_mtime_ns)
        previous = self._seen.get(str(relative))
        since = previous[1] if previous is not None and previous[0] == signature else now
        if now - since < self.settle_seconds:
            seen[str(relative)] = (signature, since)
            return 0
        if not is_text_name(entry.name):
            # Settled first, like any file: a large file still being copied is moved whole.
            return self._guarded(self._reject, folder_fd, entry.name, relative, NOT_TEXT_NAME_REASON)
        if not self._guarded(self._take, folder_fd, entry.name, relative, agent, info):
            seen[str(relative)] = (signature, since)  # failed: retried next scan
            return 0
        return 1

    def _guarded(self, action, *args) -> int:
        """Run one file's action; an error is logged and the file left for the next scan."""
        try:
            action(*args)
        except _Unsettled:
            return 0
        except Exception as exc:  # noqa: BLE001 - one file must not hold up the rest; retried next scan
            self._log.exception("Inbox file failed; will retry", file=str(args[2]), error_type=type(exc).__name__)
            return 0
        return 1

    def _take(self, folder_fd: int, name: str, relative: Path, agent: str | None, info: os.stat_result) -> None:
        memo_id = hashlib.sha256(f"{relative}:{info.st_size}:{info.st_mtime_ns}".encode()).hexdigest()[:32]
        try:
            if agent is not None and agent not in self.agents:
                raise InputError(f"unknown agent folder {agent!r}; known agents: {', '.join(self.agents)}")
            data = read_transcript_file(name, max_bytes=self.ingestor.max_bytes, dir_fd=folder_fd)
            if len(data) != info.st_size:
                raise _Unsettled()  # it changed since it was seen settled: wait for it again
            text = decode_transcript(data, max_bytes=self.ingestor.max_bytes)
            receipt = self.ingestor.accept(
                Transcript(text=text, agent=agent, title=relative.stem, source="inbox"), memo_id=memo_id
            )
        except InputError as exc:
            self._reject(folder_fd, name, relative, str(exc))
            return
        with self._own_folder(ACCEPTED) as accepted_fd:
            if agent is not None:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(agent, dir_fd=accepted_fd)
                with _open_dir(agent, dir_fd=accepted_fd) as agent_fd:
                    _move(folder_fd, name, agent_fd)
            else:
                _move(folder_fd, name, accepted_fd)
        self._log.info("Inbox file accepted", file=str(relative), memo_id=receipt.id)

    def _reject(self, folder_fd: int, name: str, relative: Path, reason: str) -> None:
        with self._own_folder(REJECTED) as rejected_fd:
            moved = _move(folder_fd, name, rejected_fd, also_free=".error.txt")
            # O_EXCL | O_NOFOLLOW: never write through a link someone left in _rejected.
            note = os.open(f"{moved}.error.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                           0o644, dir_fd=rejected_fd)
            with os.fdopen(note, "w", encoding="utf-8") as out:
                out.write(f"{relative} was rejected: {reason}\n")
        self._log.warning("Inbox file rejected", file=str(relative), reason=reason)

    @contextlib.contextmanager
    def _own_folder(self, name: str) -> Iterator[int]:
        """`_accepted` or `_rejected`, refused if someone replaced it with a link."""
        with _open_dir(self.root, follow=True) as root_fd, _open_dir(name, dir_fd=root_fd) as fd:
            yield fd

    def _make_folders(self, root_fd: int) -> None:
        for name in (ACCEPTED, REJECTED, *self.agents):
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=root_fd)


class _Unsettled(Exception):
    """The file changed between the scan that saw it settled and the read."""


@contextlib.contextmanager
def _open_dir(path: str | Path, *, dir_fd: int | None = None, follow: bool = False) -> Iterator[int]:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _entries(folder_fd: int) -> list[os.DirEntry]:
    """The folder's entries by name, leaving out dot-files (still being written, by convention)."""
    with os.scandir(folder_fd) as entries:
        return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _move(src_fd: int, name: str, dst_fd: int, *, also_free: str = "") -> str:
    """Move `name` (a file or a link itself) without overwriting an earlier one; returns its new name."""
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    candidate, n = name, 1
    while _exists(candidate, dst_fd) or (also_free and _exists(candidate + also_free, dst_fd)):
        candidate = f"{stem}.{n}{dot}{suffix}"
        n += 1
    os.rename(name, candidate, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    return candidate


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True
