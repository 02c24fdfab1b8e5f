"""CloudWatch's metric filter JSON ↔ our MetricFilter, with the limits CloudWatch enforces.

Two shapes come in, as the AWS CLI writes them, so users bring the filters they
already have (CloudWatch Logs API Reference, PutMetricFilter and
DescribeMetricFilters; field limits from botocore's ``logs`` 2014-03-28 model)::

    # aws logs put-metric-filter --cli-input-json (one filter)
    {"logGroupName": "MyApp/access.log", "filterName": "BytesTransferred",
     "filterPattern": "[ip, id, user, timestamp, request, status_code, size]",
     "metricTransformations": [{"metricName": "BytesTransferred", "metricNamespace": "MyNamespace",
                                "metricValue": "$size", "defaultValue": 0, "unit": "Bytes"}]}

    # aws logs describe-metric-filters (its output: many, each also with "creationTime")
    {"metricFilters": [{"filterName": ..., "logGroupName": ..., "creationTime": 1399277571078, ...}]}

``creationTime`` is read-only and dropped. Fields CloudWatch has but WhisperSync
cannot honour (log transformers, selection by source account or region) are
refused by name when set, never silently ignored. Every problem raises
:class:`MetricFilterInputError` naming the CloudWatch field:
``filterPattern: line 1, column 11: expected a value``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from whispersync.errors import InputError
from whispersync.monitoring.logs._filters import FilterPatternError, field_reference_problem, parse_pattern
from whispersync.plan import MetricFilter
from whispersync.telemetry import Unit

__all__ = [
    "MetricFilterInputError",
    "check_metric_filter",
    "metric_filter_from_request",
    "metric_filter_to_cloudwatch",
]

# PutMetricFilter: "there is a quota of two regular expression patterns within a single
# filter pattern" (the per-log-group quota of five is the store's to check).
MAX_REGEXES_PER_PATTERN = 2
# MetricTransformation.dimensions: "One metric filter can include as many as three dimensions."
MAX_DIMENSIONS = 3
_FILTER_NAME = re.compile(r"[^:*]{1,512}")  # FilterName: 1-512, pattern [^:*]*
_METRIC_NAME = re.compile(r"[^:*$]{1,255}")  # MetricName / MetricNamespace: at most 255, pattern [^:*$]*
_MAX_METRIC_VALUE = 100  # MetricValue: at most 100 characters
_MAX_DIMENSION = 255  # DimensionsKey and DimensionsValue: at most 255 characters

_REQUEST_FIELDS = {"logGroupName", "filterName", "filterPattern", "metricTransformations",
                   "applyOnTransformedLogs", "fieldSelectionCriteria", "emitSystemFieldDimensions"}
_READ_ONLY_FIELDS = {"creationTime"}  # in DescribeMetricFilters' output only
_TRANSFORMATION_FIELDS = {"metricName", "metricNamespace", "metricValue", "defaultValue", "dimensions", "unit"}


class MetricFilterInputError(InputError):
    """A metric filter (or its request JSON) that CloudWatch or WhisperSync would not take."""

    code = "invalid_metric_filter"


def metric_filter_from_request(request: Any, *, described: bool = False,
                               log_group: str | None = None) -> MetricFilter:
    """The filter a PutMetricFilter request describes, checked; ``described`` also takes
    DescribeMetricFilters' read-only fields. ``log_group`` is used when the request has
    no ``logGroupName`` (older describe-metric-filters output leaves it out)."""
    if not isinstance(request, Mapping):
        raise MetricFilterInputError(f"a metric filter must be a JSON object, got {_json_type(request)}")
    allowed = _REQUEST_FIELDS | (_READ_ONLY_FIELDS if described else set())
    unknown = sorted(set(request) - allowed)
    if unknown:
        raise MetricFilterInputError(f"{unknown[0]}: unknown field; a metric filter has {', '.join(sorted(allowed))}")
    _refuse_unsupported(request)
    name = _string(request, "filterName")
    group = request.get("logGroupName", log_group)
    if group is None:
        raise MetricFilterInputError("logGroupName: is required (a metric filter belongs to one log group)")
    if not isinstance(group, str):
        raise MetricFilterInputError(f"logGroupName: must be a string, got {_json_type(group)}")
    pattern = _string(request, "filterPattern", allow_empty=True)
    transformations = request.get("metricTransformations")
    if not isinstance(transformations, list) or len(transformations) != 1:
        raise MetricFilterInputError("metricTransformations: must be a list of exactly one metric transformation"
                                     f" (CloudWatch allows one per filter), got {_count(transformations)}")
    t = transformations[0]
    if not isinstance(t, Mapping):
        raise MetricFilterInputError(f"metricTransformations[0]: must be an object, got {_json_type(t)}")
    unknown = sorted(set(t) - _TRANSFORMATION_FIELDS)
    if unknown:
        raise MetricFilterInputError(f"metricTransformations[0].{unknown[0]}: unknown field; a metric transformation"
                                     f" has {', '.join(sorted(_TRANSFORMATION_FIELDS))}")
    where = "metricTransformations[0]."
    dimensions = t.get("dimensions") or {}
    if not isinstance(dimensions, Mapping) or not all(isinstance(v, str) for v in dimensions.values()):
        raise MetricFilterInputError(f"{where}dimensions: must be an object of dimension name to field,"
                                     ' like {"StatusCode": "$status_code"}')
    default = t.get("defaultValue")
    if default is not None and (isinstance(default, bool) or not isinstance(default, (int, float))):
        raise MetricFilterInputError(f"{where}defaultValue: must be a number, got {_json_type(default)}")
    unit = t.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise MetricFilterInputError(f"{where}unit: must be a string, got {_json_type(unit)}")
    try:
        spec = MetricFilter(name=name, pattern=pattern, namespace=_string(t, "metricNamespace", where),
                            metric_name=_string(t, "metricName", where), value=_string(t, "metricValue", where),
                            unit=unit, dimensions=dict(dimensions), default_value=default, log_group=group)
    except ValueError as exc:
        raise MetricFilterInputError(_cloudwatch_field(str(exc))) from None
    check_metric_filter(spec)
    return spec


def check_metric_filter(spec: MetricFilter) -> None:
    """Raise :class:`MetricFilterInputError` unless CloudWatch would take ``spec`` as a
    log group's metric filter and WhisperSync can run it."""
    where = "metricTransformations[0]."
    if spec.log_group is None:
        raise MetricFilterInputError("logGroupName: is required (a metric filter belongs to one log group)")
    if not _FILTER_NAME.fullmatch(spec.name):
        raise MetricFilterInputError(f"filterName: {spec.name!r} must be 1 to 512 characters, without : or *")
    try:
        pattern = parse_pattern(spec.pattern)
    except FilterPatternError as exc:
        raise MetricFilterInputError(f"filterPattern: {exc}") from None
    if pattern.regex_count > MAX_REGEXES_PER_PATTERN:
        raise MetricFilterInputError(f"filterPattern: it has {pattern.regex_count} regular expressions; CloudWatch"
                                     f" allows {MAX_REGEXES_PER_PATTERN} in one filter pattern")
    for field, value in (("metricNamespace", spec.namespace), ("metricName", spec.metric_name)):
        if not _METRIC_NAME.fullmatch(value):
            raise MetricFilterInputError(f"{where}{field}: {value!r} must be 1 to 255 characters, without : * or $")
    if len(spec.value) > _MAX_METRIC_VALUE:
        raise MetricFilterInputError(f"{where}metricValue: at most {_MAX_METRIC_VALUE} characters")
    problem = field_reference_problem(pattern, spec.value)
    if problem:
        raise MetricFilterInputError(f"{where}metricValue: {problem}")
    if spec.default_value is not None and not math.isfinite(spec.default_value):
        raise MetricFilterInputError(f"{where}defaultValue: must be a finite number")
    if spec.unit is not None and spec.unit not in Unit.ALL:
        raise MetricFilterInputError(f"{where}unit: {spec.unit!r} is not a CloudWatch unit; use one of"
                                     f" {', '.join(sorted(Unit.ALL))}")
    if len(spec.dimensions) > MAX_DIMENSIONS:
        raise MetricFilterInputError(f"{where}dimensions: at most {MAX_DIMENSIONS}, got {len(spec.dimensions)}")
    for key, source in spec.dimensions.items():
        # Dimension names "must contain only ASCII characters, must include at least one
        # non-whitespace character, and cannot start with a colon" (AWS::Logs::MetricFilter Dimension).
        if not key.isascii() or not key.strip() or key.startswith(":") or len(key) > _MAX_DIMENSION:
            raise MetricFilterInputError(f"{where}dimensions: name {key!r} must be 1 to {_MAX_DIMENSION} ASCII"
                                         " characters, not only spaces, not starting with :")
        if len(source) > _MAX_DIMENSION:
            raise MetricFilterInputError(f"{where}dimensions.{key}: at most {_MAX_DIMENSION} characters")
        # "Dimensions are ... only available for JSON and space-delimited filter patterns."
        problem = field_reference_problem(pattern, source)
        if problem:
            raise MetricFilterInputError(f"{where}dimensions.{key}: {problem}")


