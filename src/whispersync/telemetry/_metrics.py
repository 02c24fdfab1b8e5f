"""Metric datapoints in CloudWatch's model: namespace, name, unit, dimensions, value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ._emf import MAX_DIMENSION_VALUE, MAX_DIMENSIONS, MAX_NAME, Unit

if TYPE_CHECKING:
    from ._telemetry import Telemetry

_UNITS = Unit.ALL


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

    def record(self, metric: MetricIdentity, value: float, dimensions: Mapping[str, str] | None = None) -> None:
        """Record one datapoint of a declared metric; `dimensions` are added to its fixed ones."""
        dims = {**metric.dimensions, **dimensions} if dimensions else metric.dimensions
        self.put(metric.namespace, metric.name, value, unit=metric.unit, dimensions=dims)

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
        if type(storage_resolution) is not int or storage_resolution not in (1, 60):
            raise ValueError(f"storage_resolution must be 1 or 60, got {storage_resolution!r}")
        if unit not in _UNITS:
            raise ValueError(f"unit {unit!r} is not a CloudWatch standard unit (see Unit.ALL)")
        if type(namespace) is not str or not 0 < len(namespace) <= MAX_NAME:
            raise ValueError(f"namespace must be a non-empty string, got {namespace!r}")
        if type(name) is not str or not 0 < len(name) <= MAX_NAME:
            raise ValueError(f"metric name must be a non-empty string, got {name!r}")
        kind = type(value)
        if kind is not float and kind is not int:
            if kind is bool or not isinstance(value, (int, float)):
                raise ValueError(f"metric value must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"metric value must be finite, got {value!r}")
        if dimensions:
            if len(dimensions) > MAX_DIMENSIONS:
                raise ValueError(f"{len(dimensions)} dimensions; CloudWatch allows {MAX_DIMENSIONS}")
            for key, dim_value in dimensions.items():
                if type(key) is not str or not key or key == "_aws":
                    raise ValueError(f"dimension name must be a non-empty string, got {key!r}")
                if type(dim_value) is not str or not 0 < len(dim_value) <= MAX_DIMENSION_VALUE:
                    raise ValueError(f"dimension {key!r} needs a 1-{MAX_DIMENSION_VALUE} character string value")
            if name in dimensions:
                raise ValueError(f"metric name {name!r} is also a dimension name")
        telemetry = self._telemetry
        if not telemetry.enabled:
            return
        if timestamp_ms is None:
            timestamp_ms = telemetry._clock_ns() // 1_000_000
        telemetry._emit(
            "metrics",
            {
                "timestamp": timestamp_ms,
                "namespace": namespace,
                "name": name,
                "unit": unit,
                "value": float(value),
                "dimensions": dict(dimensions) if dimensions else {},
                **({"storage_resolution": 1} if storage_resolution == 1 else {}),
            },
        )
