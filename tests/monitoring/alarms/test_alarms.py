"""Metric alarms: CloudWatch's documented M-out-of-N / missing-data behaviour, operators, the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from whispersync.monitoring.alarms import AlarmEngine, AlarmError, AlarmStore, check_alarm, decide
from whispersync.monitoring.remediation import RemediationRegistry
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import (
    ALARM,
    DEFAULT_PLAN,
    INSUFFICIENT_DATA,
    OK,
    CompositeAlarm,
    MetricAlarm,
    MetricDataQuery,
    MetricStat,
    PlanError,
    effective_plan,
)

RETAIN = None  # "Retain current state"
T0 = 1_795_788_000_000  # 2026-11-27T14:00:00Z


def _alarm(**kw) -> MetricAlarm:
    base = dict(name="A", namespace="NS", metric_name="M", statistic="Sum", period=60, threshold=10,
                evaluation_periods=3, comparison_operator="GreaterThanThreshold")
    base.update(kw)
    return MetricAlarm(**base)


def _points(pattern: str) -> list[float | None]:
    """The documentation's notation, oldest first: 0 not breaching, X breaching, - missing."""
    return [{"0": 1.0, "X": 20.0, "-": None}[c] for c in pattern.split()]


# "Configuring how CloudWatch alarms treat missing data", first table: Datapoints to
# Alarm and Evaluation Periods both 3, the 5 most recent datapoints retrieved.
# Columns: MISSING, IGNORE, BREACHING, NOT BREACHING.
TABLE_3_OF_3 = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - X - -", ALARM, RETAIN, ALARM, OK),
    ("X - - - -", ALARM, RETAIN, ALARM, OK),
]
# Second table: Datapoints to Alarm 2, Evaluation Periods 3 (2 out of 3).
TABLE_2_OF_3 = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - X - -", ALARM, RETAIN, ALARM, OK),
]
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


def _cases(table, m):
    for pattern, *expected in table:
        for treat, state in zip(TREATMENTS, expected):
            yield pytest.param(pattern, m, treat, state, id=f"{m}of3[{pattern}]-{treat}")


class TestMissingDataTable:
    """The documentation's tables of M-out-of-N evaluation with missing datapoints, cell by cell."""

    @pytest.mark.parametrize("pattern, m, treat, expected", [*_cases(TABLE_3_OF_3, 3), *_cases(TABLE_2_OF_3, 2)])
    def test_it_matches_the_documented_table(self, pattern, m, treat, expected):
        alarm = _alarm(evaluation_periods=3, datapoints_to_alarm=m, treat_missing_data=treat)
        assert decide(_points(pattern), alarm).state == expected

    def test_enough_real_datapoints_ignore_the_missing_data_setting(self):
        """With N real datapoints in the range, the most recent N decide whatever treat_missing_data says."""
        for treat in TREATMENTS:
            decision = decide(_points("X - 0 0 0"), _alarm(treat_missing_data=treat, evaluation_periods=3))
            assert decision.state == OK and decision.filled == 0
            assert [v for _, v, _ in decision.evaluated] == [1.0, 1.0, 1.0]

    def test_breaching_datapoints_need_not_be_consecutive(self):
        """M out of N counts breaching datapoints anywhere in the last N."""
        alarm = _alarm(evaluation_periods=5, datapoints_to_alarm=3)
        assert decide(_points("- - X 0 X 0 X"), alarm).state == ALARM
        assert decide(_points("- - X 0 X 0 0"), alarm).state == OK


class TestComparisonOperators:
    """Each of PutMetricAlarm's four static operators, at and around the threshold."""

    @pytest.mark.parametrize("operator, below, at, above", [
        ("GreaterThanOrEqualToThreshold", OK, ALARM, ALARM),
        ("GreaterThanThreshold", OK, OK, ALARM),
        ("LessThanThreshold", ALARM, OK, OK),
        ("LessThanOrEqualToThreshold", ALARM, ALARM, OK),
    ])
    def test_it_compares_like_cloudwatch(self, operator, below, at, above):
        alarm = _alarm(comparison_operator=operator, evaluation_periods=1, threshold=10)
        assert [decide([v], alarm).state for v in (9.5, 10.0, 10.5)] == [below, at, above]


