"""A lean OTLP protobuf encoder: exactly the messages and fields :mod:`._otlp` sends, by hand.

Building opentelemetry-proto message objects cost the exporter's thread ~100 µs per memo, and
that thread holds the GIL the memo's thread needs. Here each record becomes its wire bytes in
one pass (varints, length-delimited fields, fixed64 times and doubles), with no message objects;
the resource and scope prefixes are encoded once. The output decodes with opentelemetry-proto
into what the old message-object path built (tests/telemetry/test_otlp_wire.py holds the two
together), and proto3's rules are kept: a scalar at its default is not written, a ``oneof`` member
(AnyValue's values, ``as_double``) and an ``optional`` one (a histogram's sum, min, max) always are.

Field numbers are opentelemetry-proto's (v1.x): ``trace_pb2.Span.DESCRIPTOR.fields_by_name`` and
so on; each tag below names its message and field. A tag byte is ``field << 3 | wire type``
(0 varint, 1 fixed64, 2 length-delimited).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_pack_fixed64 = struct.Struct("<Q").pack
_pack_double = struct.Struct("<d").pack
_pack_span_times = struct.Struct("<BQBQ").pack  # two tagged fixed64 fields in one call
_pack_point_times = _pack_span_times
_BYTE = [bytes((n,)) for n in range(128)]
_INT64_MASK = (1 << 64) - 1

# Tags, one byte each (every field number used is < 16).
# Export*ServiceRequest.resource_{spans,logs,metrics} = 1; Resource{Spans,Logs,Metrics}.resource = 1,
# .scope_{spans,logs,metrics} = 2; Scope{Spans,Logs,Metrics}.scope = 1, .{spans,log_records,metrics} = 2.
_REQUEST_RESOURCE = b"\x0a"
_RESOURCE = b"\x0a"
_SCOPE_GROUP = b"\x12"
_SCOPE = b"\x0a"
_ITEM = b"\x12"
_RESOURCE_ATTRIBUTES = b"\x0a"  # Resource.attributes = 1
_SCOPE_NAME = b"\x0a"  # InstrumentationScope.name = 1
# KeyValue: key = 1, value = 2. AnyValue: string_value = 1, bool_value = 2, int_value = 3 (int64 varint),
# double_value = 4, array_value = 5, kvlist_value = 6. ArrayValue.values = 1, KeyValueList.values = 1.
_KV_KEY, _KV_VALUE = b"\x0a", b"\x12"
_ANY_STRING, _ANY_INT, _ANY_DOUBLE, _ANY_ARRAY, _ANY_KVLIST = b"\x0a", b"\x18", b"\x21", b"\x2a", b"\x32"
_ANY_TRUE, _ANY_FALSE = b"\x10\x01", b"\x10\x00"
_LIST_VALUES = b"\x0a"
# Span: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, kind = 6, start_time_unix_nano = 7 (fixed64),
# end_time_unix_nano = 8 (fixed64), attributes = 9, events = 11, status = 15.
_SPAN_TRACE_ID, _SPAN_ID, _SPAN_PARENT, _SPAN_NAME, _SPAN_KIND = b"\x0a", b"\x12", b"\x22", b"\x2a", b"\x30"
_SPAN_START, _SPAN_END, _SPAN_ATTRIBUTES, _SPAN_EVENT, _SPAN_STATUS = b"\x39", b"\x41", b"\x4a", b"\x5a", b"\x7a"
# Span.Event: time_unix_nano = 1 (fixed64), name = 2, attributes = 3. Status: message = 2, code = 3.
_EVENT_TIME, _EVENT_NAME, _EVENT_ATTRIBUTES = b"\x09", b"\x12", b"\x1a"
_STATUS_MESSAGE, _STATUS_CODE = b"\x12", b"\x18"
_TRACE_AND_SPAN_ID, _SPAN_ID_8 = _SPAN_TRACE_ID + b"\x10", _SPAN_ID + b"\x08"  # 16- and 8-byte ids
# LogRecord: time_unix_nano = 1 (fixed64), severity_number = 2, severity_text = 3, body = 5, attributes = 6,
# trace_id = 9, span_id = 10.
_LOG_TIME, _LOG_SEVERITY, _LOG_SEVERITY_TEXT, _LOG_BODY = b"\x09", b"\x10", b"\x1a", b"\x2a"
_LOG_ATTRIBUTES, _LOG_TRACE_ID, _LOG_SPAN_ID = b"\x32", b"\x4a", b"\x52"
_LOG_TRACE_ID_16, _LOG_SPAN_ID_8 = _LOG_TRACE_ID + b"\x10", _LOG_SPAN_ID + b"\x08"
# Metric: name = 1, unit = 3, gauge = 5, sum = 7, histogram = 9. Gauge/Sum/Histogram.data_points = 1,
# Sum/Histogram.aggregation_temporality = 2 (1 = delta), Sum.is_monotonic = 3.
_METRIC_NAME, _METRIC_UNIT, _METRIC_GAUGE, _METRIC_SUM, _METRIC_HISTOGRAM = b"\x0a", b"\x1a", b"\x2a", b"\x3a", b"\x4a"
_DATA_POINT = b"\x0a"
_DELTA, _MONOTONIC = b"\x10\x01", b"\x18\x01"
# NumberDataPoint: start_time_unix_nano = 2, time_unix_nano = 3 (fixed64), as_double = 4, attributes = 7.
# HistogramDataPoint: start/time as above, count = 4 (fixed64), sum = 5, attributes = 9, min = 11, max = 12.
_POINT_START, _POINT_TIME, _POINT_DOUBLE, _POINT_ATTRIBUTES = b"\x11", b"\x19", b"\x21", b"\x3a"
_HIST_COUNT, _HIST_SUM, _HIST_ATTRIBUTES, _HIST_MIN, _HIST_MAX = b"\x21", b"\x29", b"\x4a", b"\x59", b"\x61"

KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
# SeverityNumber (OTel logs data model) of our levels: the first of each range.
SEVERITY = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17}
# CloudWatch units -> UCUM, as OTel semantic conventions write units.
UCUM = {
    "Seconds": "s", "Milliseconds": "ms", "Microseconds": "us", "Bytes": "By", "Kilobytes": "KiBy",
    "Megabytes": "MiBy", "Gigabytes": "GiBy", "Terabytes": "TiBy", "Bits": "bit", "Kilobits": "kbit",
    "Megabits": "Mbit", "Gigabits": "Gbit", "Terabits": "Tbit", "Percent": "%", "Count": "1",
    "Bytes/Second": "By/s", "Bits/Second": "bit/s", "Count/Second": "1/s", "None": "",
}
LOG_OWN_KEYS = frozenset({"level", "message", "timestamp", "service", "trace_id", "span_id", "logger"})
SPAN_SCOPE = "whispersync"
# Span.status with no message, by code: the empty Status message, or one holding the code.
_STATUS_OF_CODE = {code: _SPAN_STATUS + (bytes((2, 0x18, code)) if code else b"\x00") for code in STATUS.values()}
_PAIR_CACHE_LIMIT = 8192
_SCOPE_CACHE_LIMIT = 1024


def _varint(n: int) -> bytes:
    if n < _VARINT_TABLE_SIZE:
        return _VARINT[n]
    out = bytearray()
    while n > 127:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


# The varints of every length below 2048, precomputed: nearly all of ours are (a field, a record).
_VARINT_TABLE_SIZE = 1 << 11
_VARINT = [bytes((n,)) if n < 128 else bytes(((n & 127) | 128, n >> 7)) for n in range(_VARINT_TABLE_SIZE)]


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field."""
    return tag + _varint(len(payload)) + payload


