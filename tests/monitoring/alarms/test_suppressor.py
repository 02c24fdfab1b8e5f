"""Composite alarm action suppression: ActionsSuppressor with its WaitPeriod and ExtensionPeriod.

The six examples of "Suppressing composite alarm actions" (CloudWatch User Guide,
Create_Composite_Alarm_Suppression) are timelines; here one time unit is one
evaluation cycle of a minute and, as on the page, the WaitPeriod is 2 units and the
ExtensionPeriod 3. Each example is shifted so the composite first settles in OK.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from whispersync.monitoring.alarms import AlarmEngine, AlarmError, AlarmStore
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import ALARM, INSUFFICIENT_DATA, OK, CompositeAlarm, MetricAlarm

T0 = 1_795_788_000_000  # 2026-11-27T14:00:00Z
UNIT = 60_000
WAIT, EXTENSION = 2 * UNIT // 1000, 3 * UNIT // 1000  # seconds, as on the page: 2 and 3 time units


def at(t: int) -> int:
    """The cycle at time unit ``t``: it evaluates the datapoint of period ``t``."""
    return T0 + (t + 1) * UNIT


class RecordingNotifier:
    def __init__(self) -> None:
        self.published: list[tuple[str, object]] = []

    def publish(self, topic, notification):
        self.published.append((topic, notification))
        return ["delivery-1"]


@pytest.fixture
def store(tmp_path: Path) -> TelemetryStore:
    s = TelemetryStore(tmp_path / "telemetry")
    yield s
    s.close()


def _metric_alarm(name: str, metric: str) -> MetricAlarm:
    return MetricAlarm(name=name, namespace="NS", metric_name=metric, statistic="Maximum", period=60, threshold=10,
                       evaluation_periods=1, comparison_operator="GreaterThanThreshold",
                       treat_missing_data="notBreaching")


def _health(**changes) -> CompositeAlarm:
    fields = dict(name="Health", rule="ALARM(Errors)", alarm_actions=("topic:page",), ok_actions=("topic:all-clear",),
                  actions_suppressor="Maintenance", actions_suppressor_wait_period=WAIT,
                  actions_suppressor_extension_period=EXTENSION)
    fields.update(changes)
    return CompositeAlarm(**fields)


class Timeline:
    """Metric alarms Errors and Maintenance driven by patterns ("X" in ALARM, "0" OK, one per time unit),
    the composite Health (ALARM(Errors)) suppressed by Maintenance, over a real SQLite alarm store."""

    def __init__(self, store: TelemetryStore, tmp_path: Path, *, errors: str, maintenance: str,
                 health: CompositeAlarm | None = None, extra: tuple = ()) -> None:
        for metric, pattern in (("Errors", errors), ("Maint", maintenance)):
            self.write(store, metric, pattern)
        self.alarms = [_metric_alarm("Errors", "Errors"), _metric_alarm("Maintenance", "Maint"),
                       health or _health(), *extra]
        self.path = tmp_path / "monitoring.sqlite3"
        self.store = store
        self.notifier = RecordingNotifier()
        self.engine = self.new_engine()

    @staticmethod
    def write(store: TelemetryStore, metric: str, pattern: str) -> None:
        store.put_metrics([{"namespace": "NS", "name": metric, "value": 20.0 if c == "X" else 1.0, "unit": "Count",
                            "dimensions": {}, "timestamp": T0 + i * UNIT + 1_000}
                           for i, c in enumerate(pattern.split())])

    def new_engine(self) -> AlarmEngine:
        """An engine as a restart makes it: a new AlarmStore on the same file."""
        return AlarmEngine(self.store, AlarmStore(self.path), definitions=lambda: list(self.alarms),
                           notifier=self.notifier)

    def run(self, times) -> tuple[dict[int, list[tuple[str, str, str]]], dict[int, str | None]]:
        """Evaluate at each time unit: what was sent then, and Health's actions_suppressed_by after the cycle."""
        sent, suppressed_by = {}, {}
        for t in times:
            before = len(self.notifier.published)
            self.engine.evaluate(at(t))
            new = [(topic, n.old_state, n.new_state) for topic, n in self.notifier.published[before:]]
            if new:
                sent[t] = new
            suppressed_by[t] = self.health()["actions_suppressed_by"]
        return sent, suppressed_by

    def health(self) -> dict:
        return next(a for a in self.engine.describe() if a["name"] == "Health")