class TestModel:
    def test_it_refuses_m_above_n(self):
        with pytest.raises(ValueError, match="datapoints_to_alarm"):
            _alarm(evaluation_periods=2, datapoints_to_alarm=3)

    def test_it_refuses_more_than_a_day_for_short_periods(self):
        with pytest.raises(ValueError, match="evaluation_periods: period x evaluation_periods is 86460"):
            _alarm(period=60, evaluation_periods=1441)

    def test_it_refuses_a_bad_statistic_and_priority(self):
        with pytest.raises(ValueError, match="statistic"):
            _alarm(statistic="Median")
        with pytest.raises(ValueError, match="priority"):
            _alarm(priority="P5")

    def test_a_math_alarm_needs_exactly_one_returned_series(self):
        q = MetricDataQuery("e", MetricStat("NS", "M", {}, "Sum", 60))
        with pytest.raises(ValueError, match="exactly one query must have return_data"):
            MetricAlarm(name="m", threshold=1, evaluation_periods=1,
                        metrics=(q, MetricDataQuery("x", expression="e*2")))

    def test_a_composite_rule_is_parsed_by_the_engine_check(self):
        """The model takes any rule text; the engine's check (at start-up, on put, in
        `plan validate`) refuses one that does not parse."""
        alarm = CompositeAlarm(name="c", rule="ALARM(a) AND")
        with pytest.raises(AlarmError, match="rule: line 1, column 13: "):
            check_alarm(alarm)

    def test_a_bad_rule_is_refused_on_put(self, store, tmp_path):
        engine, _ = _engine(store, tmp_path, [])
        with pytest.raises(AlarmError, match="rule: line 1, column 13: "):
            engine.put(CompositeAlarm(name="c", rule="ALARM(a) AND"))
        assert engine.alarm_store.definitions() == []


# ---------------------------------------------------------------------- the engine over a real store


class FakeNotifier:
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


def _engine(store, tmp_path, alarms, **kw):
    notifier = kw.pop("notifier", FakeNotifier())
    return AlarmEngine(store, AlarmStore(tmp_path / "monitoring.sqlite3"), definitions=lambda: list(alarms),
                       notifier=notifier, **kw), notifier


def _put(store, name, values, *, start=T0, step=60_000, namespace="NS", dims=None):
    """One datapoint per `step` from `start`; None skips a period."""
    records = [{"namespace": namespace, "name": name, "value": v, "unit": "Count", "dimensions": dims or {},
                "timestamp": start + i * step + 1_000} for i, v in enumerate(values) if v is not None]
    store.put_metrics(records)


