"""`plan show` and `plan validate`: the effective monitoring plan, and checking a plan file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from whispersync.cli._common import (
    JsonOption,
    console,
    err_console,
    load_settings,
    plan_app,
    print_json,
)
from whispersync.plan import Plan, PlanError, effective_plan


@plan_app.command("show")
def plan_show(
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="A plan file (.py or .toml) to layer on; "
                                                      "default: the configured plan_file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The effective plan: the built-in plan plus your plan file, each item with its source."""
    from whispersync.monitoring.plan_check import check_plan

    path = plan_file or load_settings().plan_file
    plan = _load(path, as_json)
    problems = check_plan(plan)
    if as_json:
        print_json({**plan.to_dict(), "problems": problems})
    else:
        _print(plan)
        for problem in problems:
            err_console.print(f"[red]problem:[/] {problem}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


@plan_app.command("validate")
def plan_validate(
    plan_file: Annotated[Path, typer.Argument(help="The plan file to check (.py or .toml).")],
    as_json: JsonOption = False,
) -> None:
    """Check a plan file without starting anything: exit 0 when it is good, 1 with every problem listed."""
    from whispersync.monitoring.plan_check import check_plan

    plan = _load(plan_file, as_json)
    problems = check_plan(plan)
    if as_json:
        print_json({"file": str(plan_file), "valid": not problems, "problems": problems})
    elif problems:
        err_console.print(f"{plan_file}: {len(problems)} problem(s)", highlight=False)
        for problem in problems:
            err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
    else:
        console.print(f"{plan_file}: valid ({len(plan.alarms)} alarms, {len(plan.metric_filters)} metric filters "
                      "in the effective plan)", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


def _load(path: Path | None, as_json: bool) -> Plan:
    try:
        return effective_plan(path)
    except PlanError as exc:
        if as_json:
            print_json({"file": str(path), "valid": False, "problems": exc.problems})
        else:
            err_console.print(f"{path}: {len(exc.problems)} problem(s)", highlight=False)
            for problem in exc.problems:
                err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _print(plan: Plan) -> None:
    from whispersync.cli._inspect import fitted_table

    rows = []
    for alarm in plan.alarms:
        what = alarm.rule if alarm.kind == "composite" else (
            f"{alarm.namespace} {alarm.metric_name} {alarm.statistic}" if not alarm.metrics else "metric math")
        rows.append(["alarm", alarm.name, what, alarm.priority, plan.source_of("alarms", alarm.name)])
    for f in plan.metric_filters:
        rows.append(["metric filter", f.name, f"{f.pattern} → {f.namespace} {f.metric_name}", "",
                     plan.source_of("metric_filters", f.name)])
    for section in ("dashboards", "health_checks", "remediation", "baselines", "slos"):
        for item in getattr(plan, section):
            rows.append([section.rstrip("s").replace("_", " "), item.name, "", "", plan.source_of(section, item.name)])
    for priority, channels in plan.routes.items():
        rows.append(["route", priority, ", ".join(channels), priority, plan.sources.get("routes", "built-in")])
    # Names are never cut; the "what" column wraps (a composite's rule is read whole).
    console.print(fitted_table(("section", "name", "what", "priority", "source"), rows, drop=("priority",),
                               wrap=("what",), box=None))
