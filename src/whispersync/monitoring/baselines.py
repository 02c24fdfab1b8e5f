"""Baselines (plan §10): what is normal for each hour of a day, and the daily job that stores it.

A baseline is the anomaly-detection band (``metrics.anomaly_band``, the model ``ANOMALY_DETECTION_BAND``
draws; its module docstring explains it) evaluated at each hour of one local day, on the metric's
statistic per hour: for each hour the *expected* value (the band's centre: the band at k -> 0, clamped
to logical values as the band is) and the *lower*/*upper* bounds at ``k`` standard deviations. One model,
not a second statistic beside it: what `whispersync baselines show` prints, what the job stores and what
an anomaly alarm on the same metric and statistic compares with are the same numbers. We chose it over a
plain per-hour median with p10/p90 because the band model is already robust to incidents in the
training data, follows level shifts within half a day and handles daylight-saving days; a p10/p90 of 7
samples per hour is mostly noise.

``window_days`` (the plan's Baseline, default 7 as the seed's 7-day query) limits the training to the
days before the day looked at, by excluding older data from the band's 14-day window (one excluded
range). Under 14 days the state is TRAINED_INSUFFICIENT_DATA; with under a day of data before the day,
PENDING_TRAINING and no numbers at all (never zeros).

The job (``BaselineJob``) runs at start and then hourly; for each of the plan's baselines whose baseline
for today (UTC) is not stored yet it computes it (k=2, UTC hours), stores it in the monitoring database
(``BaselineStore``: `whispersync baselines list`) and publishes it, so dashboards draw it with plain
metric queries: namespace ``WhisperSync/Baselines``, metrics ``Expected``, ``LowerBound`` and
``UpperBound``, dimension ``Baseline`` = the baseline's name, one point at the start of each hour of the
day (statistic Average; the points are ahead of the clock by up to a day, as a forecast is. CloudWatch
would refuse points more than two hours ahead: on AWS the job must publish each hour's point when it comes).
Once a day, because the model itself is trained once per UTC day; running hourly only makes a process
that was asleep or down at midnight catch up.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from whispersync import catalog, sqlite_db
from whispersync.monitoring.metrics import AnomalySettings, MetricQueryError, Series, anomaly_band, training_state
from whispersync.monitoring.metrics import iso8601
from whispersync.periodic import PeriodicTask
from whispersync.plan import Baseline

__all__ = [
    "NAMESPACE",
    "BaselineJob",
    "BaselineStore",
    "DayBaseline",
    "HourBand",
    "compute_day",
    "day_of",
]

NAMESPACE = catalog.BASELINES
EXPECTED, LOWER, UPPER = catalog.BASELINE_EXPECTED.name, catalog.BASELINE_LOWER.name, catalog.BASELINE_UPPER.name
DIMENSION = catalog.BASELINE_EXPECTED.varying[0]
DEFAULT_K = 2.0
TRAINING_DAYS = 14  # the band model's longest training window
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_PERIOD = 3600
# The band at k -> 0 is its centre; k must be positive, so "-> 0" is this.
_CENTRE_K = 1e-9
_STATES = ("PENDING_TRAINING", "TRAINED_INSUFFICIENT_DATA", "TRAINED")


@dataclass(frozen=True)
class HourBand:
    """One hour of a baseline: its start, expected value and bounds (None while PENDING_TRAINING)."""

    start_ms: int
    expected: float | None
    lower: float | None
    upper: float | None
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": iso8601(self.start_ms), "expected": self.expected, "lower": self.lower,
                "upper": self.upper, "state": self.state}


@dataclass(frozen=True)
class DayBaseline:
    """A metric statistic's expected band for each hour of one local day."""

    namespace: str
    metric_name: str
    statistic: str
    dimensions: Mapping[str, str]
    day: str  # ISO date, local in `timezone`
    timezone: str
    k: float
    window_days: int
    hours: tuple[HourBand, ...]
    name: str | None = None  # the plan baseline's name
    computed_ms: int = 0
    unit: str | None = None

    @property
    def state(self) -> str:
        """The best-trained state among the hours (PENDING_TRAINING when no hour has a band)."""
        return max((h.state for h in self.hours), key=_STATES.index, default="PENDING_TRAINING")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace, "metric_name": self.metric_name,
                "statistic": self.statistic, "dimensions": dict(self.dimensions), "day": self.day,
                "timezone": self.timezone, "k": self.k, "window_days": self.window_days, "state": self.state,
                "unit": self.unit, "computed": iso8601(self.computed_ms) if self.computed_ms else None,
                "hours": [h.to_dict() for h in self.hours]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], computed_ms: int) -> DayBaseline:
        hours = tuple(HourBand(_parse_iso(h["start"]), h["expected"], h["lower"], h["upper"], h["state"])
                      for h in d["hours"])
        return cls(d["namespace"], d["metric_name"], d["statistic"], d["dimensions"], d["day"], d["timezone"],
                   d["k"], d["window_days"], hours, d.get("name"), computed_ms, d.get("unit"))