class TestEngine:
    def test_it_fires_resolves_and_keeps_a_history(self, store, tmp_path):
        """OK -> ALARM -> OK with CloudWatch-style reasons, reason data and the actions recorded."""
        alarm = _alarm(name="Errors", evaluation_periods=1, comparison_operator="GreaterThanOrEqualToThreshold",
                       treat_missing_data="notBreaching", priority="P1",
                       alarm_actions=("topic:critical",), ok_actions=("topic:critical",))
        engine, notifier = _engine(store, tmp_path, [alarm])
        _put(store, "M", [0, 12, 3])
        first = engine.evaluate(T0 + 61_000)[0]
        assert (first.previous, first.state) == (INSUFFICIENT_DATA, OK)
        fired = engine.evaluate(T0 + 120_000 + 5_000)[0]
        assert fired.state == ALARM and fired.changed
        assert fired.reason == ("Threshold Crossed: 1 out of the last 1 datapoints [12.0 (27/11/26 14:01:00)] was "
                                "greater than or equal to the threshold (10.0) (minimum 1 datapoint for OK -> ALARM "
                                "transition).")
        same = engine.evaluate(T0 + 120_000 + 30_000)[0]
        assert same.state == ALARM and not same.changed
        resolved = engine.evaluate(T0 + 180_000 + 5_000)[0]
        assert (resolved.previous, resolved.state) == (ALARM, OK)
        assert "was not greater than or equal to the threshold (10.0)" in resolved.reason
        history = engine.history("Errors")
        updates = [h for h in history if h["type"] == "StateUpdate"]
        assert [u["summary"] for u in updates] == ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM",
                                                   "Alarm updated from INSUFFICIENT_DATA to OK"]
        data = updates[1]["data"]["newState"]["stateReasonData"]
        assert data["recentDatapoints"] == [12.0] and data["threshold"] == 10.0 and data["statistic"] == "Sum"
        assert data["evaluatedDatapoints"] == [{"timestamp": "2026-11-27T14:01:00.000+0000", "value": 12.0}]
        assert [(t, n.old_state, n.new_state) for t, n in notifier.published] == [
            ("critical", INSUFFICIENT_DATA, OK), ("critical", OK, ALARM), ("critical", ALARM, OK)]
        assert notifier.published[1][1].priority == "P1"
        assert sum(1 for h in history if h["type"] == "Action") == 3

    def test_describe_and_history_write_iso_times_with_z_and_reason_data_keeps_cloudwatchs(self, store, tmp_path):
        """docs/json.md: our shapes say `updated_at` / `timestamp` as ISO UTC with Z; only the
        CloudWatch reason data keeps its own `+0000` format."""
        alarm = _alarm(name="Errors", evaluation_periods=1, treat_missing_data="notBreaching")
        engine, _ = _engine(store, tmp_path, [alarm])
        _put(store, "M", [50])
        engine.evaluate(T0 + 61_000)
        [described] = engine.describe()
        assert "updated" not in described
        assert described["updated_at"] == "2026-11-27T14:01:01.000Z"
        assert described["reason_data"]["evaluatedDatapoints"][0]["timestamp"] == "2026-11-27T14:00:00.000+0000"
        [update] = [h for h in engine.history("Errors") if h["type"] == "StateUpdate"]
        assert update["timestamp"] == "2026-11-27T14:01:01.000Z" and "timestamp_ms" not in update
        assert update["data"]["newState"]["stateReasonData"]["startDate"].endswith("+0000")
        assert engine.describe()[0]["updated_at"] is not None
        (tmp_path / "fresh").mkdir()
        assert _engine(store, tmp_path / "fresh", [_alarm(name="New")])[0].describe()[0]["updated_at"] is None

    def test_it_evaluates_the_last_complete_periods_only(self, store, tmp_path):
        """A datapoint in the period still running at `at` does not count yet."""
        alarm = _alarm(evaluation_periods=1, treat_missing_data="notBreaching")
        engine, _ = _engine(store, tmp_path, [alarm])
        _put(store, "M", [None, 50])
        assert engine.evaluate(T0 + 90_000)[0].state == OK
        assert engine.evaluate(T0 + 120_000)[0].state == ALARM

    def test_a_percentile_alarm_uses_the_extended_statistic(self, store, tmp_path):
        alarm = _alarm(name="p90", statistic="p90", evaluation_periods=1, threshold=90,
                       comparison_operator="GreaterThanOrEqualToThreshold")
        store.put_metrics([{"namespace": "NS", "name": "M", "value": float(v), "timestamp": T0 + v * 100}
                           for v in range(1, 101)])
        engine, _ = _engine(store, tmp_path, [alarm])
        result = engine.evaluate(T0 + 60_000)[0]
        assert result.state == ALARM
        assert "[90.0 (27/11/26 14:00:00)]" in result.reason
        assert engine.describe()[0]["reason_data"]["extendedStatistic"] == "p90"

    def test_a_math_alarm_compares_the_expression(self, store, tmp_path):
        """errors / invocations * 100 >= 50 (an error rate), from GetMetricData's expression."""
        alarm = MetricAlarm(
            name="ErrorRate", threshold=50, evaluation_periods=1, comparison_operator="GreaterThanOrEqualToThreshold",
            metrics=(MetricDataQuery("errors", MetricStat("NS", "Errors", {}, "Sum", 60), return_data=False),
                     MetricDataQuery("calls", MetricStat("NS", "Calls", {}, "Sum", 60), return_data=False),
                     MetricDataQuery("rate", expression="errors / calls * 100")))
        _put(store, "Errors", [1, 3])
        _put(store, "Calls", [10, 4])
        engine, _ = _engine(store, tmp_path, [alarm])
        assert engine.evaluate(T0 + 60_000)[0].state == OK       # 10 %
        assert engine.evaluate(T0 + 120_000)[0].state == ALARM   # 75 %

    def test_set_state_lasts_until_the_next_evaluation(self, store, tmp_path):
        alarm = _alarm(evaluation_periods=1, treat_missing_data="notBreaching", alarm_actions=("critical",))
        engine, notifier = _engine(store, tmp_path, [alarm])
        engine.evaluate(T0)
        engine.set_state("A", ALARM, "Testing the pager")
        assert engine.describe()[0]["state"] == ALARM
        assert notifier.published[-1][1].reason == "Testing the pager"
        assert engine.evaluate(T0 + 60_000)[0].state == OK
        with pytest.raises(AlarmError, match="state must be one of"):
            engine.set_state("A", "BROKEN", "x")
        with pytest.raises(KeyError):
            engine.set_state("nope", OK, "x")

    def test_composites_follow_their_children_in_the_same_cycle(self, store, tmp_path):
        """A composite inside a composite; children are evaluated first."""
        errors = _alarm(name="Errors", evaluation_periods=1, treat_missing_data="notBreaching")
        inner = CompositeAlarm(name="inner", rule='ALARM("Errors") AND NOT INSUFFICIENT_DATA(Errors)')
        outer = CompositeAlarm(name="outer", rule="ALARM(inner) OR FALSE", alarm_actions=("critical",))
        engine, notifier = _engine(store, tmp_path, [outer, errors, inner])
        _put(store, "M", [50])
        results = {r.name: r for r in engine.evaluate(T0 + 60_000)}
        assert [results[n].state for n in ("Errors", "inner", "outer")] == [ALARM, ALARM, ALARM]
        assert "Errors is ALARM" in results["inner"].reason
        assert [n.alarm_name for _, n in notifier.published] == ["outer"]

    def test_it_refuses_composite_cycles(self, store, tmp_path):
        a = CompositeAlarm(name="a", rule="ALARM(b)")
        b = CompositeAlarm(name="b", rule="OK(SomeMetricAlarm) OR ALARM(c)")
        c = CompositeAlarm(name="c", rule="ALARM(a)")
        engine, _ = _engine(store, tmp_path, [a, b, c])
        with pytest.raises(AlarmError, match="cycle: a -> b -> c -> a"):
            engine.evaluate(T0)

    def test_a_remediation_action_calls_the_registered_handler(self, store, tmp_path):
        calls = []
        registry = RemediationRegistry()
        registry.register("scale_up", lambda request: calls.append(request) or {"scaled": True})
        alarm = _alarm(name="HighQueueDepth", evaluation_periods=2, statistic="Maximum", threshold=1000,
                       comparison_operator="GreaterThanOrEqualToThreshold",
                       alarm_actions=("remediation:scale_up", "topic:high"))
        engine, notifier = _engine(store, tmp_path, [alarm], remediation=registry)
        _put(store, "M", [1500, 2000])
        assert engine.evaluate(T0 + 120_000)[0].state == ALARM
        assert [(c.alarm, c.state) for c in calls] == [("HighQueueDepth", ALARM)]
        actions = [h["data"] for h in engine.history("HighQueueDepth") if h["type"] == "Action"]
        assert {a["target"]: a["ok"] for a in actions} == {"scale_up": True, "high": True}
        assert registry.calls[0]["ok"] is True

    def test_a_failing_action_is_recorded_and_the_rest_still_run(self, store, tmp_path):
        class Down:
            def publish(self, topic, notification):
                raise RuntimeError("outbox unavailable")

        alarm = _alarm(evaluation_periods=1, treat_missing_data="breaching",
                       alarm_actions=("remediation:missing", "topic:critical"))
        engine, _ = _engine(store, tmp_path, [alarm], notifier=Down(), remediation=RemediationRegistry())
        assert engine.evaluate(T0)[0].state == ALARM
        actions = [h["data"] for h in engine.history("A") if h["type"] == "Action"]
        assert [a["ok"] for a in actions] == [False, False]
        assert any("no remediation handler named 'missing'" in a["error"] for a in actions)

    def test_putting_a_list_stores_all_of_it_or_none_of_it(self, store, tmp_path):
        engine, _ = _engine(store, tmp_path, [])
        first, second = _alarm(name="First"), _alarm(name="Second")
        dangling = CompositeAlarm(name="Third", rule="ALARM(First) OR ALARM(NoSuchAlarm)")
        with pytest.raises(AlarmError, match="NoSuchAlarm"):
            engine.put_all([first, second, dangling])
        assert engine.alarm_store.definitions() == []
        assert engine.alarm_store.history("First") == []

        together = CompositeAlarm(name="Third", rule="ALARM(First) OR ALARM(Second)")
        assert engine.put_all([first, second, together]) == [False, False, False]
        assert [a.name for a in engine.alarm_store.definitions()] == ["First", "Second", "Third"]
        assert engine.put_all([second]) == [True]

    def test_stored_alarms_survive_a_new_engine(self, store, tmp_path):
        engine, _ = _engine(store, tmp_path, [])
        alarm_store = engine.alarm_store
        alarm_store.put(_alarm(name="Stored", statistic="p99.9", unit="Count"))
        again = AlarmStore(tmp_path / "monitoring.sqlite3")
        assert again.definitions() == [_alarm(name="Stored", statistic="p99.9", unit="Count")]


