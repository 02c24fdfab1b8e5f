"""CloudWatch Embedded Metric Format (EMF): metric records <-> EMF documents.

The EMF specification (CloudWatch user guide, "Specification: Embedded metric
format") is the authority here; the limits below are quoted from it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any


class Unit:
    """CloudWatch's StandardUnit names, as constants and as the set ``Unit.ALL``."""

    SECONDS = "Seconds"
    MICROSECONDS = "Microseconds"
    MILLISECONDS = "Milliseconds"
    BYTES = "Bytes"
    KILOBYTES = "Kilobytes"
    MEGABYTES = "Megabytes"
    GIGABYTES = "Gigabytes"
    TERABYTES = "Terabytes"
    BITS = "Bits"
    KILOBITS = "Kilobits"
    MEGABITS = "Megabits"
    GIGABITS = "Gigabits"
    TERABITS = "Terabits"
    PERCENT = "Percent"
    COUNT = "Count"
    BYTES_PER_SECOND = "Bytes/Second"
    KILOBYTES_PER_SECOND = "Kilobytes/Second"
    MEGABYTES_PER_SECOND = "Megabytes/Second"
    GIGABYTES_PER_SECOND = "Gigabytes/Second"
    TERABYTES_PER_SECOND = "Terabytes/Second"
    BITS_PER_SECOND = "Bits/Second"
    KILOBITS_PER_SECOND = "Kilobits/Second"
    MEGABITS_PER_SECOND = "Megabits/Second"
    GIGABITS_PER_SECOND = "Gigabits/Second"
    TERABITS_PER_SECOND = "Terabits/Second"
    COUNT_PER_SECOND = "Count/Second"
    NONE = "None"

    ALL: frozenset[str] = frozenset()  # filled in below


Unit.ALL = frozenset(v for k, v in vars(Unit).items() if k.isupper() and isinstance(v, str))

MAX_DIMENSIONS = 30  # per DimensionSet
MAX_METRICS = 100  # MetricDefinitions per MetricDirective
MAX_VALUES = 100  # members of a numeric-array metric target
MAX_DIMENSION_VALUE = 1024  # characters in a dimension target
MAX_DIMENSION_KEY = 250
MAX_NAME = 1024  # Namespace and metric Name
STORAGE_RESOLUTIONS = frozenset({1, 60})


def _is_number(value: Any) -> bool:
    # JSON booleans are not numbers; NaN and infinities are not JSON at all.
    return type(value) in (int, float) and (type(value) is int or math.isfinite(value))


