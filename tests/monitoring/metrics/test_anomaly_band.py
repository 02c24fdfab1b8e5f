"""ANOMALY_DETECTION_BAND: the band algorithm on seeded synthetic series, through the store and metric math.

Every series is 14 days of training plus evaluation days of per-minute data with daily and weekly
seasonality and Gaussian noise, drawn from a fixed seed and written with ``put_metrics``.
"""

from __future__ import annotations

import math
import random
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from whispersync.monitoring.metrics import (
    AnomalySettings,
    MetricQueryError,
    Series,
    anomaly_band,
    training_state,
)
from whispersync.monitoring.metrics._query import MetricDataQuery, get_metric_data, parse_request
from whispersync.monitoring.store._store import MetricStat, TelemetryStore

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = 1_767_225_600_000 + 4 * DAY  # Monday 2026-01-05T00:00:00Z
EVAL = T0 + 14 * DAY  # evaluation starts after 14 training days
EVAL_DAYS = 3
END = EVAL + EVAL_DAYS * DAY
NS = "WhisperSync/AnomalyTest"
SIGMA = 5.0
WEEKDAY = [1.0, 1.05, 1.1, 1.05, 0.95, 0.6, 0.5]  # Monday .. Sunday


def expected(t: int, zone: ZoneInfo | None = None) -> float:
    """The noise-free value: 100 x a daily wave peaking at 09:00 (local in ``zone``) x a weekday factor."""
    local = datetime.fromtimestamp(t / 1000, zone or ZoneInfo("UTC"))
    minute = local.hour * 60 + local.minute
    return 100 * (1 + 0.5 * math.cos(2 * math.pi * (minute - 540) / 1440)) * WEEKDAY[local.weekday()]


def clean(seed: int, start: int = T0, end: int = END, zone: ZoneInfo | None = None) -> dict[int, float]:
    rng = random.Random(seed)
    return {t: expected(t, zone) + rng.gauss(0, SIGMA) for t in range(start, end, MINUTE)}


def put(store: TelemetryStore, name: str, points: dict[int, float], unit: str = "Count") -> None:
    store.put_metrics([{"namespace": NS, "name": name, "value": v, "timestamp": t, "unit": unit}
                       for t, v in points.items()])


# Injected anomalies, all in the evaluation days.
SPIKES = [EVAL + 5 * HOUR + 17 * MINUTE, EVAL + DAY + 13 * HOUR + 41 * MINUTE, EVAL + 2 * DAY + 2 * HOUR]
SHIFT = range(EVAL + DAY + 3 * HOUR, EVAL + DAY + 5 * HOUR, MINUTE)  # +10 sigma for two hours
DIP = range(EVAL + 2 * DAY + 15 * HOUR, EVAL + 2 * DAY + 15 * HOUR + 30 * MINUTE, MINUTE)  # to 0 for 30 min
SHORT_EVAL = T0 + DAY + 3 * HOUR  # in the second day of the "Short" series
OUTAGE = (T0 + 9 * DAY + 8 * HOUR, T0 + 9 * DAY + 14 * HOUR)  # a 6 h outage inside the training window


def with_anomalies(points: dict[int, float]) -> dict[int, float]:
    out = dict(points)
    for t in SPIKES:
        out[t] = expected(t) + 5 * SIGMA + 3 * SIGMA  # 5 sigma past a k=3 band
    for t in SHIFT:
        out[t] += 10 * SIGMA
    for t in DIP:
        out[t] = 0.0
    return out


