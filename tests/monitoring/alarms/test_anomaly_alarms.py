"""Anomaly detection alarms (ThresholdMetricId + ANOMALY_DETECTION_BAND) and anomaly detectors.

A seeded seasonal series (a daily sine plus Gaussian noise, 5-minute points over a few days) is
written to a real telemetry store; the alarm engine evaluates against it, and a spike or a dip
is injected into the most recent period.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import pytest

from whispersync.monitoring.alarms import (
    AlarmEngine,
    AlarmInputError,
    AlarmStore,
    AnomalyDetector,
    detector_for_alarm,
    detector_state,
    parse_alarm_request,
)
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import ALARM, INSUFFICIENT_DATA, OK, MetricAlarm, MetricDataQuery, MetricStat

DAY = 86_400_000
HOUR = 3_600_000
STEP = 300_000
# Six UTC days ago at midnight: recent enough for the store, and evaluation days start at a UTC day.
BASE = (int(time.time() * 1000) // DAY - 6) * DAY
AT = BASE + 3 * DAY + 12 * HOUR  # day 4, 12:00 UTC: three full days of training behind it
LAST = AT - STEP  # the most recent complete period at AT
STAT = MetricStat("App", "Latency", {"Service": "api"}, "Average", 300)
OUTSIDE = "LessThanLowerOrGreaterThanUpperThreshold"
LOWER, UPPER = "LessThanLowerThreshold", "GreaterThanUpperThreshold"


def normal(t: int, rng: random.Random) -> float:
    return 100 + 30 * math.sin(2 * math.pi * (t % DAY) / DAY) + rng.gauss(0, 2)


def seed(store: TelemetryStore, *, start: int = BASE, end: int = AT, step: int = STEP,
         override: dict[int, float | None] | None = None) -> None:
    rng = random.Random(14)
    records = []
    for t in range(start, end, step):
        value = normal(t, rng)
        if override and t in override:
            if override[t] is None:
                continue
            value = override[t]
        records.append({"namespace": "App", "name": "Latency", "dimensions": {"Service": "api"}, "value": value,
                        "unit": "Milliseconds", "timestamp": t + 1_000})
    store.put_metrics(records)


def band_alarm(op: str = OUTSIDE, *, n: int = 1, m: int | None = None, k: float = 3, treat: str = "missing",
               name: str = "LatencyAnomaly") -> MetricAlarm:
    return MetricAlarm(name=name, threshold=None, evaluation_periods=n, datapoints_to_alarm=m, comparison_operator=op,
                       treat_missing_data=treat, threshold_metric_id="ad1",
                       metrics=(MetricDataQuery("m1", metric_stat=STAT),
                                MetricDataQuery("ad1", expression=f"ANOMALY_DETECTION_BAND(m1, {k})")))


@pytest.fixture
def store(tmp_path: Path):
    s = TelemetryStore(tmp_path / "telemetry")
    yield s
    s.close()


def evaluate(store: TelemetryStore, home: Path, *alarms: MetricAlarm, at: int = AT) -> dict[str, dict]:
    """One evaluation cycle; the stored state of each alarm (state, reason, reason_data)."""
    alarm_store = AlarmStore(home / "monitoring.sqlite3")
    engine = AlarmEngine(store, alarm_store, definitions=lambda: list(alarms), clock=lambda: at / 1000)
    engine.evaluate(at_ms=at, dry_run=False)
    states = alarm_store.states()
    alarm_store.close()
    return states


class TestOperators:
    """Each operator goes to ALARM on the side of the band it watches, and stays OK on normal data."""

    @pytest.mark.parametrize("op", [OUTSIDE, LOWER, UPPER])
    def test_normal_data_is_ok(self, store, tmp_path, op):
        seed(store)
        assert evaluate(store, tmp_path, band_alarm(op))["LatencyAnomaly"]["state"] == OK

    @pytest.mark.parametrize("op, expected", [(OUTSIDE, ALARM), (UPPER, ALARM), (LOWER, OK)])
    def test_a_spike(self, store, tmp_path, op, expected):
        seed(store, override={LAST: 300.0})
        state = evaluate(store, tmp_path, band_alarm(op))["LatencyAnomaly"]
        assert state["state"] == expected, state["reason"]

    @pytest.mark.parametrize("op, expected", [(OUTSIDE, ALARM), (UPPER, OK), (LOWER, ALARM)])
    def test_a_dip(self, store, tmp_path, op, expected):
        seed(store, override={LAST: 5.0})
        state = evaluate(store, tmp_path, band_alarm(op))["LatencyAnomaly"]
        assert state["state"] == expected, state["reason"]

    def test_the_reason_says_how_far_outside_the_band(self, store, tmp_path):
        seed(store, override={LAST: 300.0})
        state = evaluate(store, tmp_path, band_alarm(UPPER))["LatencyAnomaly"]
        data = state["reason_data"]
        upper = data["recentUpperThresholds"][-1]
        assert state["reason"].startswith("Thresholds Crossed: 1 out of the last 1 datapoints [300.0 (")
        assert f"was greater than the upper thresholds [{upper!r}]" in state["reason"]
        assert f"300.0 was {300.0 - upper:.6g} above the band" in state["reason"]
        assert data["outsideBand"]["distance"] == pytest.approx(300.0 - upper)
        assert "threshold" not in data and data["recentLowerThresholds"][-1] < upper


class TestEvaluation:
    def test_m_of_n(self, store, tmp_path):
        """2 of 3: one anomalous period is not enough, two are (not necessarily consecutive)."""
        seed(store, override={LAST: 300.0})
        assert evaluate(store, tmp_path / "a", band_alarm(n=3, m=2))["LatencyAnomaly"]["state"] == OK
        store2 = TelemetryStore(tmp_path / "telemetry2")
        try:
            seed(store2, override={LAST: 300.0, LAST - 2 * STEP: 300.0})
            state = evaluate(store2, tmp_path / "b", band_alarm(n=3, m=2))["LatencyAnomaly"]
        finally:
            store2.close()
        assert state["state"] == ALARM and state["reason"].startswith("Thresholds Crossed: 2 out of the last 3")

    @pytest.mark.parametrize("treat, expected", [("missing", INSUFFICIENT_DATA), ("breaching", ALARM),
                                                 ("notBreaching", OK)])
    def test_missing_data_is_treated_like_any_alarm(self, store, tmp_path, treat, expected):
        gap = {t: None for t in range(AT - 6 * STEP, AT, STEP)}
        seed(store, override=gap)
        assert evaluate(store, tmp_path, band_alarm(n=3, treat=treat))["LatencyAnomaly"]["state"] == expected

    def test_no_band_while_the_model_trains_means_no_datapoint(self, store, tmp_path):
        """Under a day of history the detector is PENDING_TRAINING: the values count as missing."""
        seed(store, start=AT - 6 * HOUR, override={LAST: 300.0})
        state = evaluate(store, tmp_path, band_alarm())["LatencyAnomaly"]
        assert state["state"] == INSUFFICIENT_DATA


class TestDetectors:
    def test_an_alarm_creates_its_detector(self, store, tmp_path):
        seed(store)
        evaluate(store, tmp_path, band_alarm())
        detectors = AlarmStore(tmp_path / "monitoring.sqlite3").detectors
        [found] = detectors.list()
        assert (found.namespace, found.metric_name, found.dimensions, found.stat) == (
            "App", "Latency", {"Service": "api"}, "Average")
        assert found.timezone == "UTC" and found.excluded == ()

    def test_states(self, store, tmp_path):
        detector = AnomalyDetector(namespace="App", metric_name="Latency", dimensions={"Service": "api"},
                                   stat="Average")
        assert detector_state(store, detector, AT) == "PENDING_TRAINING"
        seed(store, start=AT - 10 * HOUR)
        assert detector_state(store, detector, AT) == "PENDING_TRAINING"
        seed(store)
        assert detector_state(store, detector, AT) == "TRAINED_INSUFFICIENT_DATA"

    def test_fourteen_days_train_it_fully(self, store, tmp_path):
        start = (int(time.time() * 1000) // DAY - 16) * DAY
        seed(store, start=start, end=start + 16 * DAY, step=HOUR)
        detector = AnomalyDetector(namespace="App", metric_name="Latency", dimensions={"Service": "api"},
                                   stat="Average")
        assert detector_state(store, detector, start + 15 * DAY + HOUR) == "TRAINED"

    def test_per_metric_and_statistic(self):
        average = detector_for_alarm(band_alarm())
        p99 = AnomalyDetector(namespace="App", metric_name="Latency", dimensions={"Service": "api"}, stat="p99")
        assert average is not None and average.key != p99.key

    @pytest.mark.parametrize("kw, words", [
        ({"stat": "Median"}, "stat"),
        ({"timezone": "Mars/Olympus"}, "unknown metric timezone"),
        ({"excluded": [(i * 10, i * 10 + 5) for i in range(11)]}, "at most 10"),
        ({"excluded": [(10, 5)]}, "must end after it starts"),
    ])
    def test_bad_configuration_is_refused(self, kw, words):
        base = dict(namespace="App", metric_name="Latency", stat="Average")
        with pytest.raises(ValueError, match=words):
            AnomalyDetector(**{**base, **kw})


class TestExclusions:
    """An outage inside an excluded range does not widen the band; the same outage not excluded does."""

    OUTAGE = (BASE + 2 * DAY + 9 * HOUR, BASE + 2 * DAY + 15 * HOUR)

    def _width(self, tmp_path: Path, name: str, *, excluded=(), maintenance: bool = False) -> float:
        rng = random.Random(3)
        noise = {t: 100 + rng.uniform(-90, 90) for t in range(*self.OUTAGE, STEP)}
        store = TelemetryStore(tmp_path / name / "telemetry")
        try:
            seed(store, override={**noise, LAST: 400.0})
            home = tmp_path / name
            home.mkdir(exist_ok=True)
            alarm_store = AlarmStore(home / "monitoring.sqlite3")
            alarm_store.detectors.put(AnomalyDetector(namespace="App", metric_name="Latency",
                                                      dimensions={"Service": "api"}, stat="Average",
                                                      excluded=tuple(excluded)))
            if maintenance:
                alarm_store.maintenance.start((self.OUTAGE[1] - self.OUTAGE[0]) / 1000, "disk swap",
                                              now_ms=self.OUTAGE[0])
            alarm_store.close()
            state = evaluate(store, home, band_alarm(UPPER))["LatencyAnomaly"]
        finally:
            store.close()
        assert state["state"] == ALARM, state["reason"]
        data = state["reason_data"]
        return data["recentUpperThresholds"][-1] - data["recentLowerThresholds"][-1]

    def test_an_excluded_outage_leaves_the_band_narrow(self, tmp_path):
        clean = self._width(tmp_path, "clean", excluded=[self.OUTAGE])
        polluted = self._width(tmp_path, "polluted")
        assert polluted > 1.5 * clean

    def test_a_maintenance_window_is_excluded_automatically(self, tmp_path):
        configured = self._width(tmp_path, "configured", excluded=[self.OUTAGE])
        automatic = self._width(tmp_path, "automatic", maintenance=True)
        assert automatic == pytest.approx(configured)


class TestRequests:
    REQUEST = {
        "AlarmName": "LatencyAnomaly", "ComparisonOperator": OUTSIDE, "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2, "ThresholdMetricId": "ad1", "TreatMissingData": "breaching",
        "Metrics": [
            {"Id": "m1", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "App", "MetricName": "Latency",
                           "Dimensions": [{"Name": "Service", "Value": "api"}]},
                "Period": 300, "Stat": "Average"}},
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "Label": "Latency (expected)",
             "ReturnData": True},
        ],
    }

    def test_put_metric_alarm_json_is_accepted(self):
        alarm = parse_alarm_request(self.REQUEST)
        assert (alarm.threshold, alarm.threshold_metric_id, alarm.comparison_operator, alarm.m) == (
            None, "ad1", OUTSIDE, 2)

    @pytest.mark.parametrize("changes, field, words", [
        ({"Threshold": 5}, "Threshold", "takes no Threshold"),
        ({"ComparisonOperator": "GreaterThanThreshold"}, "ComparisonOperator", "needs one of"),
        ({"ThresholdMetricId": "m1"}, "ThresholdMetricId", "must be an ANOMALY_DETECTION_BAND"),
        ({"ThresholdMetricId": "zz"}, "ThresholdMetricId", "names no query"),
        ({"ThresholdMetricId": None}, "ComparisonOperator", "need ThresholdMetricId"),
    ])
    def test_errors_name_the_field(self, changes, field, words):
        with pytest.raises(AlarmInputError) as info:
            parse_alarm_request({**self.REQUEST, **changes})
        assert info.value.field == field and words in str(info.value)
