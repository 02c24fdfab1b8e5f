"""The typed model of a CloudWatch dashboard body (``_parse`` builds it, ``_render`` writes it back).

Properties are kept as the body gave them (so export -> import -> export loses
nothing); a metric widget's ``metrics`` array is also parsed into ``MetricEntry``s,
with the console's ``"."``/``"..."`` shorthand expanded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_WIDTH = 6
DEFAULT_HEIGHT = 6
DEFAULT_STAT = "Average"  # a metric widget's defaults, as the CDK relies on (it leaves them out)
DEFAULT_PERIOD = 300
GRID_COLUMNS = 24


@dataclass(frozen=True)
class MetricEntry:
    """One entry of a metric widget's ``metrics``: a metric (namespace, name, dimensions)
    or a math expression (``options["expression"]``); ``options`` holds the rendering
    options (id, label, stat, period, color, visible, yAxis, region, accountId)."""

    namespace: str | None = None
    name: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def expression(self) -> str | None:
        return self.options.get("expression")

    def to_json(self) -> list[Any]:
        """The entry in the metrics-array grammar, shorthand expanded."""
        if self.namespace is None:
            return [dict(self.options)]
        items: list[Any] = [self.namespace, self.name]
        for key, value in self.dimensions:
            items += [key, value]
        return items + [dict(self.options)] if self.options else items


@dataclass(frozen=True)
class Widget:
    """One widget on the 24-column grid. ``type`` is metric, log, alarm, text, or one kept
    but not run locally (explorer, custom)."""

    type: str
    x: int
    y: int
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    properties: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[MetricEntry, ...] = ()

    def prop(self, name: str, default: Any = None) -> Any:
        return self.properties.get(name, default)


@dataclass(frozen=True)
class Body:
    """A dashboard body: widgets, the default time range (``start``/``end``), ``period_override``
    (auto | inherit) and dashboard ``variables``; ``extra`` keeps top-level keys we do not know."""

    widgets: tuple[Widget, ...] = ()
    start: str | None = None
    end: str | None = None
    period_override: str | None = None
    variables: tuple[Any, ...] | None = None
    name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