class TestPlan:
    def test_the_plan_declares_the_seed_alarms(self):
        by_name = {a.name: a for a in DEFAULT_PLAN.alarms}
        down = by_name["SystemDown"]
        assert (down.namespace, down.metric_name, down.statistic, down.period, down.threshold, down.priority) == (
            "WhisperSync/Worker", "Errors", "Sum", 60, 10, "P1")
        dlq = by_name["DLQMessages"]
        assert (dlq.dimensions, dlq.period, dlq.threshold, dlq.priority) == (
            {"QueueName": "transcripts-dlq"}, 300, 5, "P1")
        assert by_name["whispersync-system-health"].rule == "ALARM(SystemDown) OR ALARM(DLQMessages) OR ALARM(Api5xx)"
        depth = by_name["HighQueueDepth"]
        assert (depth.threshold, depth.evaluation_periods) == (1000, 2)
        assert "remediation:scale_up" in depth.alarm_actions

    def test_a_plan_file_adds_and_overrides_alarms(self, tmp_path):
        path = tmp_path / "myplan.py"
        path.write_text(
            "from whispersync.plan import MetricAlarm\n"
            "ALARMS = [MetricAlarm(name='SystemDown', namespace='WhisperSync/Worker', metric_name='Errors',\n"
            "                      threshold=1, evaluation_periods=1, priority='P1'),\n"
            "          MetricAlarm(name='Mine', namespace='X', metric_name='Y', threshold=1, evaluation_periods=1)]\n")
        merged = {a.name: a for a in effective_plan(path).alarms}
        assert merged["SystemDown"].threshold == 1 and "Mine" in merged and "DLQMessages" in merged

    def test_a_broken_plan_file_says_where(self, tmp_path):
        path = tmp_path / "bad.py"
        path.write_text("ALARMS = [1/0]\n")
        with pytest.raises(PlanError, match=r"(?s)bad.py: 1 problem.*ZeroDivisionError"):
            effective_plan(path)


