"""`whispersync baselines show|list`: what is normal for each hour (plan §10, monitoring/baselines.py)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import typer

from whispersync.cli._common import JsonOption, console, err_console, fail, load_settings, print_json

baselines_app = typer.Typer(help="Baselines (plan §10): the expected band for each hour of a day, and the ones "
                                 "the daily job stored.", no_args_is_help=True)


@baselines_app.command("show")
def baselines_show(
    metrics: Annotated[list[str], typer.Argument(
        metavar="METRIC...", help="NAMESPACE:METRIC (e.g. WhisperSync/Business:ProcessingDuration), or the name "
                                  "of one of the plan's baselines (`whispersync plan show`), which brings its "
                                  "own statistic, dimensions and 7-day window.")],
    stat: Annotated[str, typer.Option("--stat", help="Statistic per hour: Average, p99, Sum, ...")] = "Average",
    dimension: Annotated[Optional[list[str]], typer.Option(
        "--dimension", "-d", help="K=V, repeatable: the metric's exact dimension set.")] = None,
    k: Annotated[float, typer.Option("--k", help="Band width in standard deviations.")] = 2.0,
    timezone: Annotated[str, typer.Option(help="Whose day and hours: a tz database name.")] = "UTC",
    day: Annotated[Optional[str], typer.Option("--date", help="The day (YYYY-MM-DD); default today.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Today's expected value and band for each hour, from the anomaly detection band's model.

    With too little data before the day (under a day) an hour is PENDING_TRAINING, with no numbers.
    NAMESPACE:METRIC takes --stat and --dimension, e.g. WhisperSync/Business:ProcessingDuration --stat p99.

    \b
    whispersync baselines show ProcessingDuration-Average
    whispersync baselines show ProcessingDuration-p99 WorkerErrors --timezone Europe/Berlin --json
    """
    from whispersync.app import load_plan, open_store
    from whispersync.monitoring.baselines import compute_baseline, compute_day, day_of
    from whispersync.monitoring.metrics import AnomalySettings, MetricQueryError
    from whispersync.plan import Baseline, check_statistic

    settings = load_settings(read_only=True)
    plan_baselines = {b.name: b for b in load_plan(settings).baselines}
    try:
        check_statistic(stat)
    except ValueError as exc:
        fail(f"--stat: {exc}")
    if not 0 < k < float("inf"):
        fail(f"--k: the band width (standard deviations) must be a positive number, got {k!r}")
    try:
        AnomalySettings(timezone=timezone)
    except MetricQueryError as exc:
        fail(f"--timezone: {exc}")
    dims = {}
    for item in dimension or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            fail(f"--dimension takes K=V, got {item!r}")
        dims[key] = value
    if day is None:
        the_day = day_of(int(time.time() * 1000), timezone)
    else:
        try:
            the_day = date.fromisoformat(day)
        except ValueError:
            fail(f"--date takes YYYY-MM-DD, got {day!r}")
    wanted: list[Baseline | tuple[str, str]] = []
    for spec in metrics:
        if spec in plan_baselines:
            wanted.append(plan_baselines[spec])
            continue
        # The last colon splits: namespaces may hold one (CloudWatch allows ':' in them).
        namespace, sep, name = spec.rpartition(":")
        if not sep or not namespace or not name:
            known = ", ".join(sorted(plan_baselines)) or "none"
            fail(f"{spec!r} is not a baseline of the plan ({known}) nor NAMESPACE:METRIC "
                 "(e.g. WhisperSync/Business:ProcessingDuration)")
        wanted.append((namespace, name))

    store = open_store(settings)
    shown, missing = [], []
    for item in wanted:
        try:
            if isinstance(item, tuple):
                namespace, name = item
                if not _published(store, namespace, name, dims):
                    missing.append(_no_data(store, namespace, name, dims))
                    continue
                shown.append(compute_day(store, namespace, name, statistic=stat, dimensions=dims, day=the_day,
                                         timezone=timezone, k=k))
            else:
                shown.append(compute_baseline(store, item, day=the_day, timezone=timezone, k=k))
        except MetricQueryError as exc:
            fail(str(exc))
    if as_json:
        print_json({"baselines": [b.to_dict() for b in shown]})
    else:
        zone = ZoneInfo(timezone)
        for baseline in shown:
            _print_day(baseline, zone)
    for message in missing:
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    if missing:
        raise typer.Exit(1)


def _published(store, namespace: str, name: str, dims: dict[str, str]) -> bool:
    return any(m["dimensions"] == dims for m in store.list_metrics(namespace=namespace, name=name))


def _no_data(store, namespace: str, name: str, dims: dict[str, str]) -> str:
    sets = [m["dimensions"] for m in store.list_metrics(namespace=namespace, name=name)]
    asked = ", ".join(f"{k}={v}" for k, v in dims.items()) or "no dimensions"
    if not sets:
        return (f"no data for {namespace}:{name}: nothing was ever published under that name "
                "(`whispersync metrics list` shows what was)")
    published = "; ".join(", ".join(f"{k}={v}" for k, v in s.items()) or "no dimensions" for s in sets[:5])
    return (f"no data for {namespace}:{name} with {asked}; it is published with: {published} "
            "(pick one with --dimension K=V)")


def _print_day(baseline, zone: ZoneInfo) -> None:
    title = baseline.name + ": " if baseline.name else ""
    dims = "".join(f" {k}={v}" for k, v in baseline.dimensions.items())
    console.print(f"{title}{baseline.namespace} {baseline.metric_name}{dims} {baseline.statistic} per hour, "
                  f"{baseline.day} ({baseline.timezone}), k={baseline.k:g}, {baseline.window_days}-day window: "
                  f"{baseline.state}", highlight=False, soft_wrap=True)
    console.print(f"{'hour':<6} {'expected':>12} {'lower':>12} {'upper':>12}", highlight=False)
    for h in baseline.hours:
        hour = datetime.fromtimestamp(h.start_ms / 1000, zone).strftime("%H:%M")
        if h.expected is None:
            console.print(f"{hour:<6} {h.state} (under a day of data before this hour's day)", highlight=False)
        else:
            console.print(f"{hour:<6} {h.expected:>12.6g} {h.lower:>12.6g} {h.upper:>12.6g}", highlight=False)


@baselines_app.command("list")
def baselines_list(as_json: JsonOption = False) -> None:
    """The baselines the daily job stored (`whispersync up` runs it), the latest day of each, with when it was
    computed. Dashboards draw them as WhisperSync/Baselines Expected, LowerBound and UpperBound by Baseline.

    \b
    whispersync baselines list
    whispersync baselines list --json
    """
    from whispersync.monitoring.baselines import BaselineStore

    settings = load_settings(read_only=True)
    stored = []
    if settings.monitoring_db.exists():
        store = BaselineStore(settings.monitoring_db)
        try:
            stored = store.latest()
        finally:
            store.close()
    if as_json:
        print_json({"baselines": [b.to_dict() for b in stored]})
        return
    if not stored:
        console.print("no baselines computed yet: `whispersync up` computes the plan's once a day", highlight=False)
        return
    for b in stored:
        computed = datetime.fromtimestamp(b.computed_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        dims = "".join(f" {k}={v}" for k, v in b.dimensions.items())
        console.print(f"{b.name:<36} {b.day}  {b.state:<26} computed {computed}  "
                      f"{b.namespace} {b.metric_name}{dims} {b.statistic}", highlight=False, soft_wrap=True)
