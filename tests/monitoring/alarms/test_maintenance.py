"""Maintenance windows: the store, and a real engine and notifier holding actions back while one is active."""

from __future__ import annotations

from pathlib import Path

import pytest

from whispersync.monitoring.alarms import AlarmEngine, AlarmError, AlarmStore, MaintenanceWindows
from whispersync.monitoring.notify import Notifier, NotifierConfig
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import ALARM, OK, MetricAlarm
from whispersync.telemetry import NullSink, Telemetry

T0 = 1_795_788_000_000  # 2026-11-27T14:00:00Z
MINUTE = 60_000


@pytest.fixture
def store(tmp_path: Path) -> TelemetryStore:
    s = TelemetryStore(tmp_path / "telemetry")
    yield s
    s.close()


class TestWindows:
    def test_a_window_is_active_from_its_start_until_its_end(self, tmp_path):
        """Active at start, still active a millisecond before the end, over at the end."""
        windows = MaintenanceWindows(tmp_path / "monitoring.sqlite3")
        started = windows.start(1800, "disk upgrade", now_ms=T0)
        assert started["active"] and started["reason"] == "disk upgrade"
        assert windows.active(T0 - 1) is None
        assert windows.active(T0)["id"] == started["id"]
        assert windows.active(T0 + 30 * MINUTE - 1)["id"] == started["id"]
        assert windows.active(T0 + 30 * MINUTE) is None
        windows.close()

    def test_ending_a_window_ends_it_now(self, tmp_path):
        windows = MaintenanceWindows(tmp_path / "monitoring.sqlite3")
        windows.start(1800, "disk upgrade", now_ms=T0)
        ended = windows.end(now_ms=T0 + 5 * MINUTE)
        assert ended["ended_at"] == "2026-11-27T14:05:00.000Z" and not ended["active"]
        assert windows.active(T0 + 5 * MINUTE) is None
        assert windows.end(now_ms=T0 + 6 * MINUTE) is None  # nothing left to end
        assert [w["active"] for w in windows.list(T0 + 6 * MINUTE)] == [False]

    def test_a_second_window_is_refused_while_one_is_active(self, tmp_path):
        windows = MaintenanceWindows(tmp_path / "monitoring.sqlite3")
        windows.start(600, "first", now_ms=T0)
        with pytest.raises(AlarmError, match="is active until 2026-11-27T14:10:00.000Z"):
            windows.start(600, "second", now_ms=T0 + MINUTE)
        assert windows.start(600, "second", now_ms=T0 + 10 * MINUTE)["id"] == 2  # after the first is over
        assert [w["reason"] for w in windows.list(T0 + 10 * MINUTE)] == ["second", "first"]

    @pytest.mark.parametrize(("seconds", "reason", "message"), [
        (600, "  ", "needs a reason"), (0, "x", "more than 0 s"), (8 * 86_400, "x", "at most 7 days"),
        (600, "x" * 501, "at most 500"),
    ])
    def test_bad_input_is_refused_with_a_reason(self, tmp_path, seconds, reason, message):
        windows = MaintenanceWindows(tmp_path / "monitoring.sqlite3")
        with pytest.raises(AlarmError, match=message):
            windows.start(seconds, reason, now_ms=T0)
        assert windows.list(T0) == []


class Scenario:
    """A P1 alarm on NS/Errors with an ALARM and an OK action, a real outbox-backed notifier, one store file."""

    def __init__(self, store: TelemetryStore, tmp_path: Path) -> None:
        self.store = store
        path = tmp_path / "monitoring.sqlite3"
        self.alarm = MetricAlarm(name="Errors", namespace="NS", metric_name="Errors", statistic="Sum", period=60,
                                 threshold=10, evaluation_periods=1, comparison_operator="GreaterThanThreshold",
                                 treat_missing_data="notBreaching", priority="P1",
                                 alarm_actions=("topic:critical",), ok_actions=("topic:critical",))
        self.notifier = Notifier(NotifierConfig(outbox_path=path), telemetry=Telemetry(NullSink()))
        self.alarm_store = AlarmStore(path)
        self.engine = AlarmEngine(store, self.alarm_store, definitions=lambda: [self.alarm], notifier=self.notifier)

    def breach(self, minute: int, value: float) -> None:
        self.store.put_metrics([{"namespace": "NS", "name": "Errors", "value": value, "unit": "Count",
                                 "dimensions": {}, "timestamp": T0 + minute * MINUTE + 1_000}])

    def evaluate(self, minute: int) -> str:
        """The cycle just after ``minute``'s period; the alarm's state after it."""
        [result] = self.engine.evaluate(T0 + (minute + 1) * MINUTE)
        return result.state

    def outbox(self) -> list[tuple[str, str]]:
        """The state changes queued for delivery, newest first."""
        return [(d["old_state"], d["new_state"]) for d in self.notifier.deliveries(limit=1000)]

    def close(self) -> None:
        self.notifier.close()
        self.alarm_store.close()


@pytest.fixture
def scenario(store, tmp_path):
    s = Scenario(store, tmp_path)
    yield s
    s.close()


class TestEngineDuringMaintenance:
    def test_a_window_holds_the_notification_but_the_history_keeps_the_transition(self, scenario):
        scenario.breach(0, 1)
        assert scenario.evaluate(0) == OK
        sent_before = scenario.outbox()
        assert sent_before  # without a window, INSUFFICIENT_DATA -> OK is published
        scenario.alarm_store.maintenance.start(1800, "disk upgrade", now_ms=T0 + MINUTE)
        scenario.breach(1, 50)
        assert scenario.evaluate(1) == ALARM
        assert scenario.outbox() == sent_before  # nothing new in the outbox
        history = scenario.engine.history("Errors")
        assert history[1]["type"] == "StateUpdate" and history[1]["summary"] == "Alarm updated from OK to ALARM"
        held = history[0]
        assert held["type"] == "Action" and held["summary"].startswith("Did not execute action topic:critical")
        assert held["data"]["suppressed"] is True
        assert held["data"]["actions_suppressed_by"] == "Maintenance"
        assert "disk upgrade" in held["data"]["actions_suppressed_reason"]

    def test_ending_the_window_restores_delivery(self, scenario):
        scenario.breach(0, 1)
        scenario.evaluate(0)
        scenario.alarm_store.maintenance.start(1800, "disk upgrade", now_ms=T0 + MINUTE)
        scenario.breach(1, 50)
        scenario.evaluate(1)
        scenario.alarm_store.maintenance.end(now_ms=T0 + 2 * MINUTE + 1)
        scenario.breach(2, 1)
        assert scenario.evaluate(2) == OK
        assert scenario.outbox()[0] == ("ALARM", "OK")
        assert scenario.engine.history("Errors")[0]["summary"].startswith("Successfully executed action")

    def test_an_expired_window_no_longer_holds_actions(self, scenario):
        """A 1-minute window started at minute 1 is over by the cycle after minute 3 (fake clock: at_ms)."""
        scenario.breach(0, 1)
        scenario.evaluate(0)
        scenario.alarm_store.maintenance.start(60, "short", now_ms=T0 + MINUTE)
        scenario.breach(3, 50)
        before = len(scenario.outbox())
        assert scenario.evaluate(3) == ALARM
        assert len(scenario.outbox()) > before
        assert scenario.outbox()[0] == ("OK", "ALARM")
