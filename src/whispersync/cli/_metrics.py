"""`metrics …`: CloudWatch-style metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

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
from whispersync.cli._inspect import fitted_table
from whispersync.monitoring.times import lookback_start


@metrics_app.command("list")
def metrics_list(
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the metrics recorded (namespace, name, dimensions)."""
    from whispersync.app import open_store

    rows = open_store(load_settings(read_only=True)).list_metrics(namespace=namespace)
    if as_json:
        print_json({"metrics": rows})
        return
    headers = ("namespace", "name", "dimensions")
    lines = [[r["namespace"], r["name"], " ".join(f"{k}={v}" for k, v in sorted(r["dimensions"].items()))]
             for r in rows]
    console.print(fitted_table(headers, lines, wrap=("dimensions",)))


_METRIC_SPEC_HELP = (
    "A metric for --expression, as ID=NAMESPACE:NAME[:STAT][,K=V...]; repeat for more."
    " E.g. --metric 'errors=AWS/Lambda:Errors:Sum,FunctionName=f'. STAT defaults to --stat."
)


def _parse_dims(items: list[str] | None, aws: list[str] | None = None) -> dict[str, str]:
    """--dim K=V items, plus the AWS CLI's --dimensions Name=K,Value=V items, as one dict."""
    dimensions: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            fail(f"--dim takes K=V, got {item!r}")
        dimensions[key] = value
    for item in aws or []:
        dimensions.update(_parse_aws_dimensions(item))
    return dimensions


def _parse_aws_dimensions(item: str) -> dict[str, str]:
    """The AWS CLI's spellings: shorthand `Name=K,Value=V` (several pairs separated by spaces)
    or JSON `[{"Name": "K", "Value": "V"}]`."""
    text = item.strip()
    if text.startswith("[") or text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = None
        pairs = data if isinstance(data, list) else [data]
        if all(isinstance(p, dict) and set(p) == {"Name", "Value"} and all(isinstance(v, str) and v for v in p.values())
               for p in pairs):
            return {p["Name"]: p["Value"] for p in pairs}
        fail(f'--dimensions as JSON is [{{"Name": "K", "Value": "V"}}, ...], got {item!r}')
    out = {}
    for pair in text.split():
        fields = dict(part.partition("=")[::2] for part in pair.split(","))
        if set(fields) != {"Name", "Value"} or not fields["Name"] or not fields["Value"]:
            fail(f"--dimensions takes Name=K,Value=V (as the AWS CLI writes it), got {item!r}")
        out[fields["Name"]] = fields["Value"]
    return out


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


_SCAN_BY = {"asc": "TimestampAscending", "desc": "TimestampDescending"}


@metrics_app.command("get")
def metrics_get(
    namespace: Annotated[str | None, typer.Argument(help="e.g. WhisperSync/Business")] = None,
    name: Annotated[str | None, typer.Argument(help="e.g. TranscriptsProcessed")] = None,
    dim: Annotated[list[str] | None, typer.Option("--dim", help="Dimension K=V; repeat for more. Exact match, as in CloudWatch.")] = None,
    dimensions: Annotated[list[str] | None, typer.Option("--dimensions", help="The AWS CLI's spelling of --dim: Name=K,Value=V; repeat for more.")] = None,
    stat: Annotated[str, typer.Option(help="Sum, Average, Minimum, Maximum, SampleCount or pNN (p99, p99.9).")] = "Sum",
    period: Annotated[int, typer.Option(help="Seconds per datapoint: 1, 5, 10, 20, 30 or a multiple of 60.")] = 60,
    since: Annotated[str, typer.Option(help="How far back: 30m, 1h, 7d (ignored with --start).")] = "1h",
    start: Annotated[str | None, typer.Option("--start", "--start-time", help="Start, inclusive: ISO 8601 (UTC unless stated) or epoch ms.")] = None,
    end: Annotated[str | None, typer.Option("--end", "--end-time", help="End, exclusive: ISO 8601 or epoch ms (default: now).")] = None,
    expression: Annotated[str | None, typer.Option(help="Metric math over metric ids, e.g. 'errors/invocations*100'. The positional metric, if given, is id m1.")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help=_METRIC_SPEC_HELP)] = None,
    label: Annotated[str | None, typer.Option(help="Label of the result.")] = None,
    order: Annotated[str, typer.Option("--order", help="asc (oldest first) or desc (newest first).")] = "asc",
    as_json: JsonOption = False,
) -> None:
    """Statistics of one metric per period, or a metric math expression, like GetMetricData.

    \b
    whispersync metrics get WhisperSync/Business TranscriptsProcessed --stat Sum --since 1d
    whispersync metrics get --metric errors=WhisperSync/Worker:Errors \\
        --metric invocations=WhisperSync/Worker:Invocations --expression 'errors/invocations*100'

    \b
    whispersync metrics get WhisperSync/Business TranscriptsProcessed \
        --dimensions Name=AgentType,Value=work --start-time 2026-01-01T00:00:00Z

    --json prints {"label", "timestamps", "values", "unit"} (timestamps ISO 8601 UTC,
    oldest first); an expression giving several series prints {"results": [...]} of those.
    When a metric has no datapoints, stderr lists the dimension sets it was recorded with.
    """
    from whispersync.app import open_store
    from whispersync.monitoring.metrics import MetricQueryError, get_metric_data
    from whispersync.plan import MetricDataQuery, MetricStat

    if order not in _SCAN_BY:
        fail(f"--order is asc or desc, not {order!r}")
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
        request = MetricStat(namespace, name, _parse_dims(dim, dimensions), stat, period)  # type: ignore[arg-type]
        queries.append(MetricDataQuery("m1", request, label=None if expression else label,
                                       return_data=expression is None))
    for spec in metric or []:
        queries.append(_parse_metric_spec(spec, stat, period))
    if expression is not None:
        queries.append(MetricDataQuery("expr", expression=expression, label=label or expression, period=period))
    try:
        results = get_metric_data(open_store(load_settings(read_only=True)), queries, start_ms=start_ms, end_ms=end_ms,
                                  scan_by=_SCAN_BY[order], now_ms=now_ms)
    except MetricQueryError as exc:
        fail(str(exc))
    if namespace is not None and not any(r.values for r in results):
        _say_why_empty(namespace, name, _parse_dims(dim, dimensions))  # type: ignore[arg-type]
    if as_json:
        docs = [{k: v for k, v in r.to_dict().items() if k in ("label", "timestamps", "values", "unit")}
                for r in results]
        print_json(docs[0] if len(docs) == 1 else {"results": docs})
        return
    for result in results:
        if not result.values:
            err_console.print(f"no datapoints for {result.label}", highlight=False, markup=False)
            continue
        table = Table("timestamp (UTC)", f"{result.label} ({result.unit or 'None'})")
        for ts, value in zip(result.timestamps, result.values):
            table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1000)), f"{value:g}")
        console.print(table)


