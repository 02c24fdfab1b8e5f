"""The plan and the telemetry in open standards: Prometheus names and alerting rules, Grafana
dashboard JSON. Renderers of the plan read only the plan (DESIGN.md).

Modules are added per standard (``_prometheus_names``, ``_prometheus_rules``, ``_grafana``);
this package's ``__all__`` is their public face.
"""

__all__: list[str] = []
