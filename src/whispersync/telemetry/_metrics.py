"""Metric datapoints in CloudWatch's model: namespace, name, unit, dimensions, value."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from ._emf import MAX_DIMENSION_VALUE, MAX_DIMENSIONS, MAX_NAME, Unit

if TYPE_CHECKING:
    from ._telemetry import Telemetry

_UNITS = Unit.ALL


_isfinite = math.isfinite
_CHECKED_MAX = 4096
_DIMENSION_NAMES: set[str] = set()  # dimension names that passed the checks


def _check_identity(namespace: object, name: object, unit: object) -> None:
    if unit not in _UNITS:
        raise ValueError(f"unit {unit!r} is not a CloudWatch standard unit (see Unit.ALL)")
    if type(namespace) is not str or not 0 < len(namespace) <= MAX_NAME:
        raise ValueError(f"namespace must be a non-empty string, got {namespace!r}")
    if type(name) is not str or not 0 < len(name) <= MAX_NAME:
        raise ValueError(f"metric name must be a non-empty string, got {name!r}")


def _check_value(value: object) -> None:
    """Raise ValueError unless ``value`` is a finite int or float (not a bool)."""
    kind = type(value)
    if kind is not float and kind is not int:
        if kind is bool or not isinstance(value, (int, float)):
            raise ValueError(f"metric value must be a number, got {kind.__name__}")
    if not _isfinite(value):  # type: ignore[arg-type]
        raise ValueError(f"metric value must be finite, got {value!r}")


def _check_dimensions(name: str, dimensions: Mapping[str, str]) -> None:
    """Raise ValueError for dimensions CloudWatch would refuse; remember the names that pass."""
    if len(dimensions) > MAX_DIMENSIONS:
        raise ValueError(f"{len(dimensions)} dimensions; CloudWatch allows {MAX_DIMENSIONS}")
    for key, dim_value in dimensions.items():
        if type(key) is not str or key not in _DIMENSION_NAMES:
            if type(key) is not str or not key or key == "_aws":
                raise ValueError(f"dimension name must be a non-empty string, got {key!r}")
            if len(_DIMENSION_NAMES) < _CHECKED_MAX:
                _DIMENSION_NAMES.add(key)
        if type(dim_value) is not str or not 0 < len(dim_value) <= MAX_DIMENSION_VALUE:
            raise ValueError(f"dimension {key!r} needs a 1-{MAX_DIMENSION_VALUE} character string value")
    if name in dimensions:
        raise ValueError(f"metric name {name!r} is also a dimension name")


def _records(timestamp_ms: int, batch: list) -> list[dict]:
    """record_many's records: the record put() makes, key for key (the sinks see no difference).

    *batch* is flat, namespace, name, unit, value, dimensions of each point in turn: no
    tuple per point for the garbage collector to count while the batch waits (DRAIN_AT).
    """
    return [{"timestamp": timestamp_ms, "namespace": namespace, "name": name, "unit": unit, "value": value,
             "dimensions": dims if dims is not None else {}}
            for namespace, name, unit, value, dims in zip(batch[::5], batch[1::5], batch[2::5], batch[3::5],
                                                         batch[4::5])]


def _as_is(record: dict) -> dict:
    return record


class MetricIdentity(Protocol):
    """A metric's name as a catalog declares it (``whispersync.catalog.Metric`` is one)."""

    namespace: str
    name: str
    unit: str
    dimensions: Mapping[str, str]


