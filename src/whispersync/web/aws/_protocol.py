"""AWS wire protocols, driven by botocore's own service models.

A request becomes ``(operation, params)``: the operation's name and its input as
plain Python (timestamps as aware UTC datetimes, blobs as bytes), validated
against the model's input shape. An answer is the output dict, encoded as the
model's output shape says. Three protocols, as CloudWatch serves them:

* Smithy RPC v2 CBOR: ``POST /service/{Service}/operation/{Operation}`` with
  ``smithy-protocol: rpc-v2-cbor``; timestamps are CBOR tag 1 (epoch seconds);
  an error is a CBOR map ``{"__type", "message"}`` with its HTTP status
  (https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html).
* AWS JSON 1.0/1.1: ``POST /`` with ``X-Amz-Target: {targetPrefix}.{Operation}``;
  timestamps are epoch seconds; an error is ``{"__type", "message"}``.
* AWS query: a form body ``Action=…&Version=…`` with lists flattened as
  ``Name.member.N`` and maps as ``Name.entry.N.key``/``.value``; the answer is XML
  ``<{Op}Response><{Op}Result>…`` and an error ``<ErrorResponse><Error>…``.

CloudWatch is ``awsQueryCompatible``: its JSON and CBOR errors also carry
``x-amzn-query-error: {Code};{Sender|Receiver}``, from which botocore takes the
query protocol's code (``InvalidParameterValue`` rather than the shape name).
"""

from __future__ import annotations

import base64
import functools
import math
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.session
import cbor2
import orjson
from botocore.model import OperationModel, ServiceModel, Shape
from starlette.responses import Response

CBOR = "smithy-rpc-v2-cbor"
JSON = "json"
QUERY = "query"

_MAX_DEPTH = 32


class AwsError(Exception):
    """An answer in AWS's error shape: ``code`` is what the client sees as the error code."""

    def __init__(self, code: str, message: str, status: int = 400, sender_fault: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message)


def missing(message: str) -> AwsError:
    return AwsError("MissingParameter", message)


def combination(message: str) -> AwsError:
    return AwsError("InvalidParameterCombination", message)


@functools.cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of ``name`` ("cloudwatch", "logs"): loaded once per process."""
    return botocore.session.get_session().get_service_model(name)


@functools.cache
def _shape_names_by_code(name: str) -> dict[str, str]:
    """Error code -> the error shape's name (``InvalidParameterValue`` -> ``InvalidParameterValueException``)."""
    model = service_model(name)
    out = {}
    for shape_name in model.shape_names:
        shape = model.shape_for(shape_name)
        if shape.metadata.get("exception"):
            out[shape.error_code] = shape_name
    return out


def _error_headers(err: AwsError, model: ServiceModel | None) -> tuple[str, dict[str, str]]:
    """The ``__type`` of ``err`` and the headers a JSON or CBOR error answer carries."""
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if model is not None and "awsQueryCompatible" in model.metadata:
        fault = "Sender" if err.sender_fault else "Receiver"
        headers["x-amzn-query-error"] = f"{err.code};{fault}"
        shape_name = _shape_names_by_code(model.service_name).get(err.code, err.code)
        return f"com.amazonaws.{model.endpoint_prefix}#{shape_name}", headers
    return err.code, headers


def json_error_response(err: AwsError, protocol_version: str, model: ServiceModel | None = None) -> Response:
    """An AWS JSON error answer (``protocol_version`` "1.0" or "1.1"): ``{"__type", "message"}``."""
    type_name, headers = _error_headers(err, model)
    headers["x-amzn-ErrorType"] = err.code
    return Response(orjson.dumps({"__type": type_name, "message": err.message}), status_code=err.status,
                    media_type=f"application/x-amz-json-{protocol_version}", headers=headers)


def cbor_error_response(err: AwsError, model: ServiceModel | None = None) -> Response:
    type_name, headers = _error_headers(err, model)
    headers["smithy-protocol"] = "rpc-v2-cbor"
    return Response(cbor2.dumps({"__type": type_name, "message": err.message}), status_code=err.status,
                    media_type="application/cbor", headers=headers)