def _say_why_empty(namespace: str, name: str, dimensions: dict[str, str]) -> None:
    """On stderr: the dimension sets the metric does have, when the one asked for has none.

    CloudWatch matches dimensions exactly, so `--dim AgentType=work` finds nothing when
    every datapoint also carries Status; saying which sets exist is the way out. The exit
    code stays 0: an empty series is an answer.
    """
    from whispersync.app import open_store

    store = open_store(load_settings(read_only=True))
    try:
        recorded = [r["dimensions"] for r in store.list_metrics(namespace=namespace, name=name)]
    finally:
        store.close()
    if dimensions in recorded:
        return  # the series exists; it has no datapoints in this time range
    if not recorded:
        err_console.print(f"no metric {namespace} {name} has been recorded; `whispersync metrics list` shows "
                          "those that have", highlight=False, markup=False)
        return
    asked = ",".join(f"{k}={v}" for k, v in sorted(dimensions.items())) or "no dimensions"
    lines = [" ".join(f"--dim {k}={v}" for k, v in sorted(d.items())) or "(no dimensions)" for d in recorded[:20]]
    more = f"\n  ... and {len(recorded) - 20} more" if len(recorded) > 20 else ""
    err_console.print(f"{namespace} {name} has no series with exactly {asked} (dimensions match exactly, "
                      f"as in CloudWatch); it was recorded with:\n  " + "\n  ".join(lines) + more,
                      highlight=False, markup=False, soft_wrap=True)


@metrics_app.command("put")
def metrics_put(
    namespace: Annotated[str, typer.Argument(help="e.g. WhisperSync/Business")],
    name: Annotated[str, typer.Argument(help="e.g. TranscriptsProcessed")],
    value: Annotated[float | None, typer.Argument(help="The datapoint's value (or give --statistic-values).")] = None,
    dim: Annotated[list[str] | None, typer.Option("--dim", help="Dimension K=V; repeat for more.")] = None,
    unit: Annotated[str, typer.Option(help="A CloudWatch unit: Count, Milliseconds, Percent, None...")] = "None",
    timestamp: Annotated[str | None, typer.Option(help="ISO 8601 or epoch ms (default: now).")] = None,
    statistic_values: Annotated[str | None, typer.Option(
        "--statistic-values",
        help="A statistic set instead of a value: SampleCount=N,Sum=S,Minimum=MIN,Maximum=MAX.")] = None,
    storage_resolution: Annotated[int, typer.Option(
        "--storage-resolution", help="60 (standard, per minute) or 1 (high resolution, queryable per second).")] = 60,
    as_json: JsonOption = False,
) -> None:
    """Record one datapoint or statistic set, like put-metric-data; the next query sees it.

    Prints what was stored; --json prints {"stored": {namespace, name, unit, dimensions, timestamp, ...}}.
    """
    from whispersync.app import open_store

    if namespace.startswith("AWS/"):
        fail("namespaces starting with 'AWS/' are reserved for AWS services (as in put-metric-data)")
    if (value is None) == (statistic_values is None):
        fail("give either a VALUE or --statistic-values SampleCount=N,Sum=S,Minimum=MIN,Maximum=MAX")
    try:
        ts = parse_time(timestamp) if timestamp else None
    except typer.BadParameter as exc:
        fail(str(exc))
    record = {"namespace": namespace, "name": name, "unit": unit,
              "dimensions": _parse_dims(dim), "timestamp": ts}
    if storage_resolution != 60:
        record["storage_resolution"] = storage_resolution
    if statistic_values is None:
        record["value"] = value
    else:
        # put-metric-data's shorthand: --statistic-values SampleCount=…,Sum=…,Minimum=…,Maximum=…
        stats: dict[str, float] = {}
        for part in statistic_values.split(","):
            key, sep, number = part.partition("=")
            try:
                stats[key.strip()] = float(number)
            except ValueError:
                sep = ""
            if not sep:
                fail(f"--statistic-values: {part!r} is not Key=number")
        record["statistic_values"] = stats
    if record["timestamp"] is None:  # stamped here, so what is printed is what is stored
        record["timestamp"] = int(time.time() * 1000)
    store = open_store(load_settings())
    try:
        store.put_metrics([record])
    except ValueError as exc:
        fail(str(exc).removeprefix("datapoint 0: "))
    finally:
        store.close()
    _print_stored(record, as_json)


