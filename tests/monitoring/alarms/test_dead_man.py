"""The plan's dead-man alarm, NoMemosCompleting, evaluated by the alarm engine over metric points put at known
times: memos waiting in the transcripts queue and none done for 10 minutes in a row is ALARM."""

from __future__ import annotations

from pathlib import Path

import pytest

from whispersync import catalog
from whispersync.monitoring.alarms import AlarmEngine, AlarmStore
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import ALARM, DEFAULT_PLAN, INSUFFICIENT_DATA, OK

T0 = 1_795_788_000_000  # 2026-11-27T14:00:00Z, a minute boundary
MINUTE = 60_000
QUEUE = catalog.queue_dimensions(catalog.QUEUE)


@pytest.fixture
def store(tmp_path: Path):
    s = TelemetryStore(tmp_path / "telemetry")
    yield s
    s.close()


@pytest.fixture
def engine(store, tmp_path):
    [alarm] = [a for a in DEFAULT_PLAN.alarms if a.name == "NoMemosCompleting"]
    return AlarmEngine(store, AlarmStore(tmp_path / "monitoring.sqlite3"), definitions=lambda: [alarm])


def _collector(store, waiting: list[int | None], in_flight: int = 0) -> None:
    """What the collector publishes once a minute (at :30 of each minute); None: no sample that minute."""
    records = []
    for i, visible in enumerate(waiting):
        if visible is None:
            continue
        at = T0 + i * MINUTE + 30_000
        records += [
            {"namespace": catalog.QUEUE_VISIBLE.namespace, "name": catalog.QUEUE_VISIBLE.name, "value": visible,
             "unit": "Count", "dimensions": QUEUE, "timestamp": at},
            {"namespace": catalog.QUEUE_NOT_VISIBLE.namespace, "name": catalog.QUEUE_NOT_VISIBLE.name,
             "value": in_flight, "unit": "Count", "dimensions": QUEUE, "timestamp": at}]
    store.put_metrics(records)


def _memo(store, minute: int, *, error: bool = False) -> None:
    """One memo processed by the worker in that minute (as MemoProcessor._publish records it)."""
    at = T0 + minute * MINUTE + 45_000
    store.put_metrics([
        {"namespace": catalog.WORKER_INVOCATIONS.namespace, "name": catalog.WORKER_INVOCATIONS.name, "value": 1,
         "unit": "Count", "dimensions": dict(catalog.WORKER_INVOCATIONS.dimensions), "timestamp": at},
        {"namespace": catalog.WORKER_ERRORS.namespace, "name": catalog.WORKER_ERRORS.name, "value": int(error),
         "unit": "Count", "dimensions": dict(catalog.WORKER_ERRORS.dimensions), "timestamp": at}])


def _state(engine, minutes: int) -> str:
    return engine.evaluate(T0 + minutes * MINUTE + 1_000)[0].state


class TestNoMemosCompleting:
    def test_memos_waiting_and_none_done_for_ten_minutes_is_alarm(self, store, engine):
        _collector(store, [3] * 12)
        assert _state(engine, 9) != ALARM  # 9 minutes: still inside the grace
        assert _state(engine, 10) == ALARM

    def test_memos_in_flight_only_count_as_waiting(self, store, engine):
        """A worker stuck on its memo: nothing visible, one in flight, nothing done."""
        _collector(store, [0] * 10, in_flight=1)
        assert _state(engine, 10) == ALARM

    def test_memos_that_all_fail_are_not_done(self, store, engine):
        _collector(store, [2] * 10)
        for minute in range(10):
            _memo(store, minute, error=True)
        assert _state(engine, 10) == ALARM

    def test_one_completion_keeps_it_ok(self, store, engine):
        _collector(store, [3] * 10)
        _memo(store, 6)
        assert _state(engine, 10) == OK

    def test_a_completion_after_the_alarm_brings_it_back_to_ok(self, store, engine):
        _collector(store, [3] * 11)
        assert _state(engine, 10) == ALARM
        _memo(store, 10)
        assert _state(engine, 11) == OK

    def test_an_empty_queue_with_no_memos_is_ok(self, store, engine):
        _collector(store, [0] * 10)
        assert _state(engine, 10) == OK

    def test_no_collector_data_is_no_evidence(self, store, engine):
        """No queue samples at all: nothing to say (INSUFFICIENT_DATA), even though nothing was done."""
        assert _state(engine, 10) == INSUFFICIENT_DATA

    def test_minutes_without_a_queue_sample_are_skipped_not_counted_as_fine(self, store, engine):
        """A gap in the collector's samples neither breaches nor resets: the alarm looks past it."""
        _collector(store, [3] * 5 + [None] * 2 + [3] * 5)
        assert _state(engine, 12) == ALARM