def metric_filter_to_cloudwatch(spec: MetricFilter, creation_ms: int | None = None) -> dict[str, Any]:
    """One item of DescribeMetricFilters' ``metricFilters`` (optional fields only when set)."""
    transformation: dict[str, Any] = {"metricName": spec.metric_name, "metricNamespace": spec.namespace,
                                      "metricValue": spec.value}
    if spec.default_value is not None:
        transformation["defaultValue"] = float(spec.default_value)
    if spec.dimensions:
        transformation["dimensions"] = dict(spec.dimensions)
    if spec.unit is not None:
        transformation["unit"] = spec.unit
    out: dict[str, Any] = {"filterName": spec.name, "filterPattern": spec.pattern,
                           "metricTransformations": [transformation]}
    if creation_ms is not None:
        out["creationTime"] = creation_ms
    if spec.log_group is not None:
        out["logGroupName"] = spec.log_group
    out["applyOnTransformedLogs"] = False
    return out


def _refuse_unsupported(request: Mapping[str, Any]) -> None:
    if request.get("applyOnTransformedLogs") not in (None, False):
        raise MetricFilterInputError("applyOnTransformedLogs: WhisperSync has no log transformers; its filters"
                                     " see events as they were ingested (set it to false)")
    for field in ("fieldSelectionCriteria", "emitSystemFieldDimensions"):
        if request.get(field):
            raise MetricFilterInputError(f"{field}: not supported; it selects by the source account and region of"
                                         " centralized logs, which WhisperSync's logs do not carry")


