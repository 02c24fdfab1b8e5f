"""Anomaly-detection bands: a robust seasonal baseline, deterministic and pure Python.

CloudWatch's semantics are the surface (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Anomaly_Detection.html): a band per metric *and* statistic, trained on up to two weeks of
history, ``k`` standard deviations wide (default 2, fractional allowed), never outside logical values.
The model is ours:

1. **Input** is the metric already aggregated to the band's period (one value per bucket). Points in
   excluded time ranges are dropped before anything else: they never train the model.
2. **Training window.** The band at a point ``t`` uses a *seasonal model* trained on the 14 days
   before ``cutoff = t`` floored to its UTC day (one model a day, cached), and a *level* from the
   hours before ``t``'s hour. Nothing at or after ``t`` is ever used, so an anomaly cannot hide
   itself by widening its own band, and the band at ``t`` is the same whatever query range asked for it.
3. **Seasonal model** (local time in the detector's timezone via zoneinfo, so "09:00" is 09:00
   through a daylight-saving change). With ``L`` the median of the training data:
   daily profile ``D[slot]`` = the median, over a +-15 minute neighbourhood of slots, of each slot's
   median of ``x - L`` over the days; weekly correction ``W[weekday, slot]`` = the same over the slots
   of the week for ``x - L - D``, multiplied by a shrink factor ``(days - 7) / 7`` clamped to [0, 1]:
   no weekly term with under a week of data (one sample per weekday slot is noise), the full term
   with two weeks. Both are computed at every third of the neighbourhood (every 5 minutes for
   1-minute data) and drawn linearly between: a 30-minute median barely moves from one minute to the next.
4. **Level** for a point in hour ``h`` (UTC; the period when that is longer): the median of the hourly
   medians of the deseasonalised values ``x - D - shrink*W`` in the 24 hours before ``h`` (the level at
   the end of training when there are none). A trend or an intended level shift is followed within
   about half a day; an incident shorter than half a day barely moves a median of medians.
5. **Spread**: 1.4826 x the median absolute deviation of the training residuals (computed with the
   same trailing level as at evaluation, so the band is as wide as the evaluation error really is),
   per hour of the local day pooled with its neighbours. When the MAD is 0 (a mostly-constant
   series) 1.2533 x the mean absolute deviation stands in. The training residuals are those of a fit
   to the same data, so they are smaller than the errors on new data: with ``p`` parameters fitted to
   ``n`` points (about one per pooled neighbourhood of the day, level included, and six more per day's
   worth times the weekly shrink) the spread is scaled by ``sqrt((1 + h + lv) / (1 - h + lv))``, ``h =
   p / n`` and ``lv`` the trailing level's share (``_fit_inflation``). At 1-minute data that is 1.016;
   where a weekly cell holds two points it is sqrt(2) at a daily period and 1.7 at an hourly one.
6. **Band** = centre +- k' x spread, where ``k'`` is the quantile of Student's t at the normal tail
   beyond ``k`` with ``0.37 x`` (the MAD's efficiency) the residuals pooled for that hour as degrees of
   freedom: a spread estimated from few residuals is itself uncertain, which a k-sigma band would
   ignore. 14 daily points give k' = 2.64 for k = 2; 2,520 minutes an hour give k' = 2.003.
   Measured on 200 seeded daily series (level 10, 5 % noise, each day trained on the 14 before it),
   k = 2, upper side / both sides (a 2-sigma band: 2.3 % / 4.6 %): neither correction 10 % / 21 %;
   the first alone 5.0 % / 10 %; both 2.4 % / 5.2 % (3.0 % / 6.3 % with weekends at half the level
   and half the noise: one spread serves all days); hourly data with a daily wave 12 % / 25 % before,
   2.6 % / 5.1 % after. The weekly term is kept with two points a cell
   and paid for in ``p`` rather than dropped: a weekday/weekend pattern is common (cost) and without
   the term the band would have to span it. At a daily period the daily profile is one slot whose
   median is the level's, so it costs no more than the level.
   The half-width is at least k x the floor, 1 % of the series' typical magnitude (the median of
   ``|x|``, else its largest ``|x|``, else 1), so a flat or all-zero series still gets a narrow,
   non-zero band and a single error count breaches it; the floor is not an estimate and is not
   widened. Clamped to [0, 100] for Percent and to >= 0 for non-negative series (a non-negative unit
   or statistic, or training data that never went below 0).

**Cost** (pure Python, no numpy): training is sorting and slicing, ~50 ms for 14 days of 1-minute data
on a small machine (benchmarks/baselines.py). Models are cached by the training data itself (its
hash), the day and the settings, so an alarm evaluated every minute trains once a day and late or
corrected data retrains; each model also keeps the hourly medians its levels need.

States follow CloudWatch's: PENDING_TRAINING with under a day of training data (no band point),
TRAINED_INSUFFICIENT_DATA with under 14 days (the weekly term shrunk), TRAINED with 14 days.
"""

