"""Baselines (plan §10): today's expected band per hour from the anomaly-band model, and the daily job
that computes the plan's baselines once a day and publishes them as WhisperSync/Baselines metrics.

The data: 8 days of per-minute points whose value is 100 + 10 x the UTC hour (a daily pattern, flat within
each hour), so each hour's Average, p99 and the band's centre are the pattern itself, and the band's spread
is its floor, 1 % of the median hourly value ((210 + 220) / 2 = 215): 2.15, so k=2 gives +-4.3.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from whispersync.monitoring.baselines import (
    NAMESPACE,
    BaselineJob,
    BaselineStore,
    compute_day,
    day_of,
)
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import Baseline

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
TODAY = int(time.time() * 1000) // DAY * DAY  # relative to now: the store keeps 30 days
DAY0 = TODAY - 2 * DAY  # the day looked at; its 8 days before are seeded, and the day itself
FLOOR = 0.01 * 215


def pattern(t: int) -> float:
    return 100.0 + 10 * (t % DAY // HOUR)


def seed(store: TelemetryStore, name: str, start: int, end: int, dimensions: dict | None = None) -> None:
    store.put_metrics([{"namespace": "Test", "name": name, "value": pattern(t), "timestamp": t,
                        "unit": "Milliseconds", "dimensions": dimensions or {}} for t in range(start, end, MINUTE)])


@pytest.fixture
def store(tmp_path):
    s = TelemetryStore(tmp_path / "telemetry")
    seed(s, "Latency", DAY0 - 8 * DAY, DAY0 + DAY)
    seed(s, "Short", DAY0 - 5 * HOUR, DAY0 + DAY)  # under a day before DAY0: PENDING_TRAINING
    yield s
    s.close()


class TestComputeDay:
    def test_the_expected_value_of_each_hour_follows_the_daily_pattern(self, store) -> None:
        """24 hours, each expected at the pattern's value, the band +-k x the spread's floor."""
        day = compute_day(store, "Test", "Latency", statistic="Average", day=day_of(DAY0), k=2)
        assert [h.start_ms for h in day.hours] == list(range(DAY0, DAY0 + DAY, HOUR))
        for h in day.hours:
            assert h.expected == pytest.approx(pattern(h.start_ms))
            assert h.lower == pytest.approx(pattern(h.start_ms) - 2 * FLOOR)
            assert h.upper == pytest.approx(pattern(h.start_ms) + 2 * FLOOR)
            assert h.state == "TRAINED_INSUFFICIENT_DATA"  # 8 of 14 days
        assert day.state == "TRAINED_INSUFFICIENT_DATA"

    def test_k_widens_the_band_and_p99_is_its_own_model(self, store) -> None:
        day = compute_day(store, "Test", "Latency", statistic="p99", day=day_of(DAY0), k=3.5)
        nine = day.hours[9]
        assert nine.expected == pytest.approx(190.0)
        assert (nine.lower, nine.upper) == (pytest.approx(190 - 3.5 * FLOOR), pytest.approx(190 + 3.5 * FLOOR))

    def test_too_little_data_is_pending_training_not_zeros(self, store) -> None:
        day = compute_day(store, "Test", "Short", statistic="Average", day=day_of(DAY0))
        assert day.state == "PENDING_TRAINING"
        assert all(h.state == "PENDING_TRAINING" and h.expected is None and h.lower is None for h in day.hours)

    def test_the_hours_are_local_in_the_timezone(self, store) -> None:
        """New York's day starts at 05:00 UTC (EST in this season), its hours are local ones."""
        local = datetime.fromtimestamp(DAY0 / 1000, UTC).date()
        day = compute_day(store, "Test", "Latency", statistic="Average", day=local, timezone="America/New_York")
        offset = day.hours[0].start_ms - DAY0
        assert offset in (4 * HOUR, 5 * HOUR) and len(day.hours) in (23, 24, 25)
        assert day.hours[0].expected == pytest.approx(pattern(day.hours[0].start_ms))

    def test_a_window_of_days_limits_the_training(self, store) -> None:
        """window_days=1 trains on the one day before: still the pattern; the state says how little."""
        day = compute_day(store, "Test", "Latency", statistic="Average", day=day_of(DAY0), window_days=1)
        assert day.hours[13].expected == pytest.approx(230.0)


