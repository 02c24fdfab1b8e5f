"""Anomaly detectors: what PutAnomalyDetector stores, kept in the home's monitoring database.

A detector is the model behind ``ANOMALY_DETECTION_BAND``: one metric *and* statistic
(``SingleMetricAnomalyDetector``: namespace, metric name, dimensions, stat) or one metric-math
expression (``MetricMathAnomalyDetector``: queries of which exactly one returns data), with a
configuration of at most 10 ``ExcludedTimeRanges`` and a ``MetricTimezone``
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutAnomalyDetector.html,
API_AnomalyDetectorConfiguration.html). Putting a detector with the same metric and stat again
replaces its configuration; DescribeAnomalyDetectors lists them with their ``StateValue``
(PENDING_TRAINING, TRAINED_INSUFFICIENT_DATA, TRAINED: API_AnomalyDetector.html), which we
compute from the data the model would train on (``training_state``).

"If you create an alarm based on anomaly detection [...] CloudWatch creates the anomaly
detection model" (CloudWatch_Anomaly_Detection.html): ``detector_for_alarm`` gives the detector
an alarm's band needs and the engine creates it when missing.

Beyond CloudWatch, ``automatic_exclusions`` turns maintenance windows (``_maintenance``),
remediation actions (the remediation audit) and the incidents a user marks
(``AnomalyDetectorStore.mark_incident``, ``whispersync anomalies mark-incident``) into excluded
ranges of every detector, so planned work, our own fixes and known outages never teach the model
what "normal" is.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from whispersync import sqlite_db
from whispersync.monitoring.metrics import (
    AnomalySettings,
    MetricQueryError,
    get_metric_data,
    iso8601,
    training_state,
)
from whispersync.plan import MetricAlarm, MetricDataQuery, MetricStat

__all__ = [
    "AnomalyDetector",
    "AnomalyDetectorStore",
    "automatic_exclusions",
    "band_target",
    "detector_for_alarm",
    "detector_state",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS anomaly_detectors (
    key TEXT PRIMARY KEY,
    detector BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    marked_ms INTEGER NOT NULL
);
"""
MAX_REASON = 1024
MAX_EXCLUDED_RANGES = 10  # API_PutAnomalyDetector: "You can specify as many as 10 time ranges."
_DAY_MS = 86_400_000
_TRAINING_MS = 14 * _DAY_MS
_STATE_PERIOD = 300  # a detector has no period of its own; its state is judged on 5-minute data
_BAND_CALL = re.compile(r"ANOMALY_DETECTION_BAND\s*\(\s*([A-Za-z][A-Za-z0-9_]*)", re.IGNORECASE)
# How long after a remediation action the metric is not "normal" (a restart, a resize settling down).
REMEDIATION_EXCLUSION_MS = 15 * 60_000


