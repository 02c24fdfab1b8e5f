"""PeriodicTask: one action every interval on a background thread, surviving failures, until stopped."""

from __future__ import annotations

import threading
import time

import pytest

from whispersync.periodic import PeriodicTask
from whispersync.telemetry.testing import capture_telemetry


@pytest.fixture
def cap():
    with capture_telemetry() as captured:
        yield captured


def _wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_it_runs_the_action_every_interval_on_a_named_thread(cap):
    threads: list[str] = []
    task = PeriodicTask("ticker", 0.02, lambda: threads.append(threading.current_thread().name),
                        cap.telemetry.logger("test"))
    task.start()
    try:
        assert _wait_for(lambda: len(threads) >= 3)
    finally:
        task.stop()
    assert set(threads) == {"ticker"}


def test_it_waits_one_interval_before_the_first_run_unless_told_to_run_immediately(cap):
    ran: list[str] = []
    late = PeriodicTask("late", 30, lambda: ran.append("late"), cap.telemetry.logger("test"))
    early = PeriodicTask("early", 30, lambda: ran.append("early"), cap.telemetry.logger("test"),
                         run_immediately=True)
    late.start()
    early.start()
    try:
        assert _wait_for(lambda: "early" in ran)
        time.sleep(0.1)
    finally:
        late.stop()
        early.stop()
    assert ran == ["early"]


def test_a_failing_tick_is_logged_and_the_next_tick_runs(cap):
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first tick fails")

    task = PeriodicTask("flaky", 0.02, flaky, cap.telemetry.logger("test"))
    task.start()
    try:
        assert _wait_for(lambda: len(calls) >= 2)
    finally:
        task.stop()
    cap.telemetry.flush()
    [failure] = cap.logs_where(message="flaky failed")
    assert failure["level"] == "ERROR"
    assert failure["error_type"] == "RuntimeError"


def test_stop_ends_the_thread_promptly_even_with_a_long_interval(cap):
    task = PeriodicTask("slow", 3600, lambda: None, cap.telemetry.logger("test"))
    task.start()
    started = time.monotonic()
    task.stop()
    assert time.monotonic() - started < 2
    assert not any(t.name == "slow" and t.is_alive() for t in threading.enumerate())


def test_stop_before_start_is_harmless(cap):
    PeriodicTask("never", 1, lambda: None, cap.telemetry.logger("test")).stop()