class TestEvaluateInThePast:
    """`alarms evaluate --at T` with T before the last state change is a dry run: it changes nothing."""

    def _fired(self, store, tmp_path):
        alarm = _alarm(name="Errors", evaluation_periods=1, comparison_operator="GreaterThanOrEqualToThreshold",
                       treat_missing_data="notBreaching", alarm_actions=("topic:critical",),
                       ok_actions=("topic:critical",))
        engine, notifier = _engine(store, tmp_path, [alarm])
        _put(store, "M", [0, 12, 3])
        engine.evaluate(T0 + 61_000)
        assert engine.evaluate(T0 + 125_000)[0].state == ALARM
        return engine, notifier

    def test_an_earlier_time_says_what_it_would_be_and_stores_nothing(self, store, tmp_path):
        engine, notifier = self._fired(store, tmp_path)
        before = (engine.alarm_store.states(), engine.history("Errors"), len(notifier.published))
        [result] = engine.evaluate(T0 + 61_000)
        assert result.dry_run and (result.previous, result.state, result.changed) == (ALARM, OK, True)
        assert result.to_dict()["dry_run"] is True
        assert (engine.alarm_store.states(), engine.history("Errors"), len(notifier.published)) == before

    def test_now_or_later_is_a_real_evaluation(self, store, tmp_path):
        engine, _ = self._fired(store, tmp_path)
        [result] = engine.evaluate(T0 + 185_000)
        assert not result.dry_run and result.state == OK
        assert engine.alarm_store.states()["Errors"]["updated_ms"] == T0 + 185_000

    def test_a_dry_run_can_be_asked_for(self, store, tmp_path):
        engine, notifier = self._fired(store, tmp_path)
        published = len(notifier.published)
        [result] = engine.evaluate(T0 + 185_000, dry_run=True)
        assert result.dry_run and result.state == OK
        assert engine.alarm_store.states()["Errors"]["state"] == ALARM and len(notifier.published) == published


