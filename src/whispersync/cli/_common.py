"""Shared pieces of the CLI: the Typer apps, consoles, settings and output helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import orjson
import typer
from rich.console import Console

from whispersync.errors import ConfigError
from whispersync.settings import Settings, user_home

app = typer.Typer(
    help="WhisperSync: voice-memo transcripts in, actions out, everything observable.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
logs_app = typer.Typer(help="Search the structured logs.", no_args_is_help=True)
metrics_app = typer.Typer(help="List and query metrics.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and redrive the dead-letter queue.", no_args_is_help=True)
traces_app = typer.Typer(help="Search traces and show one as a span tree.", no_args_is_help=True)
alarms_app = typer.Typer(help="Alarms: list, history, evaluate, set-state, put, delete, import.", no_args_is_help=True)
notifications_app = typer.Typer(help="Alarm notifications: deliveries, attempts, retries.", no_args_is_help=True)
plan_app = typer.Typer(help="The monitoring plan: show the effective plan, validate a plan file.", no_args_is_help=True)
dashboards_app = typer.Typer(help="Dashboards: list, show one with its data, import and export CloudWatch bodies.",
                             no_args_is_help=True)
for sub_app, sub_name in ((logs_app, "logs"), (metrics_app, "metrics"), (traces_app, "traces"), (dlq_app, "dlq"),
                          (alarms_app, "alarms"), (notifications_app, "notifications"), (plan_app, "plan"),
                          (dashboards_app, "dashboards")):
    app.add_typer(sub_app, name=sub_name)

console = Console()
# Messages on stderr are never hard-wrapped: a path or a command split at the 80th
# column of a log file or a pipe could not be copied back (the terminal wraps them).
err_console = Console(stderr=True, soft_wrap=True)

# metavar "": a flag shows as `--json`, not `--json <bool>`, in --help.
JsonOption = Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON document instead of a table.")]
state: dict[str, Any] = {}


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"whispersync {version('whispersync')}")
        raise typer.Exit()


@app.callback()
def _main(
    home: Annotated[Optional[Path], typer.Option(
        help="State directory. Default: $WHISPERSYNC_HOME, else the nearest .whispersync/ here or in a parent "
             "directory, else the user data directory. When none is found, commands that write create "
             "./.whispersync; commands that only read stop with an error.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    state["home"] = home


def load_settings(*, read_only: bool = False, **overrides: Any) -> Settings:
    """The settings of this command. ``read_only`` commands never create a home: without
    one they stop here, before anything opens a store (opening one creates its directory)."""
    try:
        settings = Settings.load(home=state.get("home"), **overrides)
    except ConfigError as exc:
        fail(str(exc))
    if read_only and not settings.home.is_dir():
        fail(_no_home(settings))
    return settings


def _no_home(settings: Settings) -> str:
    home, origin = settings.home, settings.home_origin
    if origin == "default":
        return (f"no WhisperSync home found: looked for .whispersync/ in {Path.cwd()} and its parents, and for "
                f"{user_home()}. Point at one with --home DIR or WHISPERSYNC_HOME=DIR, or run "
                "`whispersync up` here to create ./.whispersync")
    given = {"explicit": "given by --home", "env": "given by WHISPERSYNC_HOME",
             "config": "set by `home` in the config file"}.get(origin, "found")
    problem = "is not a directory" if home.exists() else "does not exist"
    return (f"the WhisperSync home {home} ({given}) {problem}. Point at the right one with --home DIR or "
            "WHISPERSYNC_HOME=DIR")


def fail(message: str, code: int = 2) -> None:
    state["failure"] = message  # for the audit record of the command (cli/_audit.py)
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def parse_since(value: str) -> float:
    """'90s', '15m', '1h', '7d' → seconds."""
    from whispersync.monitoring.times import InvalidTime, parse_duration

    try:
        return parse_duration(value)
    except InvalidTime as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_time(value: str) -> int:
    """`--start`/`--end`/`--at`: ISO 8601 (UTC unless it says otherwise) or epoch milliseconds."""
    from whispersync.monitoring.times import InvalidTime
    from whispersync.monitoring.times import parse_time as parse

    try:
        return parse(value)
    except InvalidTime as exc:
        raise typer.BadParameter(str(exc)) from None


def self_command() -> str:
    """How the user can run this CLI again: `whispersync` when it is on PATH, else its path
    (after `make run` it lives in .venv/bin, which is usually not on PATH)."""
    import shutil

    here = Path(sys.argv[0]).resolve()
    found = shutil.which("whispersync")
    if found and Path(found).resolve() == here:
        return "whispersync"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here) if here.name == "whispersync" else "whispersync"


def known_memo(records, memo_id: str) -> bool:
    """Whether a memo with this id was already submitted (submissions are idempotent)."""
    from whispersync.errors import NotFound

    try:
        records.get(memo_id)
    except NotFound:
        return False
    return True