from __future__ import annotations

import bisect
import math
import operator
import threading
import time
from array import array
from collections import OrderedDict
from itertools import chain
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
_TRAINING_MS = TRAINING_DAYS * _DAY_MS
_LEVEL_STEP_MS = 3_600_000  # the level moves once an hour: the median of the 24 hourly medians before
_PROFILE_NEIGHBOURHOOD_MS = 900_000  # +-15 minutes
_SPREAD_BUCKET_MS = 3_600_000  # spread per hour of the day, pooled with the hours either side
_MAD_TO_SIGMA = 1.4826  # for normal data, sigma = 1.4826 x MAD
_MAD_EFFICIENCY = 0.3675  # the MAD's asymptotic efficiency for normal data: n residuals ~ 0.37 n degrees of freedom
_MEAN_AD_TO_SIGMA = 1.2533  # for normal data, sigma = sqrt(pi/2) x mean absolute deviation
_FLOOR_FRACTION = 0.01
_OFFSET_STEP_MS = 900_000  # UTC offsets change on quarter hours in every tz database zone
_NON_NEGATIVE_STATISTICS = {"SampleCount"}
_SIGNED_UNITS = {None, "None"}  # any other CloudWatch unit (Count, Seconds, Bytes, ...) cannot go below 0
# Trained models by (training data, day, settings): an alarm evaluated every minute trains once a day.
# One model of 1-minute data is ~30 KB (its profile at every 5th minute of the week, its hourly medians).
_CACHE_SIZE = 2048


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
    times = history.timestamps
    first = bisect.bisect_left(times, cutoff - _TRAINING_MS)
    last = bisect.bisect_left(times, cutoff)
    ts = _kept(times[first:last], settings)
    span = ts[-1] - ts[0] if ts else 0
    if not ts or (span < _DAY_MS and span < _DAY_MS - _period_guess(ts)):
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
    clock = _LocalClock(ZoneInfo(settings.timezone), period)
    step_ms = max(_LEVEL_STEP_MS, period * 1000)
    times, values = history.timestamps, history.values
    upper: list[float] = []
    lower: list[float] = []
    out_ts: list[int] = []
    evaluate_at = list(evaluate_at)
    if not all(map(operator.le, evaluate_at, evaluate_at[1:])):
        raise MetricQueryError("the band's evaluation times must ascend")
    i = 0
    while i < len(evaluate_at):  # one model per UTC day
        cutoff = evaluate_at[i] // _DAY_MS * _DAY_MS
        j = bisect.bisect_left(evaluate_at, cutoff + _DAY_MS, i)
        day, i = evaluate_at[i:j], j
        model = _model(times, values, cutoff, clock, step_ms, settings, deadline)
        if model is None:
            continue
        low, high = _limits(model.non_negative, unit, statistic)
        local = clock.local(day)
        blocks = _evaluation_blocks(times, values, day[0] // step_ms, day[-1] // step_ms, model, clock, step_ms,
                                    settings)
        levels: dict[int, float] = {}
        widths: dict[int, float] = {}
        for t, seasonal, hour in zip(day, model.profile(clock.week_slots_of(local)), clock.hours_of(local)):
            step = t // step_ms
            level = levels.get(step)
            if level is None:
                level = levels[step] = _level(blocks, step, step_ms, model.level)
            centre = level + seasonal
            width = widths.get(hour)
            if width is None:
                width = widths[hour] = max(_t_quantile(k, model.dof[hour]) * model.spread[hour], k * model.floor)
            upper.append(min(max(centre + width, low), high))
            lower.append(min(max(centre - width, low), high))
        out_ts.extend(day)
    return Series(out_ts, upper, "upper"), Series(list(out_ts), lower, "lower")


