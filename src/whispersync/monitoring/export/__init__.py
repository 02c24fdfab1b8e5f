"""The plan and the telemetry in open standards: Prometheus names and alerting rules, Grafana
dashboard JSON. Renderers of the plan read only the plan (DESIGN.md).

Modules are added per standard (``_prometheus_names``, ``_prometheus_rules``, ``_grafana``);
this package's ``__all__`` is their public face.
"""

from whispersync.monitoring.export._grafana import (
    DATASOURCES,
    GrafanaExport,
    GrafanaExportError,
    NotCarried,
    dashboard_json_text,
    grafana_dashboard,
    grafana_dashboards,
)
from whispersync.monitoring.export._prometheus_names import (
    BUCKETS,
    TABLE,
    PrometheusMetric,
    cloudwatch_metric,
    dimension_name,
    label_name,
    prometheus_labels,
    prometheus_metric,
)
from whispersync.monitoring.export._prometheus_rules import SEVERITIES, prometheus_rules, rules_yaml

__all__: list[str] = [
    # Grafana dashboards (_grafana)
    "DATASOURCES",
    "GrafanaExport",
    "GrafanaExportError",
    "NotCarried",
    "dashboard_json_text",
    "grafana_dashboard",
    "grafana_dashboards",
    # Prometheus names (_prometheus_names)
    "BUCKETS",
    "TABLE",
    "PrometheusMetric",
    "cloudwatch_metric",
    "dimension_name",
    "label_name",
    "prometheus_labels",
    "prometheus_metric",
    # Prometheus alerting rules (_prometheus_rules)
    "SEVERITIES",
    "prometheus_rules",
    "rules_yaml",
]
