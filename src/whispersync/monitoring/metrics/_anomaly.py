"""Anomaly-detection bands: a robust seasonal baseline, deterministic and pure Python.

CloudWatch's semantics are the surface (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Anomaly_Detection.html): a band per metric *and* statistic, trained on up to two weeks of
history, ``k`` standard deviations wide (default 2, fractional allowed), never outside logical values.
The model is ours:

1. **Input** is the metric already aggregated to the band's period (one value per bucket). Points in
   excluded time ranges are dropped before anything else: they never train the model.
2. **Training window.** The band at a point ``t`` uses a *seasonal model* trained on the 14 days
   before ``cutoff = t`` floored to its UTC day, and a *level* from the 24 hours strictly before
   ``t``. Nothing at or after ``t`` is ever used, so an anomaly cannot hide itself by widening its
   own band, and the band at ``t`` is the same whatever query range asked for it.
3. **Seasonal model** (local time in the detector's timezone via zoneinfo, so "09:00" is 09:00
   through a daylight-saving change). With ``L`` the median of the training data:
   daily profile ``D[slot] = median(x - L)`` over every day at that time of day, pooled over a
   +-15 minute neighbourhood; weekly correction ``W[weekday, slot] = median(x - L - D)`` over the
   same neighbourhood of that weekday, multiplied by a shrink factor ``(days - 7) / 7`` clamped to
   [0, 1]: no weekly term with under a week of data (one sample per weekday slot is noise), the
   full term with two weeks.
4. **Level** at ``t``: median of the deseasonalised values ``x - D - shrink*W`` over ``[t - 24h, t)``
   (the level at the end of training when that window is empty). A trend or an intended level shift is followed
   within about half a day; a short incident barely moves a median.
5. **Spread**: 1.4826 x the median absolute deviation of the training residuals (computed with the
   same trailing level as at evaluation, so the band is as wide as the evaluation error really is),
   per hour of the local day pooled with its neighbours. When the MAD is 0 (a mostly-constant
   series) 1.2533 x the mean absolute deviation stands in; the floor is 1 % of the series' typical
   magnitude (the median of ``|x|``, else its largest ``|x|``, else 1), so a flat or all-zero series
   still gets a narrow, non-zero band and a single error count breaches it.
6. **Band** = centre +- k x spread, clamped to [0, 100] for Percent and to >= 0 for non-negative
   series (a non-negative unit or statistic, or training data that never went below 0).

States follow CloudWatch's: PENDING_TRAINING with under a day of training data (no band point),
TRAINED_INSUFFICIENT_DATA with under 14 days (the weekly term shrunk), TRAINED with 14 days.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from whispersync.errors import QueryTimeout
from whispersync.monitoring.metrics._errors import MetricQueryError
from whispersync.monitoring.metrics._math import Series

__all__ = [
    "MAX_EXCLUDED_RANGES",
    "TRAINING_DAYS",
    "AnomalySettings",
    "anomaly_band",
    "history_start",
    "training_state",
]

TRAINING_DAYS = 14
MAX_EXCLUDED_RANGES = 10  # PutAnomalyDetector's Configuration.ExcludedTimeRanges limit
_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
_TRAINING_MS = TRAINING_DAYS * _DAY_MS
_LEVEL_WINDOW_MS = _DAY_MS
_PROFILE_NEIGHBOURHOOD_S = 900  # +-15 minutes
_SPREAD_BUCKET_S = 3600  # spread per hour of the day, pooled with the hours either side
_MAD_TO_SIGMA = 1.4826  # for normal data, sigma = 1.4826 x MAD
_MEAN_AD_TO_SIGMA = 1.2533  # for normal data, sigma = sqrt(pi/2) x mean absolute deviation
_FLOOR_FRACTION = 0.01
_OFFSET_STEP_MS = 900_000  # UTC offsets change on quarter hours in every tz database zone
_NON_NEGATIVE_STATISTICS = {"SampleCount"}
_SIGNED_UNITS = {None, "None"}  # any other CloudWatch unit (Count, Seconds, Bytes, ...) cannot go below 0


@dataclass(frozen=True)
class AnomalySettings:
    """A detector's configuration: ``MetricTimezone`` and ``ExcludedTimeRanges`` as ``[start_ms, end_ms)``."""

    timezone: str = "UTC"
    excluded: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, str) or not self.timezone or len(self.timezone) > 50:
            raise MetricQueryError(f"the metric timezone must be a tz database name, got {self.timezone!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MetricQueryError(f"unknown metric timezone {self.timezone!r} (use a tz database name"
                                   " such as Europe/Berlin)") from None
        if len(self.excluded) > MAX_EXCLUDED_RANGES:
            raise MetricQueryError(f"at most {MAX_EXCLUDED_RANGES} excluded time ranges, got {len(self.excluded)}")
        for start, end in self.excluded:
            if end <= start:
                raise MetricQueryError(f"excluded time range [{start}, {end}) must end after it starts")


def history_start(origin_ms: int, period: int) -> int:
    """Where a query starting at ``origin_ms`` must fetch from so its first point has a full training
    window: 14 days before that point's UTC day, on the same grid of ``period`` seconds."""
    step = period * 1000
    wanted = origin_ms // _DAY_MS * _DAY_MS - _TRAINING_MS
    return origin_ms - -(-(origin_ms - wanted) // step) * step


def training_state(history: Series, at_ms: int, settings: AnomalySettings = AnomalySettings()) -> str:
    """The detector state the band at ``at_ms`` is computed in (CloudWatch's AnomalyDetectorStateValue)."""
    cutoff = at_ms // _DAY_MS * _DAY_MS
    ts = [t for t in history.timestamps if cutoff - _TRAINING_MS <= t < cutoff and not _excluded(t, settings)]
    span = ts[-1] - ts[0] if ts else 0
    if not ts or span < _DAY_MS - _period_guess(ts):
        return "PENDING_TRAINING"
    return "TRAINED" if span >= _TRAINING_MS - _DAY_MS else "TRAINED_INSUFFICIENT_DATA"


def anomaly_band(
    history: Series,
    evaluate_at: Sequence[int],
    *,
    period: int,
    k: float = 2.0,
    settings: AnomalySettings = AnomalySettings(),
    unit: str | None = None,
    statistic: str | None = None,
    deadline: float | None = None,
) -> tuple[Series, Series]:
    """The (upper, lower) band at each timestamp of ``evaluate_at`` (ascending epoch ms).

    ``history`` holds the metric at ``period`` seconds, including at least the 14 days before the
    first evaluated point's UTC day; points at or after an evaluated point may be present and are
    never used for it. Points whose model is still PENDING_TRAINING are left out. Past
    ``deadline`` (a ``time.monotonic()`` value) QueryTimeout is raised.
    """
    if not isinstance(k, (int, float)) or isinstance(k, bool) or not math.isfinite(k) or k <= 0:
        raise MetricQueryError(f"the band width (standard deviations) must be a positive number, got {k!r}")
    if period <= 0:
        raise MetricQueryError(f"period must be positive, got {period}")
    zone = ZoneInfo(settings.timezone)
    points = [(t, v) for t, v in zip(history.timestamps, history.values)
              if math.isfinite(v) and not _excluded(t, settings)]
    times = [t for t, _ in points]
    values = [v for _, v in points]
    low, high = _limits(values, unit, statistic)
    clock = _LocalClock(zone, period)
    where = [clock.slots(t) for t in times]
    models: dict[int, _Model | None] = {}
    upper, lower, out_ts = [], [], []
    window: _TrailingMedian | None = None
    window_cutoff = None
    for t in evaluate_at:
        cutoff = t // _DAY_MS * _DAY_MS
        if cutoff not in models:
            if deadline is not None and time.monotonic() > deadline:
                raise QueryTimeout("the anomaly detection band ran past the query's time budget")
            first = bisect.bisect_left(times, cutoff - _TRAINING_MS)
            last = bisect.bisect_left(times, cutoff)
            models[cutoff] = _train(times[first:last], values[first:last], where[first:last], clock)
        model = models[cutoff]
        if model is None:
            continue
        if window is None or window_cutoff != cutoff:
            window, window_cutoff = _TrailingMedian(times, model.deseasonalise(values, where)), cutoff
        level = window.median_before(t)
        if level is None:
            level = model.level
        slot, hour, weekday = clock.slots(t)
        centre = level + model.seasonal(slot, weekday)
        width = k * model.spread[hour]
        upper.append(min(max(centre + width, low), high))
        lower.append(min(max(centre - width, low), high))
        out_ts.append(t)
    return Series(out_ts, upper, "upper"), Series(list(out_ts), lower, "lower")


# ---------------------------------------------------------------------- model


def _excluded(t: int, settings: AnomalySettings) -> bool:
    return any(start <= t < end for start, end in settings.excluded)


def _period_guess(ts: Sequence[int]) -> int:
    return min((b - a for a, b in zip(ts, ts[1:])), default=0)


def _limits(values: Sequence[float], unit: str | None, statistic: str | None) -> tuple[float, float]:
    # CloudWatch "ensures that the band doesn't extend outside of logical values": MemoryUtilization stays
    # within 0-100, Requests never below zero (CloudWatch_Anomaly_Detection.html).
    if unit == "Percent":
        return 0.0, 100.0
    if statistic in _NON_NEGATIVE_STATISTICS or unit not in _SIGNED_UNITS or (values and min(values) >= 0):
        return 0.0, math.inf
    return -math.inf, math.inf


class _LocalClock:
    """Local time-of-day slots in one timezone, with the UTC offset looked up once per quarter hour."""

    def __init__(self, zone: ZoneInfo, period: int) -> None:
        self.zone = zone
        self.slot_s = min(period, 86_400)
        self.slots_per_day = -(-86_400 // self.slot_s)
        self.hour_s = max(self.slot_s, _SPREAD_BUCKET_S)
        self.hours_per_day = -(-86_400 // self.hour_s)
        self.neighbours = _PROFILE_NEIGHBOURHOOD_S // self.slot_s
        self._offsets: dict[int, int] = {}

    def slots(self, t: int) -> tuple[int, int, int]:
        """(slot of the local day, spread bucket of the local day, local weekday 0=Monday)."""
        step = t // _OFFSET_STEP_MS
        offset = self._offsets.get(step)
        if offset is None:
            when = datetime.fromtimestamp(step * _OFFSET_STEP_MS / 1000, UTC)
            offset = int(when.astimezone(self.zone).utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
            self._offsets[step] = offset
        local = t + offset
        second = (local // 1000) % 86_400
        weekday = (local // _DAY_MS + 3) % 7  # 1970-01-01 was a Thursday
        return second // self.slot_s, second // self.hour_s, weekday


@dataclass
class _Model:
    level: float
    daily: list[float]  # per slot of the local day
    weekly: dict[tuple[int, int], float]  # (weekday, slot) -> correction, already shrunk
    spread: list[float]  # per spread bucket (hour) of the local day

    def seasonal(self, slot: int, weekday: int) -> float:
        return self.daily[slot] + self.weekly.get((weekday, slot), 0.0)

    def deseasonalise(self, values: Sequence[float], where: Sequence[tuple[int, int, int]]) -> list[float]:
        daily, weekly = self.daily, self.weekly
        return [v - daily[s] - weekly.get((w, s), 0.0) for v, (s, _, w) in zip(values, where)]


def _pooled_medians(buckets: list[list[float]], neighbours: int) -> list[float | None]:
    """Median of each bucket pooled with ``neighbours`` buckets either side (wrapping round).

    One sorted window slides along: each step removes a bucket and adds one, rather than
    sorting every pool again (10,080 weekly pools of 1-minute data).
    """
    n = len(buckets)
    window = sorted(v for j in range(-neighbours, neighbours + 1) for v in buckets[j % n])
    out: list[float | None] = []
    for i in range(n):
        out.append(_sorted_median(window) if window else None)
        for v in buckets[(i - neighbours) % n]:
            del window[bisect.bisect_left(window, v)]
        for v in buckets[(i + neighbours + 1) % n]:
            bisect.insort(window, v)
    return out


def _sorted_median(ordered: Sequence[float]) -> float:
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _train(times: Sequence[int], values: Sequence[float], where: Sequence[tuple[int, int, int]],
           clock: _LocalClock) -> _Model | None:
    if not times or times[-1] - times[0] < _DAY_MS - _period_guess(times):
        return None  # PENDING_TRAINING
    span_days = (times[-1] - times[0]) / _DAY_MS + _period_guess(times) / _DAY_MS
    level = median(values)
    n_slots = clock.slots_per_day

    by_slot: list[list[float]] = [[] for _ in range(n_slots)]
    for (slot, _, _), v in zip(where, values):
        by_slot[slot].append(v - level)
    daily = [d if d is not None else 0.0 for d in _pooled_medians(by_slot, clock.neighbours)]

    shrink = min(max((span_days - 7) / 7, 0.0), 1.0)
    weekly: dict[tuple[int, int], float] = {}
    if shrink > 0:
        # Week slots laid end to end (Monday 00:00 ... Sunday 23:59) so the neighbourhood crosses midnight.
        by_week_slot: list[list[float]] = [[] for _ in range(7 * n_slots)]
        for (slot, _, weekday), v in zip(where, values):
            by_week_slot[weekday * n_slots + slot].append(v - level - daily[slot])
        for i, w in enumerate(_pooled_medians(by_week_slot, clock.neighbours)):
            if w is not None:
                weekly[(i // n_slots, i % n_slots)] = shrink * w
    model = _Model(level, daily, weekly, [])

    # Residuals as the band will see them: against the trailing level, not the in-sample one.
    trailing = _TrailingMedian(times, model.deseasonalise(values, where))
    by_hour: list[list[float]] = [[] for _ in range(clock.hours_per_day)]
    for t, (slot, hour, weekday), v in zip(times, where, values):
        recent = trailing.median_before(t)
        centre = (level if recent is None else recent) + model.seasonal(slot, weekday)
        by_hour[hour].append(v - centre)
    magnitudes = sorted(abs(v) for v in values)
    scale = median(magnitudes) or magnitudes[-1] or 1.0
    floor = _FLOOR_FRACTION * scale
    spread = []
    for i in range(clock.hours_per_day):
        pool = [e for j in (i - 1, i, i + 1) for e in by_hour[j % clock.hours_per_day]]
        spread.append(max(_robust_sigma(pool), floor))
    model.spread = spread
    if trailing.last_median is not None:
        model.level = trailing.last_median  # the level at the cutoff, for evaluation after a data gap
    return model


def _robust_sigma(residuals: list[float]) -> float:
    if not residuals:
        return 0.0
    centre = median(residuals)
    deviations = [abs(e - centre) for e in residuals]
    mad = median(deviations)
    if mad > 0:
        return _MAD_TO_SIGMA * mad
    return _MEAN_AD_TO_SIGMA * sum(deviations) / len(deviations)


class _TrailingMedian:
    """Median of the deseasonalised values in ``[t - 24h, t)``, sliding forward as ``t`` grows."""

    def __init__(self, times: Sequence[int], deseasonalised: Sequence[float]) -> None:
        self.times, self.ys = times, deseasonalised
        self.window: list[float] = []
        self.head = 0  # next point to enter
        self.tail = 0  # oldest point still in the window
        self.now = -math.inf
        self.last_median: float | None = None

    def median_before(self, t: int) -> float | None:
        if t < self.now:
            raise ValueError("evaluation times must ascend")
        self.now = t
        times = self.times
        while self.head < len(times) and times[self.head] < t:
            bisect.insort(self.window, self.ys[self.head])
            self.head += 1
        while self.tail < self.head and times[self.tail] < t - _LEVEL_WINDOW_MS:
            del self.window[bisect.bisect_left(self.window, self.ys[self.tail])]
            self.tail += 1
        if not self.window:
            return None
        self.last_median = _sorted_median(self.window)
        return self.last_median
