"""CloudWatch dashboard bodies, locally: parse and validate one (PutDashboard's rules and
messages), write it back canonically, and compute each widget's data with the engines
the API already uses.

    body, messages = parse_body(text, name="queue-health")   # messages: ValidationMessage
    render_body(body)                                         # the body JSON again, "." expanded
    widget_data(body.widgets[0], store=store, alarms=engine, start_ms=..., end_ms=...)

Modules: ``_model`` (Body, Widget, MetricEntry), ``_parse``, ``_render``, ``_data``, ``_messages``,
``_store`` (dashboards imported by `whispersync dashboards import`, in the home's monitoring database).
"""

from whispersync.monitoring.dashboards._data import widget_data
from whispersync.monitoring.dashboards._messages import DashboardBodyError, ValidationMessage
from whispersync.monitoring.dashboards._model import Body, MetricEntry, Widget
from whispersync.monitoring.dashboards._parse import body_of, check_name, parse_body
from whispersync.monitoring.dashboards._range import DEFAULT_RANGE_SECONDS, body_range, relative_seconds
from whispersync.monitoring.dashboards._render import render_body
from whispersync.monitoring.dashboards._store import DashboardStore, StoredDashboard

__all__ = [
    "DEFAULT_RANGE_SECONDS",
    "Body",
    "DashboardBodyError",
    "DashboardStore",
    "MetricEntry",
    "StoredDashboard",
    "ValidationMessage",
    "Widget",
    "body_of",
    "body_range",
    "check_name",
    "parse_body",
    "relative_seconds",
    "render_body",
    "widget_data",
]
