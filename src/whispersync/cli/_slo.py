"""`whispersync slo`: the user-experience layer, each plan SLO's SLI, error budget, burn rates and Apdex.

Figures come from the telemetry store (``monitoring/slo.py``); the burn-rate alarms' states from the alarm
store, as the running engine last decided them.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.text import Text

from whispersync.cli._common import JsonOption, app, console, err_console, fail, load_settings, print_json


@app.command("slo")
def slo(
    name: Annotated[str | None, typer.Argument(help="One SLO by name; all of the plan's by default.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Service-level objectives: SLI, error budget left, burn rates (5m/30m/1h/6h), Apdex, burn-rate alarms.

    \b
    whispersync slo
    whispersync slo memo-latency --json
    """
    from whispersync.app import load_plan, open_store
    from whispersync.monitoring.alarms import AlarmStore
    from whispersync.monitoring.slo import slo_report

    settings = load_settings(read_only=True)
    plan = load_plan(settings)
    slos = [s for s in plan.slos if name is None or s.name == name]
    if name is not None and not slos:
        fail(f"no SLO named {name[:80]!r}; the plan's SLOs: {', '.join(s.name for s in plan.slos) or 'none'}")
    reports = slo_report(open_store(settings, plan), slos, now_ms=int(time.time() * 1000))
    alarms = AlarmStore(settings.monitoring_db)
    try:
        states = alarms.states()
    finally:
        alarms.close()
    for report in reports:
        for alarm in report["alarms"]:
            alarm["state"] = states.get(alarm["name"], {}).get("state", "INSUFFICIENT_DATA")
    if as_json:
        print_json({"slos": reports})  # GET /v1/slo's shape
        return
    if not reports:
        err_console.print("the plan declares no SLO")
        return
    for report in reports:
        _print(report)


def _percent(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f} %"


def _print(report: dict[str, Any]) -> None:
    from whispersync.cli._inspect import fitted_table

    window, budget, apdex = report["window"], report["error_budget"], report["apdex"]
    console.print(Text(f"{report['name']}: {report['objective'] * 100:g} % of memos within"
                       f" {report['threshold_ms']:g} ms over {report['window_days']} days", style="bold"))
    left = budget["remaining_fraction"]
    console.print(f"  SLI {_percent(window['sli'])} ({window['good']} good of {window['total']}: {window['done']} done,"
                  f" {window['failed']} failed)", highlight=False)
    console.print(Text(f"  error budget left {_percent(left, 1)} ({budget['remaining']:g} of"
                       f" {budget['allowed_bad']:g} bad memos)", style="bold red" if left < 0 else ""))
    last = apdex["last_hour"]
    score = "—" if last["score"] is None else f"{last['score']:.3f}"
    console.print(f"  Apdex, last hour: {score} ({last['satisfied']} satisfied, {last['tolerating']} tolerating,"
                  f" {last['frustrated']} frustrated; T {apdex['t_ms']:g} ms)", highlight=False)
    rows = [[b["window"], f"{b['burn_rate']:.2f}x", str(b["total"]), str(b["bad"]), _percent(b["sli"])]
            for b in report["burn_rates"]]
    console.print(fitted_table(("window", "burn rate", "memos", "bad", "SLI"), rows))
    rows = [[a["name"], a["priority"], Text(a["state"], style="bold red" if a["state"] == "ALARM" else ""),
             f"burn > {a['threshold']:g}x over {a['window']}" if a["kind"] == "metric" else a["rule"]]
            for a in report["alarms"]]
    console.print(fitted_table(("alarm", "priority", "state", "condition"), rows, cut=("condition",)))
