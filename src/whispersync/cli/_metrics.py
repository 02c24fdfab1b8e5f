"""`metrics …`: CloudWatch-style metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import orjson
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
    parse_time,
    print_json,
)
from whispersync.monitoring.times import lookback_start


@metrics_app.command("list")
def metrics_list(
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
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


_METRIC_SPEC_HELP = (
    "A metric for --expression, as ID=NAMESPACE:NAME[:STAT][,K=V...]; repeat for more."
    " E.g. --metric 'errors=AWS/Lambda:Errors:Sum,FunctionName=f'. STAT defaults to --stat."
)


def _parse_dims(items: list[str] | None) -> dict[str, str]:
    dimensions: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            fail(f"--dim takes K=V, got {item!r}")
        dimensions[key] = value
    return dimensions


def _parse_metric_spec(spec: str, stat: str, period: int):
    """ID=NAMESPACE:NAME[:STAT][,K=V...] -> MetricDataQuery (return_data off)."""
    from whispersync.plan import MetricDataQuery, MetricStat

    qid, sep, rest = spec.partition("=")
    head, *dims = rest.split(",")
    parts = head.split(":")
    if not sep or not qid or len(parts) not in (2, 3) or not all(parts):
        fail(f"--metric takes ID=NAMESPACE:NAME[:STAT][,K=V...], got {spec!r}")
    request = MetricStat(parts[0], parts[1], _parse_dims(dims), parts[2] if len(parts) == 3 else stat, period)
    return MetricDataQuery(qid, request, return_data=False)


@metrics_app.command("get")
def metrics_get(
    namespace: Annotated[str | None, typer.Argument(help="e.g. WhisperSync/Business")] = None,
    name: Annotated[str | None, typer.Argument(help="e.g. TranscriptsProcessed")] = None,
    dim: Annotated[list[str] | None, typer.Option("--dim", help="Dimension K=V; repeat for more. Exact match, as in CloudWatch.")] = None,
    stat: Annotated[str, typer.Option(help="Sum, Average, Minimum, Maximum, SampleCount or pNN (p99, p99.9).")] = "Sum",
    period: Annotated[int, typer.Option(help="Seconds per datapoint: 1, 5, 10, 20, 30 or a multiple of 60.")] = 60,
    since: Annotated[str, typer.Option(help="How far back: 30m, 1h, 7d (ignored with --start).")] = "1h",
    start: Annotated[str | None, typer.Option(help="Start, inclusive: ISO 8601 (UTC unless stated) or epoch ms.")] = None,
    end: Annotated[str | None, typer.Option(help="End, exclusive: ISO 8601 or epoch ms (default: now).")] = None,
    expression: Annotated[str | None, typer.Option(help="Metric math over metric ids, e.g. 'errors/invocations*100'. The positional metric, if given, is id m1.")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help=_METRIC_SPEC_HELP)] = None,
    label: Annotated[str | None, typer.Option(help="Label of the result.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Statistics of one metric per period, or a metric math expression, like GetMetricData.

    \b
    whispersync metrics get WhisperSync/Business TranscriptsProcessed --stat Sum --since 1d
    whispersync metrics get --metric errors=WhisperSync/Worker:Errors \\
        --metric invocations=WhisperSync/Worker:Invocations --expression 'errors/invocations*100'

    --json prints {"label", "timestamps", "values"} (timestamps ISO 8601 UTC, oldest first).
    """
    from whispersync.app import open_store
    from whispersync.monitoring.metrics import MetricQueryError, get_metric_data
    from whispersync.plan import MetricDataQuery, MetricStat

    if (namespace is None) != (name is None):
        fail("give both NAMESPACE and NAME, or neither (with --expression)")
    if namespace is None and expression is None:
        fail("give NAMESPACE NAME, or --expression with --metric")
    if metric and expression is None:
        fail("--metric is only used with --expression")
    now_ms = int(time.time() * 1000)
    try:
        end_ms = parse_time(end) if end else now_ms
        start_ms = parse_time(start) if start else lookback_start(end_ms, parse_since(since))
    except typer.BadParameter as exc:
        fail(str(exc))
    queries = []
    if namespace is not None:
        request = MetricStat(namespace, name, _parse_dims(dim), stat, period)  # type: ignore[arg-type]
        queries.append(MetricDataQuery("m1", request, label=None if expression else label,
                                       return_data=expression is None))
    for spec in metric or []:
        queries.append(_parse_metric_spec(spec, stat, period))
    if expression is not None:
        queries.append(MetricDataQuery("expr", expression=expression, label=label or expression, period=period))
    try:
        results = get_metric_data(open_store(load_settings()), queries, start_ms=start_ms, end_ms=end_ms,
                                  scan_by="TimestampAscending", now_ms=now_ms)
    except MetricQueryError as exc:
        fail(str(exc))
    if as_json:
        docs = [{k: v for k, v in r.to_dict().items() if k in ("label", "timestamps", "values", "unit")}
                for r in results]
        print_json(docs[0] if len(docs) == 1 else docs)
        return
    for result in results:
        if not result.values:
            err_console.print(f"no datapoints for {result.label}")
            continue
        table = Table("timestamp (UTC)", f"{result.label} ({result.unit or 'None'})")
        for ts, value in zip(result.timestamps, result.values):
            table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1000)), f"{value:g}")
        console.print(table)


