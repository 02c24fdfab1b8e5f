"""`whispersync remediation list`: the append-only audit log of what remediation did (or held back)."""

from __future__ import annotations

from typing import Annotated

import typer

from whispersync.cli._common import JsonOption, console, err_console, load_settings, print_json

remediation_app = typer.Typer(help="Remediation: what the plan's rules did to the system, and why.",
                              no_args_is_help=True)


@remediation_app.command("list")
def remediation_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Every remediation decision, newest first: executed, dry_run, suppressed, rate_limited, escalated...

    \b
    whispersync remediation list
    whispersync remediation list --json
    """
    from whispersync.monitoring.remediation import RemediationAudit

    entries = RemediationAudit(load_settings(read_only=True).monitoring_db, read_only=True).entries(limit)
    if as_json:
        print_json({"remediations": entries, "next_token": None})  # GET /v1/remediation's shape
        return
    if not entries:
        err_console.print("no remediation has run")
        return
    from whispersync.cli._inspect import fitted_table

    headers = ("when (UTC)", "rule", "action", "alarm", "state", "before", "after", "result", "detail")
    rows = [[e["occurred_at"][:19].replace("T", " "), e["rule"], e["action"], e["alarm"], e["state"],
             str(e["before"]), str(e["after"]), e["result"], e["detail"]] for e in entries]
    console.print(fitted_table(headers, rows, cut=("detail",)))
