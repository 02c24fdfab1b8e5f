"""Load log files into the telemetry store, so Logs Insights can query them.

Two shapes are understood, line by line or as one JSON document:

- plain JSON log lines (Powertools keys: ``timestamp``, ``level``, ``message`` …);
- CloudWatch log events as FilterLogEvents / GetLogEvents return them,
  ``{"timestamp": epoch-ms, "message": "<raw line>", "logStreamName": …}``, one per
  line or as the API's response ``{"events": [...]}``. Such an event is stored
  with its time as ``@timestamp`` and its line as ``@message``; when the line is
  a JSON object its keys become fields, as CloudWatch discovers them.

A bad line is reported with its number and reason and skipped; the rest load.

Importing is idempotent: each event is stored once however often its file is
imported (a re-export that overlaps an earlier one adds only the new events). An
event's key is its CloudWatch ``eventId`` when it has one (unique in CloudWatch);
any other line or event is keyed by its content (with the ``--log-group`` it is
filed under) and by how many identical lines came before it in the same file, so
two identical lines are two events, and a file that grew imports only its new lines.
The keys live in the store's ImportLedger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from whispersync.monitoring.store import ImportLedger, content_key
from whispersync.telemetry import redact

if TYPE_CHECKING:
    from whispersync.monitoring.store import TelemetryStore

__all__ = ["ImportReport", "import_logs"]

_EVENT_KEYS = frozenset({"timestamp", "message", "logStreamName", "logGroupName", "ingestionTime", "eventId"})
_FLUSH_EVERY = 20_000  # records; keeps the store's in-memory buffer far below its cap


@dataclass
class ImportReport:
    imported: int = 0
    already_imported: int = 0  # events an earlier import stored: skipped
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def import_logs(store: TelemetryStore, source: Path | str | bytes, *, log_group: str | None = None) -> ImportReport:
    """Import the log lines or events in ``source`` (a path, or the file's bytes); see the module doc."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    report = ImportReport()
    occurrence: Counter[str] = Counter()
    batch: list[tuple[str, dict]] = []  # (key, record)
    with ImportLedger(store.root, retention_days=store.retention_days) as ledger:
        for lineno, item in _items(data, report):
            try:
                record = _record(item, log_group)
            except ValueError as exc:
                report.errors.append((lineno, str(exc)))
                continue
            batch.append((_key(item, record, log_group, occurrence), record))
            if len(batch) >= _FLUSH_EVERY:
                _store_new(store, ledger, batch, report)
                batch = []
        _store_new(store, ledger, batch, report)
    return report


def _store_new(store: TelemetryStore, ledger: ImportLedger, batch: list[tuple[str, dict]],
               report: ImportReport) -> None:
    """Store the records of ``batch`` not imported before, then record their keys."""
    known = ledger.known(key for key, _ in batch)
    new: set[str] = set()
    for key, record in batch:
        if key in known or key in new:  # stored earlier, or twice in this file (one eventId)
            report.already_imported += 1
            continue
        # Secrets are masked before a line is stored, imported ones too (DESIGN: telemetry formats).
        store.emit("logs", redact(record))
        new.add(key)
    store.flush()
    if new:
        ledger.add(new)  # after the flush: a crash in between duplicates, never loses
    report.imported += len(new)


def _key(item: dict, record: dict, log_group: str | None, occurrence: Counter[str]) -> str:
    event_id = item.get("eventId")
    if "@message" in record and isinstance(event_id, str) and event_id:
        return f"logs:event:{event_id}"
    return content_key("logs", item, occurrence, log_group or "")


def _items(data: bytes, report: ImportReport) -> Iterator[tuple[int, Any]]:
    stripped = data.strip()
    if stripped.startswith(b"{") and b"\n" in stripped:
        # Maybe one pretty-printed API response rather than JSON lines.
        try:
            whole = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and isinstance(whole.get("events"), list):
            yield from _events(whole["events"], report, 1)
            return
    for lineno, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            report.errors.append((lineno, f"not valid JSON: {exc}"))
            continue
        if isinstance(item, dict) and isinstance(item.get("events"), list):
            yield from _events(item["events"], report, lineno)
        else:
            yield lineno, item


def _events(events: Iterable[Any], report: ImportReport, lineno: int) -> Iterator[tuple[int, Any]]:
    for event in events:
        if isinstance(event, dict):
            event = {**event, "__event__": True}
        yield lineno, event


def _record(item: Any, log_group: str | None) -> dict:
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, got {type(item).__name__}")  # noqa: TRY004 - bad input
    forced = item.pop("__event__", False)
    if forced or (_EVENT_KEYS >= item.keys() and {"timestamp", "message"} <= item.keys()
                  and isinstance(item["timestamp"], int) and isinstance(item["message"], str)):
        return _event_record(item, log_group)
    _check_timestamp(item.get("timestamp"))
    record = dict(item)
    if log_group is not None:
        record["log_group"] = log_group
    return record


def _event_record(event: dict, log_group: str | None) -> dict:
    ts, message = event.get("timestamp"), event.get("message")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        raise ValueError("the event's 'timestamp' must be epoch milliseconds")  # noqa: TRY004 - bad input
    if not isinstance(message, str):
        raise ValueError("the event's 'message' must be a string")  # noqa: TRY004 - bad input
    fields: dict = {}
    text = message.strip()
    if text.startswith("{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            fields = parsed
    record = {**fields, "@timestamp": int(ts), "@message": message}
    group = log_group or event.get("logGroupName")
    if group is not None:
        record["log_group"] = group
    if event.get("logStreamName") is not None:
        record["log_stream"] = event["logStreamName"]
    return record


def _check_timestamp(value: Any) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
            return
        except ValueError:
            raise ValueError(f"'timestamp' is not ISO 8601 or epoch milliseconds: {value!r}") from None
    raise ValueError("no 'timestamp' (ISO 8601 or epoch milliseconds)")
