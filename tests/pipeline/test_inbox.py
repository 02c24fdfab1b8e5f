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


def _outside_file(runtime, name: str, text: str):
    """A file outside $WHISPERSYNC_HOME that a link in the inbox points at."""
    outside = runtime.settings.home.parent / "outside"
    outside.mkdir(exist_ok=True)
    target = outside / name
    target.write_text(text)
    old = time.time() - 5
    os.utime(target, (old, old))
    return target


class TestInboxLinks:
    """Nothing outside the inbox is ever read or moved through a symbolic link in it."""

    def test_a_linked_txt_file_is_rejected_as_a_link_and_its_target_is_untouched(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        target = _outside_file(runtime, "secret.txt", "Need to rotate the root password")
        (inbox / "work" / "secret.txt").symlink_to(target)
        (inbox / "top.txt").symlink_to(target)

        watcher.scan()

        assert target.read_text() == "Need to rotate the root password"
        assert runtime.records.list() == [] and runtime.queue.counts().visible == 0
        rejected = inbox / "_rejected"
        for name in ("secret.txt", "top.txt"):
            assert (rejected / name).is_symlink()  # the link itself moved, not its target
            assert "symbolic link" in (rejected / f"{name}.error.txt").read_text()
        assert not (inbox / "work" / "secret.txt").exists() and not (inbox / "top.txt").is_symlink()

    def test_a_linked_folder_is_rejected_and_nothing_in_it_is_read_or_moved(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        target = _outside_file(runtime, "diary.txt", "Dinner with my sister in Lisbon")
        (inbox / "memory").rmdir()
        (inbox / "memory").symlink_to(target.parent)  # an agent folder that is a link
        (inbox / "elsewhere").symlink_to(target.parent)

        watcher.scan()

        assert target.read_text() == "Dinner with my sister in Lisbon"
        assert sorted(p.name for p in target.parent.iterdir()) == ["diary.txt"]
        assert runtime.records.list() == []
        for name in ("memory", "elsewhere"):
            assert (inbox / "_rejected" / name).is_symlink()
            assert "symbolic link" in (inbox / "_rejected" / f"{name}.error.txt").read_text()
        assert (inbox / "memory").is_dir() and not (inbox / "memory").is_symlink()  # ready for real files again

    def test_a_non_regular_file_is_rejected_without_being_opened_for_reading(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        os.mkfifo(inbox / "work" / "pipe.txt")  # reading a FIFO would block the scan forever

        watcher.scan()

        assert "not a regular file" in (inbox / "_rejected" / "pipe.txt.error.txt").read_text()
        assert runtime.records.list() == []


    def test_a_rejected_folder_replaced_by_a_link_does_not_move_files_out_of_the_inbox(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        outside = _outside_file(runtime, "keep.txt", "unrelated").parent
        (inbox / "_rejected").rmdir()
        (inbox / "_rejected").symlink_to(outside)
        _drop(inbox / "work" / "empty.txt", b"  ")

        watcher.scan()

        assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
        assert (inbox / "work" / "empty.txt").exists()  # left where it was, logged


class TestInboxSettling:
    def test_the_default_settle_time_is_the_settings_default(self, runtime) -> None:
        from whispersync.settings import Settings

        watcher = InboxWatcher(runtime.settings.inbox_dir, runtime.ingestor, runtime.telemetry, agents=AGENTS)
        assert watcher.settle_seconds == Settings.model_fields["inbox_settle_seconds"].default

    def test_a_file_written_slowly_becomes_one_memo_with_the_full_text(self, runtime) -> None:
        """Stability is observed across scans, so an old mtime (a skewed clock, a copier
        that preserves times) does not make a half-written file look finished."""
        import threading

        inbox = runtime.settings.inbox_dir
        path = inbox / "work" / "slow.txt"
        chunks = [f"Part {n} of the notes from the long planning meeting. " for n in range(8)]
        done = threading.Event()

        def write_slowly() -> None:
            try:
                for chunk in chunks:
                    with path.open("a") as out:
                        out.write(chunk)
                    old = time.time() - 3600  # the writer's clock is an hour behind
                    os.utime(path, (old, old))
                    time.sleep(0.05)
            finally:
                done.set()

        watcher = InboxWatcher(inbox, runtime.ingestor, runtime.telemetry, agents=AGENTS, settle_seconds=1.0)
        writer = threading.Thread(target=write_slowly)
        writer.start()
        deadline = time.monotonic() + 20
        while not (done.is_set() and (inbox / "_accepted" / "work" / "slow.txt").exists()):
            assert time.monotonic() < deadline, "the file was never taken"
            watcher.scan()
            time.sleep(0.02)
        writer.join()

        [memo] = runtime.records.list()
        assert runtime.blobs.get(memo.key).decode() == "".join(chunks)

    def test_a_dot_file_is_never_taken_and_is_taken_once_renamed(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        hidden = inbox / "work" / ".draft.txt"
        _drop(hidden, b"Need to call the plumber")
        assert watcher.scan() == 0 and hidden.exists()

        os.rename(hidden, inbox / "work" / "draft.txt")
        assert watcher.scan() == 1
        assert [m.title for m in runtime.records.list()] == ["draft"]

    def test_an_oversized_file_is_rejected_with_its_size_without_reading_it(self, runtime) -> None:
        import tracemalloc

        inbox = runtime.settings.inbox_dir
        watcher = _watcher(runtime)
        path = inbox / "work" / "huge.txt"
        with path.open("wb") as out:
            out.truncate(300 * 1024 * 1024)  # sparse: no disk used, but 300 MB if read
        old = time.time() - 5
        os.utime(path, (old, old))

        tracemalloc.start()
        try:
            watcher.scan()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        reason = (inbox / "_rejected" / "huge.txt.error.txt").read_text()
        assert "file is 314572800 bytes; the limit is 1048576 bytes" in reason
        assert peak < 16 * 1024 * 1024
        assert runtime.records.list() == []


class TestReadTranscriptFile:
    @pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
    def test_a_file_that_does_not_report_its_size_is_read_only_up_to_the_limit(self) -> None:
        """/proc files say they are 0 bytes long: the read itself must stop at the limit."""
        from whispersync.errors import TranscriptTooLarge
        from whispersync.pipeline.ingest import read_transcript_file

        with pytest.raises(TranscriptTooLarge, match="more than 10 bytes"):
            read_transcript_file("/proc/self/status", max_bytes=10)
        assert read_transcript_file("/proc/self/status", max_bytes=1 << 20).startswith(b"Name:")


class TestInboxFileKinds:
    """Every file dropped in the inbox is taken or rejected with a reason, never left unexplained (issue 9 §4)."""

    @pytest.mark.parametrize("name", ["plan.md", "plan.markdown", "plan.text", "PLAN.TXT", "Plan.MD"])
    def test_markdown_and_other_text_names_are_taken_as_text(self, runtime, name) -> None:
        inbox = runtime.settings.inbox_dir
        _drop(inbox / "work" / name, b"# Release\n\n- follow up with Dana")
        assert _watcher(runtime).scan() == 1
        (memo,) = runtime.records.list()
        assert memo.agent == "work" and memo.title == name.rsplit(".", 1)[0]
        assert runtime.blobs.get(memo.key) == b"# Release\n\n- follow up with Dana"
        assert (inbox / "_accepted" / "work" / name).exists()

    @pytest.mark.parametrize(("folder", "name"), [("work", "memo.wav"), ("", "notes.docx"), ("memory", "README")])
    def test_any_other_file_is_rejected_with_the_reason(self, runtime, folder, name) -> None:
        inbox = runtime.settings.inbox_dir
        path = inbox / folder / name if folder else inbox / name
        _drop(path, b"RIFF....WAVEfmt ")
        assert _watcher(runtime).scan() == 1
        rejected = inbox / "_rejected"
        assert (rejected / name).read_bytes() == b"RIFF....WAVEfmt "  # nothing lost
        reason = (rejected / f"{name}.error.txt").read_text()
        assert "not a text file" in reason and ".txt" in reason and ".md" in reason
        assert not path.exists() and runtime.records.list() == []

    def test_an_unsettled_file_of_another_kind_waits_like_any_file(self, runtime) -> None:
        inbox = runtime.settings.inbox_dir
        watcher = InboxWatcher(inbox, runtime.ingestor, runtime.telemetry, agents=AGENTS, settle_seconds=60)
        (inbox / "work" / "memo.wav").write_bytes(b"RIFF")
        assert watcher.scan() == 0
        assert (inbox / "work" / "memo.wav").exists()
