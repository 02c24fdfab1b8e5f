"""`traces search` and `traces show`: find traces by annotation, duration, error or correlation id."""

from __future__ import annotations

import time
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
    parse_since,
    parse_time,
    print_json,
    traces_app,
)
from whispersync.cli._inspect import _span_tree
from whispersync.cli._logs import show_where
from whispersync.monitoring.times import lookback_start


@traces_app.command("search")
def traces_search(
    filter: Annotated[str | None, typer.Option("--filter", help='X-Ray style: agent_type = "work" AND success = false, '
                                                                 "duration > 0.5, error, fault, NOT ok.")] = None,
    correlation_id: Annotated[str | None, typer.Option("--correlation-id", help="Only traces with this correlation id.")] = None,
    errors: Annotated[bool, typer.Option("--errors", help="Only traces with a span that ended in ERROR.")] = False,
    min_duration_ms: Annotated[float | None, typer.Option("--min-duration-ms", help="Only traces at least this long.")] = None,
    slowest: Annotated[int | None, typer.Option("--slowest", min=1, help="The N longest traces, longest first.")] = None,
    since: Annotated[str, typer.Option(help="How far back to look: 30m, 1h, 7d.")] = "1h",
    start: Annotated[str | None, typer.Option(help="Start (ISO 8601 or epoch ms); overrides --since.")] = None,
    end: Annotated[str | None, typer.Option(help="End (ISO 8601 or epoch ms); default now.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many traces, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Search traces; one line per trace with its root span, duration and annotations."""
    from whispersync.app import open_store
    from whispersync.monitoring.traces import TraceFilterError, search_traces

    start_ms = parse_time(start) if start else lookback_start(int(time.time() * 1000), parse_since(since))
    end_ms = parse_time(end) if end else None
    try:
        found = search_traces(open_store(load_settings()), filter=filter, correlation_id=correlation_id,
                              errors=errors, min_duration_ms=min_duration_ms, start_ms=start_ms, end_ms=end_ms,
                              slowest=slowest, limit=limit)
    except TraceFilterError as exc:
        show_where(exc)
        fail(f"bad filter: {exc}")
    if as_json:
        print_json({"traces": [t.to_dict() for t in found]})
        return
    if not found:
        err_console.print("no matching traces")
        return
    table = Table("trace id", "root span", "start", "duration ms", "spans", "error", "correlation id", "annotations")
    for t in found:
        notes = " ".join(f"{k}={v}" for k, v in t.annotations.items() if k != "correlation_id")
        table.add_row(t.trace_id, t.root_span or "", t.start, f"{t.duration_ms:.1f}", str(t.span_count),
                      "[red]yes[/]" if t.has_error else "", t.correlation_id or "", notes)
    console.print(table)


@traces_app.command("show")
def traces_show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="A trace id (or a correlation id).")],
    as_json: JsonOption = False,
) -> None:
    """Show one trace as a span tree with timings, annotations and metadata."""
    from whispersync.app import open_store
    from whispersync.errors import NotFound
    from whispersync.monitoring.traces import get_trace

    store = open_store(load_settings())
    trace_ids = [ident] if store.spans(trace_id=ident, limit=1) else store.trace_ids_for(ident)
    if not trace_ids:
        fail(f"no trace found for {ident!r} (telemetry reaches the store within a second or two)", code=1)
    try:
        traces = [get_trace(store, t) for t in trace_ids]
    except NotFound as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(traces[0] if len(traces) == 1 else traces)
        return
    for t in traces:
        console.print(_span_tree(t["trace_id"], t["spans"]))
        with_metadata = [s for s in t["spans"] if s.get("metadata")]
        if with_metadata:
            table = Table("span", "metadata", title="metadata", title_justify="left")
            for s in with_metadata:
                table.add_row(s["name"], orjson.dumps(s["metadata"], default=str).decode())
            console.print(table)
