"""CloudWatch Logs requests checked against botocore's ``logs`` 2014-03-28 model.

The model is the spec: each member's type, the required members, enum values,
length and range constraints and string patterns. A request that breaks one gets
the answer the service gives, ``InvalidParameterException`` with "1 validation
error detected: Value … at 'member' failed to satisfy constraint: …" (Logs models
no ValidationException; its operations list InvalidParameterException). Members the
model does not know are left out, as AWS JSON services ignore them.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from whispersync.web.aws._protocol import AwsError

TARGET_PREFIX = "Logs_20140328."
_MAX_DEPTH = 16


@functools.cache
def logs_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("logs")


def operation_model(name: str) -> OperationModel:
    """The model of operation ``name``; an unknown name is AWS's UnknownOperationException."""
    if name not in logs_model().operation_names:
        raise AwsError("UnknownOperationException", f"unknown operation {name[:80]!r} for CloudWatch Logs")
    return logs_model().operation_model(name)


def validate(operation: OperationModel, params: Any) -> dict[str, Any]:
    """``params`` checked against the operation's input shape; raises AwsError."""
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "the request body must be a JSON object")
    shape = operation.input_shape
    if shape is None:
        return {}
    return _structure(shape, params, "", 0)


def _fail(value: Any, where: str, constraint: str) -> AwsError:
    shown = repr(value) if not isinstance(value, str) else f"'{value[:200]}'"
    return AwsError("InvalidParameterException", f"1 validation error detected: Value {shown} at '{where}'"
                                                 f" failed to satisfy constraint: {constraint}")


def _structure(shape: Shape, value: dict, where: str, depth: int) -> dict[str, Any]:
    for name in shape.required_members:
        if value.get(name) is None:
            raise _fail(None, where + name, "Member must not be null")
    out = {}
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            out[name] = _check(member, value[name], where + name, depth + 1)
    return out


def _check(shape: Shape, value: Any, where: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise _fail("...", where, "Member must not nest this deep")
    kind = shape.type_name
    meta = shape.metadata
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(value, where, "Member must be a string")
        _length(meta, len(value), value, where)
        if shape.enum and value not in shape.enum:
            raise _fail(value, where, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        if pattern and _pattern(pattern).fullmatch(value) is None:
            raise _fail(value, where, f"Member must satisfy regular expression pattern: {pattern}")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(value, where, "Member must be a whole number")
        if "min" in meta and value < meta["min"]:
            raise _fail(value, where, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            raise _fail(value, where, f"Member must have value less than or equal to {meta['max']}")
        return value
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(value, where, "Member must be a number")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(value, where, "Member must be a boolean")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise _fail(value, where, "Member must be a list")
        _length(meta, len(value), value, where)
        return [_check(shape.member, item, f"{where}.{i + 1}.member", depth + 1) for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _fail(value, where, "Member must be an object")
        _length(meta, len(value), value, where)
        return {_check(shape.key, k, f"{where}.key", depth + 1): _check(shape.value, v, f"{where}.{k}", depth + 1)
                for k, v in value.items()}
    if kind == "structure":
        if not isinstance(value, dict):
            raise _fail(value, where, "Member must be an object")
        return _structure(shape, value, where + ".", depth)
    return value  # blobs and timestamps: no Logs operation we serve takes them


def _length(meta: dict, length: int, value: Any, where: str) -> None:
    if "min" in meta and length < meta["min"]:
        raise _fail(value, where, f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        raise _fail(value, where, f"Member must have length less than or equal to {meta['max']}")


@functools.cache
def _pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text, re.DOTALL)
    except re.error:
        return re.compile(".*", re.DOTALL)  # a Java-only construct: the service's own check is ours elsewhere