@metrics_app.command("put")
def metrics_put(
    namespace: Annotated[str, typer.Argument(help="e.g. WhisperSync/Business")],
    name: Annotated[str, typer.Argument(help="e.g. TranscriptsProcessed")],
    value: Annotated[float, typer.Argument(help="The datapoint's value.")],
    dim: Annotated[list[str] | None, typer.Option("--dim", help="Dimension K=V; repeat for more.")] = None,
    unit: Annotated[str, typer.Option(help="A CloudWatch unit: Count, Milliseconds, Percent, None...")] = "None",
    timestamp: Annotated[str | None, typer.Option(help="ISO 8601 or epoch ms (default: now).")] = None,
) -> None:
    """Record one datapoint, like put-metric-data; the next query sees it."""
    from whispersync.app import open_store

    if namespace.startswith("AWS/"):
        fail("namespaces starting with 'AWS/' are reserved for AWS services (as in put-metric-data)")
    try:
        ts = parse_time(timestamp) if timestamp else None
    except typer.BadParameter as exc:
        fail(str(exc))
    record = {"namespace": namespace, "name": name, "value": value, "unit": unit,
              "dimensions": _parse_dims(dim), "timestamp": ts}
    store = open_store(load_settings())
    try:
        store.put_metrics([record])
    except ValueError as exc:
        fail(str(exc).removeprefix("datapoint 0: "))
    finally:
        store.close()


@metrics_app.command("import")
def metrics_import(
    file: Annotated[Path, typer.Argument(help="JSON lines: EMF documents, or exported log events whose message is one.", exists=True, dir_okay=False)],
    as_json: JsonOption = False,
) -> None:
    """Import Embedded Metric Format lines (e.g. exported Lambda logs); invalid lines are reported and skipped."""
    from whispersync.app import open_store
    from whispersync.telemetry import parse_emf

    records: list[dict] = []
    skipped: list[dict] = []
    with file.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
                if isinstance(doc, dict) and "_aws" not in doc and isinstance(doc.get("message"), str):
                    doc = orjson.loads(doc["message"])  # an exported log event wrapping the EMF line
                records.extend(parse_emf(doc))
            except orjson.JSONDecodeError as exc:
                skipped.append({"line": number, "reason": f"not JSON: {exc}"})
            except ValueError as exc:
                skipped.append({"line": number, "reason": str(exc)})
    store = open_store(load_settings())
    try:
        imported = store.put_metrics(records) if records else 0
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    if as_json:
        print_json({"imported": imported, "skipped": skipped})
        return
    for item in skipped:
        err_console.print(f"line {item['line']}: skipped: {item['reason']}", highlight=False)
    console.print(f"imported {imported} datapoint(s); skipped {len(skipped)} line(s)")
