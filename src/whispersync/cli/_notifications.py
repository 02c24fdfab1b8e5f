"""`notifications list` and `notifications retry`: the alert outbox, from the shell."""

from __future__ import annotations

from typing import Annotated

import typer

from whispersync.cli._common import (
    JsonOption,
    console,
    err_console,
    fail,
    load_settings,
    notifications_app,
    print_json,
)
from whispersync.cli._inspect import MIN_PREFIX, fitted_table, short_ids


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else ""


@notifications_app.command("list")
def notifications_list(
    status: Annotated[str | None, typer.Option(help="Only deliveries in this state: pending, delivered, failed, skipped.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Every notification delivery (one per alarm state change and channel) with its attempts."""
    from whispersync.monitoring.notify import DELIVERY_STATUSES

    if status is not None and status not in DELIVERY_STATUSES:
        fail(f"unknown status {status!r}; one of: {', '.join(DELIVERY_STATUSES)}")
    from whispersync.app import open_notifier

    with open_notifier(load_settings(read_only=True)) as notifier:
        found = notifier.deliveries(status=status, limit=limit)
    if as_json:
        print_json({"deliveries": found, "next_token": None})  # GET /v1/notifications's shape
        return
    if not found:
        err_console.print("no notifications")
        return
    headers = ("id", "created (UTC)", "alarm", "priority", "state", "channel", "target", "status", "attempts",
               "last error")
    rows = [[d["id"], _when(d["created_at"]), d["alarm_name"], d["priority"], f"{d['old_state']} → {d['new_state']}",
             d["channel"], d["target"], d["status"], str(d["attempt_count"]), d["last_error"] or ""] for d in found]
    # Delivery ids are "<notification>-<channel>": the unique prefix still names one (`retry` takes it).
    short = short_ids(r[0] for r in rows)
    console.print(fitted_table(headers, rows, short_rows=[[short[r[0]], *r[1:]] for r in rows],
                               drop=("target", "priority", "attempts", "created (UTC)", "channel", "state"),
                               cut=("last error", "alarm")))


@notifications_app.command("retry")
def notifications_retry(
    ids: Annotated[list[str] | None, typer.Argument(help="Delivery ids (or unique prefixes of them) to re-queue; "
                                                         "default: every failed one.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-queue failed deliveries; `whispersync up` delivers them (with fresh retries)."""
    from whispersync.app import open_notifier

    # Re-queueing only: a running `whispersync up` delivers within a second.
    with open_notifier(load_settings()) as notifier:
        count = notifier.retry(_full_ids(notifier, ids) if ids else None)
    if as_json:
        print_json({"requeued": count})
        return
    console.print(f"re-queued {count} failed deliver{'y' if count == 1 else 'ies'}")


def _full_ids(notifier, given: list[str]) -> list[str]:
    """Delivery ids as given, or completed from unique prefixes (as git accepts short hashes)."""
    known = [d["id"] for d in notifier.deliveries(limit=1_000_000)]
    out = []
    for ident in given:
        if ident in known:
            out.append(ident)
            continue
        found = [k for k in known if k.startswith(ident)] if len(ident) >= MIN_PREFIX else []
        if not found:
            fail(f"no delivery with id {ident!r} (`notifications list` shows them)")
        if len(found) > 1:
            fail(f"the id {ident!r} is ambiguous; it starts: {', '.join(sorted(found)[:10])}. Give more characters.")
        out.append(found[0])
    return out