def with_outage(points: dict[int, float]) -> dict[int, float]:
    return {t: 0.0 if OUTAGE[0] <= t < OUTAGE[1] else v for t, v in points.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # Each series fetched from the store costs ~0.5 s (14 days of minutes): the tests share one request per
    # kind of series (``evaluated``), and properties of the algorithm alone call anomaly_band directly.
    store = TelemetryStore(tmp_path_factory.mktemp("anomaly") / "telemetry")
    base = clean(seed=20260105)
    put(store, "Clean", base)
    put(store, "Zero", {t: 0.0 for t in range(T0, END, MINUTE)})
    rng = random.Random(7)
    # Clamping holds in any state: two training days are enough (and fetch faster).
    put(store, "Success", {t: min(100.0, 99.8 + rng.gauss(0, 0.3)) for t in range(EVAL - 2 * DAY, END, MINUTE)},
        unit="Percent")
    # Two days, for metric math and for the state before the first training day.
    put(store, "Short", {t: v for t, v in base.items() if t < T0 + 2 * DAY})
    yield store
    store.close()


@pytest.fixture(scope="module")
def evaluated(store):
    """(values, upper, lower) over the evaluation days by ``(metric, k)``, from one GetMetricData request."""
    wanted = {"Clean": (2, 2.5, 3), "Zero": (2,), "Success": (4,)}
    queries = []
    for i, (name, ks) in enumerate(wanted.items()):
        queries.append(metric(f"m{i}", name, "Sum" if name == "Zero" else "Average"))
        queries += [MetricDataQuery(f"ad{i}_{j}", expression=f"ANOMALY_DETECTION_BAND(m{i}, {k})")
                    for j, k in enumerate(ks)]
    results = get_metric_data(store, queries, start_ms=EVAL, end_ms=END, scan_by="TimestampAscending", now_ms=END)
    by_id: dict[str, list[dict[int, float]]] = {}
    for r in results:
        by_id.setdefault(r.id, []).append(dict(zip(r.timestamps, r.values)))
    return {(name, k): (by_id[f"m{i}"][0], *by_id[f"ad{i}_{j}"])
            for i, (name, ks) in enumerate(wanted.items()) for j, k in enumerate(ks)}


def series(points: dict[int, float]) -> Series:
    return Series(sorted(points), [points[t] for t in sorted(points)])


def direct_band(points: dict[int, float], k: float = 2, *, start: int = EVAL, end: int = END,
                settings: AnomalySettings = AnomalySettings()) -> tuple[dict[int, float], dict[int, float]]:
    """(upper, lower) by timestamp, from anomaly_band on the points themselves."""
    upper, lower = anomaly_band(series(points), range(start, end, MINUTE), period=60, k=k, settings=settings)
    return dict(zip(upper.timestamps, upper.values)), dict(zip(lower.timestamps, lower.values))


def metric(qid: str, name: str, stat: str = "Average", period: int = 60, **kw) -> MetricDataQuery:
    return MetricDataQuery(qid, MetricStat(NS, name, {}, stat, period), **kw)


def band(store, name: str, k: float = 2, *, start: int = EVAL, end: int = END, stat: str = "Average",
         settings: AnomalySettings | None = None) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """(values, upper, lower) by timestamp, through GetMetricData."""
    results = get_metric_data(
        store, [metric("m1", name, stat), MetricDataQuery("ad1", expression=f"ANOMALY_DETECTION_BAND(m1, {k})")],
        start_ms=start, end_ms=end, scan_by="TimestampAscending", now_ms=end,
        anomaly_settings=None if settings is None else {"m1": settings},
    )
    values, upper, lower = (dict(zip(r.timestamps, r.values)) for r in results)
    return values, upper, lower


def outside(values, upper, lower) -> set[int]:
    return {t for t, v in values.items() if t in upper and not lower[t] <= v <= upper[t]}


class TestCoverage:
    """On clean data the band holds the share of points a k-sigma band should."""

    @pytest.mark.parametrize(("k", "low", "high"), [(2, 0.93, 0.97), (3, 0.99, 1.0)])
    def test_coverage_matches_k(self, evaluated, k, low, high):
        values, upper, lower = evaluated["Clean", k]
        assert len(upper) == EVAL_DAYS * 1440  # a band at every minute: the model is trained
        coverage = 1 - len(outside(values, upper, lower)) / len(values)
        print(f"coverage k={k}: {coverage:.4f}")
        assert low <= coverage <= high

    def test_a_fractional_k_gives_a_band_between(self, evaluated):
        _, u2, l2 = evaluated["Clean", 2]
        _, u25, l25 = evaluated["Clean", 2.5]
        _, u3, l3 = evaluated["Clean", 3]
        assert all(u2[t] < u25[t] < u3[t] and l2[t] > l25[t] > l3[t] for t in u2 if l3[t] > 0)


@pytest.fixture(scope="module")
def anomalous():
    """The clean series (same seed as the store's) with the injected anomalies, and its bands by k."""
    points = with_anomalies(clean(seed=20260105))
    values = {t: v for t, v in points.items() if t >= EVAL}
    return {k: (values, *direct_band(points, k)) for k in (2, 3)}


class TestDetection:
    def test_spikes_shift_and_dip_fall_outside_and_clean_points_rarely(self, anomalous):
        values, upper, lower = anomalous[3]
        flagged = outside(values, upper, lower)
        assert set(SPIKES) <= flagged
        assert set(DIP) <= flagged
        shift_caught = len(flagged & set(SHIFT)) / len(SHIFT)
        injected = set(SPIKES) | set(SHIFT) | set(DIP)
        clean_points = set(values) - injected
        false_rate = len(flagged & clean_points) / len(clean_points)
        print(f"shift caught {shift_caught:.3f}, false-positive rate k=3 {false_rate:.4f}")
        assert shift_caught >= 0.95
        assert false_rate < 0.01

    def test_spikes_outside_the_k2_band_too(self, anomalous):
        values, upper, lower = anomalous[2]
        assert set(SPIKES) <= outside(values, upper, lower)


class TestFlatSeries:
    def test_an_all_zero_series_gets_a_narrow_band_that_a_single_error_breaches(self, evaluated):
        values, upper, lower = evaluated["Zero", 2]
        assert len(upper) == EVAL_DAYS * 1440
        assert set(lower.values()) == {0.0}  # clamped: a count never goes below 0
        assert all(0 < u < 1 for u in upper.values())  # non-degenerate, and 1 error is outside
        assert not outside(values, upper, lower)  # it does not flap

    def test_a_constant_series_gets_a_non_zero_band_and_never_breaches(self):
        values = {t: 42.0 for t in range(T0, END, MINUTE)}
        upper, lower = direct_band(values)
        assert len(upper) == EVAL_DAYS * 1440
        assert all(lower[t] < 42.0 < upper[t] for t in upper)
        assert not outside(values, upper, lower)


class TestClamp:
    def test_a_percent_band_stays_within_0_and_100(self, evaluated):
        _, upper, lower = evaluated["Success", 4]
        assert max(upper.values()) == 100.0
        assert all(0 <= lo <= up <= 100 for lo, up in zip(lower.values(), upper.values()))

    def test_a_signed_series_is_not_clamped(self):
        history = Series(list(range(0, 3 * DAY, MINUTE)), [-1.0 + 0.1 * ((i * 7919) % 13) for i in range(3 * 1440)])
        upper, lower = anomaly_band(history, [2 * DAY + HOUR], period=60, unit="None")
        assert lower.values[0] < 0


class TestTrainingWindow:
    def test_the_evaluated_point_never_trains_its_own_band(self):
        # With t in its own trailing window its level would move with a spike at t,
        # and with t in the training data the model would: the band at t would differ between these three.
        t = EVAL + 10 * HOUR + 7 * MINUTE
        base = clean(seed=20260105, end=t + 2 * HOUR)
        variants = [dict(base), {**base, t: 10_000.0}, {k: v for k, v in base.items() if k != t}]
        bands = [anomaly_band(series(points), [t - MINUTE, t], period=60) for points in variants]
        assert bands[0] == bands[1] == bands[2]
        upper, _ = bands[1]
        assert upper.values[-1] < 10_000.0

    def test_the_band_at_a_point_does_not_depend_on_the_query_range(self, store, evaluated):
        t = EVAL + DAY + 6 * HOUR
        _, wide_upper, wide_lower = evaluated["Clean", 2]
        _, short_upper, short_lower = band(store, "Clean", 2, start=t, end=t + MINUTE)
        assert short_upper == {t: wide_upper[t]} and short_lower == {t: wide_lower[t]}

    def test_states_follow_the_amount_of_training_data(self):
        history = Series(list(range(T0, END, MINUTE)), [1.0] * ((END - T0) // MINUTE))
        assert training_state(history, T0 + 12 * HOUR) == "PENDING_TRAINING"
        assert training_state(history, T0 + 3 * DAY) == "TRAINED_INSUFFICIENT_DATA"
        assert training_state(history, EVAL) == "TRAINED"

    def test_no_band_while_pending_training(self, store):
        _, upper, _ = band(store, "Short", 2, start=T0, end=T0 + 2 * DAY)
        assert upper and min(upper) == T0 + DAY  # the first day trains; the second gets a band

    def test_a_repeated_query_reuses_the_trained_model(self):
        # The second call of the day hits the cache (same data, day and settings); new data retrains.
        points = clean(seed=5, end=EVAL + HOUR)
        history = series(points)
        started = time.perf_counter()
        first = anomaly_band(history, [EVAL + 30 * MINUTE], period=60)
        trained = time.perf_counter() - started
        started = time.perf_counter()
        again = anomaly_band(series(dict(points)), [EVAL + 30 * MINUTE], period=60)
        cached = time.perf_counter() - started
        assert again == first
        print(f"trained in {trained * 1000:.1f} ms, cached in {cached * 1000:.1f} ms")
        assert cached < trained / 3
        late = {t: v + 50 if EVAL - DAY <= t < EVAL else v for t, v in points.items()}  # corrected training data
        assert anomaly_band(series(late), [EVAL + 30 * MINUTE], period=60) != first


class TestExcludedRanges:
    def width(self, upper, lower, hours=range(24)):
        picked = [t for t in upper if (t % DAY) // HOUR in hours]
        return sum(upper[t] - lower[t] for t in picked) / len(picked)

    def test_an_excluded_outage_leaves_the_band_as_without_it_and_an_included_one_widens_it(self):
        excluded = AnomalySettings(excluded=(OUTAGE,))
        base = clean(seed=20260105, end=EVAL + DAY)
        outage = with_outage(base)
        clean_u, clean_l = direct_band(base, end=EVAL + DAY)
        kept_u, kept_l = direct_band(outage, end=EVAL + DAY)
        excl_u, excl_l = direct_band(outage, end=EVAL + DAY, settings=excluded)
        clean_excl_u, clean_excl_l = direct_band(base, end=EVAL + DAY, settings=excluded)
        # Excluded, the outage is gone: the band is exactly that of the clean series with the same range excluded,
        assert (excl_u, excl_l) == (clean_excl_u, clean_excl_l)
        # and within 1 % of the clean series' band with nothing excluded.
        outage_hours = range(8, 14)
        assert self.width(excl_u, excl_l, outage_hours) == pytest.approx(
            self.width(clean_u, clean_l, outage_hours), rel=0.01)
        # Not excluded, it widens the band over those hours of the day.
        widened = self.width(kept_u, kept_l, outage_hours) / self.width(clean_u, clean_l, outage_hours)
        print(f"outage kept in training widens the band x{widened:.3f}")
        assert widened > 1.05

    def test_at_most_ten_ranges(self):
        with pytest.raises(MetricQueryError, match="at most 10"):
            AnomalySettings(excluded=tuple((i, i + 1) for i in range(11)))

    def test_an_unknown_timezone_is_named(self):
        with pytest.raises(MetricQueryError, match="Mars/Olympus"):
            AnomalySettings(timezone="Mars/Olympus")


SPRING_FORWARD = 1_774_742_400_000  # 2026-03-29T00:00:00Z: Berlin goes to UTC+2 at 01:00 UTC
FALL_BACK = 1_792_886_400_000  # 2026-10-25T00:00:00Z: Berlin goes back to UTC+1 at 01:00 UTC


class TestDaylightSaving:
    """A 09:00-local peak in Europe/Berlin moves by an hour in UTC when the clocks change."""

    BERLIN = ZoneInfo("Europe/Berlin")

    @staticmethod
    def series(seed, change_day):
        """Three training weeks before ``change_day`` and three days from it, of ``clean`` in Berlin
        time plus a sharp 09:00-local peak (20 minutes wide), so its hour is unambiguous."""
        zone = TestDaylightSaving.BERLIN
        points = clean(seed=seed, start=change_day - 21 * DAY, end=change_day + 3 * DAY, zone=zone)
        for t in points:
            local = datetime.fromtimestamp(t / 1000, zone)
            points[t] += 80 * math.exp(-(((local.hour * 60 + local.minute) - 540) / 20) ** 2)
        return Series(sorted(points), [points[t] for t in sorted(points)])

    def peak_hour_utc(self, history, settings, day):
        ts = list(range(day + 4 * HOUR, day + 12 * HOUR, MINUTE))
        upper, lower = anomaly_band(history, ts, period=60, settings=settings)
        centre = [(u + lo) / 2 for u, lo in zip(upper.values, lower.values)]
        return (upper.timestamps[centre.index(max(centre))] - day) / HOUR

    @pytest.mark.parametrize(("change_day", "peak_after"), [(SPRING_FORWARD, 7), (FALL_BACK, 8)])
    def test_the_local_peak_stays_aligned_through_the_change(self, change_day, peak_after):
        history = self.series(3, change_day)
        berlin = AnomalySettings(timezone="Europe/Berlin")
        for day in (change_day, change_day + DAY):
            assert self.peak_hour_utc(history, berlin, day) == pytest.approx(peak_after, abs=0.25)
            # A UTC model keeps the peak where it was before the change, an hour off.
            assert abs(self.peak_hour_utc(history, AnomalySettings(), day) - peak_after) == pytest.approx(1, abs=0.25)

    def test_coverage_holds_on_the_days_after_the_change(self):
        history = self.series(4, SPRING_FORWARD)
        values = history.as_dict()
        ts = list(range(SPRING_FORWARD, SPRING_FORWARD + 2 * DAY, MINUTE))
        for settings, expect_good in ((AnomalySettings(timezone="Europe/Berlin"), True), (AnomalySettings(), False)):
            upper, lower = anomaly_band(history, ts, period=60, k=3, settings=settings)
            inside = sum(lo <= values[t] <= up for t, up, lo in zip(upper.timestamps, upper.values, lower.values))
            coverage = inside / len(ts)
            print(f"DST week coverage k=3 ({settings.timezone}): {coverage:.4f}")
            assert (coverage >= 0.99) is expect_good


class TestMetricMath:
    """On "Short": one day trains (TRAINED_INSUFFICIENT_DATA), the second is evaluated."""

    def test_the_band_is_two_series_upper_first_and_last_is_the_lower(self, store):
        results = get_metric_data(store, [
            metric("m1", "Short", return_data=False),
            MetricDataQuery("ad1", expression="ANOMALY_DETECTION_BAND(m1)"),
            MetricDataQuery("hi", expression="FIRST(ANOMALY_DETECTION_BAND(m1))"),
            MetricDataQuery("lo", expression="LAST(ANOMALY_DETECTION_BAND(m1))"),
            MetricDataQuery("above", expression="IF(m1 > LAST(ANOMALY_DETECTION_BAND(m1)), 1, 0)"),
        ], start_ms=SHORT_EVAL, end_ms=SHORT_EVAL + HOUR, scan_by="TimestampAscending", now_ms=SHORT_EVAL + HOUR)
        upper, lower, hi, lo, above = results
        assert [r.id for r in results] == ["ad1", "ad1", "hi", "lo", "above"]
        assert upper.values == hi.values and lower.values == lo.values
        assert all(u > lo for u, lo in zip(upper.values, lower.values))
        assert len(above.values) == 60

    def test_a_band_over_an_expression_trains_on_the_expression_history(self, store):
        results = get_metric_data(store, [
            metric("m1", "Short", return_data=False),
            MetricDataQuery("e1", expression="m1 * 2", return_data=False),
            MetricDataQuery("ad1", expression="ANOMALY_DETECTION_BAND(e1, 2)"),
            MetricDataQuery("ad2", expression="ANOMALY_DETECTION_BAND(m1, 2)"),
        ], start_ms=SHORT_EVAL, end_ms=SHORT_EVAL + HOUR, scan_by="TimestampAscending", now_ms=SHORT_EVAL + HOUR)
        doubled_upper, _, upper, _ = results
        assert doubled_upper.values == pytest.approx([2 * v for v in upper.values])

    def test_the_json_request_accepts_the_band(self, store):
        queries, start, end, scan_by, _ = parse_request({
            "MetricDataQueries": [
                {"Id": "m1", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "Short"},
                                            "Period": 300, "Stat": "Average"}, "ReturnData": True},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2.5)", "Label": "Band"},
            ],
            "StartTime": SHORT_EVAL // 1000, "EndTime": (SHORT_EVAL + HOUR) // 1000,
        })
        results = get_metric_data(store, queries, start_ms=start, end_ms=end, scan_by=scan_by, now_ms=end)
        assert [len(r.values) for r in results] == [12, 12, 12]
        assert [r.label for r in results[1:]] == ["Band upper", "Band lower"]

    @pytest.mark.parametrize(("expression", "message"), [
        ("ANOMALY_DETECTION_BAND(5)", "first argument is the id"),
        ("ANOMALY_DETECTION_BAND(m1 + 1)", "first argument is the id"),
        ("ANOMALY_DETECTION_BAND(m1, -1)", "positive number"),
        ("ANOMALY_DETECTION_BAND(m1, m1)", "positive number"),
        ("ANOMALY_DETECTION_BAND(m1, 2, 3)", "1 to 2 argument"),
        ("ANOMALY_DETECTION_BAND(e1)", "cannot be used inside"),
    ])
    def test_bad_calls_are_named(self, store, expression, message):
        with pytest.raises(MetricQueryError, match=message):
            get_metric_data(store, [
                metric("m1", "Short", return_data=False),
                MetricDataQuery("e1", expression="FIRST(ANOMALY_DETECTION_BAND(m1))", return_data=False),
                MetricDataQuery("ad1", expression=expression),
            ], start_ms=SHORT_EVAL, end_ms=SHORT_EVAL + HOUR, now_ms=SHORT_EVAL + HOUR)

    def test_high_resolution_periods_are_refused(self, store):
        with pytest.raises(MetricQueryError, match="at least 60 seconds"):
            get_metric_data(store, [
                metric("m1", "Short", period=10, return_data=False),
                MetricDataQuery("ad1", expression="ANOMALY_DETECTION_BAND(m1)"),
            ], start_ms=SHORT_EVAL, end_ms=SHORT_EVAL + HOUR, now_ms=SHORT_EVAL + HOUR)


class TestOracle:
    def test_the_daily_shape_agrees_with_statsmodels_stl(self):
        """A test-only oracle: STL's seasonal component and our band centre have the same daily shape."""
        stl_module = pytest.importorskip("statsmodels.tsa.seasonal")
        # 15-minute averages: STL over 20,160 minutes takes minutes, over 1,344 quarter hours a moment.
        points = clean(seed=11, end=EVAL + DAY)
        quarters = sorted({t // (15 * MINUTE) * (15 * MINUTE) for t in points})
        averaged = [sum(points[q + i * MINUTE] for i in range(15)) / 15 for q in quarters]
        training = [v for q, v in zip(quarters, averaged) if q < EVAL]
        seasonal = stl_module.STL(training, period=96).fit().seasonal  # clean data: no need for robust
        stl_day = list(seasonal[-7 * 96:-6 * 96])  # the same weekday, one week before
        history = Series(quarters, averaged)
        upper, lower = anomaly_band(history, quarters[-96:], period=900)
        ours = [(u + lo) / 2 for u, lo in zip(upper.values, lower.values)]
        correlation = _correlation(stl_day, ours)
        print(f"correlation with STL's seasonal shape: {correlation:.4f}")
        assert correlation > 0.95


def _correlation(a: list[float], b: list[float]) -> float:
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def test_a_band_past_its_deadline_times_out():
    from whispersync.errors import QueryTimeout

    history = Series(list(range(0, 3 * DAY, MINUTE)), [1.0] * (3 * 1440))
    with pytest.raises(QueryTimeout):
        anomaly_band(history, [2 * DAY], period=60, deadline=0.0)


def test_evaluation_times_out_of_order_are_refused():
    history = Series(list(range(0, 3 * DAY, MINUTE)), [1.0] * (3 * 1440))
    with pytest.raises(MetricQueryError, match="must ascend"):
        anomaly_band(history, [2 * DAY + HOUR, DAY + HOUR], period=60)
