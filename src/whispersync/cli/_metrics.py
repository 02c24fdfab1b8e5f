"""`metrics …`: CloudWatch-style metrics."""

from __future__ import annotations

import re
import time
from typing import Annotated, Optional

import typer
from rich.table import Table

from whispersync.cli._common import (
    JsonOption,
    console,
    err_console,
    fail,
    load_settings,
    metrics_app,
    parse_since,
    print_json,
)



@metrics_app.command("list")
def metrics_list(
    namespace: Annotated[Optional[str], typer.Option(help="Only this namespace.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the metrics recorded (namespace, name, dimensions)."""
    from whispersync.app import open_store

    rows = open_store(load_settings()).list_metrics(namespace=namespace)
    if as_json:
        print_json(rows)
        return
    table = Table("namespace", "name", "dimensions")
    for r in rows:
        table.add_row(r["namespace"], r["name"], " ".join(f"{k}={v}" for k, v in sorted(r["dimensions"].items())))
    console.print(table)


@metrics_app.command("get")
def metrics_get(
    namespace: Annotated[str, typer.Argument(help="e.g. WhisperSync/Business")],
    name: Annotated[str, typer.Argument(help="e.g. TranscriptsProcessed")],
    dim: Annotated[Optional[list[str]], typer.Option("--dim", help="Dimension K=V; repeat for more. Exact match, as in CloudWatch.")] = None,
    stat: Annotated[str, typer.Option(help="Sum, Average, Minimum, Maximum, SampleCount or pNN (p99, p99.9).")] = "Sum",
    period: Annotated[int, typer.Option(help="Seconds per datapoint.")] = 60,
    since: Annotated[str, typer.Option(help="How far back: 30m, 1h, 7d.")] = "1h",
    as_json: JsonOption = False,
) -> None:
    """Statistics of one metric per period, like CloudWatch GetMetricStatistics."""
    from whispersync.app import open_store

    dimensions: dict[str, str] = {}
    for item in dim or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--dim takes K=V, got {item!r}")
        dimensions[key] = value
    if not re.fullmatch(r"Sum|Average|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d+)?|p100", stat):
        fail(f"unknown statistic {stat!r}; use Sum, Average, Minimum, Maximum, SampleCount or pNN")
    if period <= 0:
        fail("--period must be a positive number of seconds")
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - int(parse_since(since) * 1000)
    series = open_store(load_settings()).metric_statistics(namespace, name, dimensions=dimensions, statistic=stat,
                                                       period=period, start_ms=start_ms, end_ms=end_ms)
    if as_json:
        print_json({"label": series.label, "unit": series.unit, "timestamps": series.timestamps,
                     "values": series.values})
        return
    if not series.values:
        err_console.print(f"no datapoints for {namespace} {name} {dimensions or ''} in the last {since}")
        return
    table = Table("timestamp (UTC)", f"{stat} ({series.unit or 'None'})")
    for ts, value in zip(series.timestamps, series.values):
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1000)), f"{value:g}")
    console.print(table)
