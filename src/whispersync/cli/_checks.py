"""`checks list | run NAME | history NAME`: the plan's canaries (§6) from the shell.

`up` runs each canary on its schedule; `checks run` runs one now, with the same effects
(its metrics are published and the run recorded), so a failing dependency can be
confirmed by hand. Exit status of `checks run`: 0 when PASSED, 1 when FAILED. The `end-to-end`
check's memo is processed by `up`'s workers, or, with no `up` on the home, by a worker started here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer
from rich.text import Text

from whispersync.cli._common import JsonOption, console, err_console, fail, load_settings, print_json
from whispersync.cli._inspect import fitted_table

checks_app = typer.Typer(help="Synthetic checks (canaries): list, run one now, show its runs.", no_args_is_help=True)


def _check_dict(check) -> dict:
    return {"name": check.name, "kind": check.kind, "schedule": check.schedule, "interval_seconds":
            check.interval_seconds, "timeout_seconds": check.timeout_seconds, "retries": check.retries,
            "retention_days": check.retention_days, "url": check.url}


def _find(checks, name: str):
    for check in checks:
        if check.name == name:
            return check
    known = ", ".join(c.name for c in checks) or "none"
    fail(f"no check named {name[:80]!r}; the plan's checks: {known}")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _state(state: str) -> Text:
    return Text(state, style="green" if state == "PASSED" else "bold red")


@checks_app.command("list")
def checks_list(as_json: JsonOption = False) -> None:
    """The plan's checks: kind, schedule, timeout, retries.

    Example: whispersync checks list --json
    """
    from whispersync.app import load_plan

    checks = [_check_dict(c) for c in load_plan(load_settings()).health_checks]
    if as_json:
        print_json({"checks": checks})
        return
    rows = [[c["name"], c["kind"], c["schedule"], f"{c['timeout_seconds']} s", str(c["retries"]), c["url"] or ""]
            for c in checks]
    console.print(fitted_table(("name", "kind", "schedule", "timeout", "retries", "url"), rows, cut=("url",)))


@checks_app.command("run")
def checks_run(
    name: Annotated[str, typer.Argument(help="The check's name, as `checks list` shows it.")],
    as_json: JsonOption = False,
) -> None:
    """Run one check now: publish its metrics and record the run. Exit 1 when it FAILED.

    Example: whispersync checks run dependencies
    """
    from whispersync.app import build_runtime, run_health_check
    from whispersync.monitoring.synthetics import SyntheticsStore

    runtime = build_runtime(load_settings())
    runs = SyntheticsStore(runtime.settings.monitoring_db)
    lock = None
    try:
        check = _find(runtime.health_checks, name)
        if check.kind == "end-to-end":
            lock = _own_worker_pool(runtime)
        run = run_health_check(runtime, check, runs)
    finally:
        runs.close()
        runtime.close()
        if lock is not None:
            lock.release()
    if as_json:
        print_json(run.to_dict())
    else:
        console.print(Text.assemble(_state(run.state), f" {run.canary} in {run.duration_ms:.0f} ms",
                                    f" ({run.failure_code}: {run.reason})" if run.reason else ""))
        for step in run.steps:
            console.print(f"  {'ok  ' if step['ok'] else 'FAIL'} {step['name']:<10} {step['latency_ms']:>8.1f} ms"
                          f"  {step['reason'] or ''}", highlight=False)
    if run.state != "PASSED":
        raise typer.Exit(1)


def _own_worker_pool(runtime):
    """With no `up` on this home, start a one-worker pool here for the check, so its memo is processed
    as `up` would (memos already waiting are worked off too). The home's lock is held meanwhile, so no
    `up` starts beside it: two processes appending to one journal is what the agents cannot do.
    With `up` running, its pool processes the memo; None is returned."""
    from whispersync.home_lock import HomeLocked, lock_home

    try:
        lock = lock_home(runtime.settings.home, url="whispersync checks run (end-to-end)")
    except HomeLocked:
        return None
    runtime.start(workers=1, inbox=False, collector=False, maintenance=False, notifications=False, alarms=False,
                  sweep=False, checks=False)
    return lock


@checks_app.command("history")
def checks_history(
    name: Annotated[str, typer.Argument(help="The check's name.")],
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The recorded runs of one check, newest first: state, failure code, reason.

    Example: whispersync checks history dependencies --limit 10
    """
    from whispersync.app import load_plan
    from whispersync.monitoring.synthetics import SyntheticsStore

    settings = load_settings(read_only=True)
    _find(load_plan(settings).health_checks, name)
    runs = SyntheticsStore(settings.monitoring_db)
    try:
        items = runs.history(name, limit) if settings.monitoring_db.exists() else []
    finally:
        runs.close()
    if as_json:
        print_json({"name": name, "runs": [r.to_dict() for r in items]})
        return
    if not items:
        err_console.print(f"no runs of {name} yet")
        return
    rows = [[_when(r.started_ms), _state(r.state), f"{r.duration_ms:.0f} ms", r.failure_code or "", r.reason or ""]
            for r in items]
    console.print(fitted_table(("time (UTC)", "state", "duration", "failure code", "reason"), rows,
                               drop=("duration", "failure code"), cut=("reason",)))