def _print_stored(record: dict, as_json: bool) -> None:
    """What `metrics put` stored (it used to print nothing on success)."""
    from whispersync.domain import iso_utc

    stored = {**record, "timestamp": iso_utc(record["timestamp"] / 1000)}
    if as_json:
        print_json({"stored": stored})
        return
    what = f"value {record['value']:g}" if "value" in record else f"statistic set {record['statistic_values']}"
    dims = " ".join(f"{k}={v}" for k, v in sorted(record["dimensions"].items()))
    console.print(f"stored {record['namespace']} {record['name']} {what} ({record['unit']})"
                  f"{' ' + dims if dims else ''} at {stored['timestamp']}", highlight=False, markup=False)


def _emf_items(data: bytes) -> Iterator[tuple[int, Any]]:
    """(line number, JSON value or raw line) of an EMF file; the events of a FilterLogEvents response,
    indented as the AWS CLI prints it or one per line, one by one (at the response's line)."""
    stripped = data.strip()
    if stripped.startswith(b"{") and b"\n" in stripped:
        try:
            whole = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and isinstance(whole.get("events"), list):
            for event in whole["events"]:
                yield 1, event
            return
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            doc = line.decode("utf-8", "replace").strip()  # a Lambda line: time, request id, JSON
        if isinstance(doc, dict) and "_aws" not in doc and isinstance(doc.get("events"), list):
            for event in doc["events"]:
                yield number, event
        else:
            yield number, doc


@metrics_app.command("import")
def metrics_import(
    file: Annotated[Path, typer.Argument(help="EMF lines (bare JSON or Lambda log lines), or exported log events whose message is one.", exists=True, dir_okay=False)],
    as_json: JsonOption = False,
) -> None:
    """Import Embedded Metric Format lines (e.g. exported Lambda logs); invalid lines are reported and skipped.

    Exported log events are read one per line or as the response `aws logs filter-log-events`
    prints, {"events": [...]}; an event whose message has no `_aws` member is a log line, not a
    metric document, and is passed over, as CloudWatch extracts metrics only from EMF events.
    Importing a file again stores only the lines not imported before (exported
    events by their eventId, other lines by content and position).
    """
    from collections import Counter

    from whispersync.app import open_store
    from whispersync.monitoring.store import ImportLedger, content_key
    from whispersync.telemetry import parse_emf

    documents: list[tuple[str, list[dict]]] = []  # (import key, its datapoints), in file order
    skipped: list[dict] = []
    occurrence: Counter[str] = Counter()
    for number, doc in _emf_items(file.read_bytes()):
        try:
            key = None
            body = doc
            if isinstance(doc, dict) and "_aws" not in doc and isinstance(doc.get("message"), str):
                body = doc["message"]  # an exported log event wrapping the EMF line
                if isinstance(doc.get("eventId"), str) and doc["eventId"]:
                    key = f"metrics:event:{doc['eventId']}"
                    if "_aws" not in body:
                        continue  # one of the log group's other events: a log line, not a metric document
            records = parse_emf(body)
            documents.append((key or content_key("metrics", doc, occurrence), records))
        except ValueError as exc:
            skipped.append({"line": number, "reason": str(exc)})
    store = open_store(load_settings())
    try:
        with ImportLedger(store.root, retention_days=store.retention_days) as ledger:
            known = ledger.known(key for key, _ in documents)
            new = {key: records for key, records in documents if key not in known}
            already = len(documents) - len(new)
            datapoints = [r for records in new.values() for r in records]
            imported = store.put_metrics(datapoints) if datapoints else 0
            ledger.add(new)
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    if as_json:
        print_json({"imported": imported, "already_imported": already, "skipped": skipped})
        return
    for item in skipped:
        err_console.print(f"line {item['line']}: skipped: {item['reason']}", highlight=False)
    console.print(f"imported {imported} datapoint(s); skipped {already} line(s) already imported"
                  f" and {len(skipped)} invalid line(s)", highlight=False)
