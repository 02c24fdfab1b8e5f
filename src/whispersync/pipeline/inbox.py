"""The inbox: text files dropped into `inbox/<agent>/` (or `inbox/` to let the
router decide) are ingested while `whispersync up` runs.

A file is taken once it has not changed for `settle_seconds` (so a half-copied
file is not read). Accepted files move to `inbox/_accepted/`; a bad file moves to
`inbox/_rejected/` beside `<name>.error.txt` saying why. The memo id is derived
from the file's path, size and mtime, so a crash between ingest and the move does
not ingest it twice.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from whispersync.domain import Transcript
from whispersync.errors import InputError
from whispersync.pipeline.ingest import Ingestor, decode_transcript
from whispersync.pipeline.periodic import PeriodicTask
from whispersync.telemetry import Telemetry

ACCEPTED = "_accepted"
REJECTED = "_rejected"


class InboxWatcher:
    def __init__(
        self,
        root: Path,
        ingestor: Ingestor,
        telemetry: Telemetry,
        *,
        agents: tuple[str, ...],
        poll_seconds: float = 1.0,
        settle_seconds: float = 0.5,
    ) -> None:
        self.root = root
        self.ingestor = ingestor
        self.agents = agents
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self._log = telemetry.logger("whispersync.inbox")
        self._task = PeriodicTask("inbox", poll_seconds, self.scan, self._log, run_immediately=True)
        for folder in (root, root / ACCEPTED, root / REJECTED, *(root / a for a in agents)):
            folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def scan(self) -> int:
        """Ingest every settled file now; returns how many files were handled."""
        handled = 0
        now = time.time()
        for path in sorted(self._candidates()):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if now - stat.st_mtime < self.settle_seconds:
                continue
            try:
                self._take(path, stat)
            except Exception as exc:  # noqa: BLE001 - one file must not hold up the rest; retried next scan
                self._log.exception("Inbox file failed; will retry", file=str(path.relative_to(self.root)),
                                    error_type=type(exc).__name__)
                continue
            handled += 1
        return handled

    def _candidates(self):
        for entry in self.root.iterdir():
            if entry.is_file() and entry.suffix == ".txt":
                yield entry
            elif entry.is_dir() and not entry.name.startswith("_"):
                yield from (p for p in entry.iterdir() if p.is_file() and p.suffix == ".txt")

    def _take(self, path: Path, stat: os.stat_result) -> None:
        relative = path.relative_to(self.root)
        agent = relative.parts[0] if len(relative.parts) > 1 else None
        memo_id = hashlib.sha256(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:32]
        try:
            if agent is not None and agent not in self.agents:
                raise InputError(f"unknown agent folder {agent!r}; known agents: {', '.join(self.agents)}")
            text = decode_transcript(path.read_bytes(), max_bytes=self.ingestor.max_bytes)
            receipt = self.ingestor.accept(
                Transcript(text=text, agent=agent, title=path.stem, source="inbox"), memo_id=memo_id
            )
        except InputError as exc:
            self._reject(path, relative, str(exc))
            return
        _move(path, self.root / ACCEPTED / relative)
        self._log.info("Inbox file accepted", file=str(relative), memo_id=receipt.id)

    def _reject(self, path: Path, relative: Path, reason: str) -> None:
        target = _move(path, self.root / REJECTED / relative.name)
        target.with_name(target.name + ".error.txt").write_text(
            f"{relative} was rejected: {reason}\n", encoding="utf-8"
        )
        self._log.warning("Inbox file rejected", file=str(relative), reason=reason)


def _move(path: Path, target: Path) -> Path:
    """Move without overwriting an earlier file of the same name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = target, 1
    while candidate.exists():
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
        n += 1
    os.replace(path, candidate)
    return candidate