# ---------------------------------------------------------------------- cache and evaluation

_cache: OrderedDict[tuple, _Model | None] = OrderedDict()
_cache_lock = threading.Lock()


def _model(times: Sequence[int], values: Sequence[float], cutoff: int, clock: _LocalClock, step_ms: int,
           settings: AnomalySettings, deadline: float | None) -> _Model | None:
    """The model trained on the 14 days before ``cutoff``, from the cache when the same data trained it."""
    first = bisect.bisect_left(times, cutoff - _TRAINING_MS)
    last = bisect.bisect_left(times, cutoff)
    # The training data itself is in the key (its values hashed: ~0.5 ms for 20,160 points), so late or
    # corrected data retrains; its timestamps count by number and ends (a moved gap moves the values too).
    training = values[first:last]
    ends = (times[first], times[last - 1]) if last > first else None
    key = (cutoff, clock.slot_ms, step_ms, settings, last - first, ends, hash(tuple(training)))
    with _cache_lock:
        if key not in _cache and not math.isfinite(sum(training)):
            key = key[:-1] + (_fingerprint(training),)  # the usual hash is only checked for finite data
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if deadline is not None and time.monotonic() > deadline:
        raise QueryTimeout("the anomaly detection band ran past the query's time budget")
    ts, vs = _clean(times[first:last], values[first:last], settings)
    model = _train(ts, vs, clock, step_ms)
    with _cache_lock:
        _cache[key] = model
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model


