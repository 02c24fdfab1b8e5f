"""OTLP/HTTP request bodies -> ``opentelemetry-proto`` messages, and the answers back.

The OTLP specification (opentelemetry-proto docs/specification.md, "OTLP/HTTP" and
"JSON Protobuf Encoding") is the authority:

- bodies are ``application/x-protobuf`` or ``application/json``, optionally
  ``Content-Encoding: gzip``; any other type is a 415;
- OTLP JSON is proto3's JSON mapping with three differences: ``traceId``, ``spanId``
  and ``parentSpanId`` are *hex* (proto3 JSON would make them base64), enums are
  integers (names are accepted here too, as the spec asks receivers to be lenient),
  and unknown fields are ignored. 64-bit integers may be strings or numbers;
  ``json_format`` takes both. So the body goes through ``json_format.ParseDict``
  after its hex ids are rewritten to base64, which is what ParseDict expects;
- a success is a 200 with an ``Export<Signal>ServiceResponse`` in the request's
  encoding (``partial_success`` set when items were rejected); a bad body is a 400
  whose body is a ``google.rpc.Status``, also in the request's encoding.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from whispersync.errors import InputError

SIGNALS = ("traces", "logs", "metrics")
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# What one request may hold, compressed or not (the OTel Collector's default limit is 20 MiB).
MAX_BODY_BYTES = 16 * 1024 * 1024

_REQUESTS: dict[str, type[Message]] = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
_RESPONSES: dict[str, type[Message]] = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
}
_REJECTED_FIELD = {"traces": "rejected_spans", "logs": "rejected_log_records", "metrics": "rejected_data_points"}
# Fields holding ids, in OTLP JSON's lowerCamelCase and proto's snake_case (ParseDict takes both).
_HEX_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


class OtlpError(InputError):
    """An OTLP request the receiver cannot take: a bad body (400), too big (413), an unknown type (415)."""

    code = "invalid_otlp"


class OtlpTooLarge(OtlpError):
    code = "otlp_too_large"
    http_status = 413


class OtlpUnsupportedType(OtlpError):
    code = "unsupported_media_type"
    http_status = 415


def encoding_of(content_type: str | None) -> str:
    """"protobuf" or "json" for a Content-Type header; OtlpUnsupportedType otherwise."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == PROTOBUF:
        return "protobuf"
    if media == JSON:
        return "json"
    raise OtlpUnsupportedType(f"Content-Type {media or '(none)'!r} is not OTLP: send {PROTOBUF} or {JSON}")


def decode_request(signal: str, body: bytes, content_type: str | None,
                   content_encoding: str | None = None, *, max_bytes: int = MAX_BODY_BYTES) -> Message:
    """The ``Export<Signal>ServiceRequest`` in *body*; OtlpError when it is not one."""
    encoding = encoding_of(content_type)
    body = _decompress(body, content_encoding, max_bytes)
    message = _REQUESTS[signal]()
    if encoding == "protobuf":
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError) as exc:
            raise OtlpError(f"the body is not a protobuf {message.DESCRIPTOR.name}: {exc}") from None
        return message
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpError(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise OtlpError(f"an OTLP JSON body is an object ({message.DESCRIPTOR.name}), not {type(document).__name__}")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document, "$"), message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise OtlpError(f"the body is not an OTLP JSON {message.DESCRIPTOR.name}: {exc}") from None
    return message


def _decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    if len(body) > max_bytes:
        raise OtlpTooLarge(f"the body is {len(body)} bytes; at most {max_bytes}")
    coding = (content_encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding != "gzip":
        raise OtlpUnsupportedType(f"Content-Encoding {coding!r} is not supported: send gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
    try:
        out = inflater.decompress(body, max_bytes + 1)  # never inflate past the limit (a gzip bomb)
    except zlib.error as exc:
        raise OtlpError(f"the body is not valid gzip: {exc}") from None
    if len(out) > max_bytes:
        raise OtlpTooLarge(f"the body inflates to more than {max_bytes} bytes")
    if not inflater.eof:
        raise OtlpError("the gzip body is truncated")
    return out


def _hex_ids_to_base64(value: Any, path: str) -> Any:
    """*value* with every id field's hex string turned into the base64 ParseDict wants."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _HEX_FIELDS and isinstance(item, str):
                out[key] = _hex_to_base64(item, f"{path}.{key}")
            else:
                out[key] = _hex_ids_to_base64(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [_hex_ids_to_base64(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _hex_to_base64(text: str, path: str) -> str:
    if not text:
        return ""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise OtlpError(f"{path}: {text[:40]!r} is not a hex id (OTLP JSON ids are hex, not base64)") from None
    return base64.b64encode(raw).decode("ascii")


def encode_response(signal: str, encoding: str, rejected: int = 0, message: str = "") -> bytes:
    """The success body: an ``Export<Signal>ServiceResponse``, with ``partial_success`` when
    items were rejected (the spec: a server that rejects some MUST set it)."""
    response = _RESPONSES[signal]()
    if rejected or message:
        setattr(response.partial_success, _REJECTED_FIELD[signal], rejected)
        response.partial_success.error_message = message
    if encoding == "protobuf":
        return response.SerializeToString()
    doc = json_format.MessageToDict(response)  # no ids or enums in a response: the generic mapping is right
    for partial in ([doc["partialSuccess"]] if "partialSuccess" in doc else []):
        for key, value in partial.items():  # int64 counts are strings in proto3 JSON; OTLP JSON allows numbers
            if isinstance(value, str) and key.startswith("rejected"):
                partial[key] = int(value)
    return orjson.dumps(doc)


def encode_status(encoding: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (code, message) for an error answer, built by hand: it is
    two fields, and the message type lives in a package we do not otherwise need."""
    if encoding == "protobuf":
        text = message.encode()
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return orjson.dumps({"code": code, "message": message})


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)

