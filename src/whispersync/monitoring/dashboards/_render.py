"""render_body: a ``Body`` as the CloudWatch dashboard body JSON again, valid for PutDashboard.

Canonical: every widget with its x, y, width and height; the metrics arrays with the
console's "." / "..." shorthand expanded; everything else as it was given, so
``render_body(parse_body(render_body(b))[0]) == render_body(b)``.
"""

from __future__ import annotations

import copy
from typing import Any

from whispersync.monitoring.dashboards._model import Body


def render_body(body: Body) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.start is not None:
        out["start"] = body.start
    if body.end is not None:
        out["end"] = body.end
    if body.period_override is not None:
        out["periodOverride"] = body.period_override
    if body.variables is not None:
        out["variables"] = copy.deepcopy(list(body.variables))
    out.update(copy.deepcopy(dict(body.extra)))
    widgets = []
    for w in body.widgets:
        properties = copy.deepcopy(dict(w.properties))
        if w.type == "metric" and "metrics" in properties:
            properties["metrics"] = [entry.to_json() for entry in w.metrics]
        widgets.append({"type": w.type, "x": w.x, "y": w.y, "width": w.width, "height": w.height,
                        "properties": properties})
    out["widgets"] = widgets
    return out
