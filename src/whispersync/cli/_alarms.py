"""`alarms list | history | evaluate | set-state | put | import | delete`: the alarm engine from the shell.

Each command builds the same AlarmEngine `whispersync up` runs (package plan,
then `--plan FILE`, then alarms stored by `alarms put` and `alarms import`).
Notifications from `evaluate` and `set-state` go to the outbox; a running `up`
delivers them within a second, else this command delivers what is due before it exits.
`alarms list --format cloudwatch` and `alarms import` speak `aws cloudwatch
describe-alarms`' JSON, so alarms travel between CloudWatch and a home both ways.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import orjson
import typer
from rich.text import Text

from whispersync.cli._common import (
    JsonOption,
    alarms_app,
    console,
    err_console,
    fail,
    load_settings,
    parse_time,
    print_json,
)
from whispersync.cli._inspect import fitted_table
from whispersync.errors import ConfigError
from whispersync.monitoring.alarms import AlarmEngine, AlarmError

if TYPE_CHECKING:
    from whispersync.monitoring.alarms import ImportReport

# An alarm request file or a plan is a few KB; 1 MiB is far beyond any real one and
# stops `alarms put /dev/zero` (or a mistaken 2 GB file) before it fills memory.
MAX_FILE_BYTES = 1024 * 1024

PlanOption = Annotated[
    Optional[Path],
    typer.Option("--plan", help="A Python plan file adding or overriding alarms (its ALARMS list)."),
]


@contextmanager
def _engine(plan: Path | None, *, read_only: bool = False) -> Iterator[AlarmEngine]:
    """The engine (with a plan file layered on, when given), closed on exit."""
    from whispersync.app import open_alarms

    if plan is not None:
        _check_regular_file(plan, "plan file")
    settings = load_settings(plan_file=plan, read_only=read_only)
    try:
        with open_alarms(settings) as engine:
            yield engine
    except ConfigError as exc:  # a plan file that cannot be used is a PlanError, a ConfigError
        fail(str(exc))


def _table_time(iso: str | None) -> str:
    """"2026-12-02T02:23:13.123Z" as a table shows it: "2026-12-02 02:23:13" (the header says UTC)."""
    return iso[:19].replace("T", " ") if iso else ""


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    cloudwatch = "cloudwatch"


@alarms_app.command("list")
def alarms_list(
    state: Annotated[Optional[str], typer.Option(help="Only alarms in this state: OK, ALARM, INSUFFICIENT_DATA.")] = None,
    plan: PlanOption = None,
    as_json: JsonOption = False,
    output_format: Annotated[Optional[ListFormat], typer.Option(
        "--format", help="table (the default); json (as --json); cloudwatch: what `aws cloudwatch describe-alarms` "
                         "prints, {\"MetricAlarms\": [...], \"CompositeAlarms\": [...]}, for `alarms import`.")] = None,
) -> None:
    """Every alarm (plan, plan file, stored) with its state and reason."""
    from whispersync.monitoring.alarms import describe_alarms
    from whispersync.plan import STATES

    if as_json and output_format not in (None, ListFormat.json):
        fail(f"--json and --format {output_format.value} ask for two outputs; give one")
    if output_format == ListFormat.json:
        as_json = True
    if state is not None and state not in STATES:
        fail(f"unknown state {state!r}; one of: {', '.join(STATES)}")
    with _engine(plan, read_only=True) as engine:
        if output_format == ListFormat.cloudwatch:
            print_json(describe_alarms(engine, state))
            return
        found = engine.describe(state)
    if as_json:
        print_json({"alarms": found})
        return
    if not found:
        err_console.print("no alarms")
        return
    headers = ("name", "state", "priority", "since (UTC)", "kind", "source", "reason")
    rows = [[a["name"], _colour(a["state"]), a["priority"], _table_time(a["updated_at"]), a["kind"], a["source"],
             a["reason"]] for a in found]
    # At 80 columns: one line per alarm, the reason cut short (the full reason: --json or `alarms history`).
    console.print(fitted_table(headers, rows, drop=("source", "kind", "since (UTC)", "priority"), cut=("reason",)))


@alarms_app.command("history")
def alarms_history(
    name: Annotated[str, typer.Argument(help="Alarm name.")],
    limit: Annotated[int, typer.Option(min=1, help="At most this many items, newest first.")] = 100,
    plan: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """State changes, actions and configuration updates of one alarm, newest first."""
    with _engine(plan, read_only=True) as engine:
        try:
            items = engine.history(name, limit)
        except KeyError:
            fail(f"no alarm named {name!r}")
    if as_json:
        print_json({"name": name, "history": items, "next_token": None})  # GET /v1/alarms/{name}/history's shape
        return
    if not items:
        err_console.print(f"no history for {name}")
        return
    headers = ("time (UTC)", "type", "summary", "reason / result")
    rows = []
    for item in items:
        data = item["data"]
        detail = data.get("newState", {}).get("stateReason") or data.get("error") or ""
        rows.append([_table_time(item["timestamp"]), item["type"], item["summary"], detail])
    console.print(fitted_table(headers, rows, drop=("type",), cut=("summary",), wrap=("reason / result",)))


@alarms_app.command("evaluate")
def alarms_evaluate(
    at: Annotated[Optional[str], typer.Option(help="Evaluate as of this time (ISO 8601 or epoch ms); default now. "
                                                   "Before an alarm's last state change: a dry run.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", metavar="", help="Print the states the alarms would have; change nothing.")] = False,
    plan: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run one evaluation cycle (every alarm, then composites) and any actions on state changes.

    With --at before an alarm's last state change, or with --dry-run, nothing changes:
    it prints the states the alarms would have (evaluating the past must not move
    states, and their "since" times, backwards).
    """
    at_ms = parse_time(at) if at is not None else None
    with _engine(plan) as engine:
        results = engine.evaluate(at_ms, dry_run=True if dry_run else None)
    dry = dry_run or any(r.dry_run for r in results)
    if as_json:
        print_json({"alarms": [r.to_dict() for r in results], "dry_run": dry})
        return
    if dry:
        err_console.print("dry run: the states these alarms would have; nothing was changed"
                          + (" (--at is before their last state change)" if not dry_run else ""), highlight=False)
    headers = ("name", "state", "changed", "reason")
    rows = [[r.name, _colour(r.state), f"{r.previous} → {r.state}" if r.changed else "", r.reason] for r in results]
    console.print(fitted_table(headers, rows, cut=("reason",)))