SETTLED = {2: [("all-clear", INSUFFICIENT_DATA, OK)]}  # Health's first OK, after its own WaitPeriod (t0 to t2)


class TestTheDocumentedExamples:
    def test_example_1_actions_are_not_suppressed_after_the_wait_period(self, store, tmp_path):
        """Health goes into ALARM at t3; the suppressor stays OK, so the actions run when the WaitPeriod ends (t5)."""
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X X", maintenance="0 0 0 0 0 0 0")
        sent, suppressed_by = timeline.run(range(7))
        assert sent == {**SETTLED, 5: [("page", OK, ALARM)]}
        assert suppressed_by == {0: "WaitPeriod", 1: "WaitPeriod", 2: None, 3: "WaitPeriod", 4: "WaitPeriod",
                                 5: None, 6: None}

    def test_example_2_the_suppressor_goes_into_alarm_before_the_wait_period_ends(self, store, tmp_path):
        """The suppressor's ALARM at t4 discards the WaitPeriod (t3 to t5): nothing is sent, then or later."""
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X X X", maintenance="0 0 0 0 X X X X")
        sent, suppressed_by = timeline.run(range(8))
        assert sent == SETTLED
        assert [suppressed_by[t] for t in range(3, 8)] == ["WaitPeriod", "Alarm", "Alarm", "Alarm", "Alarm"]
        assert timeline.health()["actions_suppressed_reason"] == (
            "Actions suppressed by Alarm: actions suppressor Maintenance is in ALARM")

    def test_example_3_a_state_change_during_the_wait_period_starts_a_new_one(self, store, tmp_path):
        """ALARM at t3, back to OK at t4: the first WaitPeriod is discarded with its ALARM actions; the new
        one ends at t6 and the OK actions run then."""
        timeline = Timeline(store, tmp_path, errors="0 0 0 X 0 0 0 0", maintenance="0 0 0 0 0 0 0 0")
        sent, suppressed_by = timeline.run(range(8))
        assert sent == {**SETTLED, 6: [("all-clear", ALARM, OK)]}
        assert [suppressed_by[t] for t in range(3, 8)] == ["WaitPeriod", "WaitPeriod", "WaitPeriod", None, None]

    def test_example_4_the_suppressor_is_already_in_alarm(self, store, tmp_path):
        """With the suppressor in ALARM from the start, no action of Health runs."""
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X", maintenance="X X X X X X")
        sent, suppressed_by = timeline.run(range(6))
        assert sent == {}
        assert set(suppressed_by.values()) == {"Alarm"}
        assert timeline.health()["state"] == ALARM

    def test_example_5_actions_run_after_the_extension_period(self, store, tmp_path):
        """ALARM at t3, suppressor in ALARM t4 to t6; it leaves ALARM at t7, the ExtensionPeriod ends at t10."""
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X X X X X X X",
                            maintenance="0 0 0 0 X X X 0 0 0 0 0")
        sent, suppressed_by = timeline.run(range(9))
        assert timeline.health()["actions_suppressed_reason"] == (
            "Actions suppressed by ExtensionPeriod: actions suppressor Maintenance left ALARM; waiting 180 s more, "
            "until 2026-11-27T14:11:00.000Z")
        later, suppressed_later = timeline.run(range(9, 12))
        assert {**sent, **later} == {**SETTLED, 10: [("page", OK, ALARM)]}
        assert [{**suppressed_by, **suppressed_later}[t] for t in range(3, 12)] == [
            "WaitPeriod", "Alarm", "Alarm", "Alarm", "ExtensionPeriod", "ExtensionPeriod", "ExtensionPeriod",
            None, None]

    def test_example_6_a_state_change_during_the_extension_period_starts_a_wait_period(self, store, tmp_path):
        """As example 5, but Health goes back to OK at t8: the ExtensionPeriod is discarded and a WaitPeriod
        starts (t8 to t10); its OK actions run at t10 and the ALARM actions never."""
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X X X 0 0 0 0",
                            maintenance="0 0 0 0 X X X 0 0 0 0 0")
        sent, suppressed_by = timeline.run(range(12))
        assert sent == {**SETTLED, 10: [("all-clear", ALARM, OK)]}
        assert [suppressed_by[t] for t in range(7, 11)] == ["ExtensionPeriod", "WaitPeriod", "WaitPeriod", None]


