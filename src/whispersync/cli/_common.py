"""Shared pieces of the CLI: the Typer apps, consoles, settings and output helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import orjson
import typer
from rich.console import Console

from whispersync.errors import ConfigError
from whispersync.settings import Settings

app = typer.Typer(
    help="WhisperSync: voice-memo transcripts in, actions out, everything observable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
logs_app = typer.Typer(help="Search the structured logs.", no_args_is_help=True)
metrics_app = typer.Typer(help="List and query metrics.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and redrive the dead-letter queue.", no_args_is_help=True)
traces_app = typer.Typer(help="Search traces and show one as a span tree.", no_args_is_help=True)
alarms_app = typer.Typer(help="Alarms: list, history, evaluate, set-state, put, delete.", no_args_is_help=True)
notifications_app = typer.Typer(help="Alarm notifications: deliveries, attempts, retries.", no_args_is_help=True)
plan_app = typer.Typer(help="The monitoring plan: show the effective plan, validate a plan file.", no_args_is_help=True)
for sub_app, sub_name in ((logs_app, "logs"), (metrics_app, "metrics"), (traces_app, "traces"), (dlq_app, "dlq"),
                          (alarms_app, "alarms"), (notifications_app, "notifications"), (plan_app, "plan")):
    app.add_typer(sub_app, name=sub_name)

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")]
state: dict[str, Any] = {}


@app.callback()
def _main(
    home: Annotated[Optional[Path], typer.Option(help="State directory (default: $WHISPERSYNC_HOME or ./.whispersync).")] = None,
) -> None:
    state["home"] = home


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(home=state.get("home"), **overrides)
    except ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = 2) -> None:
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
