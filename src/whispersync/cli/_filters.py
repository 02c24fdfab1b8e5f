"""`logs test-filter`: try a metric-filter pattern, like CloudWatch's TestMetricFilter."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from whispersync.cli._common import (
    JsonOption,
    console,
    err_console,
    fail,
    load_settings,
    logs_app,
    parse_since,
    print_json,
)
from whispersync.cli._inspect import fitted_table
from whispersync.cli._logs import show_where


@logs_app.command("test-filter")
def logs_test_filter(
    pattern: Annotated[str, typer.Argument(help='A filter pattern: terms, { $.level = "ERROR" }, [ ip, status = 4*, ... ].')],
    file: Annotated[Path | None, typer.Argument(help="Log lines to test, one event a line; - for stdin. "
                                                        "Without it: the stored logs of --since.")] = None,
    since: Annotated[str, typer.Option(help="Without FILE: how far back to read stored logs (30m, 1h, 7d).")] = "1h",
    limit: Annotated[int, typer.Option(min=1, help="Without FILE: at most this many stored lines.")] = 10000,
    as_json: JsonOption = False,
) -> None:
    """Show which log lines a filter pattern matches and the values it extracts."""
    from whispersync.monitoring.logs import FilterPatternError, test_metric_filter

    if file is None:
        from whispersync.app import open_store

        start_ms = int((time.time() - parse_since(since)) * 1000)
        records = open_store(load_settings(read_only=True)).logs(start_ms=start_ms, limit=limit)
        messages = [orjson.dumps(r).decode() for r in records]
    else:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}")
        messages = [line for line in text.splitlines() if line.strip()]
    try:
        result = test_metric_filter(pattern, messages)
    except FilterPatternError as exc:
        show_where(exc)
        fail(f"bad filter pattern: {exc}")
    if as_json:
        print_json(result)
        return
    matches = result["matches"]
    if not matches:
        err_console.print(f"no match in {len(messages)} line(s)")
        return
    rows = [[str(m["eventNumber"]), m["eventMessage"], " ".join(f"{k}={v}" for k, v in m["extractedValues"].items())]
            for m in matches]
    console.print(fitted_table(("event", "message", "extracted values"), rows, cut=("message",),
                               wrap=("extracted values",)))
    err_console.print(f"{len(matches)} of {len(messages)} line(s) matched")
