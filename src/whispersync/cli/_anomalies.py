"""`whispersync anomalies list`: the points outside their anomaly detection bands, and how far outside."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from whispersync.cli._alarms import PlanOption, _engine
from whispersync.cli._common import JsonOption, console, fail, load_settings, parse_since, parse_time, print_json

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



@anomalies_app.command("mark-incident")
def anomalies_mark_incident(
    start: Annotated[str, typer.Option(help="When it began: ISO 8601 (UTC unless it says otherwise) or epoch ms.")],
    end: Annotated[str, typer.Option(help="When it ended (same forms).")],
    reason: Annotated[str, typer.Option(help="What happened, for whoever reads the list later.")],
    as_json: JsonOption = False,
) -> None:
    """Mark an incident: its range is left out of every anomaly model's training from now on,
    so an outage does not widen the bands that should catch the next one.

    \b
    whispersync anomalies mark-incident --start 2026-12-01T14:00Z --end 2026-12-01T15:30Z --reason "DB failover"
    """
    from whispersync.app import open_alarms

    start_ms, end_ms = parse_time(start), parse_time(end)
    with open_alarms(load_settings()) as engine:
        try:
            incident = engine.alarm_store.detectors.mark_incident(start_ms, end_ms, reason)
        except ValueError as exc:
            fail(str(exc), code=2)
    if as_json:
        print_json(incident)
        return
    console.print(f"incident {incident['id']} marked: {incident['start']} to {incident['end']} "
                  f"({incident['reason']}); excluded from anomaly training", highlight=False)


@anomalies_app.command("incidents")
def anomalies_incidents(as_json: JsonOption = False) -> None:
    """The incidents marked with `mark-incident`, most recent first.

    \b
    whispersync anomalies incidents --json
    """
    from whispersync.app import open_alarms

    with open_alarms(load_settings(read_only=True)) as engine:
        found = engine.alarm_store.detectors.incidents()
    if as_json:
        print_json({"incidents": found})
        return
    if not found:
        console.print("no incidents marked", highlight=False)
    for item in found:
        console.print(f"{item['id']:>4}  {item['start'][:19].replace('T', ' ')} to "
                      f"{item['end'][:19].replace('T', ' ')}  {item['reason']}", highlight=False)


@anomalies_app.command("unmark-incident")
def anomalies_unmark_incident(
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="The incident's id (see `anomalies incidents`).")],
    as_json: JsonOption = False,
) -> None:
    """Forget a marked incident: its range trains the models again.

    \b
    whispersync anomalies mark-incident --start 2026-12-01T14:00Z --end 2026-12-01T15:30Z --reason "not one"
    whispersync anomalies unmark-incident 1
    """
    from whispersync.app import open_alarms

    with open_alarms(load_settings()) as engine:
        if not engine.alarm_store.detectors.unmark_incident(incident_id):
            fail(f"no incident {incident_id} (see `whispersync anomalies incidents`)", code=1)
    if as_json:
        print_json({"id": incident_id, "unmarked": True})
        return
    console.print(f"incident {incident_id} unmarked", highlight=False)
