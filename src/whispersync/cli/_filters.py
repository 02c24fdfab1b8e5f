"""Metric filters from the shell: `logs test-filter` tries a pattern (CloudWatch's
TestMetricFilter); `filters list | put | delete | import` manage the filters that run,
the plan's and those users bring from CloudWatch (PutMetricFilter's and
DescribeMetricFilters' JSON), stored in the home and picked up by a running `up`."""

from __future__ import annotations

import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

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
from whispersync.cli._alarms import _read_file
from whispersync.cli._inspect import fitted_table
from whispersync.cli._logs import show_where
from whispersync.domain import iso_utc


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


# -- `filters`: the metric filters that run, and those users bring from CloudWatch -----------------

filters_app = typer.Typer(
    help="Metric filters: list the plan's and stored ones; put, delete, import CloudWatch's.",
    no_args_is_help=True)

LogGroupOption = Annotated[Optional[str], typer.Option("--log-group", help="Only the filters of this log group.")]


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    cloudwatch = "cloudwatch"


@filters_app.command("list")
def filters_list(
    log_group: LogGroupOption = None,
    output_format: Annotated[Optional[ListFormat], typer.Option(
        "--format", help="table (the default); json (as --json); cloudwatch: what `aws logs describe-metric-filters` "
                         "prints, {\"metricFilters\": [...]}, for `filters import`.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The metric filters that run on log lines: the plan's, then stored ones, each with its source.

    A filter with a log group sees only events of that group (`logs import --log-group`);
    one without sees every event, WhisperSync's own lines included.
    """
    from whispersync.app import open_metric_filters
    from whispersync.monitoring.logs import metric_filter_to_cloudwatch

    if as_json and output_format not in (None, ListFormat.json):
        fail(f"--json and --format {output_format.value} ask for two outputs; give one")
    as_json = as_json or output_format == ListFormat.json
    settings = load_settings(read_only=True)
    plan = _plan(settings)
    with open_metric_filters(settings) as store:
        stored = _stored(store, log_group)
    replaced = {(s.spec.log_group, s.spec.name) for s in stored}
    rows = [(f, plan.source_of("metric_filters", f.name), None) for f in plan.metric_filters
            if (f.log_group, f.name) not in replaced and (log_group is None or f.log_group == log_group)]
    rows += [(s.spec, "stored", s.created_ms) for s in stored]
    if output_format == ListFormat.cloudwatch:
        print_json({"metricFilters": [metric_filter_to_cloudwatch(f, created) for f, _, created in rows]})
        return
    if as_json:
        print_json({"metric_filters": [{**f.to_dict(), "source": source,
                                        "created_at": iso_utc(created / 1000) if created is not None else None}
                                       for f, source, created in rows]})
        return
    if not rows:
        err_console.print("no metric filters" + (f" in log group {log_group}" if log_group else ""))
        return
    table = [[f.log_group or "(every group)", f.name, f.pattern, f"{f.namespace} {f.metric_name}", f.value,
              " ".join(f"{k}={v}" for k, v in f.dimensions.items()), source] for f, source, _ in rows]
    console.print(fitted_table(("log group", "name", "pattern", "metric", "value", "dimensions", "source"), table,
                               drop=("dimensions", "value", "metric"), cut=("pattern", "metric"), box=None))


@filters_app.command("put")
def filters_put(
    cli_input_json: Annotated[str, typer.Option(
        "--cli-input-json", help="PutMetricFilter request JSON, as `aws logs put-metric-filter --cli-input-json` "
                                 "takes it (file://FILE works too).")],
    as_json: JsonOption = False,
) -> None:
    """Create or replace a metric filter of a log group (its identity: logGroupName and filterName)."""
    from whispersync.app import open_metric_filters
    from whispersync.monitoring.logs import MetricFilterInputError, metric_filter_from_request

    path = Path(cli_input_json.removeprefix("file://"))
    try:
        request = orjson.loads(_read_file(path))
    except orjson.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc}")
    if isinstance(request, dict) and "metricFilters" in request:
        fail(f"{path} is `describe-metric-filters` output (metricFilters); load it with `filters import {path}`")
    try:
        spec = metric_filter_from_request(request)
    except MetricFilterInputError as exc:
        fail(f"{path}: {exc}")
    with open_metric_filters(load_settings()) as store:
        outcome = store.put(spec)
    if outcome.status == "skipped":  # a CloudWatch quota of the log group
        fail(f"{path}: {outcome.reason}")
    if as_json:
        print_json({"log_group": spec.log_group, "name": spec.name, "status": outcome.status})
        return
    console.print(f"{outcome.status} metric filter {spec.name} of log group {spec.log_group}", highlight=False)


@filters_app.command("delete")
def filters_delete(
    name: Annotated[str, typer.Argument(help="The filter's name (filterName).")],
    log_group: Annotated[Optional[str], typer.Option(
        "--log-group", help="Its log group; needed only when stored filters of several groups have that name.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a stored metric filter (one the plan declares is changed in the plan file)."""
    from whispersync.app import open_metric_filters

    settings = load_settings()
    with open_metric_filters(settings) as store:
        groups = [s.spec.log_group for s in _stored(store, log_group) if s.spec.name == name]
        if len(groups) > 1:
            fail(f"stored filters named {name!r} are in {len(groups)} log groups ({', '.join(groups)}):"
                 " say which with --log-group")
        deleted = bool(groups) and store.delete(groups[0], name)
    if not deleted:
        if any(f.name == name and (log_group is None or f.log_group == log_group)
               for f in _plan(settings).metric_filters):
            fail(f"metric filter {name!r} is declared in the monitoring plan; change or remove it in the plan file")
        fail(f"no stored metric filter named {name!r}" + (f" in log group {log_group}" if log_group else ""))
    if as_json:
        print_json({"deleted": {"log_group": groups[0], "name": name}})
        return
    console.print(f"deleted metric filter {name} of log group {groups[0]}", highlight=False)


@filters_app.command("import")
def filters_import(
    file: Annotated[Path, typer.Argument(help="The output of `aws logs describe-metric-filters` (JSON).")],
    log_group: Annotated[Optional[str], typer.Option(
        "--log-group", help="The log group of filters that name none (older CLI output leaves it out).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; store nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Store the metric filters of a `describe-metric-filters` output, as CloudWatch has them.

    Each filter is checked on its own: one WhisperSync cannot run (a pattern it cannot
    parse, a CloudWatch limit) is skipped with the reason, and the others are stored.
    Importing the same file again changes nothing. Exits 1 when the file had filters and
    none could be stored.
    """
    from whispersync.app import open_metric_filters
    from whispersync.monitoring.logs import MetricFilterInputError, import_metric_filters

    try:
        document = orjson.loads(_read_file(file))
    except orjson.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}")
    with open_metric_filters(load_settings()) as store:
        try:
            report = import_metric_filters(store, document, log_group=log_group, dry_run=dry_run)
        except MetricFilterInputError as exc:
            fail(f"{file}: {exc}")
    result = report.to_dict()
    if as_json:
        print_json({**result, "dry_run": dry_run})
    else:
        for item in result["skipped"]:
            where = f"{item['log_group'] or '?'} {item['name'] or '?'}"
            err_console.print(f"metricFilters[{item['index']}] ({where}): {item['reason']} (skipped)",
                              highlight=False, markup=False, soft_wrap=True)
        counts = ", ".join(f"{len(result[k])} {k}" for k in ("created", "updated", "unchanged", "skipped"))
        console.print(f"{file}: {'would be: ' if dry_run else ''}{counts}", highlight=False, markup=False,
                      soft_wrap=True)
    if result["skipped"] and not (result["created"] or result["updated"] or result["unchanged"]):
        raise typer.Exit(1)


def _plan(settings):
    from whispersync.app import load_plan
    from whispersync.errors import ConfigError

    try:
        return load_plan(settings)
    except ConfigError as exc:  # a plan file that cannot be used
        fail(str(exc))


def _stored(store, log_group: str | None):
    import sqlite3

    try:
        return store.stored(log_group)
    except sqlite3.Error as exc:
        fail(f"cannot read the stored metric filters in {store.path}: {exc}")
