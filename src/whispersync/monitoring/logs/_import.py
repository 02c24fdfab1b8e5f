"""Load log files into the telemetry store, so Logs Insights can query them.

Two shapes are understood, line by line or as one JSON document:

- plain JSON log lines (Powertools keys: ``timestamp``, ``level``, ``message`` …);
- CloudWatch log events as FilterLogEvents / GetLogEvents return them,
  ``{"timestamp": epoch-ms, "message": "<raw line>", "logStreamName": …}``, one per
  line or as the API's response ``{"events": [...]}``. Such an event is stored
  with its time as ``@timestamp`` and its line as ``@message``; when the line is
  a JSON object its keys become fields, as CloudWatch discovers them.

- CloudWatch's Lambda platform lines (``START RequestId: …``, ``END …``, ``REPORT …``),
  bare or after a timestamp and log stream as ``aws logs tail`` prints them: their
  values become the fields CloudWatch discovers, ``@type``, ``@requestId``,
  ``@duration`` …, under those names (see ``_platform_fields``).
- VPC flow log records in the default (version 2) format, as CloudWatch events: their
  fourteen values become the fields CloudWatch discovers, ``srcAddr``, ``bytes``,
  ``logStatus`` … (see ``_flow_log_fields``).
- Route 53 DNS query log lines, as CloudWatch events: ``queryName``, ``queryType``,
  ``responseCode``, ``resolverIp`` … (see ``_route53_fields``).

Every event is placed in time: ``timestamp`` (or python-json-logger's ``asctime``,
or ``time``) is read in any form ``parse_log_timestamp`` knows and stored as ISO 8601
UTC with milliseconds, the form the store reads. An event without a readable time is
stored at the import's own time and its line is reported (``without_timestamp``), so
it is never silently out of every query's range. Powertools' ``xray_trace_id`` also
gives the event its ``trace_id`` (the W3C/OpenTelemetry form of the same id), so
trace lookups find it; its other fields (``exception``, ``cold_start`` …) stay JSON
fields, which Logs Insights discovers.

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

import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from whispersync.monitoring.store import ImportLedger, content_key
from whispersync.monitoring.times import InvalidTime, parse_log_timestamp
from whispersync.telemetry import redact

if TYPE_CHECKING:
    from whispersync.monitoring.store import TelemetryStore

__all__ = ["ImportReport", "import_logs"]

_EVENT_KEYS = frozenset({"timestamp", "message", "logStreamName", "logGroupName", "ingestionTime", "eventId"})
_FLUSH_EVERY = 20_000  # records; keeps the store's in-memory buffer far below its cap
# Where producers put a record's time: Powertools and structlog `timestamp`,
# python-json-logger `asctime` (its default format), pino/bunyan `time`.
_TIME_KEYS = ("timestamp", "asctime", "time")
_XRAY_ID = re.compile(r"1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})")
# A Lambda platform line, maybe after `aws logs tail`'s "<timestamp> <log stream> ".
_PLATFORM = re.compile(r"(?:(?P<prefix>\S+(?:\s+\S+)?)\s+)??(?P<line>(?:START|END|REPORT) RequestId: .*)", re.DOTALL)
# REPORT's "Name: value unit" pairs → CloudWatch's discovered fields. Memory is in
# bytes there (AWS's sample queries divide @memorySize by 1000 twice for MB).
_REPORT_FIELDS = {
    "Duration": ("@duration", 1),
    "Billed Duration": ("@billedDuration", 1),
    "Memory Size": ("@memorySize", 1_000_000),
    "Max Memory Used": ("@maxMemoryUsed", 1_000_000),
    "Init Duration": ("@initDuration", 1),
    "Restore Duration": ("@restoreDuration", 1),
}
# A VPC flow log record in the default format, version 2: "version account-id interface-id
# srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
# (VPC User Guide, "Flow log records"). A value the record has not ("NODATA",
# "SKIPDATA" records) is "-". Told apart by this shape, not by the log group's name:
# flow logs go to any group their owner names, and nothing else writes this line.
_FLOW_LOG = re.compile(
    r"(?P<version>2) (?P<accountId>\d{12}|unknown) (?P<interfaceId>eni-[0-9a-f]+|-)"
    r" (?P<srcAddr>[0-9a-fA-F.:]+|-) (?P<dstAddr>[0-9a-fA-F.:]+|-) (?P<srcPort>\d+|-) (?P<dstPort>\d+|-)"
    r" (?P<protocol>\d+|-) (?P<packets>\d+|-) (?P<bytes>\d+|-) (?P<startTime>\d+|-) (?P<endTime>\d+|-)"
    r" (?P<action>ACCEPT|REJECT|-) (?P<logStatus>OK|NODATA|SKIPDATA)"
)
# The names CloudWatch Logs Insights discovers for them ("Supported logs and discovered
# fields", CWL_AnalyzeLogData-discoverable-fields.html); these hold numbers.
_FLOW_LOG_NUMBERS = frozenset({"version", "srcPort", "dstPort", "protocol", "packets", "bytes", "startTime", "endTime"})
# A Route 53 public DNS query log line: "version query-timestamp hosted-zone-id query-name query-type
# response-code protocol edge-location resolver-ip edns-client-subnet", the subnet "-" when the
# resolver sent none (Route 53 Developer Guide, "Values that appear in DNS query logs").
_ROUTE53 = re.compile(
    r"(?P<version>\d+\.\d+) (?P<queryTimestamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (?P<hostZoneId>Z[0-9A-Z]+)"
    r" (?P<queryName>\S+) (?P<queryType>[A-Z0-9]+) (?P<responseCode>[A-Z0-9]+) (?P<protocol>UDP|TCP)"
    r" (?P<edgeLocation>[A-Z0-9-]+) (?P<resolverIp>[0-9a-fA-F.:]+) (?:[0-9a-fA-F.:]+/\d+|-)"
)
_REPORT_VALUE = re.compile(r"(?P<name>[A-Z][A-Za-z ]*?): (?P<value>\S+)(?: (?:ms|MB))?(?=\s|$)")


@dataclass
class ImportReport:
    imported: int = 0
    already_imported: int = 0  # events an earlier import stored: skipped
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason): skipped
    # (line number, reason): stored, but at the import's time, having none of their own
    without_timestamp: list[tuple[int, str]] = field(default_factory=list)


def import_logs(store: TelemetryStore, source: Path | str | bytes, *, log_group: str | None = None) -> ImportReport:
    """Import the log lines or events in ``source`` (a path, or the file's bytes); see the module doc."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    report = ImportReport()
    occurrence: Counter[str] = Counter()
    batch: list[tuple[str, dict, tuple[int, str] | None]] = []  # (key, record, why it has no time)
    now = _iso(int(time.time() * 1000))
    with ImportLedger(store.root, retention_days=store.retention_days) as ledger:
        for lineno, item in _items(data, report):
            try:
                record, missing_time = _record(item, log_group, now)
            except ValueError as exc:
                report.errors.append((lineno, str(exc)))
                continue
            undated = (lineno, missing_time) if missing_time else None
            batch.append((_key(item, record, log_group, occurrence), record, undated))
            if len(batch) >= _FLUSH_EVERY:
                _store_new(store, ledger, batch, report)
                batch = []
        _store_new(store, ledger, batch, report)
    return report


def _store_new(store: TelemetryStore, ledger: ImportLedger, batch: list[tuple[str, dict, tuple[int, str] | None]],
               report: ImportReport) -> None:
    """Store the records of ``batch`` not imported before, then record their keys."""
    known = ledger.known(key for key, _, _ in batch)
    new: set[str] = set()
    for key, record, undated in batch:
        if key in known or key in new:  # stored earlier, or twice in this file (one eventId)
            report.already_imported += 1
            continue
        # Secrets are masked before a line is stored, imported ones too (DESIGN: telemetry formats).
        store.emit("logs", redact(record))
        new.add(key)
        if undated is not None:  # only events stored now: one imported before was reported then
            report.without_timestamp.append(undated)
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
            platform = _platform_event(line)
            if platform is not None:
                yield lineno, platform
            else:
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


def _platform_event(line: bytes) -> dict | None:
    """A Lambda platform line as a CloudWatch event (time and stream when the line has them)."""
    match = _PLATFORM.fullmatch(line.decode("utf-8", "replace").strip())
    if match is None:
        return None
    event: dict = {"message": match["line"], "__event__": True}
    prefix = (match["prefix"] or "").split()
    if prefix:
        try:
            event["timestamp"] = parse_log_timestamp(prefix[0])
        except InvalidTime:
            return None  # not a platform line after all, just text that contains one
        if len(prefix) > 1:
            event["logStreamName"] = prefix[1]
    return event


def _record(item: Any, log_group: str | None, now: str) -> tuple[dict, str | None]:
    """The record to store, and why it has no time of its own (None when it has one)."""
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, got {type(item).__name__}")  # noqa: TRY004 - bad input
    forced = item.pop("__event__", False)
    if forced or (_EVENT_KEYS >= item.keys() and {"timestamp", "message"} <= item.keys()
                  and isinstance(item["timestamp"], int) and isinstance(item["message"], str)):
        return _event_record(item, log_group, now)
    record = dict(item)
    missing_time = _place_in_time(record, now)
    _add_trace_id(record)
    if log_group is not None:
        record["log_group"] = log_group
    return record, missing_time


def _event_record(event: dict, log_group: str | None, now: str) -> tuple[dict, str | None]:
    ts, message = event.get("timestamp"), event.get("message")
    if not isinstance(message, str):
        raise ValueError("the event's 'message' must be a string")  # noqa: TRY004 - bad input
    missing_time = None
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        at = int(ts)  # the API's epoch milliseconds, whatever their size
    else:
        try:
            at = parse_log_timestamp(ts)
        except InvalidTime as exc:
            at = parse_log_timestamp(now)
            missing_time = "the event has no 'timestamp'" if ts is None else f"'timestamp' {exc}"
    fields: dict = {}
    text = message.strip()
    if text.startswith("{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            fields = parsed
            _add_trace_id(fields)
    else:
        fields = _platform_fields(text) or _flow_log_fields(text) or _route53_fields(text)
    record = {**fields, "@timestamp": at, "@message": message}
    group = log_group or event.get("logGroupName")
    if group is not None:
        record["log_group"] = group
    if event.get("logStreamName") is not None:
        record["log_stream"] = event["logStreamName"]
    return record, missing_time


def _platform_fields(message: str) -> dict:
    """The fields CloudWatch discovers in a Lambda START/END/REPORT line; {} for other lines."""
    kind, _, rest = message.partition(" ")
    if kind not in ("START", "END", "REPORT") or not rest.startswith("RequestId: "):
        return {}
    fields: dict = {"@type": kind}
    for match in _REPORT_VALUE.finditer(rest):
        name, value = match["name"].strip(), match["value"]
        if name == "RequestId":
            fields["@requestId"] = value
        elif name == "Version":
            fields["@version"] = value
        elif name == "XRAY TraceId":
            fields["@xrayTraceId"] = value
            _add_trace_id(fields, value)
        elif name == "SegmentId":
            fields["@xraySegmentId"] = value
        elif name in _REPORT_FIELDS:
            key, scale = _REPORT_FIELDS[name]
            try:
                number = float(value)
            except ValueError:
                continue
            number *= scale
            fields[key] = int(number) if number.is_integer() else number
    return fields


def _flow_log_fields(message: str) -> dict:
    """The fields CloudWatch discovers in a default-format VPC flow log record; {} for other lines.

    A "-" is a value the record does not have: that field is left out, as for any
    event without it, so ``ispresent(srcAddr)`` is false for a NODATA record.
    """
    match = _FLOW_LOG.fullmatch(message)
    if match is None:
        return {}
    return {name: int(value) if name in _FLOW_LOG_NUMBERS else value
            for name, value in match.groupdict().items() if value != "-"}


def _route53_fields(message: str) -> dict:
    """The fields CloudWatch discovers in a Route 53 DNS query log line; {} for other lines.

    All nine are text, as the line writes them (``version`` "1.0" stays "1.0"). The EDNS
    client subnet is not among the fields CloudWatch discovers ("Supported logs and
    discovered fields"), so it stays only in ``@message``.
    """
    match = _ROUTE53.fullmatch(message)
    return match.groupdict() if match else {}


def _place_in_time(record: dict, now: str) -> str | None:
    """Store the record's time as ISO UTC with milliseconds; without one, the import's time and why."""
    for key in _TIME_KEYS:
        value = record.get(key)
        if value is None:
            continue
        try:
            record["timestamp"] = _iso(parse_log_timestamp(value))
            return None
        except InvalidTime as exc:
            record["timestamp"] = now
            record["original_timestamp"] = value  # kept, so nothing the producer wrote is lost
            return f"'{key}' {exc}"
    record["timestamp"] = now
    return "no 'timestamp' field"


def _add_trace_id(record: dict, xray: Any = None) -> None:
    """Powertools' X-Ray id also as ``trace_id``: the 32 hex digits traces are stored under."""
    xray = record.get("xray_trace_id") if xray is None else xray
    if "trace_id" in record or not isinstance(xray, str):
        return
    match = _XRAY_ID.fullmatch(xray.strip())
    if match:
        record["trace_id"] = (match[1] + match[2]).lower()


def _iso(ms: int) -> str:
    when = datetime.fromtimestamp(ms // 1000, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