def day_of(epoch_ms: int, timezone: str = "UTC") -> date:
    """The local date of ``epoch_ms`` in ``timezone``."""
    return datetime.fromtimestamp(epoch_ms / 1000, ZoneInfo(timezone)).date()


def day_hours(day: date, timezone: str = "UTC") -> list[int]:
    """The start (epoch ms) of each local hour of ``day``: 23 or 25 on a daylight-saving day."""
    zone = ZoneInfo(timezone)
    start = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)
    following = day + timedelta(days=1)
    end = int(datetime(following.year, following.month, following.day, tzinfo=zone).timestamp() * 1000)
    return list(range(start, end, _HOUR_MS))


def compute_day(store: Any, namespace: str, metric_name: str, *, statistic: str = "Average",
                dimensions: Mapping[str, str] | None = None, day: date, timezone: str = "UTC",
                k: float = DEFAULT_K, window_days: int = TRAINING_DAYS, name: str | None = None,
                now_ms: int | None = None) -> DayBaseline:
    """The expected band of each hour of ``day`` (local in ``timezone``) for one metric statistic per hour.

    ``store`` is the telemetry store (``metric_statistics``). MetricQueryError for a bad timezone, k or
    statistic."""
    if type(window_days) is not int or not 1 <= window_days <= TRAINING_DAYS:
        raise MetricQueryError(f"window_days must be an integer from 1 to {TRAINING_DAYS}, got {window_days!r}")
    settings = AnomalySettings(timezone=timezone)  # checks the timezone
    hours = day_hours(day, timezone)
    first = hours[0]
    # The band's training window for the day's first hour: 14 days before its UTC day (on the hour grid).
    cutoff = first // _DAY_MS * _DAY_MS
    fetch_from = first - math.ceil((first - (cutoff - TRAINING_DAYS * _DAY_MS)) / _HOUR_MS) * _HOUR_MS
    if window_days < TRAINING_DAYS:
        settings = AnomalySettings(timezone=timezone,
                                   excluded=((fetch_from, cutoff - window_days * _DAY_MS),))
    dims = dict(dimensions or {})
    try:
        found = store.metric_statistics(namespace, metric_name, dimensions=dims, statistic=statistic,
                                        period=_PERIOD, start_ms=fetch_from, end_ms=hours[-1] + _HOUR_MS,
                                        origin_ms=fetch_from)
    except ValueError as exc:  # a statistic the store does not compute
        raise MetricQueryError(str(exc)) from None
    history = Series(list(found.timestamps), list(found.values))
    band = dict(_band(history, hours, k, settings, found.unit, statistic))
    centre = dict(_band(history, hours, _CENTRE_K, settings, found.unit, statistic))
    out = []
    for t in hours:
        state = training_state(history, t, settings)
        if t in band and t in centre:
            (upper, lower), (c_upper, c_lower) = band[t], centre[t]
            out.append(HourBand(t, (c_upper + c_lower) / 2, lower, upper, state))
        else:
            out.append(HourBand(t, None, None, None, "PENDING_TRAINING"))
    return DayBaseline(namespace, metric_name, statistic, dims, day.isoformat(), timezone, float(k), window_days,
                       tuple(out), name, int(time.time() * 1000) if now_ms is None else now_ms, found.unit)


def _band(history: Series, hours: Sequence[int], k: float, settings: AnomalySettings, unit: str | None,
          statistic: str) -> list[tuple[int, tuple[float, float]]]:
    upper, lower = anomaly_band(history, hours, period=_PERIOD, k=k, settings=settings, unit=unit,
                                statistic=statistic)
    return [(t, (u, v)) for t, u, v in zip(upper.timestamps, upper.values, lower.values)]