def query_error_response(err: AwsError, model: ServiceModel) -> Response:
    fault = "Sender" if err.sender_fault else "Receiver"
    body = (f'<ErrorResponse xmlns="{model.metadata["xmlNamespace"]}"><Error><Type>{fault}</Type>'
            f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return Response(body.encode(), status_code=err.status, media_type="text/xml")


# ---------------------------------------------------------------------- requests


@dataclass
class AwsRequest:
    """One decoded call: which protocol it came in, the operation and its validated input."""

    protocol: str
    model: ServiceModel
    operation: OperationModel
    params: dict[str, Any]
    json_version: str = "1.0"


def detect(path: str, headers: Mapping[str, str], form_action: bool) -> str | None:
    """Which AWS protocol a POST speaks, or None when it is not an AWS call at all."""
    if path.startswith("/service/") and "/operation/" in path:
        return CBOR
    if path == "/" and headers.get("x-amz-target"):
        return JSON
    if path == "/" and form_action:
        return QUERY
    return None


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """PutMetricData is modelled ``requestcompression: gzip``: botocore gzips bodies of 10 KB and over.

    At most ``max_bytes`` come out: a small body must not inflate into gigabytes."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise AwsError("InvalidParameterValue", f"Content-Encoding {encoding[:40]!r} is not supported; send gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise AwsError("MalformedHttpRequestException", "the gzip body could not be decompressed") from None
    if len(out) > max_bytes:
        raise AwsError("RequestEntityTooLarge", f"the body decompresses to over {max_bytes} bytes", status=413)
    if not inflater.eof:
        raise AwsError("MalformedHttpRequestException", "the gzip body is truncated")
    return out


def decode(protocol: str, model: ServiceModel, path: str, headers: Mapping[str, str], body: bytes) -> AwsRequest:
    """Parse and validate one request; raises AwsError for anything the client got wrong."""
    if protocol == CBOR:
        service, _, operation_name = path.removeprefix("/service/").partition("/operation/")
        if service != model.metadata.get("targetPrefix"):
            raise AwsError("UnknownOperationException", f"no service {service[:80]!r} here", status=404)
        if headers.get("smithy-protocol", "").lower() != "rpc-v2-cbor":
            raise AwsError("SerializationException", "a Smithy RPC v2 request needs the header smithy-protocol: "
                                                     "rpc-v2-cbor")
        operation = _operation(model, operation_name)
        try:
            raw = cbor2.loads(body) if body else {}
        except (cbor2.CBORDecodeError, ValueError, TypeError):
            raise AwsError("SerializationException", "the body is not valid CBOR") from None
        return AwsRequest(CBOR, model, operation, _validate_input(operation, raw, CBOR))
    if protocol == JSON:
        prefix, _, operation_name = headers.get("x-amz-target", "").partition(".")
        if prefix != model.metadata.get("targetPrefix"):
            raise AwsError("UnknownOperationException", f"unknown X-Amz-Target prefix {prefix[:80]!r}")
        operation = _operation(model, operation_name)
        try:
            raw = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError:
            raise AwsError("SerializationException", "the body is not valid JSON") from None
        version = model.metadata.get("jsonVersion", "1.0")
        return AwsRequest(JSON, model, operation, _validate_input(operation, raw, JSON), version)
    form = _form(body)
    action = form.pop("Action", "")
    version = form.pop("Version", None)
    if version is not None and version != model.api_version:
        raise AwsError("InvalidParameterValue", f"Version {version[:40]!r} is not supported; use {model.api_version}")
    operation = _operation(model, action, query=True)
    shape = operation.input_shape
    known = {_member_key(n, m) for n, m in shape.members.items()} if shape else set()
    unknown = sorted({key.partition(".")[0] for key in form} - known)
    if unknown:  # a misspelt parameter would otherwise be dropped without a word
        raise invalid(f"unknown parameter(s) for {operation.name}: {', '.join(unknown)[:200]}")
    raw = _unflatten(shape, form, "", _Parents(form)) if shape else {}
    return AwsRequest(QUERY, model, operation, _validate_input(operation, raw, QUERY))


def _operation(model: ServiceModel, name: str, *, query: bool = False) -> OperationModel:
    if not name:
        raise AwsError("MissingAction" if query else "UnknownOperationException", "the request names no operation")
    if name not in model.operation_names:
        raise AwsError("InvalidAction" if query else "UnknownOperationException",
                       f"{name[:80]!r} is not an operation of {model.service_id}", status=400)
    return model.operation_model(name)


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body.strip()))
    except (UnicodeDecodeError, ValueError):
        raise AwsError("MalformedQueryString", "the form body could not be parsed", status=404) from None
    return dict(pairs)


def _member_key(name: str, shape: Shape) -> str:
    return shape.serialization.get("name", name)


class _Parents(set):
    """Every proper dotted prefix of the form's keys (``A.member.1`` for ``A.member.1.Name``), built once
    per request: asking "does any key continue this one?" is then a set lookup, not a scan of the form
    (a scan per item made a 1,000-value PutMetricData take seconds)."""

    def __init__(self, form: dict[str, str]) -> None:
        super().__init__()
        for key in form:
            parts = key.split(".")
            self.update(".".join(parts[:i]) for i in range(1, len(parts)))


def _unflatten(shape: Shape, form: dict[str, str], prefix: str, parents: _Parents, depth: int = 0) -> Any:
    """The query protocol's flat keys under ``prefix`` as the nested value ``shape`` describes."""
    if depth > _MAX_DEPTH:
        raise invalid("the request nests too deeply")
    if shape.type_name == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = f"{prefix}{_member_key(name, member)}"
            if member.type_name in ("structure", "list", "map"):
                if key in form or key in parents:
                    out[name] = _unflatten(member, form, key + ".", parents, depth + 1)
            elif key in form:
                out[name] = form[key]
        return out
    if shape.type_name == "list":
        base = prefix.rstrip(".")
        if form.get(base) == "":  # "Name=" is the query protocol's empty list
            return []
        flattened = shape.serialization.get("flattened")
        item_prefix = f"{prefix}" if flattened else f"{prefix}member."
        items, index = [], 1
        while True:
            key = f"{item_prefix}{index}"
            if shape.member.type_name in ("structure", "list", "map"):
                if key not in parents:
                    break
                items.append(_unflatten(shape.member, form, key + ".", parents, depth + 1))
            elif key in form:
                items.append(form[key])
            else:
                break
            index += 1
        return items
    if shape.type_name == "map":
        out, index = {}, 1
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        while f"{prefix}entry.{index}.{key_name}" in form:
            entry = f"{prefix}entry.{index}."
            out[form[entry + key_name]] = (_unflatten(shape.value, form, entry + value_name + ".", parents, depth + 1)
                                           if shape.value.type_name in ("structure", "list", "map")
                                           else form.get(entry + value_name, ""))
            index += 1
        return out
    return form.get(prefix.rstrip("."))


# ---------------------------------------------------------------------- validation


def _validate_input(operation: OperationModel, raw: Any, protocol: str) -> dict[str, Any]:
    if operation.input_shape is None:
        return {}
    if not isinstance(raw, dict):
        raise AwsError("SerializationException", "the request body must be an object (a structure)")
    return _check(operation.input_shape, raw, "", protocol, 0)


def _check(shape: Shape, value: Any, where: str, protocol: str, depth: int) -> Any:
    """``value`` as ``shape`` types it, or InvalidParameterValue / MissingParameter naming where."""
    name = where or "the request"
    if depth > _MAX_DEPTH:
        raise invalid("the request nests too deeply")
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise invalid(f"{name} must be a structure")
        out = {}
        for key, item in value.items():
            if key not in shape.members:
                if protocol == QUERY:
                    raise invalid(f"unknown parameter {where + '.' if where else ''}{key}")
                continue  # JSON and CBOR servers ignore members they do not know (forward compatibility)
            if item is None:
                continue
            out[key] = _check(shape.members[key], item, f"{where}.{key}" if where else key, protocol, depth + 1)
        for required in shape.required_members:
            if required not in out:
                raise missing(f"The parameter {where + '.' if where else ''}{required} is required.")
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise invalid(f"{name} must be a list")
        _length(shape, len(value), name)
        return [_check(shape.member, v, f"{where}.member.{i}", protocol, depth + 1) for i, v in enumerate(value, 1)]
    if kind == "map":
        if not isinstance(value, dict):
            raise invalid(f"{name} must be a map")
        return {_check(shape.key, k, f"{where}.key", protocol, depth + 1):
                _check(shape.value, v, f"{where}.{k}", protocol, depth + 1) for k, v in value.items()}
    if kind == "string":
        if not isinstance(value, str):
            raise invalid(f"{name} must be a string")
        _length(shape, len(value), name)
        if shape.enum and value not in shape.enum:
            raise invalid(f"{name} must be one of {', '.join(shape.enum)}; got {value[:60]!r}")
        pattern = _pattern(shape.metadata.get("pattern"))
        if pattern is not None and not pattern.search(value):
            raise invalid(f"{name} must match the pattern {pattern.pattern}")
        return value
    if kind in ("integer", "long"):
        number = _number(value, name, integer=True)
        _range(shape, number, name)
        return number
    if kind in ("double", "float"):
        number = float(_number(value, name, integer=False))
        if not math.isfinite(number):
            raise invalid(f"{name} must be a finite number")
        _range(shape, number, name)
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if protocol == QUERY and value in ("true", "false"):
            return value == "true"
        raise invalid(f"{name} must be true or false")
    if kind == "timestamp":
        return _timestamp(value, name, protocol)
    if kind == "blob":
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise invalid(f"{name} must be base64") from None
        raise invalid(f"{name} must be binary data")
    return value


@functools.lru_cache(maxsize=256)
def _pattern(text: str | None) -> re.Pattern | None:
    """A model's pattern (a Smithy ECMA-262 regex, matched anywhere), when Python's re reads it alike."""
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _length(shape: Shape, length: int, name: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        raise invalid(f"{name} must have at least {low} {'items' if shape.type_name == 'list' else 'characters'}")
    if high is not None and length > high:
        raise invalid(f"{name} must have at most {high} {'items' if shape.type_name == 'list' else 'characters'}")


def _range(shape: Shape, number: float, name: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        raise invalid(f"{name} must be at least {low}")
    if high is not None and number > high:
        raise invalid(f"{name} must be at most {high}")


def _number(value: Any, name: str, *, integer: bool) -> int | float:
    if isinstance(value, bool):
        raise invalid(f"{name} must be a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if integer:
            if not value.is_integer():
                raise invalid(f"{name} must be an integer")
            return int(value)
        return value
    if isinstance(value, str):  # the query protocol's numbers are text
        try:
            return int(value) if integer else float(value)
        except ValueError:
            pass
    raise invalid(f"{name} must be {'an integer' if integer else 'a number'}")


def _timestamp(value: Any, name: str, protocol: str) -> datetime:
    if isinstance(value, datetime):  # CBOR tag 1 (or 0), decoded by cbor2
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except ValueError:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise invalid(f"{name} must be a timestamp (ISO 8601 or epoch seconds)")


# ---------------------------------------------------------------------- answers


def encode(request: AwsRequest, output: dict[str, Any]) -> Response:
    """The operation's answer in the protocol the request came in."""
    shape = request.operation.output_shape
    if request.protocol == CBOR:
        body = cbor2.dumps(_wire(shape, output, CBOR) if shape else {}, datetime_as_timestamp=True)
        return Response(body, media_type="application/cbor",
                        headers={"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": str(uuid.uuid4())})
    if request.protocol == JSON:
        body = orjson.dumps(_wire(shape, output, JSON) if shape else {})
        return Response(body, media_type=f"application/x-amz-json-{request.json_version}",
                        headers={"x-amzn-RequestId": str(uuid.uuid4())})
    name = request.operation.name
    result = _xml(shape, output, 0) if shape else ""
    body = (f'<{name}Response xmlns="{request.model.metadata["xmlNamespace"]}"><{name}Result>{result}</{name}Result>'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{name}Response>")
    return Response(body.encode(), media_type="text/xml")


def error_response(err: AwsError, protocol: str, model: ServiceModel, json_version: str = "1.0") -> Response:
    if protocol == CBOR:
        return cbor_error_response(err, model)
    if protocol == JSON:
        return json_error_response(err, json_version, model)
    return query_error_response(err, model)


def _wire(shape: Shape, value: Any, protocol: str) -> Any:
    """``value`` ready for the JSON or CBOR encoder: timestamps as epoch seconds (JSON) or aware datetimes."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        return {k: _wire(shape.members[k], v, protocol) for k, v in value.items()
                if k in shape.members and v is not None}
    if kind == "list":
        return [_wire(shape.member, v, protocol) for v in value]
    if kind == "map":
        return {k: _wire(shape.value, v, protocol) for k, v in value.items()}
    if kind == "timestamp":
        when = _as_datetime(value)
        return when if protocol == CBOR else when.timestamp()
    if kind == "blob" and protocol == JSON:
        return base64.b64encode(value).decode()
    if kind in ("double", "float"):
        return float(value)
    return value


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value / 1000, UTC)  # epoch milliseconds, as the store keeps time


def _xml(shape: Shape, value: Any, depth: int) -> str:
    kind = shape.type_name
    if kind == "structure":
        parts = []
        for name, member in shape.members.items():
            if value.get(name) is None:
                continue
            tag = _member_key(name, member)
            parts.append(f"<{tag}>{_xml(member, value[name], depth + 1)}</{tag}>")
        return "".join(parts)
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_xml(shape.member, v, depth + 1)}</{tag}>" for v in value)
    if kind == "map":
        return "".join(f"<entry><key>{escape(str(k))}</key><value>{_xml(shape.value, v, depth + 1)}</value></entry>"
                       for k, v in value.items())
    if kind == "timestamp":
        return _as_datetime(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("double", "float"):
        return repr(float(value))
    if kind == "blob":
        return base64.b64encode(value).decode()
    return escape(str(value))