@alarms_app.command("set-state")
def alarms_set_state(
    name: Annotated[str, typer.Argument(help="Alarm name.")],
    state: Annotated[str, typer.Argument(help="OK, ALARM or INSUFFICIENT_DATA.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown in notifications).")],
    reason_data: Annotated[Optional[str], typer.Option("--reason-data", help="JSON object stored with the state.")] = None,
    plan: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """Like SetAlarmState: set a state now (actions run), until the next evaluation decides otherwise."""
    data = None
    if reason_data is not None:
        try:
            data = orjson.loads(reason_data)
        except orjson.JSONDecodeError as exc:
            fail(f"--reason-data is not JSON: {exc}")
        if not isinstance(data, dict):
            fail("--reason-data must be a JSON object")
    with _engine(plan) as engine:
        try:
            engine.set_state(name, state, reason, data)
        except KeyError:
            fail(f"no alarm named {name!r}")
        except AlarmError as exc:  # a bad state or reason
            fail(str(exc))
    if as_json:
        print_json({"name": name, "state": state, "reason": reason})
        return
    console.print(Text.assemble(f"{name} is now ", _colour(state)))


@alarms_app.command("put")
def alarms_put(
    file: Annotated[Path, typer.Argument(help="PutMetricAlarm / PutCompositeAlarm request JSON (one object or a list).")],
    plan: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or replace alarms from `aws cloudwatch put-metric-alarm --cli-input-json` style JSON."""
    from whispersync.monitoring.alarms import AlarmInputError, parse_alarm_requests

    try:
        payload = orjson.loads(_read_file(file))
    except orjson.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}")
    try:
        alarms = parse_alarm_requests(payload)
    except AlarmInputError as exc:
        fail(f"{file}: {exc}")
    with _engine(plan) as engine:
        try:
            replaced = engine.put_all(alarms)  # all or nothing
        except AlarmError as exc:  # unknown alarms in a rule, a cycle
            fail(f"{file}: {exc}")
    done = [{"name": a.name, "kind": a.kind, "replaced": r} for a, r in zip(alarms, replaced)]
    if as_json:
        print_json({"alarms": done})
        return
    for d in done:
        console.print(f"{'replaced' if d['replaced'] else 'created'} {d['kind']} alarm {d['name']}")


@alarms_app.command("import")
def alarms_import(
    file: Annotated[Path, typer.Argument(help="What `aws cloudwatch describe-alarms` prints (MetricAlarms and "
                                              "CompositeAlarms), one alarm object, or a list of them.")],
    topics: Annotated[Optional[Path], typer.Option(
        "--topics", help="JSON or TOML mapping action ARNs (or SNS topic names) to local actions, e.g. "
                         "{\"arn:aws:sns:eu-west-1:123456789012:prod-critical\": \"critical\"}; a value is a topic "
                         "(critical, high, medium, low), a priority (P1-P4) or remediation:NAME.")] = None,
    keep_state: Annotated[bool, typer.Option(
        "--keep-state", metavar="", help="Also take each alarm's StateValue and StateReason (no action runs).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", metavar="", help="Print what would be imported; write nothing.")]
    = False,
    plan: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring CloudWatch alarms home: create or update them from `aws cloudwatch describe-alarms` output.

    Composites come after the alarms their rules name, and everything is stored in one
    transaction. Alarm ARNs become names; SNS topics become local topics (by --topics,
    else by a name ending in -critical, -high, -medium, -low or -p1 to -p4); actions that
    cannot run here (Auto Scaling, EC2, Systems Manager, Lambda) are dropped and listed.
    Importing the same file again changes nothing. Alarms WhisperSync cannot evaluate
    (anomaly detection, for one) are skipped with the reason; exit status 1 when every
    alarm was skipped.
    """
    from whispersync.monitoring.alarms import AlarmInputError, import_alarms, read_actions_map

    try:
        payload = orjson.loads(_read_file(file))
    except orjson.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}")
    with _engine(plan, read_only=dry_run) as engine:
        actions_map = None
        if topics is not None:
            try:
                known = engine.remediation.names() if engine.remediation is not None else None
                actions_map = read_actions_map(_read_file(topics), remediations=known)
            except AlarmInputError as exc:
                fail(f"--topics {topics}: {exc}")
        try:
            report = import_alarms(engine, payload, actions_map=actions_map, keep_state=keep_state, dry_run=dry_run)
        except (AlarmInputError, AlarmError) as exc:  # the file's shape, a rule naming an alarm found nowhere, a cycle
            fail(f"{file}: {exc}")
    if as_json:
        print_json({"file": str(file), **report.to_dict()})
    else:
        _print_import(file, report)
    if report.alarms and report.count("skipped") == len(report.alarms):
        raise typer.Exit(1)  # it ran, but nothing of the file came home
    if not report.alarms:
        if not as_json:
            err_console.print(f"{file}: holds no alarms", highlight=False, markup=False)
        raise typer.Exit(1)


def _print_import(file: Path, report: ImportReport) -> None:
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
    for item in report.alarms:
        line = Text(f"{item.outcome:<10}", style={"skipped": "yellow", "created": "green", "updated": "cyan"}
                    .get(item.outcome, ""))
        line.append(f"{item.kind:<10}{item.name}")
        if item.outcome == "skipped":
            line.append(f": {item.reason}")
        elif item.outcome == "updated":
            line.append(f" ({' and '.join(item.changes)})")
        console.print(line, soft_wrap=True)
        written = item.outcome in ("created", "updated")
        for mapped in item.mapped_actions if written else ():
            console.print(f"  {mapped['field']}: {mapped['from']} -> {mapped['to']}", highlight=False, markup=False,
                          soft_wrap=True)
        for dropped in item.dropped_actions:
            console.print(f"  {dropped['field']}: dropped {dropped['action']}: {dropped['reason']}", highlight=False,
                          markup=False, soft_wrap=True)
        if written and item.priority_from == "topic" and item.alarm is not None:
            console.print(f"  priority {item.alarm.priority}, from the topics of its AlarmActions", highlight=False,
                          markup=False)
    counts = ", ".join(f"{report.count(o)} {o}" for o in ("created", "updated", "unchanged", "skipped"))
    console.print(f"{file}: {counts}" + (" (dry run: nothing was written)" if report.dry_run else ""),
                  highlight=False, markup=False, soft_wrap=True)


@alarms_app.command("delete")
def alarms_delete(
    name: Annotated[str, typer.Argument(help="Alarm name (one stored by `alarms put`).")],
    plan: PlanOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete an alarm stored by `alarms put`, with its state and history."""
    with _engine(plan) as engine:
        try:
            deleted = engine.delete(name)
        except AlarmError as exc:  # a plan alarm, or one a composite uses
            fail(str(exc))
    if not deleted:
        fail(f"no stored alarm named {name!r}")
    if as_json:
        print_json({"deleted": name})
        return
    console.print(f"deleted alarm {name}")


def _check_regular_file(path: Path, what: str = "file") -> None:
    """fail() unless `path` is a regular file of at most MAX_FILE_BYTES.

    Checked before opening: opening a pipe with no writer would block, and a
    device such as /dev/zero never ends.
    """
    try:
        info = path.stat()
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror}")
    if not stat.S_ISREG(info.st_mode):
        fail(f"{what} {path} is not a regular file (a device, pipe or directory)")
    if info.st_size > MAX_FILE_BYTES:
        fail(f"{what} {path} is larger than the limit of 1 MiB ({MAX_FILE_BYTES} bytes)")


def _read_file(path: Path) -> bytes:
    """A regular file's bytes, reading at most one byte past the limit (the file may grow after the check)."""
    _check_regular_file(path)
    try:
        with path.open("rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped for something else since the check
                fail(f"file {path} is not a regular file (a device, pipe or directory)")
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read file {path}: {exc.strerror}")
    if len(data) > MAX_FILE_BYTES:
        fail(f"file {path} is larger than the limit of 1 MiB ({MAX_FILE_BYTES} bytes)")
    return data


def _colour(state: str) -> Text:
    return Text(state, style={"ALARM": "bold red", "OK": "green"}.get(state, "yellow"))
