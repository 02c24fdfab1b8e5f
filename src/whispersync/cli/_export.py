"""`whispersync export`: the plan rendered for other tools (Prometheus rules, Grafana dashboards).

Each command is a thin shell over `whispersync.monitoring.export`; commands are added below,
one function per format.
"""

from __future__ import annotations

import typer

export_app = typer.Typer(help="Render the monitoring plan for other tools: Prometheus rules, Grafana dashboards.",
                         no_args_is_help=True)
