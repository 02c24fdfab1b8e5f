"""`whispersync export`: the plan rendered for other tools (Prometheus rules, Grafana dashboards).

Each command is a thin shell over `whispersync.monitoring.export`; commands are added below,
one function per format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

export_app = typer.Typer(help="Render the monitoring plan for other tools: Prometheus rules, Grafana dashboards.",
                         no_args_is_help=True)


@export_app.command("grafana")
def export_grafana(
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="The directory to write <dashboard>.json into "
                                            "(created if missing).")],
    datasource: Annotated[str, typer.Option("--datasource", help="prometheus: PromQL over `whispersync up`'s /metrics; "
                                            "cloudwatch: Grafana's CloudWatch datasource over the AWS deployment.")
                          ] = "prometheus",
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="A plan file (.py or .toml) to layer on; "
                                                      "default: the configured plan_file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON document instead of text.")
                       ] = False,
) -> None:
    """Each plan dashboard as Grafana dashboard JSON; every widget property it cannot carry over is listed."""
    from whispersync.cli._common import err_console, fail, load_settings, print_json
    from whispersync.monitoring.export import DATASOURCES, GrafanaExportError, dashboard_json_text, grafana_dashboards
    from whispersync.plan import PlanError, effective_plan

    if datasource not in DATASOURCES:
        raise typer.BadParameter(f"{datasource!r}: use one of {', '.join(DATASOURCES)}", param_hint="'--datasource'")
    plan_path = plan_file or load_settings().plan_file
    try:
        plan = effective_plan(plan_path)
    except PlanError as exc:
        fail(f"{plan_path}: " + "; ".join(exc.problems), code=1)
    try:
        result = grafana_dashboards(plan, datasource=datasource)
    except GrafanaExportError as exc:
        fail(str(exc), code=1)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, dashboard in result.dashboards.items():
            path = out_dir / f"{name}.json"
            path.write_text(dashboard_json_text(dashboard), encoding="utf-8")
            written.append({"dashboard": name, "file": str(path)})
    except OSError as exc:
        fail(f"cannot write to {out_dir}: {exc.strerror or exc}", code=1)
    not_carried = [n.to_dict() for n in result.not_carried]
    if as_json:
        print_json({"datasource": datasource, "dir": str(out_dir), "dashboards": written, "not_carried": not_carried})
        return
    for item in written:
        typer.echo(f"wrote {item['file']}")
    if not_carried:
        err_console.print(f"{len(not_carried)} widget propert{'y' if len(not_carried) == 1 else 'ies'} not carried "
                          "over:", highlight=False)
        for n in result.not_carried:
            err_console.print(f"  {n.dashboard} {n.widget or '/'} {n.property}: {n.reason}", highlight=False,
                              soft_wrap=True)


@export_app.command("prometheus-rules")
def export_prometheus_rules(
    out: Annotated[Path, typer.Argument(metavar="OUT.yml", help="The rule file to write (YAML).", dir_okay=False)],
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="A plan file (.py or .toml) to layer on; "
                                                      "default: the configured plan_file.")] = None,
) -> None:
    """Every plan alarm as a Prometheus alerting rule; check the file with `promtool check rules OUT.yml`.

    Where CloudWatch's semantics have no exact PromQL form, a rule's `semantics` annotation says how
    it differs; an alarm with no PromQL form at all becomes a rule that never fires, with an
    `untranslated` annotation saying why: none is left out.
    """
    from whispersync.cli._common import err_console, fail, load_settings
    from whispersync.monitoring.export import prometheus_rules, rules_yaml
    from whispersync.plan import PlanError, effective_plan

    try:
        plan = effective_plan(plan_file or load_settings().plan_file)
    except PlanError as exc:
        fail(f"{plan_file}: " + "; ".join(exc.problems), code=1)
    document = prometheus_rules(plan)
    try:
        out.write_text(rules_yaml(document), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}", code=1)
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    typer.echo(f"wrote {len(rules)} alerting rules to {out}")
    for rule in rules:
        if "untranslated" in rule["annotations"]:
            err_console.print(f"  {rule['alert']}: {rule['annotations']['untranslated']}", highlight=False,
                              soft_wrap=True)