class TestTiming:
    def test_a_period_that_ends_between_cycles_runs_its_actions_at_the_next_cycle(self, store, tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X X", maintenance="0 0 0 0 0 0 0",
                            health=_health(actions_suppressor_wait_period=90, ok_actions=()))
        sent, _ = timeline.run(range(4))
        assert sent == {}
        assert timeline.health()["actions_suppressed_reason"] == (
            "Actions suppressed by WaitPeriod: waiting 90 s, until 2026-11-27T14:05:30.000Z, for actions "
            "suppressor Maintenance to go into ALARM")
        sent, _ = timeline.run(range(4, 7))
        assert sent == {5: [("page", OK, ALARM)]}  # the period ended at 14:05:30; the cycle at 14:06 runs it

    def test_a_wait_period_of_zero_runs_the_actions_at_once(self, store, tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 X X", maintenance="0 0 0",
                            health=_health(actions_suppressor_wait_period=0))
        sent, suppressed_by = timeline.run(range(3))
        assert sent == {0: [("all-clear", INSUFFICIENT_DATA, OK)], 1: [("page", OK, ALARM)]}
        assert set(suppressed_by.values()) == {None}

    def test_an_extension_period_of_zero_runs_the_actions_when_the_suppressor_leaves_alarm(self, store, tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X", maintenance="X X X X 0 0",
                            health=_health(actions_suppressor_extension_period=0, ok_actions=()))
        sent, _ = timeline.run(range(6))
        assert sent == {4: [("page", OK, ALARM)]}

    def test_the_suppressor_changed_by_set_state_counts_when_it_happens(self, store, tmp_path):
        """SetAlarmState on the suppressor inside a WaitPeriod discards it; leaving ALARM at the next cycle
        starts an ExtensionPeriod there (t4 to t7), rather than letting the WaitPeriod end at t5."""
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X X X X", maintenance="0 0 0 0 0 0 0 0 0",
                            health=_health(ok_actions=()))
        timeline.run(range(4))
        timeline.engine.set_state("Maintenance", ALARM, "Maintenance window", at_ms=at(3) + 10_000)
        assert timeline.health()["actions_suppressed_by"] == "Alarm"
        sent, suppressed_by = timeline.run(range(4, 9))
        assert sent == {7: [("page", OK, ALARM)]}
        assert suppressed_by[4] == "ExtensionPeriod"


class TestRestart:
    def test_a_pending_wait_period_survives_a_new_engine(self, store, tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X", maintenance="0 0 0 0 0 0",
                            health=_health(ok_actions=()))
        timeline.run(range(4))
        assert timeline.notifier.published == []
        timeline.engine.alarm_store.close()
        timeline.engine = timeline.new_engine()
        assert timeline.health()["actions_suppressed_by"] == "WaitPeriod"
        sent, _ = timeline.run(range(4, 6))
        assert sent == {5: [("page", OK, ALARM)]}

    def test_an_extension_period_survives_a_new_engine_and_a_suppressed_action_is_not_sent_twice(self, store,
                                                                                              tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X X X X X X", maintenance="0 0 0 0 X X 0 0 0 0 0",
                            health=_health(ok_actions=()))
        timeline.run(range(7))
        timeline.engine = timeline.new_engine()
        sent, _ = timeline.run(range(7, 11))
        assert sent == {9: [("page", OK, ALARM)]}