def _evaluation_blocks(times: Sequence[int], values: Sequence[float], first_step: int, last_step: int,
                       model: _Model, clock: _LocalClock, step_ms: int,
                       settings: AnomalySettings) -> dict[int, tuple[float, int, int]]:
    """The hourly medians of the deseasonalised data the levels from ``first_step`` to ``last_step`` use: from
    a day before the first up to (not including) the last. Kept on the model while the hour's data stays."""
    out = {}
    i = bisect.bisect_left(times, (first_step - -(-_DAY_MS // step_ms)) * step_ms)
    for block in range(first_step - -(-_DAY_MS // step_ms), last_step):
        j = bisect.bisect_left(times, (block + 1) * step_ms, i)
        if j > i:
            tag = (j - i, times[i], _fingerprint(values[i:j]))
            kept = model.hours.get(block)
            if kept is None or kept[0] != tag:
                ts, vs = _clean(times[i:j], values[i:j], settings)
                seasonal = model.profile(clock.week_slots_of(clock.local(ts)))
                kept = model.hours[block] = (tag, _sorted_median(sorted(map(operator.sub, vs, seasonal)))
                                             if ts else None)
            if kept[1] is not None:
                out[block] = (kept[1], i, j)
        i = j
    return out


def _fingerprint(values: Sequence[float]) -> int:
    # hash(nan) is per object since Python 3.10: non-finite values (never trained on) hash as None instead.
    if math.isfinite(sum(values)):
        return hash(tuple(values))
    return hash(tuple(v if math.isfinite(v) else None for v in values))


def _clean(times: Sequence[int], values: Sequence[float], settings: AnomalySettings) -> tuple[list[int], list[float]]:
    """``times`` and ``values`` without non-finite values and points in excluded ranges."""
    ts, vs = list(times), list(values)
    if not all(map(math.isfinite, vs)):
        kept = [(t, v) for t, v in zip(ts, vs) if math.isfinite(v)]
        ts, vs = [t for t, _ in kept], [v for _, v in kept]
    for start, end in settings.excluded:
        a, b = bisect.bisect_left(ts, start), bisect.bisect_left(ts, end)
        del ts[a:b], vs[a:b]
    return ts, vs


def _kept(times: Sequence[int], settings: AnomalySettings) -> list[int]:
    ts = list(times)
    for start, end in settings.excluded:
        del ts[bisect.bisect_left(ts, start):bisect.bisect_left(ts, end)]
    return ts


def _limits(non_negative: bool, unit: str | None, statistic: str | None) -> tuple[float, float]:
    # CloudWatch "ensures that the band doesn't extend outside of logical values": MemoryUtilization stays
    # within 0-100, Requests never below zero (CloudWatch_Anomaly_Detection.html).
    if unit == "Percent":
        return 0.0, 100.0
    if statistic in _NON_NEGATIVE_STATISTICS or unit not in _SIGNED_UNITS or non_negative:
        return 0.0, math.inf
    return -math.inf, math.inf



# ---------------------------------------------------------------------- model


class _LocalClock:
    """Local time-of-day slots in one timezone: the UTC offset is looked up twice per UTC day, and per
    quarter hour only on a day where it changes."""

    def __init__(self, zone: ZoneInfo, period: int) -> None:
        self.zone = zone
        self.slot_ms = min(period, 86_400) * 1000
        self.slots_per_day = -(-_DAY_MS // self.slot_ms)
        self.week_slots = 7 * self.slots_per_day
        self.hour_ms = max(self.slot_ms, _SPREAD_BUCKET_MS)
        self.hours_per_day = -(-_DAY_MS // self.hour_ms)
        self.neighbours = _PROFILE_NEIGHBOURHOOD_MS // self.slot_ms
        self._offsets: dict[int, int] = {}

    def offset(self, t: int) -> int:
        step = t // _OFFSET_STEP_MS
        offset = self._offsets.get(step)
        if offset is None:
            when = datetime.fromtimestamp(step * _OFFSET_STEP_MS / 1000, UTC)
            offset = int(when.astimezone(self.zone).utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
            self._offsets[step] = offset
        return offset

    def same_offset(self, start: int, end: int) -> bool:
        """Whether the UTC offset is the same from ``start`` to ``end`` (checked at every UTC midnight)."""
        offset = self.offset(start)
        return all(self.offset(day) == offset for day in range(start // _DAY_MS * _DAY_MS + _DAY_MS, end, _DAY_MS)) \
            and self.offset(end) == offset

    def local(self, times: Sequence[int]) -> list[int]:
        """Local epoch ms of each of ``times`` (ascending)."""
        out: list[int] = []
        i = 0
        while i < len(times):
            day = times[i] // _DAY_MS * _DAY_MS
            j = bisect.bisect_left(times, day + _DAY_MS, i)
            first, last = self.offset(day), self.offset(day + _DAY_MS - 1)
            if first == last:
                out.extend(map(first.__add__, times[i:j]))
            else:
                out.extend([t + self.offset(t) for t in times[i:j]])
            i = j
        return out

    def week_slots_of(self, local: Sequence[int]) -> list[int]:
        """Slot of the local week (Monday 00:00 first; 1970-01-01 was a Thursday)."""
        day, slot, n = _DAY_MS, self.slot_ms, self.slots_per_day
        return [((t // day + 3) % 7) * n + t % day // slot for t in local]

    def hour_of_slot(self, slot: int) -> int:
        """The spread bucket of a slot of the local day (by the slot's start)."""
        return slot * self.slot_ms // self.hour_ms

    def hours_of(self, local: Sequence[int]) -> list[int]:
        day, slot, hour = _DAY_MS, self.slot_ms, self.hour_ms
        return [t % day // slot * slot // hour for t in local]  # by the slot's start, as hour_of_slot


@dataclass(frozen=True)
class _Model:
    level: float  # the level at the cutoff, for evaluation after a data gap
    seasonal: array  # daily + shrunk weekly profile at every ``stride``-th slot of the local week
    stride: int
    spread: tuple[float, ...]  # per spread bucket (hour) of the local day
    dof: tuple[float, ...]  # the degrees of freedom of each spread, for its t widening
    floor: float  # the least spread (not an estimate: never widened)
    non_negative: bool  # the training data never went below 0
    # block (hour) -> ((count, first timestamp, hash of its values), median of its deseasonalised values)
    hours: dict[int, tuple[tuple[int, int, int], float | None]] = field(default_factory=dict, compare=False)

    def profile(self, week_slots: Sequence[int]) -> list[float]:
        """The seasonal term at each slot of the week, linear between the stored knots."""
        knots, stride = self.seasonal, self.stride
        if stride == 1:
            return [knots[i] for i in week_slots]
        n = len(knots)
        out = []
        for i in week_slots:
            j, r = divmod(i, stride)
            a = knots[j]
            out.append(a + (knots[(j + 1) % n] - a) * r / stride if r else a)
        return out


def _train(times: Sequence[int], values: Sequence[float], clock: _LocalClock, step_ms: int) -> _Model | None:
    gap = _period_guess(times)
    if not times or times[-1] - times[0] < _DAY_MS - gap:
        return None  # PENDING_TRAINING
    span_days = (times[-1] - times[0] + gap) / _DAY_MS
    ordered = sorted(values)
    level = _sorted_median(ordered)
    n_day, n_week = clock.slots_per_day, clock.week_slots
    stride = _stride(clock)
    n = len(times)
    # A series with no gap and no change of UTC offset is one run through the slots of the week: point i
    # is in slot (first + i) mod n_week, and a slot's values are one slice (the common case, ~3x faster).
    regular = times[-1] - times[0] == (n - 1) * clock.slot_ms and clock.same_offset(times[0], times[-1])
    if regular:
        values = list(values)
        first = clock.week_slots_of(clock.local(times[:1]))[0]
        by_slot = _turned([values[r::n_day] for r in range(n_day)], first % n_day)
    else:
        local = clock.local(times)
        week_slot = clock.week_slots_of(local)
        by_week_slot = [[] for _ in range(n_week)]
        for w, v in zip(week_slot, values):
            by_week_slot[w].append(v)
        by_slot = [list(chain.from_iterable(by_week_slot[s::n_day])) for s in range(n_day)]
    # Daily profile: per slot of the day the median over the days (by_slot), then the median of those over
    # the neighbourhood, at every stride-th slot.
    daily_knots = _pooled_medians([_median_or_none(b, -level) for b in by_slot], clock.neighbours, stride)
    week_knots = daily_knots * 7

    shrink = min(max((span_days - 7) / 7, 0.0), 1.0)
    if shrink > 0:
        # The same of what the daily profile leaves, per slot of the week; week slots laid end to end
        # (Monday 00:00 ... Sunday 23:59) so the neighbourhood crosses midnight.
        if regular and n <= 2 * n_week:  # up to two values a slot of the week: their mean is their median
            both = max(n - n_week, 0)
            by_position: list[float | None] = [(x + y) / 2 for x, y in zip(values[:both], values[n_week:])]
            by_position += values[both:n_week] + [None] * (n_week - min(n, n_week))
            week_medians = _turned(by_position, first)
        else:
            if regular:
                by_week_slot = _turned([values[r::n_week] for r in range(n_week)], first)
            week_medians = [_median_or_none(b, 0.0) for b in by_week_slot]
        daily = _expand(daily_knots, stride)
        centres = [None if m is None else m - level - d for m, d in zip(week_medians, daily * 7)]
        weekly = _pooled_medians(centres, clock.neighbours, stride)
        week_knots = [d + shrink * w for d, w in zip(week_knots, weekly)]
    seasonal = _expand(week_knots, stride)

    # Residuals as the band will see them: against the trailing level, not the in-sample one.
    if regular:
        turned = seasonal[first:] + seasonal[:first]
        deseasonalised = list(map(operator.sub, values, turned * (n // n_week + 1)))
    else:
        deseasonalised = [v - seasonal[w] for v, w in zip(values, week_slot)]  # type: ignore[arg-type]
    blocks = _block_medians(times, deseasonalised, step_ms)
    residuals: list[float] = []
    for block, (_, i, j) in blocks.items():
        recent = _level(blocks, block, step_ms, level)
        residuals.extend([y - recent for y in deseasonalised[i:j]])
    by_hour: list[list[float]] = [[] for _ in range(clock.hours_per_day)]
    if regular:
        for r in range(min(n, n_day)):
            by_hour[clock.hour_of_slot((first + r) % n_day)].extend(residuals[r::n_day])
    else:
        for h, e in zip(clock.hours_of(local), residuals):
            by_hour[h].append(e)
    for bucket in by_hour:
        bucket.sort()
    magnitudes = ordered if ordered[0] >= 0 else sorted(map(abs, values))
    scale = _sorted_median(magnitudes) or magnitudes[-1] or 1.0
    floor = _FLOOR_FRACTION * scale
    n_hours = clock.hours_per_day
    # Each bucket pooled with its neighbours (each bucket once: at a period of 12 h or a day they coincide).
    pools = [sorted(chain.from_iterable(by_hour[j] for j in {(i - 1) % n_hours, i, (i + 1) % n_hours}))
             for i in range(n_hours)]
    inflation = _fit_inflation(n, clock, shrink)
    spread = tuple(inflation * _robust_sigma(pool) for pool in pools)
    dof = tuple(max(_MAD_EFFICIENCY * len(pool), 1.0) for pool in pools)
    end_level = _level(blocks, (times[-1] // step_ms) + 1, step_ms, level)
    knots = array("d", week_knots)
    return _Model(end_level, knots, stride, spread, dof, floor, ordered[0] >= 0)


def _fit_inflation(n: int, clock: _LocalClock, shrink: float) -> float:
    """How much larger the error on new data is than a training residual, as a factor of the spread.

    The profile is fitted to the training points: with ``p`` parameters for ``n`` points each point weighs
    ``h = p / n`` in its own fit, so its residual keeps ``1 - h`` of the noise's variance, while a new point
    meets the noise plus the fit's error: ``1 + h``. Both also carry the trailing level's error, ``lv``
    (the median of the ``w`` points of the day before, themselves in-sample: ``(1 - h) x pi/2 / w``, one
    point: ``1 - h``). The factor is ``sqrt((1 + h + lv) / (1 - h + lv))``. A profile value pooled over
    ``2 x neighbours + 1`` slots is about one parameter per that many slots of the day (level included);
    the weekly correction adds six more per day's worth, times its shrink."""
    per_day = max(clock.slots_per_day / (2 * clock.neighbours + 1), 1.0)
    h = min(per_day * (1 + 6 * shrink) / n, 0.9)  # 0.9: a fit with as many parameters as points still trains
    w = clock.slots_per_day
    lv = (1 - h) * (math.pi / 2 if w > 2 else 1.0) / w
    return math.sqrt((1 + h + lv) / (1 - h + lv))


def _t_quantile(k: float, dof: float) -> float:
    """The quantile of Student's t with ``dof`` degrees of freedom at the normal tail beyond ``k``: the
    Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5), within 1 % for dof >= 5 and k <= 3, and still
    far wider than ``k`` for fewer degrees of freedom, if short of the exact value (which grows without
    bound: 12 for k = 4 at 5 degrees of freedom). It rises with ``k`` and tends to ``k`` as dof grows."""
    z2 = k * k
    terms = ((z2 + 1) / 4, ((5 * z2 + 16) * z2 + 3) / 96, (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384,
             ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160)
    return k * (1 + sum(g / dof ** (i + 1) for i, g in enumerate(terms)))


def _turned(buckets: list, first: int) -> list:
    """``buckets`` by position from ``first`` turned into buckets by slot: position r is slot (first + r) mod n."""
    return buckets[len(buckets) - first:] + buckets[:len(buckets) - first] if first else buckets


def _stride(clock: _LocalClock) -> int:
    # The profile is a median over +-15 minutes: it moves little from one slot to the next, so it is
    # computed at every third of the neighbourhood and drawn linearly between (1-minute data: every 5 min).
    stride = max(1, clock.neighbours // 3)
    while clock.slots_per_day % stride:
        stride -= 1
    return stride


def _median_or_none(bucket: list[float], shift: float) -> float | None:
    """The median of ``bucket`` plus ``shift`` (None for an empty bucket)."""
    if len(bucket) > 2:
        bucket.sort()
        return _sorted_median(bucket) + shift
    if bucket:
        return sum(bucket) / len(bucket) + shift
    return None


def _pooled_medians(centres: list[float | None], neighbours: int, stride: int) -> list[float]:
    """At every ``stride``-th index, the median of ``centres`` within ``neighbours`` either side (wrapping;
    0 where all are missing)."""
    n, width = len(centres), 2 * neighbours + 1
    wrapped = centres[n - neighbours:] + centres + centres[:neighbours]
    if None not in centres:
        return [_sorted_median(sorted(wrapped[i:i + width])) for i in range(0, n, stride)]
    out = []
    for i in range(0, n, stride):
        pool = sorted(c for c in wrapped[i:i + width] if c is not None)
        out.append(_sorted_median(pool) if pool else 0.0)
    return out


def _expand(knots: list[float], stride: int) -> list[float]:
    """``knots`` at every ``stride``-th slot, drawn linearly between (wrapping round) at every slot."""
    if stride == 1:
        return list(knots)
    following = knots[1:] + knots[:1]
    out = [0.0] * (len(knots) * stride)
    for r in range(stride):
        out[r::stride] = [a + (b - a) * r / stride for a, b in zip(knots, following)]
    return out


def _block_medians(times: Sequence[int], ys: Sequence[float], step_ms: int) -> dict[int, tuple[float, int, int]]:
    """Per level step (hour) of ``times``: the median of its ``ys`` and where it starts and ends in them."""
    out = {}
    i = 0
    while i < len(times):
        block = times[i] // step_ms
        j = bisect.bisect_left(times, (block + 1) * step_ms, i)
        out[block] = (_sorted_median(sorted(ys[i:j])), i, j)
        i = j
    return out


def _level(blocks: dict[int, tuple[float, int, int]], step: int, step_ms: int, default: float) -> float:
    """The level for a point in ``step``: the median of the block medians of the day before it."""
    found = sorted(m[0] for b in range(step - -(-_DAY_MS // step_ms), step) if (m := blocks.get(b)) is not None)
    return _sorted_median(found) if found else default


def _sorted_median(ordered: Sequence[float]) -> float:
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _robust_sigma(ordered: list[float]) -> float:
    """1.4826 x MAD of sorted residuals (1.2533 x mean absolute deviation when the MAD is 0)."""
    n = len(ordered)
    if not n:
        return 0.0
    centre = _sorted_median(ordered)
    split = bisect.bisect_left(ordered, centre)
    mad = _deviation(ordered, centre, split, n // 2)
    if n % 2 == 0:
        mad = (mad + _deviation(ordered, centre, split, n // 2 - 1)) / 2
    if mad > 0:
        return _MAD_TO_SIGMA * mad
    return _MEAN_AD_TO_SIGMA * sum(abs(e - centre) for e in ordered) / n


def _deviation(ordered: list[float], centre: float, split: int, k: int) -> float:
    """The k-th smallest (from 0) of ``|x - centre|`` over sorted ``ordered``, without sorting the deviations:
    below ``split`` they ascend leftwards, from it rightwards, and the k-th of two sorted runs is bisected."""
    n_left, n_right = split, len(ordered) - split

    def left(m: int) -> float:
        return centre - ordered[split - 1 - m]

    def right(m: int) -> float:
        return ordered[split + m] - centre

    lo, hi = max(0, k + 1 - n_right), min(k + 1, n_left)
    while lo < hi:  # the first count taken from the left run after which its next is not below the right's
        a = (lo + hi) // 2
        if left(a) < right(k - a):
            lo = a + 1
        else:
            hi = a
    b = k + 1 - lo
    return max(left(lo - 1) if lo > 0 else -math.inf, right(b - 1) if b > 0 else -math.inf)


def _period_guess(ts: Sequence[int]) -> int:
    return min(map(operator.sub, ts[1:], ts[:-1]), default=0)