def compute_baseline(store: Any, baseline: Baseline, *, day: date, timezone: str = "UTC", k: float = DEFAULT_K,
                     now_ms: int | None = None) -> DayBaseline:
    """``compute_day`` for one of the plan's baselines (its metric, statistic, dimensions and window)."""
    return compute_day(store, baseline.namespace, baseline.metric_name, statistic=baseline.statistic,
                       dimensions=baseline.dimensions, day=day, timezone=timezone, k=k,
                       window_days=baseline.window_days, name=baseline.name, now_ms=now_ms)


def publish(store: Any, baseline: DayBaseline) -> int:
    """Put the baseline's hours as WhisperSync/Baselines metrics (hours still PENDING_TRAINING are left out)."""
    dims = {DIMENSION: baseline.name or baseline.metric_name}
    records = [{"namespace": NAMESPACE, "name": metric, "value": value, "timestamp": h.start_ms,
                "dimensions": dims}
               for h in baseline.hours if h.expected is not None
               for metric, value in ((EXPECTED, h.expected), (LOWER, h.lower), (UPPER, h.upper))]
    return store.put_metrics(records) if records else 0


# ---------------------------------------------------------------------- storage and the daily job

_SCHEMA = """
CREATE TABLE IF NOT EXISTS baselines (
    name TEXT NOT NULL,
    day TEXT NOT NULL,
    computed_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (name, day)
);
"""


class BaselineStore:
    """The computed baselines, one per plan baseline and day, in the monitoring database."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._connections = sqlite_db.ThreadConnections(self.path, timeout=30, setup=self._setup)

    def _setup(self, con: sqlite3.Connection) -> None:
        con.executescript(_SCHEMA)

    def _con(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()

    def put(self, baseline: DayBaseline) -> None:
        self._con().execute(
            "INSERT OR REPLACE INTO baselines (name, day, computed_ms, state, body) VALUES (?, ?, ?, ?, ?)",
            (baseline.name, baseline.day, baseline.computed_ms, baseline.state, orjson.dumps(baseline.to_dict())))

    def has(self, name: str, day: str) -> bool:
        return self._con().execute("SELECT 1 FROM baselines WHERE name = ? AND day = ?", (name, day)).fetchone() \
            is not None

    def latest(self) -> list[DayBaseline]:
        """Each baseline's latest day, by name."""
        rows = self._con().execute(
            "SELECT b.computed_ms, b.body FROM baselines b JOIN (SELECT name, max(day) AS day FROM baselines"
            " GROUP BY name) m ON b.name = m.name AND b.day = m.day ORDER BY b.name").fetchall()
        return [DayBaseline.from_dict(orjson.loads(body), computed_ms) for computed_ms, body in rows]

    def prune(self, *, before_day: str) -> int:
        """Delete the baselines of days before ``before_day`` (ISO date); how many went."""
        return self._con().execute("DELETE FROM baselines WHERE day < ?", (before_day,)).rowcount


class BaselineJob:
    """Computes, stores and publishes today's (UTC) baseline of each of the plan's baselines, once a day.

    ``run()`` is one pass (what the schedule calls: at start, then every ``interval`` seconds); it
    computes only the baselines whose today is not stored yet, and returns them."""

    KEEP_DAYS = 35

    def __init__(self, baselines: Callable[[], Sequence[Baseline]], store: Any, baseline_store: BaselineStore, *,
                 clock: Callable[[], float] = time.time, interval: float = 3600.0, log: Any = None) -> None:
        self.baselines = baselines
        self.store = store
        self.baseline_store = baseline_store
        self.clock = clock
        self._log = log
        self._task = None if log is None else PeriodicTask("baselines", interval, self.run, log, run_immediately=True)

    def start(self) -> None:
        if self._task is not None:
            self._task.start()

    def stop(self) -> None:
        if self._task is not None:
            self._task.stop()
        self.baseline_store.close()

    def run(self) -> list[DayBaseline]:
        now_ms = int(self.clock() * 1000)
        today = day_of(now_ms)
        done = []
        for baseline in self.baselines():
            if self.baseline_store.has(baseline.name, today.isoformat()):
                continue
            try:
                computed = compute_baseline(self.store, baseline, day=today, now_ms=now_ms)
                publish(self.store, computed)
            except Exception as exc:  # noqa: BLE001 - one baseline that cannot be computed must not stop the others
                if self._log is None:
                    raise
                self._log.exception("baseline failed", baseline=baseline.name, error_type=type(exc).__name__)
                continue  # tried again at the next run
            self.baseline_store.put(computed)
            done.append(computed)
        if done:
            self.baseline_store.prune(before_day=(today - timedelta(days=self.KEEP_DAYS)).isoformat())
        return done


def _parse_iso(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000)