class Metrics:
    """Records metric datapoints; reach it as ``telemetry.metrics``.

    Misuse (an unknown unit, more than 30 dimensions, a non-finite value) raises
    ValueError even when telemetry is off: it is a bug in the caller, and tests
    with telemetry off should still catch it.
    """

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry
        self._checked: set[tuple[str, str, str]] = set()  # (namespace, name, unit) that passed

    def record(self, metric: MetricIdentity, value: float, dimensions: Mapping[str, str] | None = None) -> None:
        """Record one datapoint of a declared metric; `dimensions` are added to its fixed ones."""
        # record_many's checks remember the dimension names that passed; put() checks every call.
        self.record_many(((metric, value, dimensions),))

    def record_many(self, points: Iterable[tuple[MetricIdentity, float, Mapping[str, str] | None]]) -> None:
        """Record several datapoints of declared metrics at once: ``(metric, value, dimensions)`` each.

        What a worker records at the end of a memo (~10 points). Each point lands as
        the record ``record(metric, value, dimensions)`` makes, one metric row each,
        with one timestamp for the batch. Every point is checked before any is
        recorded: a bad one raises ValueError and the batch records nothing.
        """
        checked, dimension_names = self._checked, _DIMENSION_NAMES
        batch: list = []
        for metric, value, dimensions in points:
            namespace, name, unit = metric.namespace, metric.name, metric.unit
            if type(namespace) is not str or type(name) is not str or (namespace, name, unit) not in checked:
                _check_identity(namespace, name, unit)
                if len(checked) >= _CHECKED_MAX:
                    checked.clear()
                checked.add((namespace, name, unit))
            _check_value(value)
            fixed = metric.dimensions
            if fixed:
                # A catalog metric's are a MappingProxyType: its copy() is its dict's, one C
                # call, where dict(proxy) and {**proxy} go key by key (~0.9 µs a point).
                dims = fixed.copy() if type(fixed) is MappingProxyType or type(fixed) is dict else dict(fixed)
                if dimensions:
                    dims.update(dimensions)
            else:  # None for none: the record's {} is made when it is built (one object less to wait)
                dims = dict(dimensions) if dimensions else None
            if dims:
                for key, dim_value in dims.items():
                    if type(key) is not str or key not in dimension_names or type(dim_value) is not str \
                            or not 0 < len(dim_value) <= MAX_DIMENSION_VALUE:
                        _check_dimensions(name, dims)  # raises with the reason
                        break
                if len(dims) > MAX_DIMENSIONS or name in dims:
                    _check_dimensions(name, dims)
            batch += namespace, name, unit, value if type(value) is float else float(value), dims
        telemetry = self._telemetry
        if not telemetry.enabled:
            return
        timestamp_ms = telemetry._clock_ns() // 1_000_000
        if telemetry._deferred is not None:  # the batch holds checked copies: built at the drain
            telemetry._defer(("metrics", _records, timestamp_ms, batch))
            return
        emit = telemetry._sink_emit
        for record in _records(timestamp_ms, batch):
            try:
                emit("metrics", record)
            except Exception:  # noqa: BLE001 - counted, as Telemetry._emit does
                telemetry.faults += 1

    def put(
        self,
        namespace: str,
        name: str,
        value: float,
        *,
        unit: str = "None",
        dimensions: Mapping[str, str] | None = None,
        timestamp_ms: int | None = None,
        storage_resolution: int = 60,
    ) -> None:
        """Record one datapoint, e.g. ``put("WhisperSync/Business", "TranscriptsProcessed", 1, unit="Count")``.

        ``storage_resolution=1`` makes it a high-resolution point (PutMetricData's
        StorageResolution), queryable at periods under a minute; 60 is standard.
        """
        if type(storage_resolution) is not int or (storage_resolution != 60 and storage_resolution != 1):
            raise ValueError(f"storage_resolution must be 1 or 60, got {storage_resolution!r}")
        # A metric's identity repeats on every call: once checked, a set lookup vouches
        # for it (the exact-type tests stay in front: a str subclass equal to a checked
        # name is still refused). Dimension names are vouched for the same way.
        identity = (namespace, name, unit)
        if type(namespace) is not str or type(name) is not str or identity not in self._checked:
            _check_identity(namespace, name, unit)
            if len(self._checked) >= _CHECKED_MAX:
                self._checked.clear()  # identities are names in code; overflow means junk
            self._checked.add(identity)
        _check_value(value)
        if dimensions:
            _check_dimensions(name, dimensions)
        telemetry = self._telemetry
        if not telemetry.enabled:
            return
        if timestamp_ms is None:
            timestamp_ms = telemetry._clock_ns() // 1_000_000
        record = {
            "timestamp": timestamp_ms,
            "namespace": namespace,
            "name": name,
            "unit": unit,
            "value": value if type(value) is float else float(value),
            "dimensions": dict(dimensions) if dimensions else {},
        }
        if storage_resolution == 1:
            record["storage_resolution"] = 1
        if telemetry._deferred is not None:
            telemetry._defer(("metrics", _as_is, record))
            return
        try:
            telemetry._sink_emit("metrics", record)
        except Exception:  # noqa: BLE001 - counted, as Telemetry._emit does
            telemetry.faults += 1