class TestHistory:
    def test_a_suppressed_action_and_its_late_run_are_in_the_history(self, store, tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X", maintenance="0 0 0 0 0 0",
                            health=_health(ok_actions=()))
        timeline.run(range(6))
        actions = [h for h in timeline.engine.history("Health") if h["type"] == "Action"]
        ran, held = actions[0], actions[1]
        assert held["summary"] == (
            "Did not execute action topic:page (OK -> ALARM): Actions suppressed by WaitPeriod: waiting 120 s, "
            "until 2026-11-27T14:06:00.000Z, for actions suppressor Maintenance to go into ALARM")
        assert held["timestamp"] == "2026-11-27T14:04:00.000Z"
        assert held["data"]["suppressed"] is True and held["data"]["actions_suppressed_by"] == "WaitPeriod"
        assert ran["summary"] == "Successfully executed action topic:page (OK -> ALARM) after its WaitPeriod ended"
        assert ran["timestamp"] == "2026-11-27T14:06:00.000Z" and ran["data"]["ok"] is True


class TestDefinitionChanges:
    @pytest.mark.parametrize(("suppressor", "sent_at_t4", "suppressed_by"), [
        ("Other", [("page", OK, ALARM)], None),   # the new suppressor is OK: the held actions run
        ("Busy", [], "Alarm"),                    # the new suppressor is in ALARM: they stay held
        (None, [("page", OK, ALARM)], None),      # no suppressor any more
    ])
    def test_replacing_the_suppressor_discards_the_pending_period(self, store, tmp_path, suppressor, sent_at_t4,
                                                                  suppressed_by):
        """"If you replace the action suppressor alarm, any active WaitPeriod or ExtensionPeriod is discarded.\""""
        Timeline.write(store, "OtherMetric", "0 0 0 0 0")
        Timeline.write(store, "BusyMetric", "X X X X X")
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X", maintenance="0 0 0 0 0",
                            health=_health(ok_actions=()),
                            extra=(_metric_alarm("Other", "OtherMetric"), _metric_alarm("Busy", "BusyMetric")))
        timeline.run(range(4))
        periods = {"actions_suppressor_wait_period": WAIT, "actions_suppressor_extension_period": EXTENSION}
        timeline.alarms[2] = _health(ok_actions=(), actions_suppressor=suppressor,
                                     **(periods if suppressor else {"actions_suppressor_wait_period": None,
                                                                    "actions_suppressor_extension_period": None}))
        sent, by = timeline.run([4])
        assert sent.get(4, []) == sent_at_t4 and by[4] == suppressed_by

    def test_actions_enabled_false_holds_nothing_and_sends_nothing(self, store, tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X", maintenance="0 0 0 0 0 0",
                            health=_health(actions_enabled=False))
        sent, suppressed_by = timeline.run(range(6))
        assert sent == {} and set(suppressed_by.values()) == {None}

    def test_a_composite_that_is_gone_leaves_no_pending_suppression(self, store, tmp_path):
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X X", maintenance="0 0 0 0 0 0",
                            health=_health(ok_actions=()))
        timeline.run(range(4))
        assert "Health" in timeline.engine.alarm_store.suppressions()
        del timeline.alarms[2]
        timeline.engine.evaluate(at(5))
        assert timeline.engine.alarm_store.suppressions() == {} and timeline.notifier.published == []

    def test_a_composite_suppressor_is_evaluated_before_the_alarm_it_suppresses(self, store, tmp_path):
        """Health (sorted before Window) and its suppressor Window go into ALARM in the same cycle: Window's
        new state decides, so the actions are held by Alarm, not by a WaitPeriod."""
        window = CompositeAlarm(name="Window", rule="ALARM(Maintenance)")
        timeline = Timeline(store, tmp_path, errors="0 0 0 X X", maintenance="0 0 0 X X",
                            health=_health(actions_suppressor="Window", ok_actions=()), extra=(window,))
        timeline.run(range(4))
        [held] = [h for h in timeline.engine.history("Health") if h["type"] == "Action"]
        assert held["data"]["actions_suppressed_by"] == "Alarm"


