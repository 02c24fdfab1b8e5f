"""`notifications list` and `notifications retry`: the alert outbox, from the shell."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from whispersync.cli._common import (
    JsonOption,
    console,
    err_console,
    fail,
    load_settings,
    notifications_app,
    print_json,
)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


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

    with open_notifier(load_settings()) as notifier:
        found = notifier.deliveries(status=status, limit=limit)
    if as_json:
        print_json({"deliveries": found})
        return
    if not found:
        err_console.print("no notifications")
        return
    table = Table("id", "created (UTC)", "alarm", "priority", "state", "channel", "target", "status", "attempts",
                  "last error")
    for d in found:
        table.add_row(d["id"], _when(d["created_at"]), d["alarm_name"], d["priority"],
                      f"{d['old_state']} → {d['new_state']}", d["channel"], d["target"], d["status"],
                      str(d["attempt_count"]), d["last_error"] or "")
    console.print(table)


@notifications_app.command("retry")
def notifications_retry(
    ids: Annotated[list[str] | None, typer.Argument(help="Delivery ids to re-queue; default: every failed one.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-queue failed deliveries; `whispersync up` delivers them (with fresh retries)."""
    from whispersync.app import open_notifier

    # Re-queueing only: a running `whispersync up` delivers within a second.
    with open_notifier(load_settings()) as notifier:
        count = notifier.retry(ids or None)
    if as_json:
        print_json({"requeued": count})
        return
    console.print(f"re-queued {count} failed deliver{'y' if count == 1 else 'ies'}")
