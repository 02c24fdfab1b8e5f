"""`traces search` and `traces show`: find traces by annotation, duration, error or correlation id."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.text import Text

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
from whispersync.cli._inspect import complete_ids, fitted_table, short_ids, show_traces
from whispersync.cli._logs import show_where
from whispersync.monitoring.times import lookback_start


@traces_app.command("search")
def traces_search(
    filter: Annotated[str | None, typer.Option("--filter", help='X-Ray style: agent_type = "work" AND success = false, '
                                                                 "duration > 0.5, error, fault, NOT ok.")] = None,
    correlation_id: Annotated[str | None, typer.Option("--correlation-id", help="Only traces with this correlation id (or a unique prefix of it).")] = None,
    errors: Annotated[bool, typer.Option("--errors", metavar="", help="Only traces with a span that ended in ERROR.")] = False,
    min_duration_ms: Annotated[float | None, typer.Option("--min-duration-ms", help="Only traces at least this long.")] = None,
    slowest: Annotated[int | None, typer.Option("--slowest", min=1, help="The N longest traces, longest first.")] = None,
    since: Annotated[str, typer.Option(help="How far back to look: 30m, 1h, 7d.")] = "1h",
    start: Annotated[str | None, typer.Option("--start", "--start-time", help="Start (ISO 8601 or epoch ms); overrides --since.")] = None,
    end: Annotated[str | None, typer.Option("--end", "--end-time", help="End (ISO 8601 or epoch ms); default now.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many traces, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Search traces; one line per trace with its root span, duration and annotations."""
    from whispersync.app import open_store
    from whispersync.monitoring.traces import TraceFilterError, find_trace_ids, search_traces

    correlation_id, _ = complete_ids(correlation_id, None)  # a unique prefix is enough
    start_ms = parse_time(start) if start else lookback_start(int(time.time() * 1000), parse_since(since))
    end_ms = parse_time(end) if end else None
    try:
        found = search_traces(open_store(load_settings(read_only=True)), filter=filter, correlation_id=correlation_id,
                              errors=errors, min_duration_ms=min_duration_ms, start_ms=start_ms, end_ms=end_ms,
                              slowest=slowest, limit=limit)
    except TraceFilterError as exc:
        show_where(exc)
        fail(f"bad filter: {exc}")
    if as_json:
        print_json({"traces": [t.to_dict() for t in found], "next_token": None})  # GET /v1/traces's shape
        return
    if not found:
        err_console.print("no matching traces")
        return
    headers = ("trace id", "root span", "start", "duration ms", "spans", "error", "correlation id", "annotations")
    rows = []
    for t in found:
        notes = " ".join(f"{k}={v}" for k, v in t.annotations.items() if k != "correlation_id")
        rows.append([t.trace_id, t.root_span or "", t.started_at, f"{t.duration_ms:.1f}", str(t.span_count),
                     Text("yes", style="red") if t.has_error else "", t.correlation_id or "", notes])
    store = open_store(load_settings(read_only=True))  # short ids are checked against every stored trace
    short = short_ids((t.trace_id for t in found), lambda prefix: len(find_trace_ids(store, prefix, limit=2)))
    console.print(fitted_table(headers, rows, short_rows=[[short[r[0]], *r[1:]] for r in rows],
                               drop=("correlation id", "spans", "root span", "start"), cut=("annotations",)))


@traces_app.command("show")
def traces_show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="A trace id, memo id or correlation id, or a unique "
                                                              "prefix of one (at least 4 characters).")],
    as_json: JsonOption = False,
) -> None:
    """Show one trace as a span tree with timings, annotations and metadata.

    --json prints the document of GET /v1/traces/{id}: {"trace_id", "summary", "spans"};
    when the id names several traces (a retried memo), {"traces": [...]} of those.
    """
    show_traces(ident, as_json)