def emf_document(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Render metric records that share namespace, dimensions and timestamp as one EMF document.

    Records with the same name become one metric whose target is an array of
    values. Raises ValueError when the records cannot share a document.
    """
    if not records:
        raise ValueError("no metric records to render")
    first = records[0]
    namespace, timestamp, dimensions = first["namespace"], first["timestamp"], first["dimensions"] or {}
    values: dict[str, list[float]] = {}
    units: dict[str, str] = {}
    high_resolution: set[str] = set()
    for rec in records:
        if rec["namespace"] != namespace:
            raise ValueError(f"records mix namespaces {namespace!r} and {rec['namespace']!r}")
        if rec["timestamp"] != timestamp:
            raise ValueError("records mix timestamps; one EMF document has one Timestamp")
        if (rec["dimensions"] or {}) != dimensions:
            raise ValueError("records mix dimensions; one EMF document has one set of dimension values")
        name, unit = rec["name"], rec["unit"]
        if name == "_aws" or name in dimensions:
            raise ValueError(f"metric name {name!r} collides with a dimension or _aws")
        if units.setdefault(name, unit) != unit:
            raise ValueError(f"metric {name!r} has two units, {units[name]!r} and {unit!r}")
        resolution = rec.get("storage_resolution", 60)
        if name in values and (name in high_resolution) != (resolution == 1):
            raise ValueError(f"metric {name!r} has two storage resolutions")
        if resolution == 1:
            high_resolution.add(name)
        values.setdefault(name, []).append(rec["value"])
    if len(values) > MAX_METRICS:
        raise ValueError(f"{len(values)} metrics in one document; EMF allows {MAX_METRICS}")
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    # StorageResolution 1 marks a high-resolution metric; 60, the default, is left out.
                    "Metrics": [
                        {"Name": n, "Unit": units[n], **({"StorageResolution": 1} if n in high_resolution else {})}
                        for n in values
                    ],
                }
            ],
        }
    }
    doc.update(dimensions)
    for name, vals in values.items():
        if len(vals) > MAX_VALUES:
            raise ValueError(f"metric {name!r} has {len(vals)} values; EMF allows {MAX_VALUES}")
        doc[name] = vals[0] if len(vals) == 1 else vals
    return doc


def _fail(reason: str) -> ValueError:
    return ValueError(f"invalid EMF document: {reason}")


def _check_string(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise _fail(f"{what} must be a string, got {type(value).__name__}")
    if not 1 <= len(value) <= max_len:
        raise _fail(f"{what} must be 1-{max_len} characters, got {len(value)}")
    return value


# A Lambda function's log line as CloudWatch Logs stores it: the runtime puts
# "<timestamp>\t<request id>\t" (and, for console.log-style loggers, "<LEVEL>\t")
# before what the function printed, e.g.
#   2026-12-02T03:08:37.969Z\t5b1f…\tINFO\t{"_aws": {...}, ...}
# The Python runtime's logging handler (awslambdaric) writes the level first, in brackets:
#   [INFO]\t2026-12-02T03:08:37.969Z\t5b1f…\t{"_aws": {...}, ...}
# The EMF specification counts a document after such metadata as valid; it is the
# JSON object after the prefix.
_TIMESTAMP = r"\d{4}-\d{2}-\d{2}T[0-9:.]+Z?"
_REQUEST_ID = r"[0-9A-Fa-f-]{8,64}"
_LAMBDA_PREFIX = re.compile(
    rf"^(?:\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\]\t{_TIMESTAMP}\t{_REQUEST_ID}\t"
    rf"|(?:{_TIMESTAMP}\t)?(?:{_REQUEST_ID}\t)?(?:(?:TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\t)?)(?={{)"
)


def emf_from_log_line(line: str | bytes) -> Any:
    """The JSON document of one log line: a bare EMF line, or one behind a Lambda prefix.

    Raises ValueError when the line holds no JSON object.
    """
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    m = _LAMBDA_PREFIX.match(text)
    if m is None:
        raise _fail("the line is neither a JSON object nor a Lambda log line (timestamp, request id, JSON)")
    try:
        return json.loads(text[m.end():])
    except json.JSONDecodeError as exc:
        raise _fail(f"not JSON: {exc}") from None


def parse_emf(doc: Any) -> list[dict[str, Any]]:
    """Extract metric records from an EMF document, as CloudWatch Logs would.

    ``doc`` is the parsed document, or a log line as text: a bare JSON line or a
    Lambda one with its "timestamp<TAB>request id<TAB>" prefix (``emf_from_log_line``).
    One record per value, per metric, per DimensionSet. Raises ValueError
    naming the first rule of the specification the document breaks.
    """
    if isinstance(doc, (str, bytes)):
        doc = emf_from_log_line(doc)
    if not isinstance(doc, dict):
        raise _fail("the root node must be a JSON object")
    meta = doc.get("_aws")
    if meta is None:
        raise _fail("missing the _aws metadata member")
    if not isinstance(meta, dict):
        raise _fail("_aws must be an object")
    if "Timestamp" not in meta:
        raise _fail("_aws.Timestamp is required")
    timestamp = meta["Timestamp"]
    if type(timestamp) is float and timestamp.is_integer():
        timestamp = int(timestamp)
    if type(timestamp) is not int or timestamp < 0:
        raise _fail("_aws.Timestamp must be an integer of milliseconds since the epoch")
    directives = meta.get("CloudWatchMetrics")
    if directives is None:
        raise _fail("_aws.CloudWatchMetrics is required")
    if not isinstance(directives, list):
        raise _fail("_aws.CloudWatchMetrics must be an array of MetricDirective objects")

    records: list[dict[str, Any]] = []
    for i, directive in enumerate(directives):
        where = f"CloudWatchMetrics[{i}]"
        if not isinstance(directive, dict):
            raise _fail(f"{where} must be a MetricDirective object")
        for member in ("Namespace", "Dimensions", "Metrics"):
            if member not in directive:
                raise _fail(f"{where}.{member} is required")
        namespace = _check_string(directive["Namespace"], f"{where}.Namespace", MAX_NAME)
        dimension_sets = _parse_dimension_sets(doc, directive["Dimensions"], where)
        metrics = _parse_metric_definitions(doc, directive["Metrics"], where)
        for dims in dimension_sets:
            for name, unit, resolution, vals in metrics:
                for value in vals:
                    records.append(
                        {
                            "timestamp": timestamp,
                            "namespace": namespace,
                            "name": name,
                            "unit": unit,
                            "value": float(value),
                            "dimensions": dict(dims),
                            # Only high resolution is marked: a record without it is standard (60).
                            **({"storage_resolution": 1} if resolution == 1 else {}),
                        }
                    )
    return records


def _parse_dimension_sets(doc: dict, dimension_sets: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(dimension_sets, list):
        raise _fail(f"{where}.Dimensions must be an array of DimensionSet arrays")
    if not dimension_sets:
        raise _fail(f"{where}.Dimensions must hold at least one DimensionSet (it may be empty: [[]])")
    parsed = []
    for j, keys in enumerate(dimension_sets):
        at = f"{where}.Dimensions[{j}]"
        if not isinstance(keys, list):
            raise _fail(f"{at} must be an array of dimension keys")
        if len(keys) > MAX_DIMENSIONS:
            raise _fail(f"{at} has {len(keys)} dimension keys; at most {MAX_DIMENSIONS} are allowed")
        dims: dict[str, str] = {}
        for key in keys:
            _check_string(key, f"dimension key in {at}", MAX_DIMENSION_KEY)
            if key not in doc:
                raise _fail(f"dimension {key!r} has no target member on the root node")
            value = doc[key]
            if not isinstance(value, str):
                raise _fail(f"dimension target {key!r} must be a string, got {type(value).__name__}")
            if len(value) > MAX_DIMENSION_VALUE:
                raise _fail(f"dimension target {key!r} exceeds {MAX_DIMENSION_VALUE} characters")
            dims[key] = value
        parsed.append(dims)
    return parsed


def _parse_metric_definitions(doc: dict, definitions: Any, where: str) -> list[tuple[str, str, int, list]]:
    if not isinstance(definitions, list):
        raise _fail(f"{where}.Metrics must be an array of MetricDefinition objects")
    if len(definitions) > MAX_METRICS:
        raise _fail(f"{where}.Metrics has {len(definitions)} MetricDefinitions; at most {MAX_METRICS}")
    parsed = []
    for k, definition in enumerate(definitions):
        at = f"{where}.Metrics[{k}]"
        if not isinstance(definition, dict):
            raise _fail(f"{at} must be a MetricDefinition object")
        if "Name" not in definition:
            raise _fail(f"{at}.Name is required")
        name = _check_string(definition["Name"], f"{at}.Name", MAX_NAME)
        unit = definition.get("Unit", Unit.NONE)
        if not isinstance(unit, str) or unit not in Unit.ALL:
            raise _fail(f"{at}.Unit {unit!r} is not a CloudWatch standard unit")
        # MetricDefinition.StorageResolution (EMF specification): 1 or 60, default 60.
        resolution = definition.get("StorageResolution", 60)
        if type(resolution) is not int or resolution not in STORAGE_RESOLUTIONS:
            raise _fail(f"{at}.StorageResolution must be 1 or 60, got {resolution!r}")
        if name not in doc:
            raise _fail(f"metric {name!r} has no target member on the root node")
        target = doc[name]
        if isinstance(target, list):
            if not target:
                raise _fail(f"metric target {name!r} is an empty array")
            if len(target) > MAX_VALUES:
                raise _fail(f"metric target {name!r} has {len(target)} values; at most {MAX_VALUES}")
            if not all(_is_number(v) for v in target):
                raise _fail(f"metric target {name!r} must be an array of numbers")
            vals = target
        elif _is_number(target):
            vals = [target]
        else:
            raise _fail(f"metric target {name!r} must be a number or an array of numbers")
        parsed.append((name, unit, resolution, vals))
    return parsed