class TestLowSampleCountPercentile:
    """EvaluateLowSampleCountPercentile ("Percentile-based alarms and low data samples"):
    for p in [0.5, 1) a period with fewer than 10/(1-p) samples is too small, for p < 0.5
    fewer than 10/p; with `ignore` the alarm then keeps its state."""

    @staticmethod
    def _setup(store, tmp_path, low, statistic="p90", low_value=1.0):
        alarm = _alarm(name="Slow", statistic=statistic, evaluation_periods=1, threshold=5,
                       comparison_operator="GreaterThanOrEqualToThreshold",
                       evaluate_low_sample_count_percentile=low)
        # Minute 0: exactly 100 samples 1..100 (p90 = 90, enough for p90's minimum of 100).
        # Minute 1: 99 samples, one short of it.
        store.put_metrics([{"namespace": "NS", "name": "M", "value": float(v), "timestamp": T0 + v * 100}
                           for v in range(1, 101)])
        store.put_metrics([{"namespace": "NS", "name": "M", "value": low_value, "timestamp": T0 + 60_000 + v * 100}
                           for v in range(99)])
        return _engine(store, tmp_path, [alarm])[0]

    def test_ignore_keeps_the_state_when_a_period_has_too_few_samples(self, store, tmp_path):
        engine = self._setup(store, tmp_path, "ignore")
        assert engine.evaluate(T0 + 60_000)[0].state == ALARM  # 100 samples: evaluated
        kept = engine.evaluate(T0 + 120_000)[0]
        assert (kept.state, kept.changed) == (ALARM, False)
        assert kept.reason == ("Low sample count: 99 samples at 27/11/26 14:01:00, fewer than the 100 that p90 needs;"
                               " the alarm keeps its state (EvaluateLowSampleCountPercentile: ignore).")
        assert engine.describe()[0]["state"] == ALARM

    def test_evaluate_is_the_default_and_changes_state(self, store, tmp_path):
        engine = self._setup(store, tmp_path, None)
        assert engine.evaluate(T0 + 60_000)[0].state == ALARM
        assert engine.evaluate(T0 + 120_000)[0].state == OK

    def test_a_low_percentile_uses_ten_over_p(self, store, tmp_path):
        """p10 needs 10/0.1 = 100 samples, as p90 does; p10 of minute 0 is 10 (>= 5)."""
        engine = self._setup(store, tmp_path, "ignore", statistic="p10")
        assert engine.evaluate(T0 + 60_000)[0].state == ALARM
        assert engine.evaluate(T0 + 120_000)[0].state == ALARM

    def test_enough_samples_are_evaluated(self, store, tmp_path):
        """p50 needs only 10/(1-0.5) = 20 samples: minute 1's 99 are plenty, so it moves to OK."""
        engine = self._setup(store, tmp_path, "ignore", statistic="p50")
        assert engine.evaluate(T0 + 60_000)[0].state == ALARM
        assert engine.evaluate(T0 + 120_000)[0].state == OK