def _string(tag: bytes, text: str) -> bytes:
    data = text.encode()
    return tag + _varint(len(data)) + data


# tag -> (key, str or int value) -> the framed KeyValue. Most attributes repeat from memo to memo
# (agent_type=work, queue=transcripts, ...); ids do not, so each cache is bounded and starts afresh when full.
_pairs: dict[bytes, dict[tuple[str, Any], bytes]] = {}


def any_value(value: Any) -> bytes:
    """An ``AnyValue``'s body from a JSON value; anything else as its str(). Empty for an empty list
    or dict (no member set, as the message-object path left it)."""
    kind = type(value)
    if kind is str:
        data = value.encode()
        return _ANY_STRING + _varint(len(data)) + data
    if kind is float:
        return _ANY_DOUBLE + _pack_double(value)
    if kind is int and -(1 << 63) <= value < (1 << 63):
        return _ANY_INT + _varint(value & _INT64_MASK)
    if isinstance(value, bool):
        return _ANY_TRUE if value else _ANY_FALSE
    if isinstance(value, int) and -(1 << 63) <= value < (1 << 63):
        return _ANY_INT + _varint(int(value) & _INT64_MASK)
    if isinstance(value, float):
        return _ANY_DOUBLE + _pack_double(value)
    if isinstance(value, str):
        data = str.encode(value)  # a str subclass's own text, as protobuf stores it (not its str())
        return _ANY_STRING + _varint(len(data)) + data
    if isinstance(value, (list, tuple)):
        if not value:
            return b""
        return _field(_ANY_ARRAY, b"".join([_field(_LIST_VALUES, any_value(item)) for item in value]))
    if isinstance(value, dict):
        values = attributes(_LIST_VALUES, value)
        return _field(_ANY_KVLIST, values) if values else b""
    return _string(_ANY_STRING, str(value))


