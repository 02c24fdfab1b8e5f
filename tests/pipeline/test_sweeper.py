"""The "stored, not sent" sweeper: a record without a message is enqueued again, and only then."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import orjson
from helpers import wait_until

from whispersync import catalog
from whispersync.app import build_runtime
from whispersync.domain import MemoStatus, Transcript
from whispersync.pipeline.ingest import UnsentSweeper

_LONG_AGO = 3600.0


def _sweeper(runtime, grace_seconds: float = 120) -> UnsentSweeper:
    return UnsentSweeper(runtime.ingestor, queue_db=runtime.broker.path,
                         queue_names=(runtime.queue.name, runtime.dlq.name), grace_seconds=grace_seconds)


def _age(runtime, memo_id: str) -> None:
    """Make the record look older than the grace period, as it will be a few minutes after a crash."""
    then = time.time() - _LONG_AGO
    runtime.records.update(memo_id, created_at=then, updated_at=then)


def _memo_ids(messages) -> list[str]:
    return [orjson.loads(m.body)["memo_id"] for m in messages]


def _killed_between_record_and_message(settings) -> str:
    """Run an ingest in a real process that is SIGKILLed right after the record, before the send."""
    script = textwrap.dedent("""
        import os, signal, sys
        from whispersync.app import build_runtime
        from whispersync.domain import Transcript
        from whispersync.settings import Settings

        runtime = build_runtime(Settings.load(home=sys.argv[1]))
        def send(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        runtime.queue.send = send
        runtime.ingestor.accept(Transcript(text="Need to ship the release", agent="work"), memo_id="c" * 32)
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(settings.home)], capture_output=True, timeout=60,
                          check=False)
    assert proc.returncode == -9, proc.stderr.decode()
    return "c" * 32


class TestSweep:
    def test_a_record_stored_by_a_killed_ingest_is_enqueued_and_processed(self, settings) -> None:
        memo_id = _killed_between_record_and_message(settings)
        runtime = build_runtime(settings)
        try:
            assert runtime.records.get(memo_id).status is MemoStatus.QUEUED
            assert runtime.queue.counts().visible == 0
            _age(runtime, memo_id)

            assert _sweeper(runtime).sweep() == [memo_id]

            [message] = runtime.queue.receive(10)
            memo = runtime.records.get(memo_id)
            assert message.attributes["correlationId"] == memo.correlation_id
            assert message.attributes["traceparent"].split("-")[1] == memo.trace_id
            assert runtime.processor.process(message)
            assert runtime.records.get(memo_id).status is MemoStatus.DONE
            assert _sweeper(runtime).sweep() == []
        finally:
            runtime.close(timeout=5)

    def test_a_record_younger_than_the_grace_period_is_left_alone(self, runtime) -> None:
        receipt = runtime.ingestor.accept(Transcript(text="hello"))
        [message] = runtime.queue.receive(1)
        runtime.queue.delete(message.receipt_handle)  # stored, not sent: but it may be an accept in progress

        assert _sweeper(runtime, grace_seconds=120).sweep() == []
        _age(runtime, receipt.id)
        assert _sweeper(runtime, grace_seconds=120).sweep() == [receipt.id]

    def test_a_memo_with_a_message_in_any_state_is_never_sent_twice(self, runtime) -> None:
        visible, in_flight, delayed, dead, done = (
            runtime.ingestor.accept(Transcript(text=f"memo {n}")).id for n in range(5))
        by_id = {}
        for message in runtime.queue.receive(10):
            by_id[orjson.loads(message.body)["memo_id"]] = message
        runtime.queue.change_visibility(by_id[visible].receipt_handle, 0)
        runtime.queue.change_visibility(by_id[delayed].receipt_handle, 0)
        # delayed: its message was re-sent with a delay (as a redrive or a retry may be)
        runtime.queue.send(by_id[delayed].body, delay_seconds=600)
        runtime.queue.delete(by_id[delayed].receipt_handle)
        runtime.dlq.send(by_id[dead].body)  # in the DLQ (status still queued: a crash mid-_fail)
        runtime.queue.delete(by_id[dead].receipt_handle)
        runtime.processor.process(by_id[done])  # done: no message, but nothing to do
        for memo_id in (visible, in_flight, delayed, dead, done):
            _age(runtime, memo_id)
        before = (runtime.queue.counts(), runtime.dlq.counts())

        assert _sweeper(runtime).sweep() == []

        after = (runtime.queue.counts(), runtime.dlq.counts())
        assert [(c.visible, c.in_flight, c.delayed) for c in after] == [
            (c.visible, c.in_flight, c.delayed) for c in before] == [(1, 1, 1), (1, 0, 0)]

    def test_a_not_enqueued_record_is_enqueued_and_its_error_cleared(self, runtime, monkeypatch) -> None:
        send = runtime.queue.send
        monkeypatch.setattr(runtime.queue, "send", lambda *a, **k: (_ for _ in ()).throw(OSError("disk I/O error")))
        try:
            runtime.ingestor.accept(Transcript(text="hello"), memo_id="d" * 32)
        except OSError:
            pass
        monkeypatch.setattr(runtime.queue, "send", send)
        assert runtime.records.get("d" * 32).error.startswith("not enqueued: ")
        _age(runtime, "d" * 32)

        assert _sweeper(runtime).sweep() == ["d" * 32]

        assert _memo_ids(runtime.queue.receive(10)) == ["d" * 32]
        assert runtime.records.get("d" * 32).error is None

    def test_each_re_enqueued_memo_is_logged_and_counted(self, runtime) -> None:
        receipts = [runtime.ingestor.accept(Transcript(text=f"memo {n}")) for n in range(3)]
        ids = [r.id for r in receipts]
        for message in runtime.queue.receive(10):
            runtime.queue.delete(message.receipt_handle)
        for memo_id in ids:
            _age(runtime, memo_id)

        assert sorted(_sweeper(runtime).sweep()) == sorted(ids)

        runtime.telemetry.flush()
        now_ms = int(time.time() * 1000)
        series = runtime.store.metric_statistics("WhisperSync/Ingest", "UnsentMemosReenqueued", dimensions={},
                                                 statistic="Sum", start_ms=now_ms - 600_000,
                                                 end_ms=now_ms + 60_000, period=3600)
        assert sum(series.values) == 3
        for receipt in receipts:  # logged under the memo's own correlation id
            [line] = [line for line in runtime.store.logs(correlation_id=receipt.correlation_id)
                      if line["message"] == "Stored memo had no message; re-enqueued"]
            assert line["memo_id"] == receipt.id


class TestRuntime:
    def test_up_sweeps_at_start(self, settings) -> None:
        memo_id = _killed_between_record_and_message(settings)
        runtime = build_runtime(settings)
        try:
            _age(runtime, memo_id)
            runtime.start(workers=1, inbox=False, collector=False, maintenance=False, notifications=False,
                          alarms=False)
            wait_until(lambda: runtime.records.get(memo_id).status is MemoStatus.DONE, timeout=20)
            assert runtime.queue.counts().visible == 0 and runtime.queue.counts().in_flight == 0
            assert catalog.DEAD_LETTER_QUEUE == runtime.dlq.name and runtime.dlq.counts().visible == 0
        finally:
            runtime.close(timeout=5)
