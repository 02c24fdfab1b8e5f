"""`whispersync audit`: the audit trail (``monitoring.audit``) from the command line, and the one hook that
makes the state-changing commands write to it.

``audit_commands(app)`` wraps the callbacks of the commands named in ``AUDITED`` (once, in
``cli/__init__``, after every module registered its commands), so no command carries audit code of its
own. A wrapped command runs as before, then appends one record: source ``cli``, its name as the action,
the OS user as the identity, its arguments (redacted, bounded) and how it ended. Writing the record never
changes that ending: a failure is said on stderr and counted by the trail.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Optional

import click
import typer

from whispersync.cli._common import JsonOption, app, console, err_console, load_settings, parse_since, print_json
from whispersync.cli._common import state as cli_state

__all__ = ["AUDITED", "audit_commands"]

# Commands that change state. Left out: reads, and telemetry ingestion (`metrics put|import`, `logs import`),
# which the API leaves out too (PutMetricData, PutLogEvents: see web/_audit.py).
AUDITED = frozenset({
    "submit", "dlq redrive",
    "alarms put", "alarms delete", "alarms set-state", "alarms import", "alarms evaluate",
    "filters put", "filters delete", "filters import",
    "dashboards import", "dashboards delete",
    "maintenance start", "maintenance end",
    "notifications retry", "checks run",
    "anomalies mark-incident", "anomalies unmark-incident",
})
_NOT_PARAMETERS = frozenset({"as_json"})  # how the answer is printed says nothing about the change


def _commands(typer_app: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(full command name, its CommandInfo) for every command under ``typer_app``, as Typer names them."""
    for info in typer_app.registered_commands:
        name = info.name or info.callback.__name__.lower().replace("_", "-")
        yield " ".join((*prefix, name)), info
    for group in typer_app.registered_groups:
        yield from _commands(group.typer_instance, (*prefix, group.name or group.typer_instance.info.name))


def audit_commands(root: typer.Typer) -> set[str]:
    """Wrap the callbacks of the ``AUDITED`` commands under ``root``; the names wrapped."""
    wrapped = set()
    for name, info in _commands(root):
        if name in AUDITED and info.callback is not None:
            if not getattr(info.callback, "audited", False):
                info.callback = _audited(name, info.callback)
            wrapped.add(name)
    return wrapped


def _audited(action: str, callback: Callable[..., Any]) -> Callable[..., Any]:
    # functools.wraps keeps the signature (__wrapped__) and annotations Typer builds the options from.
    @functools.wraps(callback)
    def run(**kwargs: Any) -> Any:
        status, error = 0, None
        cli_state.pop("failure", None)
        try:
            return callback(**kwargs)
        except (typer.Exit, click.exceptions.Exit) as exc:  # typer's own Exit is no longer click's
            status = exc.exit_code
            raise
        except click.exceptions.Abort:
            status, error = 1, "aborted"
            raise
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
            raise
        except BaseException as exc:
            status, error = 1, f"{type(exc).__name__}: {exc}"
            raise
        finally:
            _record(action, kwargs, status, error or cli_state.get("failure"))

    run.audited = True  # type: ignore[attr-defined]
    return run


def _record(action: str, arguments: dict[str, Any], status: int, error: str | None) -> None:
    from whispersync.monitoring.audit import AuditTrail, local_identity
    from whispersync.settings import Settings

    recorded, reason = None, None
    try:
        settings = Settings.load(home=cli_state.get("home"))
        if not settings.home.is_dir():
            return  # the command stopped before it made a home; a record would make one
        trail = AuditTrail(settings.monitoring_db)
        parameters = {k: v for k, v in arguments.items() if k not in _NOT_PARAMETERS and v is not None}
        recorded = trail.record(source="cli", action=action, identity=local_identity(), parameters=parameters,
                                source_address="local", status=status, ok=status == 0,
                                error=error if status != 0 else None)
        reason = trail.last_error
        trail.close()
    except Exception as exc:  # noqa: BLE001 - the command has run; its record must not change how it ended
        reason = type(exc).__name__
    if recorded is None:
        err_console.print(f"[yellow]warning:[/] the audit record of `{action}` could not be written ({reason})",
                          highlight=False)


@app.command("audit")
def audit(
    since: Annotated[Optional[str], typer.Option(help="Only records this recent: 30m, 24h, 7d.")] = None,
    action: Annotated[Optional[str], typer.Option(
        help="Only actions starting with this: `alarms`, `POST /v1/transcripts`, `PutMetricAlarm`.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The audit trail: every state-changing API call, console form and CLI command, newest first.

    Each record says when, what (the action and its parameters, secrets masked), who (a token id, never the
    token; or the local user), from where, and how it ended.

    \b
    whispersync audit
    whispersync audit --since 24h --action alarms
    whispersync audit --json
    """
    from whispersync.monitoring.audit import AuditTrail

    since_ms = None if since is None else int(time.time() * 1000 - parse_since(since) * 1000)
    trail = AuditTrail(load_settings(read_only=True).monitoring_db, read_only=True)
    events = trail.entries(since_ms=since_ms, action_prefix=action, limit=limit)
    if as_json:
        print_json({"events": events, "next_token": None})  # GET /v1/audit's shape
        return
    if not events:
        err_console.print("no audit records" + (" match" if since or action else " yet"))
        return
    from whispersync.cli._inspect import fitted_table

    headers = ("when (UTC)", "source", "action", "identity", "from", "result", "parameters", "error")
    rows = [[e["occurred_at"][:19].replace("T", " "), e["source"], e["action"], e["identity"],
             e["source_address"] or "", e["result"] if e["status"] is None else f"{e['result']} {e['status']}",
             ", ".join(f"{k}={v}" for k, v in e["parameters"].items()), e["error"] or ""] for e in events]
    console.print(fitted_table(headers, rows, drop=("from", "error", "source", "parameters", "identity"),
                               cut=("parameters", "error", "identity")))
