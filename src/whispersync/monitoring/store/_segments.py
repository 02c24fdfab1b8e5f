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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ._footers import footer_fact

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


def overlapping(parquet: Sequence[str], start_ms: int | None, end_ms: int | None) -> list[str]:
    """The Parquet files that may hold a record with ``start_ms <= ts <= end_ms`` (None: unbounded).

    Names cannot say this: a file's name is the time its records were *written*
    (the writer's clock picks the partition and window), while ``ts`` is each
    record's own time, which an import, a late event or a skewed clock puts
    anywhere. So each file's footer decides: its row groups' min and max ``ts``.
    A file whose footer has no such statistics is kept.
    """
    # In microseconds, as ts is stored; all of end_ms's millisecond is kept, whatever precision the caller compares at.
    low = None if start_ms is None else int(start_ms) * 1000
    high = None if end_ms is None else int(end_ms) * 1000 + 999
    kept = []
    for path in parquet:
        rng = parquet_ts_range(path)
        if rng is not None and ((low is not None and rng[1] < low) or (high is not None and rng[0] > high)):
            continue
        kept.append(path)
    return kept


def parquet_ts_range(path: str) -> tuple[int, int] | None:
    """Min and max ``ts`` of a Parquet file in epoch microseconds (``ts`` a TIMESTAMP, or epoch ms
    for metrics), from its footer (read once per file); None when a row group lacks the
    statistics or the file is unreadable."""
    return footer_fact(path, _read_ts_range, None)


def _read_ts_range(db: duckdb.DuckDBPyConnection, path: str) -> tuple[int, int] | None:
    # A TIMESTAMP's statistics read as text ('2026-11-27 12:00:00.123'); a BIGINT's as digits.
    rows = db.execute(
        "SELECT coalesce(epoch_us(TRY_CAST(stats_min_value AS TIMESTAMP)),"
        " TRY_CAST(stats_min_value AS BIGINT) * 1000),"
        " coalesce(epoch_us(TRY_CAST(stats_max_value AS TIMESTAMP)),"
        " TRY_CAST(stats_max_value AS BIGINT) * 1000 + 999)"
        " FROM parquet_metadata(?) WHERE path_in_schema = 'ts'", [path]
    ).fetchall()
    if rows and all(lo is not None and hi is not None for lo, hi in rows):
        return min(lo for lo, _ in rows), max(hi for _, hi in rows)
    return None


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