def attributes(tag: bytes, values: Mapping[str, Any], skip: frozenset = frozenset()) -> bytes:
    """Repeated ``KeyValue`` fields under *tag*; a None value, or a key in *skip*, is left out."""
    out = []
    append = out.append
    pairs = _pairs.get(tag)
    if pairs is None:
        pairs = _pairs[tag] = {}
    for key, value in values.items():
        if value is None or key in skip:
            continue
        kind = type(value)
        # Exact types only: True == 1 and 0.0 == -0.0 would share an entry; a float is rarely repeated anyway.
        if (kind is str or kind is int) and type(key) is str:
            framed = pairs.get((key, value))
            if framed is None:
                framed = tag + _pair(key, value)
                if len(pairs) >= _PAIR_CACHE_LIMIT:
                    pairs.clear()
                pairs[key, value] = framed
            append(framed)
        else:
            append(tag + _pair(key, value))
    return b"".join(out)


def _pair(key: Any, value: Any) -> bytes:
    """A ``KeyValue``'s length and body; an empty AnyValue (an empty list or dict) is left unset."""
    body = any_value(value)
    pair = _string(_KV_KEY, str(key)) + (_KV_VALUE + _varint(len(body)) + body if body else b"")
    return _varint(len(pair)) + pair


def _metric_header(name: str, unit: str) -> bytes:
    ucum = UCUM.get(unit, "")
    return _string(_METRIC_NAME, name) + (_string(_METRIC_UNIT, ucum) if ucum else b"")


def _all_str(key: tuple) -> bool:
    """A metric template is kept only when its key holds nothing but strings (and the monotonic flag):
    a float or bool dimension could equal another value that encodes differently (0.0 and -0.0, True and 1)."""
    return all(type(part) is str or type(part) is bool or (type(part) is tuple and type(part[0]) is str
                                                          and type(part[1]) is str) for part in key)


def _unix_ns(timestamp: Any) -> int:
    if isinstance(timestamp, (int, float)):  # epoch ms
        return int(timestamp * 1_000_000)
    if isinstance(timestamp, str):
        try:
            return int(datetime.fromisoformat(timestamp).timestamp() * 1e9)
        except ValueError:
            pass
    return time.time_ns()


