"""app.py, the one wiring point: which adapter backs which port, the services of `up`, the alarms."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from whispersync import catalog
from whispersync.app import alarm_definitions, build_runtime, load_plan
from whispersync.domain import MemoStatus, Transcript
from whispersync.errors import ConfigError, QueueError
from whispersync.plan import DEFAULT_PLAN, MetricAlarm
from whispersync.monitoring.alarms import AlarmStore
from whispersync.settings import Settings

SERVICE_THREADS = {"notify-delivery", "worker-0", "inbox", "collector", "compaction", "retention",
                   "unsent-sweep", "alarms"}


def _live_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}


class TestBuildRuntime:
    def test_the_queue_dead_letters_into_the_dlq_after_max_receive_count(self, runtime, settings):
        assert (runtime.queue.name, runtime.dlq.name) == (catalog.QUEUE, catalog.DEAD_LETTER_QUEUE)
        assert runtime.queue.redrive.dead_letter_queue == catalog.DEAD_LETTER_QUEUE
        assert runtime.queue.redrive.max_receive_count == settings.max_receive_count
        assert runtime.queue.visibility_timeout == runtime.dlq.visibility_timeout == settings.visibility_timeout

    def test_ingest_and_the_worker_share_one_adapter_per_port(self, runtime):
        """What ingest stores and enqueues is what the worker reads: the same objects, not copies."""
        assert runtime.ingestor.queue is runtime.processor.queue is runtime.queue
        assert runtime.ingestor.records is runtime.processor.records is runtime.records
        assert runtime.ingestor.blobs is runtime.processor.blobs is runtime.blobs

    def test_everything_lives_under_the_home(self, runtime, settings):
        for path in (settings.queue_db, settings.records_db, settings.blobs_dir, settings.monitoring_db):
            assert path.exists(), path
            assert settings.home in path.parents

    def test_the_monitoring_engine_and_notifier_are_wired(self, runtime):
        assert runtime.notifier is not None
        assert runtime.alarms is not None
        assert runtime.pool is None  # no workers until start()


class TestRuntimeServices:
    def test_start_runs_every_service_of_up_and_close_stops_them_all(self, settings):
        """`up`: a memo accepted is processed by the pool; close() leaves no service thread behind."""
        before = _live_threads()
        runtime = build_runtime(settings)
        try:
            runtime.start(workers=1)
            assert SERVICE_THREADS <= _live_threads()
            receipt = runtime.ingestor.accept(Transcript("Standup: shipped the queue contract.", agent="work"))
            deadline = time.monotonic() + 20
            while runtime.records.get(receipt.id).status is not MemoStatus.DONE:
                assert time.monotonic() < deadline, "the worker did not process the memo"
                time.sleep(0.05)
        finally:
            runtime.close(timeout=5)
        assert not (SERVICE_THREADS - before) & _live_threads()
        with pytest.raises(QueueError):
            runtime.queue.send("after close")

    def test_start_can_leave_services_out(self, settings):
        before = _live_threads()
        runtime = build_runtime(settings)
        try:
            runtime.start(workers=1, inbox=False, collector=False, maintenance=False, notifications=False,
                          alarms=False, sweep=False)
            assert (_live_threads() - before) & SERVICE_THREADS == {"worker-0"}
        finally:
            runtime.close(timeout=5)


def _plan_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "myplan.py"
    path.write_text("from whispersync.plan import MetricAlarm\n" + body)
    return path


class TestAlarmDefinitions:
    def test_the_package_plan_then_the_plan_file_then_stored_alarms_later_wins(self, tmp_path):
        path = _plan_file(tmp_path, (
            "ALARMS = [MetricAlarm(name='SystemDown', namespace='WhisperSync/Worker', metric_name='Errors',\n"
            "                      threshold=1, evaluation_periods=1, priority='P1'),\n"
            "          MetricAlarm(name='FromFile', namespace='X', metric_name='Y', threshold=2,\n"
            "                      evaluation_periods=1),\n"
            "          MetricAlarm(name='Both', namespace='X', metric_name='Y', threshold=3, evaluation_periods=1)]\n"))
        settings = Settings.load(home=tmp_path / "home", plan_file=path)
        store = AlarmStore(settings.monitoring_db)
        try:
            store.put(MetricAlarm(name="Both", namespace="X", metric_name="Y", threshold=4, evaluation_periods=1))
            by_name = {a.name: a for a in alarm_definitions(load_plan(settings), store)()}
        finally:
            store.close()
        assert by_name["SystemDown"].threshold == 1          # the file overrides the package plan
        assert by_name["FromFile"].threshold == 2
        assert by_name["Both"].threshold == 4                # `alarms put` overrides the file
        assert set(by_name) == {a.name for a in DEFAULT_PLAN.alarms} | {"FromFile", "Both"}

    def test_stored_alarms_are_read_on_every_call_the_file_only_once(self, tmp_path):
        """The engine sees `alarms put` from another process at its next evaluation."""
        path = _plan_file(tmp_path, "ALARMS = [MetricAlarm(name='FromFile', namespace='X', metric_name='Y',"
                                    " threshold=2, evaluation_periods=1)]\n")
        settings = Settings.load(home=tmp_path / "home", plan_file=path)
        store = AlarmStore(settings.monitoring_db)
        try:
            definitions = alarm_definitions(load_plan(settings), store)
            path.write_text("raise SystemExit('read again')\n")
            store.put(MetricAlarm(name="Later", namespace="X", metric_name="Y", threshold=1, evaluation_periods=1))
            names = {a.name for a in definitions()}
        finally:
            store.close()
        assert {"FromFile", "Later"} <= names

    def test_without_a_plan_file_it_is_the_package_plan(self, settings):
        store = AlarmStore(settings.monitoring_db)
        try:
            names = [a.name for a in alarm_definitions(load_plan(settings), store)()]
        finally:
            store.close()
        assert names == [a.name for a in DEFAULT_PLAN.alarms]

    def test_a_broken_plan_file_is_a_config_error_at_start_up(self, tmp_path):
        path = _plan_file(tmp_path, "ALARMS = [1/0]\n")
        settings = Settings.load(home=tmp_path / "home", plan_file=path)
        store = AlarmStore(settings.monitoring_db)
        try:
            with pytest.raises(ConfigError, match=r"(?s)myplan.py: 1 problem.*ZeroDivisionError"):
                alarm_definitions(load_plan(settings), store)
        finally:
            store.close()
