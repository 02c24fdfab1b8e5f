"""`whispersync dashboards`: the plan's dashboards and those imported from CloudWatch.

A dashboard is a CloudWatch dashboard body. The plan declares some (worker-performance,
queue-health, executive, cost); `import` stores others (what `aws cloudwatch
get-dashboard` prints) in the home, replacing a plan dashboard of the same name;
`show` draws one over WhisperSync's data; `export` writes PutDashboard bodies.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import orjson
import typer
from rich.markdown import Markdown
from rich.text import Text

from whispersync.cli._common import (
    JsonOption,
    console,
    dashboards_app,
    err_console,
    fail,
    load_settings,
    parse_since,
    parse_time,
    print_json,
)
from whispersync.domain import iso_utc

# How many rows of a log widget the terminal shows (--json has them all).
MAX_LOG_ROWS = 20
SPARK = "▁▂▃▄▅▆▇█"


@dashboards_app.command("list")
def dashboards_list(as_json: JsonOption = False) -> None:
    """The dashboards: the plan's, then stored ones (a stored one replaces the plan's of its name).

    Example:

        whispersync dashboards list
    """
    dashboards = _dashboards(load_settings(read_only=True))
    rows = [{"name": d.name, "widgets": len(d.body.get("widgets") or []), "start": d.body.get("start"),
             "source": d.source, "description": d.description,
             "updated_at": iso_utc(d.updated_ms / 1000) if d.updated_ms is not None else None} for d in dashboards]
    if as_json:
        print_json({"dashboards": rows})
        return
    from whispersync.cli._inspect import fitted_table

    console.print(fitted_table(("name", "widgets", "range", "source", "description"),
                               [[r["name"], str(r["widgets"]), r["start"] or "", r["source"], r["description"]]
                                for r in rows], cut=("description",), drop=("description",), box=None))


@dashboards_app.command("show")
def dashboards_show(
    name: Annotated[str, typer.Argument(help="The dashboard's name (see `dashboards list`).")],
    since: Annotated[Optional[str], typer.Option(help="Show this much before now (30m, 3h, 7d) instead of the "
                                                      "dashboard's own range.")] = None,
    start: Annotated[Optional[str], typer.Option(help="Range start: ISO 8601 (UTC unless it says otherwise) or "
                                                      "epoch milliseconds.")] = None,
    end: Annotated[Optional[str], typer.Option(help="Range end (with --start); default: now.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Each widget of a dashboard with its data: series, single values, log rows, alarm states, text.

    The range is the dashboard's own (its `start`, e.g. -PT3H) unless --since or --start says otherwise.

    Examples:

        whispersync dashboards show queue-health

        whispersync dashboards show executive --since 1h --json
    """
    from whispersync.errors import InputError
    from whispersync.monitoring.dashboards import body_range, parse_body, widget_data

    if since is not None and (start is not None or end is not None):
        fail("--since and --start/--end both give the range; give one")
    if end is not None and start is None:
        fail("--end needs --start")
    settings = load_settings(read_only=True)
    found = _find(settings, name)
    body, messages = parse_body(found.body, name=found.name)
    errors = [m for m in messages if m.level == "error"]
    if errors:
        _print_messages(errors)
        fail(f"dashboard {name!r} ({found.source}) has {len(errors)} error(s); fix its body")
    now_ms = int(time.time() * 1000)
    if since is not None:
        start_ms, end_ms = now_ms - int(parse_since(since) * 1000), now_ms
    elif start is not None:
        start_ms, end_ms = parse_time(start), parse_time(end) if end is not None else now_ms
    else:
        try:
            start_ms, end_ms = body_range(body.start, body.end, now_ms)
        except InputError as exc:
            fail(str(exc))
    if start_ms >= end_ms:
        fail("the range is empty: its start must be before its end")
    with _data_sources(settings) as (store, alarms):
        shown = [{"x": w.x, "y": w.y, "width": w.width, "height": w.height,
                  **widget_data(w, store=store, alarms=alarms, start_ms=start_ms, end_ms=end_ms, now_ms=now_ms,
                              period_override=body.period_override)}
                 for w in body.widgets]
    if as_json:
        print_json({"name": found.name, "source": found.source, "start": iso_utc(start_ms / 1000),
                    "end": iso_utc(end_ms / 1000), "messages": [m.to_dict() for m in messages], "widgets": shown})
        return
    console.print(Text(f"{found.name}  {iso_utc(start_ms / 1000)} .. {iso_utc(end_ms / 1000)}", style="bold"))
    for widget in sorted(shown, key=lambda w: (w["y"], w["x"])):
        _print_widget(widget)


