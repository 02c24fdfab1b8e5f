"""The points outside their anomaly detection bands (`whispersync anomalies list`).

Every anomaly detection alarm is looked at with its own band (its metrics, period and ``k``),
and every stored detector no alarm uses with ``ANOMALY_DETECTION_BAND(m1, 2)`` (CloudWatch's
default width) on 5-minute data. Each point outside its band is reported with how far outside
it was: in the metric's units (``distance``: positive above the band, negative below) and in
band widths, so a 3-width miss on a narrow band stands out next to a small miss on a wide one.
"""

from __future__ import annotations

from typing import Any

from whispersync.monitoring.alarms._detectors import band_target, detector_for_alarm
from whispersync.monitoring.alarms._engine import AlarmEngine, outside_band
from whispersync.monitoring.metrics import MetricQueryError, get_metric_data, iso8601
from whispersync.plan import MetricAlarm, MetricDataQuery

__all__ = ["find_anomalies"]

_DEFAULT_K = 2
_DETECTOR_PERIOD = 300


def find_anomalies(engine: AlarmEngine, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The points outside their bands in ``[start_ms, end_ms)``, newest first."""
    found: list[dict[str, Any]] = []
    used = set()
    for alarm in engine.alarms().values():
        if not isinstance(alarm, MetricAlarm) or alarm.threshold_metric_id is None:
            continue
        detector, target = detector_for_alarm(alarm), band_target(alarm)
        if detector is None or target is None:
            continue
        used.add(detector.key)
        found += _outside(engine, alarm.metrics, alarm.threshold_metric_id, detector, target, start_ms, end_ms,
                          {"alarm": alarm.name})
    detectors = getattr(engine.alarm_store, "detectors", None)
    for detector in detectors.list(kinds=("SINGLE_METRIC", "METRIC_MATH")) if detectors is not None else []:
        if detector.key in used:
            continue
        queries = detector.query(_DETECTOR_PERIOD)
        target = next(q.id for q in queries if q.return_data)
        band = MetricDataQuery("band", expression=f"ANOMALY_DETECTION_BAND({target}, {_DEFAULT_K})")
        found += _outside(engine, (*queries, band), "band", detector, target, start_ms, end_ms, {"alarm": None})
    found.sort(key=lambda item: item["timestamp"], reverse=True)
    return found


def _outside(engine: AlarmEngine, queries: Any, band_id: str, detector: Any, target: str, start_ms: int,
             end_ms: int, extra: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        results = get_metric_data(engine.store, queries, start_ms=start_ms, end_ms=end_ms, now_ms=end_ms,
                                  anomaly_settings={target: engine.detector_settings(detector, end_ms)})
    except MetricQueryError as exc:
        return [{**extra, "metric": _name(detector), "error": str(exc), "timestamp": iso8601(end_ms)}]
    bands = [r for r in results if r.id == band_id]
    series = [r for r in results if r.id != band_id]
    if len(bands) != 2 or len(series) != 1:
        return []
    uppers, lowers = (dict(zip(r.timestamps, r.values)) for r in bands)
    out = []
    for t, value in zip(series[0].timestamps, series[0].values):
        if t not in uppers or t not in lowers:
            continue  # no band yet (PENDING_TRAINING)
        upper, lower = uppers[t], lowers[t]
        distance = outside_band(value, (upper, lower))
        if distance == 0:
            continue
        width = upper - lower
        out.append({**extra, "metric": _name(detector), "timestamp": iso8601(t), "value": value, "upper": upper,
                    "lower": lower, "distance": distance,
                    "band_widths": abs(distance) / width if width > 0 else None})
    return out


def _name(detector: Any) -> str:
    if detector.metrics:
        returned = next(q for q in detector.metrics if q.return_data)
        return returned.expression or returned.id
    dims = ",".join(f"{k}={v}" for k, v in sorted(detector.dimensions.items()))
    return f"{detector.namespace} {detector.metric_name}{' ' + dims if dims else ''} {detector.stat}"