class WireEncoder:
    """Encodes our records as OTLP items, then items as one ``Export*ServiceRequest``.

    ``span``, ``log`` and ``metric`` each return ``(scope name, item)``: the item is the framed
    ``Scope*.spans|log_records|metrics`` entry, so a request is the cached prefixes and a join.
    """

    def __init__(self, service: str, service_version: str = "") -> None:
        resource = {"service.name": service, **({"service.version": service_version} if service_version else {})}
        self._resource = _field(_RESOURCE, attributes(_RESOURCE_ATTRIBUTES, resource))
        self._scopes: dict[str, bytes] = {}
        self._span_heads: dict[tuple[str, Any], bytes] = {}
        self._log_heads: dict[str, bytes] = {}
        self._metric_templates: dict[tuple, tuple[bytes, tuple[bytes, bytes], bytes]] = {}

    # -- records ----------------------------------------------------------------------------

    def span(self, record: Mapping[str, Any]) -> tuple[str, bytes]:
        trace_id, span_id = bytes.fromhex(record["trace_id"]), bytes.fromhex(record["span_id"])
        if len(trace_id) == 16 and len(span_id) == 8:  # always, from our tracer
            parts = [_TRACE_AND_SPAN_ID + trace_id + _SPAN_ID_8 + span_id]
        else:
            parts = [_field(_SPAN_TRACE_ID, trace_id) if trace_id else b"",
                     _field(_SPAN_ID, span_id) if span_id else b""]
        parent = record.get("parent_span_id")
        if parent:
            parts.append(_field(_SPAN_PARENT, bytes.fromhex(parent)))
        name, kind = record["name"], record.get("kind")
        head = self._span_heads.get((name, kind))
        if head is None:
            head = (_string(_SPAN_NAME, name) if name else b"") + _SPAN_KIND + _BYTE[KIND.get(kind, 1)]
            if type(name) is str and len(self._span_heads) < _SCOPE_CACHE_LIMIT:
                self._span_heads[name, kind] = head
        parts.append(head)
        start, end = record["start_time_unix_nano"], record["end_time_unix_nano"]
        if start and end:
            parts.append(_pack_span_times(0x39, start, 0x41, end))  # _SPAN_START, _SPAN_END
        else:
            parts.append((_SPAN_START + _pack_fixed64(start) if start else b"") +
                         (_SPAN_END + _pack_fixed64(end) if end else b""))
        # Annotations and metadata are both OTel attributes (the X-Ray split has no OTel equivalent).
        metadata, annotations = record.get("metadata"), record.get("annotations")
        merged = {**metadata, **annotations} if metadata and annotations else metadata or annotations
        if merged:
            parts.append(attributes(_SPAN_ATTRIBUTES, merged))
        for event in record.get("events") or ():
            when, event_name = event["time_unix_nano"], event["name"].encode()
            body = ((_EVENT_TIME + _pack_fixed64(when) if when else b"")
                    + (_EVENT_NAME + _varint(len(event_name)) + event_name if event_name else b"")
                    + attributes(_EVENT_ATTRIBUTES, event.get("attributes") or {}))
            parts.append(_field(_SPAN_EVENT, body))
        message = record.get("status_message")
        code = STATUS.get(record.get("status"), 0)
        if message:
            status = _string(_STATUS_MESSAGE, message) + (_STATUS_CODE + _BYTE[code] if code else b"")
            parts.append(_SPAN_STATUS + _varint(len(status)) + status)
        else:
            parts.append(_STATUS_OF_CODE[code])  # always present, as the message-object path set it
        span = b"".join(parts)
        n = len(span)
        return SPAN_SCOPE, _ITEM + (_VARINT[n] if n < _VARINT_TABLE_SIZE else _varint(n)) + span

    def log(self, record: Mapping[str, Any]) -> tuple[str, bytes]:
        when = _unix_ns(record.get("timestamp"))
        level = record.get("level", "INFO")
        head = self._log_heads.get(level)
        if head is None:
            head = (_LOG_SEVERITY + _BYTE[SEVERITY.get(level, 9)]
                    + (_string(_LOG_SEVERITY_TEXT, level) if level else b""))
            if type(level) is str and len(self._log_heads) < _SCOPE_CACHE_LIMIT:
                self._log_heads[level] = head
        body = _string(_ANY_STRING, str(record.get("message", "")))
        n = len(body)
        parts = [_LOG_TIME + _pack_fixed64(when) if when else b"", head,
                 _LOG_BODY + (_VARINT[n] if n < _VARINT_TABLE_SIZE else _varint(n)) + body,
                 attributes(_LOG_ATTRIBUTES, record, LOG_OWN_KEYS)]
        trace_id, span_id = record.get("trace_id"), record.get("span_id")
        if trace_id and len(trace_id) == 32:
            parts.append(_LOG_TRACE_ID_16 + bytes.fromhex(trace_id))
        if span_id and len(span_id) == 16:
            parts.append(_LOG_SPAN_ID_8 + bytes.fromhex(span_id))
        log = b"".join(parts)
        n = len(log)
        scope = record.get("logger") or "whispersync"
        if type(scope) is not str:  # fail this record here, not its batch's request
            raise TypeError(f"a logger name is a str, not {type(scope).__name__}")
        return scope, _ITEM + (_VARINT[n] if n < _VARINT_TABLE_SIZE else _varint(n)) + log

    def metric(self, record: Mapping[str, Any]) -> tuple[str, bytes]:
        """A Count as a delta monotonic sum, a statistic set as a delta histogram without buckets,
        anything else as a gauge; the namespace is the scope, the dimensions the point's attributes."""
        namespace, name, unit = record["namespace"], record["name"], record.get("unit", "None")
        if type(namespace) is not str:  # fail this record here, not its batch's request
            raise TypeError(f"a namespace is a str, not {type(namespace).__name__}")
        time_ns = int(record["timestamp"]) * 1_000_000
        stats = record.get("statistic_values")
        value = float(record["value"])
        dimensions = record.get("dimensions") or {}
        if stats:
            count = int(stats["SampleCount"])
            point = b"".join((_pack_point_times(0x11, time_ns, 0x19, time_ns) if time_ns else b"",
                              _HIST_COUNT + _pack_fixed64(count) if count else b"",
                              _HIST_SUM + _pack_double(stats["Sum"]), _HIST_MIN + _pack_double(stats["Minimum"]),
                              _HIST_MAX + _pack_double(stats["Maximum"]), attributes(_HIST_ATTRIBUTES, dimensions)))
            data = _METRIC_HISTOGRAM, _DELTA
            header = _metric_header(name, unit)
        else:
            # Everything but the time and the value repeats from memo to memo: kept, keyed by what makes it.
            monotonic = unit == "Count" and value >= 0
            try:
                key = (namespace, name, unit, monotonic, *dimensions.items())
                template = self._metric_templates.get(key)
            except TypeError:  # an unhashable dimension value
                key, template = None, None
            if template is None:
                template = (_metric_header(name, unit), (_METRIC_SUM, _DELTA + _MONOTONIC) if monotonic
                            else (_METRIC_GAUGE, b""), attributes(_POINT_ATTRIBUTES, dimensions))
                if key is not None and len(self._metric_templates) < _PAIR_CACHE_LIMIT and _all_str(key):
                    self._metric_templates[key] = template
            header, data, point_attributes = template
            point = ((_pack_point_times(0x11, time_ns, 0x19, time_ns) if time_ns else b"")
                     + _POINT_DOUBLE + _pack_double(value) + point_attributes)
        tag, tail = data
        n = len(point)
        body = _DATA_POINT + (_VARINT[n] if n < _VARINT_TABLE_SIZE else _varint(n)) + point + tail
        metric = header + tag + _varint(len(body)) + body
        n = len(metric)
        return namespace, _ITEM + (_VARINT[n] if n < _VARINT_TABLE_SIZE else _varint(n)) + metric

    # -- requests ---------------------------------------------------------------------------

    def request(self, signal: str, scopes: Mapping[str, list[bytes]]) -> bytes:
        """The ``Export*ServiceRequest`` for *signal* ("traces", "logs", "metrics") holding *scopes*
        (scope name -> items, in order); a traces request always has its one scope, even empty."""
        if signal == "traces" and SPAN_SCOPE not in scopes:
            scopes = {SPAN_SCOPE: [], **scopes}
        groups = [self._resource]
        for name, items in scopes.items():
            group = self._scope(name) + b"".join(items)
            groups.append(_SCOPE_GROUP + _varint(len(group)) + group)
        return _field(_REQUEST_RESOURCE, b"".join(groups))

    def _scope(self, name: str) -> bytes:
        scope = self._scopes.get(name)
        if scope is None:
            scope = _field(_SCOPE, _string(_SCOPE_NAME, name) if name else b"")
            if len(self._scopes) < _SCOPE_CACHE_LIMIT:
                self._scopes[name] = scope
        return scope


def rejected_count(response: bytes) -> int:
    """``partial_success.rejected_*`` of an ``Export*ServiceResponse`` (field 1, then its field 1:
    rejected_spans, rejected_log_records, rejected_data_points); 0 when absent."""
    partial = _first_field(response, 1, 2)
    if not partial:
        return 0
    rejected = _first_field(partial, 1, 0)
    return rejected - (1 << 64) if rejected and rejected >= (1 << 63) else rejected or 0


def _first_field(data: bytes, number: int, wire_type: int) -> Any:
    """The last occurrence (protobuf's rule for a singular field) of a varint or length-delimited field."""
    found: Any = None
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        field, kind = key >> 3, key & 7
        if kind == 0:
            value, position = _read_varint(data, position)
        elif kind == 2:
            size, position = _read_varint(data, position)
            value, position = data[position:position + size], position + size
        elif kind == 1:
            value, position = None, position + 8
        elif kind == 5:
            value, position = None, position + 4
        else:
            raise ValueError(f"unsupported wire type {kind}")
        if field == number and kind == wire_type:
            found = value
    if position != len(data):
        raise ValueError("truncated message")
    return found


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 127) << shift
        if byte < 128:
            return result, position
        shift += 7
