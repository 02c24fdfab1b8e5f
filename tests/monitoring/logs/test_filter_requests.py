"""PutMetricFilter / DescribeMetricFilters JSON ↔ MetricFilter, with CloudWatch's limits.

The requests are the CloudWatch Logs User Guide's examples ("Creating metric filters",
"Filter pattern syntax"); the limits are PutMetricFilter's and MetricTransformation's.
"""

from __future__ import annotations

import copy

import pytest

from whispersync.errors import InputError
from whispersync.monitoring.logs import (
    MetricFilterInputError,
    metric_filter_from_request,
    metric_filter_to_cloudwatch,
)
from whispersync.plan import MetricFilter

# "Example: Extract fields from an Apache log", as a put-metric-filter request.
BYTES = {
    "logGroupName": "MyApp/access.log",
    "filterName": "BytesTransferred",
    "filterPattern": "[ip, id, user, timestamp, request, status_code, size]",
    "metricTransformations": [{"metricName": "BytesTransferred", "metricNamespace": "MyNamespace",
                               "metricValue": "$size", "dimensions": {"StatusCode": "$status_code"},
                               "unit": "Bytes"}],
}


def _with(**changes) -> dict:
    request = copy.deepcopy(BYTES)
    transformation = request["metricTransformations"][0]
    for key, value in changes.items():
        target = transformation if key in ("metricName", "metricNamespace", "metricValue", "defaultValue",
                                           "dimensions", "unit") else request
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return request


class TestFromRequest:
    def test_a_put_request_becomes_a_scoped_filter(self) -> None:
        spec = metric_filter_from_request(BYTES)
        assert spec == MetricFilter(name="BytesTransferred", pattern=BYTES["filterPattern"], namespace="MyNamespace",
                                    metric_name="BytesTransferred", value="$size", unit="Bytes",
                                    dimensions={"StatusCode": "$status_code"}, log_group="MyApp/access.log")

    def test_describe_output_round_trips_without_its_read_only_fields(self) -> None:
        described = {**metric_filter_to_cloudwatch(metric_filter_from_request(BYTES), 1399277571078)}
        assert described["creationTime"] == 1399277571078 and described["applyOnTransformedLogs"] is False
        assert metric_filter_from_request(described, described=True) == metric_filter_from_request(BYTES)
        with pytest.raises(MetricFilterInputError, match="creationTime: unknown field"):
            metric_filter_from_request(described)  # read-only: not part of a put request

    def test_a_filter_without_a_group_takes_the_one_given(self) -> None:
        request = _with(logGroupName=None)
        assert metric_filter_from_request(request, log_group="web").log_group == "web"
        with pytest.raises(MetricFilterInputError, match="logGroupName: is required"):
            metric_filter_from_request(request)

    def test_it_writes_only_the_optional_fields_that_are_set(self) -> None:
        spec = MetricFilter(name="E", pattern="ERROR", namespace="N", metric_name="M", default_value=0,
                            log_group="g")
        assert metric_filter_to_cloudwatch(spec)["metricTransformations"] == [
            {"metricName": "M", "metricNamespace": "N", "metricValue": "1", "defaultValue": 0.0}]


class TestLimits:
    """Each request CloudWatch refuses (or WhisperSync cannot honour) names the field at fault."""

    @pytest.mark.parametrize(("changes", "message"), [
        ({"filterName": "a:b"}, "filterName: 'a:b' must be 1 to 512 characters, without : or *"),
        ({"filterName": "x" * 513}, "filterName: "),
        ({"filterName": None}, "filterName: is required"),
        ({"logGroupName": "my group"}, "logGroupName: 'my group' is not a log group name"),
        ({"filterPattern": "[ip, id, user, timestamp, request, status_code = , size]"},
         "filterPattern: line 1, column 50: expected a value"),  # at the comma
        ({"filterPattern": "?%a% ?%b% ?%c%", "metricValue": "1", "dimensions": None},
         "filterPattern: it has 3 regular expressions; CloudWatch allows 2 in one filter pattern"),
        ({"metricTransformations": []}, "metricTransformations: must be a list of exactly one"),
        ({"metricName": "a$b"}, "metricTransformations[0].metricName: 'a$b' must be 1 to 255 characters"),
        ({"metricNamespace": "n" * 256}, "metricTransformations[0].metricNamespace: "),
        ({"metricValue": "$bytes"}, "metricTransformations[0].metricValue: $bytes is not a field of the pattern"),
        ({"metricValue": "lots"}, "metricTransformations[0].metricValue: 'lots' is neither a number nor a $field"),
        ({"unit": "Furlongs"}, "metricTransformations[0].unit: 'Furlongs' is not a CloudWatch unit"),
        ({"defaultValue": 0}, "metricTransformations[0].defaultValue: cannot be used with dimensions"),
        ({"defaultValue": "0", "dimensions": None}, "metricTransformations[0].defaultValue: must be a number"),
        ({"dimensions": {"A": "$ip", "B": "$id", "C": "$user", "D": "$size"}},
         "metricTransformations[0].dimensions: at most 3"),
        ({"dimensions": {":Status": "$status_code"}}, "metricTransformations[0].dimensions: name ':Status'"),
        ({"dimensions": {"Stätus": "$status_code"}}, "metricTransformations[0].dimensions: name 'Stätus'"),
        ({"filterPattern": "404", "metricValue": "1"},
         "metricTransformations[0].dimensions.StatusCode: $status_code refers to a field, but a text pattern"),
        ({"applyOnTransformedLogs": True}, "applyOnTransformedLogs: WhisperSync has no log transformers"),
        ({"fieldSelectionCriteria": '@aws.region = "us-east-1"'}, "fieldSelectionCriteria: not supported"),
        ({"tags": {"a": "b"}}, "tags: unknown field"),
    ])
    def test_a_request_cloudwatch_would_refuse_is_refused(self, changes, message) -> None:
        with pytest.raises(MetricFilterInputError) as caught:
            metric_filter_from_request(_with(**changes))
        assert str(caught.value).startswith(message)
        assert isinstance(caught.value, InputError)  # the caller's fault: a 4xx, an error line

    def test_the_fields_that_may_be_false_or_empty_are_accepted(self) -> None:
        request = _with(applyOnTransformedLogs=False, fieldSelectionCriteria="", emitSystemFieldDimensions=[])
        assert metric_filter_from_request(request).name == "BytesTransferred"

    def test_an_empty_pattern_matches_everything_and_is_accepted(self) -> None:
        assert metric_filter_from_request(_with(filterPattern="", metricValue="1", dimensions=None)).pattern == ""