class TestDailyJob:
    BASELINES = (Baseline(name="latency-average", namespace="Test", metric_name="Latency"),
                 Baseline(name="latency-p99", namespace="Test", metric_name="Latency", statistic="p99"))

    def test_it_computes_each_baseline_once_a_day_and_publishes_it(self, store, tmp_path) -> None:
        clock = [(DAY0 + 30 * MINUTE) / 1000]
        baselines = BaselineStore(tmp_path / "monitoring.db")
        job = BaselineJob(lambda: self.BASELINES, store, baselines, clock=lambda: clock[0])
        assert sorted(b.name for b in job.run()) == ["latency-average", "latency-p99"]
        assert job.run() == []  # the same day: already there
        clock[0] += 5 * 3600
        assert job.run() == []
        stored = {b.name: b for b in baselines.latest()}
        assert stored["latency-average"].computed_ms == DAY0 + 30 * MINUTE
        assert stored["latency-average"].day == day_of(DAY0).isoformat()
        assert [h.expected for h in stored["latency-p99"].hours] == pytest.approx(
            [pattern(t) for t in range(DAY0, DAY0 + DAY, HOUR)])
        # Published so a dashboard draws it with a plain metric query.
        for name, bound, shift in (("Expected", 0, 0), ("LowerBound", -1, 2 * FLOOR), ("UpperBound", 1, 2 * FLOOR)):
            series = store.metric_statistics(NAMESPACE, name, dimensions={"Baseline": "latency-average"},
                                             statistic="Average", period=3600, start_ms=DAY0, end_ms=DAY0 + DAY)
            assert series.timestamps == list(range(DAY0, DAY0 + DAY, HOUR))
            assert series.values == pytest.approx([pattern(t) + bound * shift for t in series.timestamps])
        clock[0] += DAY / 1000  # the next day
        assert len(job.run()) == 2
        assert {b.day for b in baselines.latest()} == {day_of(DAY0 + DAY).isoformat()}
        baselines.close()

    def test_a_baseline_without_data_is_stored_pending_and_published_nowhere(self, store, tmp_path) -> None:
        baselines = BaselineStore(tmp_path / "monitoring.db")
        job = BaselineJob(lambda: (Baseline(name="nothing", namespace="Test", metric_name="Nope"),), store,
                          baselines, clock=lambda: (DAY0 + HOUR) / 1000)
        [done] = job.run()
        assert done.state == "PENDING_TRAINING"
        assert store.list_metrics(namespace=NAMESPACE) == []
        assert baselines.latest()[0].state == "PENDING_TRAINING"
        baselines.close()


class TestPlanBaselines:
    def test_the_built_in_plan_baselines_the_seeds_metrics_as_they_are_published(self) -> None:
        """Each watches a metric and dimension set the worker really publishes (a baseline of a series
        nobody writes would stay PENDING_TRAINING for ever)."""
        from whispersync import catalog
        from whispersync.plan import DEFAULT_PLAN

        by_name = {b.name: b for b in DEFAULT_PLAN.baselines}
        assert sorted(by_name) == ["ProcessingDuration-Average", "ProcessingDuration-p99",
                                   "TranscriptsProcessed-github_ideas", "TranscriptsProcessed-memory",
                                   "TranscriptsProcessed-work", "WorkerErrors"]
        assert {(b.statistic, b.window_days) for n, b in by_name.items() if n.startswith("Processing")} == {
            ("Average", 7), ("p99", 7)}
        work = by_name["TranscriptsProcessed-work"]
        assert (work.namespace, work.metric_name, work.statistic, dict(work.dimensions)) == (
            catalog.BUSINESS, "TranscriptsProcessed", "Sum", {"AgentType": "work", "Status": "Success"})
        errors = by_name["WorkerErrors"]
        assert (errors.namespace, errors.metric_name, dict(errors.dimensions)) == (
            catalog.WORKER, "Errors", {"FunctionName": catalog.WORKER_FUNCTION})

    def test_a_plan_file_baseline_with_a_bad_statistic_says_where(self) -> None:
        from whispersync.plan import PlanError, plan_from_toml

        with pytest.raises(PlanError, match=r"baselines\[0\]\.statistic.*unknown statistic 'Avg'"):
            plan_from_toml(b'[[baselines]]\nname = "x"\nnamespace = "N"\nmetric_name = "M"\nstatistic = "Avg"\n')


def test_up_runs_the_job_at_start(runtime) -> None:
    """Runtime.start computes today's baselines of the plan at once (none of them has data: pending)."""
    runtime.start(workers=1, inbox=False, collector=False, maintenance=False, notifications=False, alarms=False,
                  sweep=False, checks=False, cost=False)
    store = BaselineStore(runtime.settings.monitoring_db)
    deadline = time.monotonic() + 30
    while len(store.latest()) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    stored = store.latest()
    store.close()
    assert len(stored) == 6 and {b.day for b in stored} == {day_of(int(time.time() * 1000)).isoformat()}
    assert {b.state for b in stored} == {"PENDING_TRAINING"}
