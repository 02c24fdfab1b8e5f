from __future__ import annotations

import os
import time

import pytest

from whispersync.domain import AGENTS
from whispersync.errors import QueueError
from whispersync.pipeline.inbox import InboxWatcher


def _watcher(runtime) -> InboxWatcher:
    return InboxWatcher(runtime.settings.inbox_dir, runtime.ingestor, runtime.telemetry, agents=AGENTS,
                        settle_seconds=0)


def _drop(path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - 5
    os.utime(path, (old, old))


class TestInboxWatcher:
    def test_it_ingests_files_from_agent_folders_and_the_top_level(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        _drop(inbox / "work" / "standup.txt", b"Need to fix the build")
        _drop(inbox / "loose.txt", b"An idea for an app that tracks plants")

        assert watcher.scan() == 2

        memos = {m.title: m for m in runtime.records.list()}
        assert memos["standup"].agent == "work" and memos["standup"].source == "inbox"
        assert memos["loose"].agent is None
        assert (inbox / "_accepted" / "work" / "standup.txt").exists()
        assert not (inbox / "work" / "standup.txt").exists()
        assert runtime.queue.counts().visible == 2

    def test_a_bad_file_moves_to_rejected_beside_its_reason(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        _drop(inbox / "work" / "empty.txt", b"   ")
        _drop(inbox / "memory" / "binary.txt", b"\xff\xfe\x00junk")
        _drop(inbox / "poetry" / "verse.txt", b"roses are red")

        watcher.scan()

        rejected = inbox / "_rejected"
        assert "empty" in (rejected / "empty.txt.error.txt").read_text()
        assert "UTF-8" in (rejected / "binary.txt.error.txt").read_text()
        assert "unknown agent folder 'poetry'" in (rejected / "verse.txt.error.txt").read_text()
        assert (rejected / "binary.txt").read_bytes() == b"\xff\xfe\x00junk"  # nothing lost
        assert runtime.queue.counts().visible == 0

    def test_a_file_still_being_written_is_left_for_later(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = InboxWatcher(inbox, runtime.ingestor, runtime.telemetry, agents=AGENTS, settle_seconds=60)
        (inbox / "work" / "fresh.txt").write_text("still typing")
        assert watcher.scan() == 0
        assert (inbox / "work" / "fresh.txt").exists()

    def test_a_file_seen_again_after_a_crash_is_not_ingested_twice(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        path = inbox / "work" / "note.txt"
        _drop(path, b"Remember to water the plants")
        stat = path.stat()
        watcher = _watcher(runtime)
        watcher.scan()
        # A crash before the move: the same file (same path, size, mtime) is back in the inbox.
        _drop(path, b"Remember to water the plants")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        watcher.scan()
        assert len(runtime.records.list()) == 1

    def test_a_file_whose_enqueue_failed_is_enqueued_on_the_next_scan(self, runtime, monkeypatch) -> None:
        """A queue error leaves the file in the inbox; the next scan must not move it away unqueued."""
        inbox = runtime.settings.inbox_dir
        _drop(inbox / "work" / "note.txt", b"Remember to water the plants")
        watcher = _watcher(runtime)
        send = runtime.queue.send

        def broken_send(*args, **kwargs):
            raise QueueError("database is locked")

        monkeypatch.setattr(runtime.queue, "send", broken_send)
        watcher.scan()
        assert (inbox / "work" / "note.txt").exists()
        monkeypatch.setattr(runtime.queue, "send", send)

        watcher.scan()

        assert (inbox / "_accepted" / "work" / "note.txt").exists()
        assert runtime.queue.counts().visible == 1

    def test_a_file_that_fails_unexpectedly_does_not_hold_up_the_others(self, runtime, monkeypatch) -> None:
        """One file's error is logged and left for the next scan; the files after it are still taken."""
        inbox = runtime.settings.inbox_dir
        _drop(inbox / "work" / "a.txt", b"First memo")
        _drop(inbox / "work" / "b.txt", b"Second memo")
        watcher = _watcher(runtime)
        accept = runtime.ingestor.accept

        def accept_all_but_a(transcript, **kwargs):
            if transcript.title == "a":
                raise PermissionError("permission denied")
            return accept(transcript, **kwargs)

        monkeypatch.setattr(runtime.ingestor, "accept", accept_all_but_a)
        watcher.scan()

        assert (inbox / "work" / "a.txt").exists()
        assert (inbox / "_accepted" / "work" / "b.txt").exists()
        assert runtime.queue.counts().visible == 1
