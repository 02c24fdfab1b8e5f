"""`whispersync anomalies list`: the points outside their anomaly detection bands, and how far outside."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from whispersync.cli._alarms import PlanOption, _engine
from whispersync.cli._common import JsonOption, console, parse_since, print_json

anomalies_app = typer.Typer(help="Anomaly detection: points outside the bands of anomaly detection alarms and "
                                 "anomaly detectors.", no_args_is_help=True)


@anomalies_app.command("list")
def anomalies_list(
    since: Annotated[str, typer.Option(help="How far back: 30m, 24h, 7d.")] = "24h",
    plan: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """The points outside their bands, newest first, with how far outside they were.

    Each anomaly detection alarm is looked at with its own band; each stored detector no alarm
    uses, with ANOMALY_DETECTION_BAND(m1, 2) on 5-minute data.

    \b
    whispersync anomalies list
    whispersync anomalies list --since 7d --json
    """
    from whispersync.monitoring.alarms import find_anomalies

    seconds = parse_since(since)
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - int(seconds * 1000)
    with _engine(plan, read_only=True) as engine:
        found = find_anomalies(engine, start_ms, end_ms)
    if as_json:
        print_json({"since": since, "anomalies": found})
        return
    if not found:
        console.print(f"no points outside their bands in the last {since}", highlight=False)
        return
    for item in found:
        if "error" in item:
            console.print(f"{item['timestamp'][:19].replace('T', ' ')}  {item['metric']}: {item['error']}",
                          highlight=False)
            continue
        side = "above" if item["distance"] > 0 else "below"
        widths = f" ({item['band_widths']:.2g} band widths)" if item["band_widths"] is not None else ""
        alarm = f"  [alarm {item['alarm']}]" if item["alarm"] else ""
        console.print(f"{item['timestamp'][:19].replace('T', ' ')}  {item['metric']}  {item['value']:.6g} is "
                      f"{abs(item['distance']):.4g} {side} the band [{item['lower']:.6g}, {item['upper']:.6g}]"
                      f"{widths}{alarm}", highlight=False)

