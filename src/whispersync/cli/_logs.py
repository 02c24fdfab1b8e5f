"""`logs …`: the structured logs."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import orjson
import typer
from rich.text import Text

from whispersync.cli._common import (
    JsonOption,
    console,
    err_console,
    load_settings,
    logs_app,
    parse_since,
    print_json,
)



@logs_app.command("search")
def logs_search(
    correlation_id: Annotated[Optional[str], typer.Option("--correlation-id", help="Only lines with this correlation id.")] = None,
    trace_id: Annotated[Optional[str], typer.Option("--trace-id", help="Only lines of this trace.")] = None,
    level: Annotated[Optional[str], typer.Option(help="Only this level (INFO, WARNING, ERROR…).")] = None,
    since: Annotated[str, typer.Option(help="How far back to look: 30m, 1h, 7d.")] = "24h",
    limit: Annotated[int, typer.Option(help="At most this many lines.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Show log lines, oldest first."""
    from whispersync.app import open_store

    start_ms = int((time.time() - parse_since(since)) * 1000)
    rows = open_store(load_settings()).logs(start_ms=start_ms, correlation_id=correlation_id, trace_id=trace_id,
                                         level=level.upper() if level else None, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        err_console.print("no matching log lines")
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in {"timestamp", "level", "message", "service", "location",
                                                          "logger", "correlation_id", "trace_id", "span_id"}}
        style = {"ERROR": "red", "CRITICAL": "red", "WARNING": "yellow"}.get(r.get("level", ""), "")
        line = Text(f"{r.get('timestamp')} ")
        line.append(f"{r.get('level', ''):8}", style=style)
        line.append(str(r.get("message")))
        if extra:
            line.append(" " + orjson.dumps(extra, default=str).decode(), style="dim")
        console.print(line)