@dashboards_app.command("import")
def dashboards_import(
    file: Annotated[Path, typer.Argument(help="What `aws cloudwatch get-dashboard` prints ({\"DashboardName\", "
                                              "\"DashboardBody\": \"<json>\", ...}), or a bare dashboard body.")],
    name: Annotated[Optional[str], typer.Option(help="Store it under this name; default: its DashboardName, "
                                                     "else the file's name without .json.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; store nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Store a CloudWatch dashboard, checked as PutDashboard checks it.

    Every validation message is listed: an error (the body cannot be used) stores
    nothing and exits 1; a warning (a property WhisperSync cannot honour, such as
    region) keeps the dashboard. Importing the same body again changes nothing.
    """
    from whispersync.app import open_dashboards
    from whispersync.cli._alarms import _read_file
    from whispersync.monitoring.dashboards import DashboardBodyError, parse_body

    try:
        document = orjson.loads(_read_file(file))
    except orjson.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}")
    if isinstance(document, dict) and "DashboardBody" in document:
        body = document["DashboardBody"]  # a JSON string, as GetDashboard returns it
        name = name or document.get("DashboardName")
    else:
        body = document
    name = name or _name_from_file(file)
    parsed, messages = parse_body(body, name=name)
    errors = [m for m in messages if m.level == "error"]
    status = "invalid"
    if not errors:
        with open_dashboards(load_settings()) as store:
            try:
                status = store.put(name, body, dry_run=dry_run)
            except DashboardBodyError as exc:  # the store checks again; nothing else should differ
                fail(f"{file}: {exc}")
    if as_json:
        print_json({"name": name, "status": status, "dry_run": dry_run, "widgets": len(parsed.widgets),
                    "messages": [m.to_dict() for m in messages]})
    else:
        _print_messages(messages)
        warnings = len(messages) - len(errors)
        if errors:
            err_console.print(f"{file}: {len(errors)} error(s), {warnings} warning(s): nothing stored",
                              highlight=False, markup=False)
        else:
            console.print(f"{file}: {'would be ' if dry_run else ''}{status} dashboard {name}"
                          f" ({warnings} warning(s))", highlight=False, markup=False, soft_wrap=True)
    if errors:
        raise typer.Exit(1)


class ExportFormat(str, Enum):
    cloudwatch = "cloudwatch"


@dashboards_app.command("export")
def dashboards_export(
    directory: Annotated[Path, typer.Argument(help="Where to write one <name>.json per dashboard (created).")],
    output_format: Annotated[ExportFormat, typer.Option(
        "--format", help="cloudwatch: PutDashboard bodies, for `aws cloudwatch put-dashboard --dashboard-name NAME "
                         "--dashboard-body file://NAME.json` and for `dashboards import`.")] = ExportFormat.cloudwatch,
    as_json: JsonOption = False,
) -> None:
    """Write every dashboard (the plan's and stored ones) as a CloudWatch dashboard body.

    Each body is checked as PutDashboard checks it before anything is written.
    """
    from whispersync.monitoring.dashboards import DashboardBodyError, parse_body, render_body

    rendered = []
    for d in _dashboards(load_settings(read_only=True)):
        try:
            body, _ = parse_body(d.body, name=d.name, strict=True)
        except DashboardBodyError as exc:
            fail(f"dashboard {d.name!r} ({d.source}): {exc}")
        rendered.append((d.name, render_body(body)))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for dashboard_name, body in rendered:
            path = directory / f"{dashboard_name}.json"
            path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
            written.append({"name": dashboard_name, "file": str(path), "widgets": len(body["widgets"])})
    except OSError as exc:
        fail(f"cannot write to {directory}: {exc.strerror}")
    if as_json:
        print_json({"format": output_format.value, "directory": str(directory), "dashboards": written})
        return
    for item in written:
        console.print(f"wrote {item['file']} ({item['widgets']} widgets)", highlight=False, markup=False,
                      soft_wrap=True)


@dashboards_app.command("delete")
def dashboards_delete(
    name: Annotated[str, typer.Argument(help="The stored dashboard's name.")],
    as_json: JsonOption = False,
) -> None:
    """Delete a stored dashboard (one the plan declares is changed in the plan file).

    A plan dashboard that the stored one replaced is shown again.
    """
    from whispersync.app import open_dashboards

    settings = load_settings()
    with open_dashboards(settings) as store:
        try:
            deleted = store.delete(name)
        except sqlite3.Error as exc:
            fail(f"cannot change the stored dashboards in {store.path}: {exc}")
    if not deleted:
        if any(d.name == name for d in _plan(settings).dashboards):
            fail(f"dashboard {name!r} is declared in the monitoring plan; change or remove it in the plan file")
        fail(f"no stored dashboard named {name!r}")
    if as_json:
        print_json({"deleted": name})
        return
    console.print(f"deleted dashboard {name}", highlight=False, markup=False)


# -- helpers ------------------------------------------------------------------------------------


def _plan(settings):
    from whispersync.app import load_plan
    from whispersync.errors import ConfigError

    try:
        return load_plan(settings)
    except ConfigError as exc:  # a plan file that cannot be used
        fail(str(exc))


def _dashboards(settings) -> list[Any]:
    """The plan's dashboards, then the stored ones (app.list_dashboards), or a clear exit."""
    from whispersync.app import list_dashboards
    from whispersync.errors import ConfigError

    try:
        return list_dashboards(settings)
    except ConfigError as exc:
        fail(str(exc))


def _find(settings, name: str) -> Any:
    dashboards = _dashboards(settings)
    for d in dashboards:
        if d.name == name:
            return d
    fail(f"no dashboard named {name!r}; known: {', '.join(d.name for d in dashboards) or 'none'}")
    raise AssertionError  # fail() exits


@contextmanager
def _data_sources(settings) -> Iterator[tuple[Any, Any]]:
    """The telemetry store and the alarm engine (for alarm widgets), as `metrics get` and `alarms list` open them."""
    from whispersync.app import open_alarms, open_store
    from whispersync.errors import ConfigError

    try:
        with open_alarms(settings) as engine:
            yield open_store(settings), engine
    except ConfigError as exc:
        fail(str(exc))


def _name_from_file(file: Path) -> str:
    stem = file.name.removesuffix(".json")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", stem):
        fail(f"{file.name} does not make a dashboard name (letters, digits, - and _): give one with --name")
    return stem


def _print_messages(messages: Sequence[Any]) -> None:
    for m in messages:
        style = "red" if m.level == "error" else "yellow"
        err_console.print(Text.assemble((m.level, style), f" {m.data_path or '/'}: {m.message}"), soft_wrap=True)


def _print_widget(widget: Mapping[str, Any]) -> None:
    kind = widget["type"]
    console.print()
    console.print(Text(widget.get("title") or kind, style="bold underline"))
    if "error" in widget:
        console.print(Text(f"error: {widget['error']['message']}", style="red"), soft_wrap=True)
    if kind == "metric":
        _print_metric(widget)
    elif kind == "log" and "rows" in widget:
        _print_log(widget)
    elif kind == "alarm":
        _print_alarms(widget.get("alarms") or [])
    elif kind == "text":
        console.print(Markdown(widget.get("markdown", "")))


def _print_metric(widget: Mapping[str, Any]) -> None:
    series = widget.get("series") or []
    if not series and "error" not in widget:
        console.print(Text("no data", style="dim"))
    for s in series:
        label = s.get("label") or s.get("id")
        if "value" in s:  # singleValue, gauge, bar, pie: one number each
            console.print(Text.assemble(f"{label}: ", (_number(s["value"]), "bold"), (_trend(s.get("trend")), "dim")),
                          soft_wrap=True)
            continue
        values = [v for v in s.get("values") or [] if v is not None]
        last = _number(values[-1]) if values else "no data"
        console.print(Text.assemble(f"{label}: ", (last, "bold"), f"  {_sparkline(values)}",
                                    (f"  ({len(values)} points)", "dim")), soft_wrap=True)
    for line in widget.get("lines") or []:  # horizontal annotations and alarm thresholds
        state = f" ({line['state']})" if line.get("state") else ""
        console.print(Text(f"--- {line.get('label') or line['kind']}: {_number(line['value'])}{state}", style="dim"),
                      soft_wrap=True)


def _trend(trend: Mapping[str, Any] | None) -> str:
    """A single value's change against the range before (its ``trend``), or nothing."""
    if not trend:
        return ""
    if trend["change"] is None:
        return "  (no earlier value)"
    arrow = "▲" if trend["change"] > 0 else "▼" if trend["change"] < 0 else "="
    amount = f"{trend['change_percent']:+.1f}%" if trend["change_percent"] is not None else f"{trend['change']:+g}"
    return f"  {arrow} {amount} vs the range before"


def _print_log(widget: Mapping[str, Any]) -> None:
    from whispersync.cli._inspect import fitted_table

    columns, rows = widget.get("columns") or [], widget.get("rows") or []
    if not rows:
        console.print(Text("no rows", style="dim"))
        return
    table = [["" if value is None else str(value) for value in row] for row in rows[:MAX_LOG_ROWS]]
    console.print(fitted_table(columns, table, cut=tuple(columns), box=None))
    if len(rows) > MAX_LOG_ROWS:
        console.print(Text(f"... {len(rows) - MAX_LOG_ROWS} more rows (--json has them all)", style="dim"))


def _print_alarms(alarms: Sequence[Mapping[str, Any]]) -> None:
    colours = {"ALARM": "red", "OK": "green", "INSUFFICIENT_DATA": "yellow"}
    for a in alarms:
        state = a.get("state") or "unknown"
        console.print(Text.assemble((f"{state:<17}", colours.get(state, "dim")), f" {a['name']}",
                                    (f"  {a.get('reason') or ''}", "dim")), soft_wrap=True)


def _number(value: Any) -> str:
    if value is None:
        return "no data"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _sparkline(values: Sequence[float], width: int = 40) -> str:
    """The last `width` values as block characters, lowest to highest."""
    values = list(values)[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    return "".join(SPARK[0 if span == 0 else round((v - low) / span * (len(SPARK) - 1))] for v in values)
