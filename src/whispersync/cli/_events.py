"""What `whispersync up` prints while it runs: one line per notable event.

The events are read from the log lines the server writes anyway: `EventPrinter` is a
log listener of the telemetry store, so it runs on the store's writer thread (about
twice a second), never on a memo's path. Notable: a memo failed or went to the
dead-letter queue, an inbox file was rejected, an alarm changed state or an action
failed, a notification was sent or failed, remediation ran, and any other ERROR line.

Two formats: text for a person at a terminal, JSON lines (one object per event, times
ISO 8601 UTC as in docs/json.md) for systemd, containers and scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TextIO

import orjson

__all__ = ["EventPrinter", "event_of", "format_event"]

# Log messages written by the pipeline and the monitoring engine (grep for them).
PROCESSING_FAILED = "Processing failed"
INBOX_FILE_REJECTED = "Inbox file rejected"
NOTIFICATION_DELIVERED = "Notification delivered"
NOTIFICATION_RETRY = "Notification delivery failed; will retry"
NOTIFICATION_FAILED = "Notification delivery failed"
ALARM_STATE_CHANGED = "Alarm state changed"
ALARM_ACTION_FAILED = "Alarm action failed"
REMEDIATION_RAN = "Remediation ran"

MAX_TEXT = 300  # an error or reason is cut here: one event, one line


def event_of(record: Mapping[str, Any], *, max_receive_count: int) -> dict[str, Any] | None:
    """The event one log record reports, or None for a routine line.

    ``max_receive_count`` tells a failure that will be retried from one whose memo now
    goes to the dead-letter queue (the worker's own rule: permanent, or out of receives).
    """
    message = record.get("message")
    level = record.get("level") or "INFO"
    get = record.get
    event: dict[str, Any]
    if message == PROCESSING_FAILED:
        attempt = get("receive_count") or 1
        error = _error_text(record)
        if get("permanent") or attempt >= max_receive_count:
            event = {"event": "memo_dead_lettered",
                     "message": f"memo failed and went to the dead-letter queue: {error}"}
        else:
            event = {"event": "memo_failed",
                     "message": f"memo failed (attempt {attempt} of {max_receive_count}), will retry: {error}"}
        event.update(error_type=get("error_type"), attempt=attempt, agent_type=get("agent_type"))
    elif message == INBOX_FILE_REJECTED:
        event = {"event": "inbox_file_rejected",
                 "message": f"inbox file {get('file')} rejected: {_cut(get('reason'))}",
                 "file": get("file"), "reason": get("reason")}
    elif message == NOTIFICATION_DELIVERED:
        event = {"event": "notification_sent",
                 "message": f"notification sent: {get('alarm_name')} {get('new_state')} ({get('priority')}) "
                            f"via {get('channel')}",
                 **_notification_fields(record)}
    elif message == NOTIFICATION_RETRY:
        event = {"event": "notification_retry",
                 "message": f"notification for {get('alarm_name')} via {get('channel')} failed "
                            f"(attempt {get('attempt')}), retrying in {get('retry_in_s')}s: {_cut(get('error'))}",
                 **_notification_fields(record), "error": get("error")}
    elif message == NOTIFICATION_FAILED:
        event = {"event": "notification_failed",
                 "message": f"notification for {get('alarm_name')} via {get('channel')} failed: "
                            f"{_cut(get('error'))}",
                 **_notification_fields(record), "error": get("error")}
    elif message == ALARM_STATE_CHANGED:
        event = {"event": "alarm_state_changed",
                 "message": f"alarm {get('alarm')} {get('previous_state')} -> {get('new_state')}: "
                            f"{_cut(get('reason'))}",
                 "alarm": get("alarm"), "previous_state": get("previous_state"), "new_state": get("new_state"),
                 "reason": get("reason"), "priority": get("priority")}
    elif message == ALARM_ACTION_FAILED:
        event = {"event": "alarm_action_failed",
                 "message": f"alarm {get('alarm')}: action {get('action')} failed ({get('error_type')})",
                 "alarm": get("alarm"), "action": get("action"), "error_type": get("error_type")}
    elif message == REMEDIATION_RAN:
        event = {"event": "remediation",
                 "message": f"remediation {get('handler')} ran for alarm {get('alarm')} ({get('new_state')})",
                 "handler": get("handler"), "alarm": get("alarm"), "new_state": get("new_state"),
                 "result": get("result")}
    elif level in ("ERROR", "CRITICAL") and not get("notification_id"):
        # (A notification_id marks the console channel's copy of an alarm notification,
        # which its "Notification delivered" line reports already.)
        event = {"event": "error", "message": f"{_cut(message)}: {_error_text(record)}",
                 "logger": get("logger"), "error_type": get("error_type")}
    else:
        return None
    correlation = {k: get(k) for k in ("correlation_id", "trace_id") if get(k)}
    out = {"timestamp": get("timestamp"), "level": level, **event, **correlation}
    return {k: v for k, v in out.items() if v is not None}


def format_event(event: Mapping[str, Any], fmt: Literal["text", "json"]) -> str:
    """One line, without its newline."""
    if fmt == "json":
        return orjson.dumps(event, default=str).decode()
    line = f"{event.get('timestamp', '')}  {event.get('level', 'INFO'):<7}  {event['message']}"
    if event.get("correlation_id"):
        line += f"  [correlation id {event['correlation_id']}]"
    return " ".join(line.split("\n"))


class EventPrinter:
    """A log listener of the telemetry store that writes each notable event as one line."""

    def __init__(self, out: TextIO, fmt: Literal["text", "json"], *, max_receive_count: int) -> None:
        self.out = out
        self.fmt = fmt
        self.max_receive_count = max_receive_count

    def __call__(self, records: Sequence[Mapping[str, Any]]) -> list[dict]:
        lines = []
        for record in records:
            event = event_of(record, max_receive_count=self.max_receive_count)
            if event is not None:
                lines.append(format_event(event, self.fmt) + "\n")
        if lines:
            # One write per batch: whole lines, never interleaved with another thread's.
            self.out.write("".join(lines))
            self.out.flush()
        return []  # no metrics to add

    def emit(self, event: Mapping[str, Any]) -> None:
        """Write an event of `up` itself (started, stopping) in the same format."""
        self.out.write(format_event(event, self.fmt) + "\n")
        self.out.flush()


def _notification_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    # Not `target`: for a webhook channel it may be a URL holding a secret.
    return {k: record.get(k) for k in ("alarm_name", "new_state", "priority", "channel", "attempt", "delivery_id")}


def _error_text(record: Mapping[str, Any]) -> str:
    """The exception's last line ("ValueError: ..."), else its type: what went wrong, in one line."""
    trace = record.get("exception")
    if isinstance(trace, str) and trace.strip():
        return _cut(trace.strip().splitlines()[-1])
    return str(record.get("error") or record.get("error_type") or "no details")


def _cut(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
