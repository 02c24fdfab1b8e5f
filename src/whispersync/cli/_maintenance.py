"""`whispersync maintenance start|end|list`: windows in which alarms evaluate but take no actions."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from whispersync.cli._common import JsonOption, console, err_console, fail, load_settings, parse_since, print_json

maintenance_app = typer.Typer(help="Maintenance windows: alarms keep evaluating and recording, but their actions "
                                   "and notifications are held back.", no_args_is_help=True)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _windows(*, read_only: bool):
    from whispersync.monitoring.alarms import MaintenanceWindows

    return MaintenanceWindows(load_settings(read_only=read_only).monitoring_db)


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else ""


@maintenance_app.command("start")
def maintenance_start(
    duration: Annotated[str, typer.Option("--for", metavar="DURATION",
                                          help="How long: 30m, 2h, 1d (at most 7 days).")],
    reason: Annotated[str, typer.Option(help="Why, for whoever wonders where the alerts went.")],
    as_json: JsonOption = False,
) -> None:
    """Start a maintenance window now.

    \b
    whispersync maintenance start --for 30m --reason "disk upgrade"
    """
    from whispersync.monitoring.alarms import AlarmError

    seconds = parse_since(duration)
    windows = _windows(read_only=False)
    try:
        window = windows.start(seconds, reason, now_ms=_now_ms())
    except AlarmError as exc:
        fail(str(exc))
    finally:
        windows.close()
    if as_json:
        print_json(window)
        return
    console.print(f"maintenance window {window['id']} active until {_when(window['ends_at'])} UTC: alarm actions "
                  "and notifications are held back", highlight=False)


@maintenance_app.command("end")
def maintenance_end(as_json: JsonOption = False) -> None:
    """End the active maintenance window now; alarm actions run again from the next state change."""
    windows = _windows(read_only=True)
    try:
        window = windows.end(now_ms=_now_ms())
    finally:
        windows.close()
    if as_json:
        print_json({"ended": window})
        return
    if window is None:
        err_console.print("no maintenance window is active")
        return
    console.print(f"maintenance window {window['id']} ended", highlight=False)


@maintenance_app.command("list")
def maintenance_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Every maintenance window, newest first, and whether it is active."""
    windows, now_ms = _windows(read_only=True), _now_ms()
    try:
        found, active = windows.list(now_ms, limit=limit), windows.active(now_ms)
    finally:
        windows.close()
    if as_json:
        print_json({"windows": found, "active": active, "next_token": None})  # GET /v1/maintenance's shape
        return
    if not found:
        err_console.print("no maintenance windows")
        return
    from whispersync.cli._inspect import fitted_table

    headers = ("id", "started (UTC)", "ends (UTC)", "ended (UTC)", "active", "reason")
    rows = [[str(w["id"]), _when(w["started_at"]), _when(w["ends_at"]), _when(w["ended_at"]),
             "yes" if w["active"] else "", w["reason"]] for w in found]
    console.print(fitted_table(headers, rows, cut=("reason",)))