def _string(data: Mapping[str, Any], field: str, where: str = "", *, allow_empty: bool = False) -> str:
    value = data.get(field)
    if value is None or (value == "" and not allow_empty):
        raise MetricFilterInputError(f"{where}{field}: is required")
    if not isinstance(value, str):
        raise MetricFilterInputError(f"{where}{field}: must be a string, got {_json_type(value)}")
    return value


# The model's field names, as the request spells them, for its ValueErrors.
_MODEL_TO_REQUEST = {"name": "filterName", "pattern": "filterPattern", "log_group": "logGroupName",
                     "namespace": "metricTransformations[0].metricNamespace",
                     "metric_name": "metricTransformations[0].metricName",
                     "value": "metricTransformations[0].metricValue",
                     "unit": "metricTransformations[0].unit",
                     "dimensions": "metricTransformations[0].dimensions",
                     "default_value": "metricTransformations[0].defaultValue"}


def _cloudwatch_field(message: str) -> str:
    field, sep, rest = message.partition(":")
    if sep and field in _MODEL_TO_REQUEST:
        rest = rest.replace("default_value", "defaultValue")
        return f"{_MODEL_TO_REQUEST[field]}:{rest}"
    return message


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _count(value: Any) -> str:
    return f"{len(value)}" if isinstance(value, list) else _json_type(value)
