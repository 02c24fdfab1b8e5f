"""The `whispersync` command: a thin shell over app.py and the stores.

Every inspection command takes `--json` and then prints one JSON document, so
scripts can rely on it; without it, tables for people. Each module registers the
commands of one area on the Typer apps in `_common`.
"""

from __future__ import annotations

import sys

from whispersync.cli import (  # noqa: F401, I001 - registers commands, in help order
    _alarms,
    _audit,
    _aws_env,
    _checks,
    _cost,
    _dashboards,
    _deploy,
    _doctor,
    _filters,
    _inspect,
    _logs,
    _maintenance,
    _metrics,
    _notifications,
    _plan,
    _remediation,
    _serve,
    _slo,
    _submit,
    _traces,
)
from whispersync.cli._anomalies import anomalies_app
from whispersync.cli._baselines import baselines_app
from whispersync.cli._common import app, err_console
from whispersync.cli._checks import checks_app
from whispersync.cli._deploy import deploy_app
from whispersync.cli._export import export_app
from whispersync.cli._filters import filters_app
from whispersync.cli._maintenance import maintenance_app
from whispersync.cli._remediation import remediation_app
from whispersync.errors import WhisperSyncError

app.add_typer(filters_app, name="filters")
app.add_typer(checks_app, name="checks")
app.add_typer(deploy_app, name="deploy")
app.add_typer(export_app, name="export")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(anomalies_app, name="anomalies")
app.add_typer(baselines_app, name="baselines")
app.add_typer(remediation_app, name="remediation")
_audit.audit_commands(app)  # last: every state-changing command is registered by now

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except WhisperSyncError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