@dataclass(frozen=True)
class AnomalyDetector:
    """A single-metric detector (``namespace``, ``metric_name``, ``dimensions``, ``stat``) or a
    metric-math one (``metrics``, exactly one returning data). ``excluded`` are ``[start_ms, end_ms)``."""

    namespace: str | None = None
    metric_name: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    stat: str | None = None
    metrics: tuple[MetricDataQuery, ...] = ()
    timezone: str = "UTC"
    excluded: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "excluded", tuple((int(s), int(e)) for s, e in self.excluded))
        object.__setattr__(self, "dimensions", dict(self.dimensions))
        if self.metrics:
            if any(x is not None for x in (self.namespace, self.metric_name, self.stat)) or self.dimensions:
                raise ValueError("a metric math detector takes metrics only, not namespace, metric name,"
                                 " dimensions or stat")
            returned = [q for q in self.metrics if q.return_data]
            if len(returned) != 1:
                raise ValueError(f"a metric math detector needs exactly one query returning data, got {len(returned)}")
        else:
            for name, value in (("namespace", self.namespace), ("metric_name", self.metric_name),
                                ("stat", self.stat)):
                if not isinstance(value, str) or not value:
                    raise ValueError(f"{name}: is required for a single-metric detector")
            try:
                MetricStat.parse_statistic(self.stat)
            except ValueError as exc:
                raise ValueError(f"stat: {exc}") from None
        if len(self.excluded) > MAX_EXCLUDED_RANGES:
            raise ValueError(f"excluded: at most {MAX_EXCLUDED_RANGES} excluded time ranges, got {len(self.excluded)}")
        try:
            AnomalySettings(self.timezone, self.excluded)
        except MetricQueryError as exc:
            raise ValueError(str(exc)) from None

    @property
    def kind(self) -> str:
        """DescribeAnomalyDetectors' AnomalyDetectorTypes: SINGLE_METRIC or METRIC_MATH."""
        return "METRIC_MATH" if self.metrics else "SINGLE_METRIC"

    @property
    def key(self) -> str:
        """The detector's identity: the metric and stat (or the queries), not its configuration."""
        if self.metrics:
            return "math:" + orjson.dumps([q.to_dict() for q in self.metrics], option=orjson.OPT_SORT_KEYS).decode()
        return "single:" + orjson.dumps([self.namespace, self.metric_name, sorted(self.dimensions.items()),
                                         self.stat]).decode()

    def settings(self, extra: Iterable[tuple[int, int]] = (), *, at_ms: int | None = None) -> AnomalySettings:
        """The band's settings: this configuration plus ``extra`` excluded ranges (the automatic ones).

        Only ranges that touch the 14 training days before ``at_ms`` matter; overlapping ones are
        merged and, past 10, the most recent are kept (the band's limit is CloudWatch's 10).
        """
        ranges = sorted({*self.excluded, *extra})
        if at_ms is not None:
            ranges = [(s, e) for s, e in ranges if e > at_ms - _TRAINING_MS - _DAY_MS and s < at_ms]
        merged: list[list[int]] = []
        for start, end in ranges:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return AnomalySettings(self.timezone, tuple((s, e) for s, e in merged[-MAX_EXCLUDED_RANGES:]))

    def query(self, period: int = _STATE_PERIOD) -> list[MetricDataQuery]:
        """The detector's series as GetMetricData queries (the one returning data is the series)."""
        if self.metrics:
            return list(self.metrics)
        stat = MetricStat(self.namespace or "", self.metric_name or "", dict(self.dimensions), self.stat or "",
                          period)
        return [MetricDataQuery("m1", metric_stat=stat)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.metrics:
            out["metrics"] = [q.to_dict() for q in self.metrics]
        else:
            out.update(namespace=self.namespace, metric_name=self.metric_name, dimensions=dict(self.dimensions),
                       stat=self.stat)
        out["configuration"] = {"timezone": self.timezone, "excluded": [list(r) for r in self.excluded]}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnomalyDetector:
        config = data.get("configuration") or {}
        common = {"timezone": config.get("timezone", "UTC"),
                  "excluded": tuple(tuple(r) for r in config.get("excluded", ()))}
        if data.get("metrics"):
            return cls(metrics=tuple(MetricDataQuery.from_dict(q) for q in data["metrics"]), **common)
        return cls(namespace=data.get("namespace"), metric_name=data.get("metric_name"),
                   dimensions=data.get("dimensions") or {}, stat=data.get("stat"), **common)


def band_target(alarm: MetricAlarm) -> str | None:
    """The id an anomaly detection alarm's ``ANOMALY_DETECTION_BAND(id, k)`` draws its band for."""
    query = alarm.band_query
    if query is None or query.expression is None:
        return None
    match = _BAND_CALL.search(query.expression)
    return match.group(1) if match else None


def detector_for_alarm(alarm: MetricAlarm) -> AnomalyDetector | None:
    """The detector (default configuration) behind an anomaly detection alarm's band, else None."""
    target = band_target(alarm)
    by_id = {q.id: q for q in alarm.metrics}
    query = by_id.get(target or "")
    if query is None:
        return None
    if query.metric_stat is not None:
        s = query.metric_stat
        return AnomalyDetector(namespace=s.namespace, metric_name=s.name, dimensions=dict(s.dimensions),
                               stat=s.statistic)
    # A band on an expression: the alarm's queries but the band, the expression being the one returned.
    from dataclasses import replace

    queries = tuple(replace(q, return_data=q.id == target) for q in alarm.metrics if q.id != alarm.threshold_metric_id)
    return AnomalyDetector(metrics=queries)


class AnomalyDetectorStore:
    """The detectors in one SQLite file; ``connections`` shares an open store's (then its close() closes)."""

    def __init__(self, path: Path, *, connections: sqlite_db.ThreadConnections | None = None) -> None:
        self.path = Path(path)
        self._own = connections is None
        if connections is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connections = sqlite_db.ThreadConnections(self.path, timeout=30)
        self._connections = connections
        self._con().executescript(_SCHEMA)

    def _con(self) -> sqlite3.Connection:
        return self._connections.get()

    def close(self) -> None:
        if self._own:
            self._connections.close()

    def put(self, detector: AnomalyDetector, *, now_ms: int | None = None) -> bool:
        """Create or replace (same metric and stat: a new configuration); True when it replaced one."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._con() as con:
            existed = con.execute("SELECT 1 FROM anomaly_detectors WHERE key = ?", (detector.key,)).fetchone()
            con.execute("INSERT OR REPLACE INTO anomaly_detectors (key, detector, updated_ms) VALUES (?, ?, ?)",
                        (detector.key, orjson.dumps(detector.to_dict()), now_ms))
        return existed is not None

    def get(self, detector: AnomalyDetector) -> AnomalyDetector | None:
        """The stored detector with ``detector``'s metric and stat (its stored configuration), or None."""
        row = self._con().execute("SELECT detector FROM anomaly_detectors WHERE key = ?", (detector.key,)).fetchone()
        return None if row is None else AnomalyDetector.from_dict(orjson.loads(row[0]))

    def ensure(self, detector: AnomalyDetector, *, now_ms: int | None = None) -> AnomalyDetector:
        """The stored detector, created with ``detector``'s configuration when missing (as an alarm does)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._con() as con:
            con.execute("INSERT OR IGNORE INTO anomaly_detectors (key, detector, updated_ms) VALUES (?, ?, ?)",
                        (detector.key, orjson.dumps(detector.to_dict()), now_ms))
        return self.get(detector) or detector

    def delete(self, detector: AnomalyDetector) -> bool:
        with self._con() as con:
            return con.execute("DELETE FROM anomaly_detectors WHERE key = ?", (detector.key,)).rowcount > 0

    def list(self, *, namespace: str | None = None, metric_name: str | None = None,
             dimensions: Mapping[str, str] | None = None, kinds: Sequence[str] = ("SINGLE_METRIC",)
             ) -> list[AnomalyDetector]:
        """DescribeAnomalyDetectors' filters: single-metric ones by namespace, name and dimensions
        (each given dimension must match), metric-math ones only when ``kinds`` names METRIC_MATH."""
        rows = self._con().execute("SELECT detector FROM anomaly_detectors ORDER BY key").fetchall()
        out = []
        for (blob,) in rows:
            detector = AnomalyDetector.from_dict(orjson.loads(blob))
            if detector.kind not in kinds:
                continue
            if detector.kind == "SINGLE_METRIC" and (
                    (namespace is not None and detector.namespace != namespace)
                    or (metric_name is not None and detector.metric_name != metric_name)
                    or any(detector.dimensions.get(k) != v for k, v in (dimensions or {}).items())):
                continue
            out.append(detector)
        return out


    # -- incidents a user marks: excluded from every detector's training

    def mark_incident(self, start_ms: int, end_ms: int, reason: str, *, now_ms: int | None = None) -> dict[str, Any]:
        """Record ``[start_ms, end_ms)`` as an incident; ValueError for an empty range or reason."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if end_ms <= start_ms:
            raise ValueError("an incident must end after it starts")
        if end_ms > now_ms + _DAY_MS:
            raise ValueError("an incident cannot end more than a day from now")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise ValueError(f"reason: say what happened, in 1 to {MAX_REASON} characters")
        with self._con() as con:
            cur = con.execute("INSERT INTO incidents (start_ms, end_ms, reason, marked_ms) VALUES (?, ?, ?, ?)",
                              (int(start_ms), int(end_ms), reason.strip(), now_ms))
        return self.incident(int(cur.lastrowid or 0)) or {}

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        row = self._con().execute("SELECT id, start_ms, end_ms, reason, marked_ms FROM incidents WHERE id = ?",
                                  (incident_id,)).fetchone()
        return None if row is None else _incident(row)

    def incidents(self, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The marked incidents, most recent first."""
        rows = self._con().execute("SELECT id, start_ms, end_ms, reason, marked_ms FROM incidents"
                                   " ORDER BY start_ms DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [_incident(row) for row in rows]

    def unmark_incident(self, incident_id: int) -> bool:
        with self._con() as con:
            return con.execute("DELETE FROM incidents WHERE id = ?", (incident_id,)).rowcount > 0


def _incident(row: Sequence[Any]) -> dict[str, Any]:
    incident_id, start_ms, end_ms, reason, marked_ms = row
    return {"id": incident_id, "start_ms": start_ms, "end_ms": end_ms, "start": iso8601(start_ms),
            "end": iso8601(end_ms), "reason": reason, "marked_at": iso8601(marked_ms)}


def detector_state(store: Any, detector: AnomalyDetector, at_ms: int,
                   extra: Iterable[tuple[int, int]] = ()) -> str:
    """PENDING_TRAINING, TRAINED_INSUFFICIENT_DATA or TRAINED at ``at_ms``, from the data it would train on."""
    start = (at_ms // _DAY_MS) * _DAY_MS - _TRAINING_MS
    try:
        results = get_metric_data(store, detector.query(), start_ms=start, end_ms=max(at_ms, start + 1),
                                  now_ms=at_ms, scan_by="TimestampAscending")
    except MetricQueryError:
        return "PENDING_TRAINING"
    if not results:
        return "PENDING_TRAINING"
    from whispersync.monitoring.metrics import Series

    r = results[0]
    series = Series(list(r.timestamps), list(r.values), r.label)
    return training_state(series, at_ms, detector.settings(extra, at_ms=at_ms))


def automatic_exclusions(maintenance: Any = None, remediation_entries: Iterable[Mapping[str, Any]] = (),
                         incidents: Iterable[Mapping[str, Any]] = (), *, now_ms: int) -> list[tuple[int, int]]:
    """Excluded ranges nobody has to type into each detector: every maintenance window (as long as it
    really lasted), the ``REMEDIATION_EXCLUSION_MS`` after each remediation action that changed
    something, and each incident a user marked."""
    out: list[tuple[int, int]] = [(int(i["start_ms"]), int(i["end_ms"])) for i in incidents]
    if maintenance is not None:
        for window in maintenance.list(now_ms, limit=1000):
            start = _ms(window["started_at"])
            end = _ms(window["ended_at"] or window["ends_at"])
            end = min(end, _ms(window["ends_at"]))
            if end > start:
                out.append((start, end))
    for entry in remediation_entries:  # RemediationAudit.entries(): occurred_at, result "executed"
        if entry.get("result") == "executed" and entry.get("occurred_at"):
            at = _ms(entry["occurred_at"])
            out.append((at, at + REMEDIATION_EXCLUSION_MS))
    return out


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
