"""`logs …`: the structured logs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer
from rich.text import Text

from whispersync.cli._common import (
    JsonOption,
    console,
    err_console,
    fail,
    load_settings,
    logs_app,
    parse_since,
    parse_time,
    print_json,
)
from whispersync.errors import InputError, QuerySyntaxError


def show_where(exc: QuerySyntaxError) -> None:
    """Print the line of the query, pattern or filter that is wrong, and a caret under the place."""
    lines = exc.text.splitlines()
    line = lines[exc.line - 1] if exc.line <= len(lines) else ""
    err_console.print(f"  {line}\n  {' ' * (exc.column - 1)}^", highlight=False, markup=False)


@logs_app.command("search")
def logs_search(
    correlation_id: Annotated[Optional[str], typer.Option("--correlation-id", help="Only lines with this correlation id (or a unique prefix of it).")] = None,
    trace_id: Annotated[Optional[str], typer.Option("--trace-id", help="Only lines of this trace (its id or a unique prefix).")] = None,
    level: Annotated[Optional[str], typer.Option(help="Only this level (INFO, WARNING, ERROR…).")] = None,
    since: Annotated[str, typer.Option(help="How far back to look: 30m, 1h, 7d.")] = "24h",
    limit: Annotated[int, typer.Option(min=1, help="At most this many lines: the newest (with --order asc, the oldest).")] = 1000,
    order: Annotated[str, typer.Option(help="desc: newest first; asc: oldest first, as a log file reads.")] = "desc",
    as_json: JsonOption = False,
) -> None:
    """Show log lines, newest first (--order asc: as a log file reads); --json prints {"events": [...]}."""
    from whispersync.app import open_store

    from whispersync.cli._inspect import complete_ids

    if order not in ("desc", "asc"):
        fail(f"--order must be desc or asc, not {order!r}")
    correlation_id, trace_id = complete_ids(correlation_id, trace_id)  # a unique prefix is enough
    start_ms = int((time.time() - parse_since(since)) * 1000)
    rows = open_store(load_settings(read_only=True)).logs(start_ms=start_ms, correlation_id=correlation_id, trace_id=trace_id,
                                         level=level.upper() if level else None, limit=limit, order=order)
    if as_json:
        print_json({"events": rows})
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


@logs_app.command("query")
def logs_query(
    query: Annotated[Optional[str], typer.Argument(help="A Logs Insights query, e.g. 'filter level = \"ERROR\" | stats count() by bin(5m)'.")] = None,
    since: Annotated[Optional[str], typer.Option(help="How far back to look: 30m, 1h, 7d (default 1h).")] = None,
    start: Annotated[Optional[str], typer.Option("--start", "--start-time", help="Start of the range: ISO 8601 or epoch ms.")] = None,
    end: Annotated[Optional[str], typer.Option("--end", "--end-time", help="End of the range: ISO 8601 or epoch ms (default now).")] = None,
    saved: Annotated[Optional[str], typer.Option(help="Run a saved query: error_analysis, performance_analysis, user_activity.")] = None,
    log_group_name: Annotated[Optional[list[str]], typer.Option("--log-group-name", metavar="NAME", help="Read only this log group (@log); repeat for more. Like `aws logs start-query --log-group-names`; a query may pick them with SOURCE instead.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a CloudWatch Logs Insights query over the local logs."""
    from whispersync.app import open_store
    from whispersync.monitoring.logs.insights import (
        InsightsQueryError,
        run_query,
        saved_query,
    )

    if saved is not None:
        if query is not None:
            fail("give a query or --saved, not both")
        try:
            query = saved_query(saved)
        except KeyError as exc:
            fail(exc.args[0])
    if query is None:
        fail("give a query, or --saved NAME")
    if since is not None and start is not None:
        fail("give --since or --start/--end, not both")
    now_ms = int(time.time() * 1000)
    end_ms = parse_time(end) if end is not None else now_ms
    if start is not None:
        start_ms = parse_time(start)
    else:
        start_ms = end_ms - int(parse_since(since or "1h") * 1000)
    try:
        result = run_query(open_store(load_settings(read_only=True)), query, start_ms=start_ms, end_ms=end_ms,
                           log_groups=log_group_name or None)
    except InsightsQueryError as exc:
        show_where(exc)
        fail(f"bad query: {exc}")
    except InputError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table(*result["columns"], show_lines=False)
    for row in result["rows"]:
        table.add_row(*("" if v is None else v if isinstance(v, str) else orjson.dumps(v).decode() for v in row))
    console.print(table)
    stats = result["statistics"]
    err_console.print(f"{len(result['rows'])} rows; {stats['recordsMatched']} records matched, "
                      f"{stats['recordsScanned']} scanned ({stats['bytesScanned']} bytes)")


@logs_app.command("import")
def logs_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON log lines, or CloudWatch log events.")],
    log_group: Annotated[Optional[str], typer.Option("--log-group", help="Log group to file the events under (@log).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Load a log file (JSON lines, or CloudWatch's exported events) so `logs query` can read it.

    Importing a file again stores only the events not imported before (CloudWatch
    events by their eventId, other lines by content and position).
    """
    from whispersync.app import open_store
    from whispersync.monitoring.logs import import_logs

    store = open_store(load_settings())
    try:
        report = import_logs(store, file, log_group=log_group)
    finally:
        store.close()
    stored_dated = report.imported - len(report.without_timestamp)
    if as_json:
        print_json({"imported": report.imported, "already_imported": report.already_imported,
                    "without_timestamp": [{"line": n, "reason": r} for n, r in report.without_timestamp],
                    "errors": [{"line": n, "reason": r} for n, r in report.errors]})
    else:
        for lineno, reason in report.errors:
            err_console.print(f"line {lineno}: {reason} (skipped)", highlight=False, markup=False, soft_wrap=True)
        _show_without_timestamp(report.without_timestamp)
        untimed = len(report.without_timestamp)
        console.print(f"{file}: imported {report.imported} log events"
                      + (f" ({untimed} of them without a usable timestamp, placed at the import's time)" if untimed
                         else "")
                      + f", skipped {report.already_imported} already imported and {len(report.errors)} invalid",
                      highlight=False, markup=False, soft_wrap=True)
    # Nothing queryable came of the file: no event stored now or before, or none
    # stored now with a time of its own. Say so with the exit status, not just words.
    if not (report.imported or report.already_imported):
        if not as_json:
            err_console.print(f"{file}: no log event was imported", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)
    if report.imported and stored_dated == 0:
        if not as_json:
            err_console.print(f"{file}: no imported event had a usable timestamp", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)


def _show_without_timestamp(lines: list[tuple[int, str]], shown: int = 20) -> None:
    for lineno, reason in lines[:shown]:
        err_console.print(f"line {lineno}: {reason} (stored at the import's time)", highlight=False, markup=False, soft_wrap=True)
    if len(lines) > shown:
        err_console.print(f"… and {len(lines) - shown} more lines without a usable timestamp (--json lists all)",
                          highlight=False, markup=False, soft_wrap=True)
