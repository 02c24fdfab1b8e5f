"""File naming, listing and superseding rules for the telemetry store's segments.

Layout of one stream (``logs``, ``metrics`` or ``spans``)::

    <root>/<stream>/dt=2026-11-27/
        1795786740-4242-9f2c01ab.jsonl      a writer's segment: window start (epoch s),
                                            pid, random; appended to while the window is open
        1795786740-4242-9f2c01ab.parquet    the same segment compacted (same stem)
        m-1795784400-1795788000.parquet     a merge of every segment of that hour [from, to)
        m-1795737600-1795824000.parquet     a merge of the whole day
        .<anything>.tmp                     work in progress of a compactor; never read

Every rule that decides what a reader sees is computed from names alone, so a
reader needs one directory listing and no manifest, lock or coordination:

* a ``.jsonl`` is hidden when a ``.parquet`` with the same stem exists;
* a ``.parquet`` is hidden when a merged file's range strictly contains its own
  range (a segment's range is its window start; a merged file's is ``[from, to)``).

A compactor therefore publishes with one atomic ``rename`` and deletes the inputs
afterwards; a crash in between leaves both on disk, and the rules above still show
each record exactly once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path


_SEGMENT = re.compile(r"^(\d{10})-\d+-[0-9a-f]+$")
_MERGED = re.compile(r"^m-(\d{10})-(\d{10})$")


def partition_name(epoch_seconds: float) -> str:
    """``dt=YYYY-MM-DD`` of the UTC day holding ``epoch_seconds``."""
    return "dt=" + datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d")


def partition_date(name: str) -> date | None:
    """The date of a ``dt=`` directory name, or None when it is not one."""
    if not name.startswith("dt="):
        return None
    try:
        return date.fromisoformat(name[3:])
    except ValueError:
        return None


def segment_name(window_start: int, pid: int, token: str) -> str:
    return f"{window_start:010d}-{pid}-{token}"


def merged_name(start: int, end: int) -> str:
    return f"m-{start:010d}-{end:010d}"


def file_range(stem: str) -> tuple[int, int] | None:
    """``[from, to)`` in epoch seconds covered by a file stem; None for foreign names.

    A segment's range is the single second of its window start: a segment belongs
    to exactly one hour and one day, which is all the merge rules need.
    """
    if m := _SEGMENT.match(stem):
        start = int(m.group(1))
        return start, start + 1
    if m := _MERGED.match(stem):
        return int(m.group(1)), int(m.group(2))
    return None


def _contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1] and outer != inner


@dataclass
class Partition:
    """One ``dt=`` directory as seen by one listing."""

    path: Path
    jsonl: dict[str, tuple[int, int]] = field(default_factory=dict)  # stem -> range
    parquet: dict[str, tuple[int, int]] = field(default_factory=dict)
    temporary: list[str] = field(default_factory=list)

    @property
    def merged(self) -> dict[str, tuple[int, int]]:
        return {s: r for s, r in self.parquet.items() if s.startswith("m-")}

    def superseded_parquet(self) -> set[str]:
        merged = self.merged
        return {
            stem
            for stem, rng in self.parquet.items()
            if any(_contains(mrng, rng) for mrng in merged.values())
        }

    def superseded_jsonl(self) -> set[str]:
        return {stem for stem in self.jsonl if stem in self.parquet}

    def live_parquet(self) -> list[str]:
        hidden = self.superseded_parquet()
        return sorted(s for s in self.parquet if s not in hidden)

    def live_jsonl(self) -> list[str]:
        hidden = self.superseded_jsonl()
        return sorted(s for s in self.jsonl if s not in hidden)


def scan_partition(path: Path) -> Partition | None:
    """List one partition; None when it vanished (dropped by retention)."""
    try:
        # One listdir: for the small directories we keep (compaction holds them to
        # a handful of files) this is a single getdents call, which Linux serialises
        # against rename/unlink in the same directory, so a rename+unlink pair of a
        # compactor is seen either before or after, never half.
        names = os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    part = Partition(path)
    for name in names:
        if name.startswith("."):
            if name.endswith(".tmp"):
                part.temporary.append(name)
            continue
        stem, _, ext = name.rpartition(".")
        rng = file_range(stem)
        if rng is None:
            continue
        if ext == "jsonl":
            part.jsonl[stem] = rng
        elif ext == "parquet":
            part.parquet[stem] = rng
    return part


def scan_stream(stream_dir: Path) -> list[Partition]:
    """Every partition of a stream, oldest first."""
    try:
        names = sorted(n for n in os.listdir(stream_dir) if partition_date(n) is not None)
    except FileNotFoundError:
        return []
    parts = []
    for name in names:
        part = scan_partition(stream_dir / name)
        if part is not None:
            parts.append(part)
    return parts


def live_files(stream_dir: Path) -> tuple[list[str], list[str]]:
    """Paths a reader should read: (parquet files, jsonl segments), each record once."""
    parquet: list[str] = []
    jsonl: list[str] = []
    for part in scan_stream(stream_dir):
        parquet += [str(part.path / f"{s}.parquet") for s in part.live_parquet()]
        jsonl += [str(part.path / f"{s}.jsonl") for s in part.live_jsonl()]
    return parquet, jsonl


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