class TestDescribe:
    def test_composites_show_the_suppression_and_metric_alarms_do_not(self, store, tmp_path):
        plain = CompositeAlarm(name="Plain", rule="ALARM(Errors)")
        timeline = Timeline(store, tmp_path, errors="0 0 0 X", maintenance="0 0 0 0", extra=(plain,))
        timeline.run(range(4))
        by_name = {a["name"]: a for a in timeline.engine.describe()}
        assert by_name["Health"]["actions_suppressed_by"] == "WaitPeriod"
        assert by_name["Health"]["definition"]["actions_suppressor"] == "Maintenance"
        assert (by_name["Plain"]["actions_suppressed_by"], by_name["Plain"]["actions_suppressed_reason"]) == (
            None, None)
        assert "actions_suppressed_by" not in by_name["Errors"]


class TestStoredAlarms:
    def test_a_suppressor_round_trips_through_the_alarm_store(self, tmp_path):
        alarm_store = AlarmStore(tmp_path / "monitoring.sqlite3")
        health = _health(actions_suppressor="arn:aws:cloudwatch:eu-west-1:123456789012:alarm:Maintenance")
        alarm_store.put(health)
        again = AlarmStore(tmp_path / "monitoring.sqlite3")
        [stored] = again.definitions()
        assert stored == health and stored.actions_suppressor == "Maintenance"
        assert (stored.actions_suppressor_wait_period, stored.actions_suppressor_extension_period) == (
            WAIT, EXTENSION)

    def test_deleting_an_alarm_drops_its_pending_suppression(self, tmp_path):
        alarm_store = AlarmStore(tmp_path / "monitoring.sqlite3")
        alarm_store.put(_health())
        alarm_store.set_suppression("Health", suppressor="Maintenance", suppressed_by="Alarm", reason="r",
                                    previous=OK, state=ALARM, since_ms=T0, until_ms=None)
        assert alarm_store.delete("Health")
        assert alarm_store.suppressions() == {}

    def test_the_suppressor_must_exist_when_put(self, store, tmp_path):
        engine = AlarmEngine(store, AlarmStore(tmp_path / "monitoring.sqlite3"), definitions=lambda: [])
        errors = _metric_alarm("Errors", "Errors")
        with pytest.raises(AlarmError, match="actions_suppressor: composite alarm 'Health' names unknown alarm "
                                             "'Maintenance' as its actions suppressor"):
            engine.put_all([errors, _health()])
        assert engine.alarm_store.definitions() == []
        assert engine.put_all([errors, _metric_alarm("Maintenance", "Maint"), _health()]) == [False, False, False]

    def test_an_alarm_used_as_a_suppressor_cannot_be_deleted(self, store, tmp_path):
        alarm_store = AlarmStore(tmp_path / "monitoring.sqlite3")
        engine = AlarmEngine(store, alarm_store, definitions=alarm_store.definitions)
        engine.put_all([_metric_alarm("Errors", "Errors"), _metric_alarm("Maintenance", "Maint"), _health()])
        with pytest.raises(AlarmError, match=r"alarm 'Maintenance' is used by composite alarm\(s\) Health"):
            engine.delete("Maintenance")
        assert engine.delete("Health") and engine.delete("Maintenance")
