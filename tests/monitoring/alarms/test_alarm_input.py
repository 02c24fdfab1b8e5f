"""PutMetricAlarm / PutCompositeAlarm request JSON: accepted shapes and errors that name the field."""

from __future__ import annotations

import copy

import pytest

from whispersync.monitoring.alarms import AlarmInputError, parse_alarm_request, parse_alarm_requests
from whispersync.monitoring.alarms import rule_of
from whispersync.plan import CompositeAlarm, MetricAlarm, alarm_from_dict

PUT_METRIC_ALARM = {
    "AlarmName": "HighErrors",
    "AlarmDescription": "Worker errors",
    "ActionsEnabled": True,
    "OKActions": ["arn:aws:sns:eu-west-1:123456789012:critical"],
    "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:critical"],
    "InsufficientDataActions": [],
    "MetricName": "Errors",
    "Namespace": "WhisperSync/Worker",
    "Statistic": "Sum",
    "Dimensions": [{"Name": "FunctionName", "Value": "whispersync-worker"}],
    "Period": 60,
    "Unit": "Count",
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 5.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "notBreaching",
    "Tags": [{"Key": "Priority", "Value": "P1"}, {"Key": "team", "Value": "core"}],
}


def _with(**changes):
    request = copy.deepcopy(PUT_METRIC_ALARM)
    for key, value in changes.items():
        if value is ...:
            request.pop(key, None)
        else:
            request[key] = value
    return request


class TestAccepted:
    def test_it_reads_a_put_metric_alarm_request(self):
        alarm = parse_alarm_request(PUT_METRIC_ALARM)
        assert isinstance(alarm, MetricAlarm)
        assert (alarm.name, alarm.namespace, alarm.metric_name, alarm.statistic, alarm.period) == (
            "HighErrors", "WhisperSync/Worker", "Errors", "Sum", 60)
        assert alarm.dimensions == {"FunctionName": "whispersync-worker"}
        assert (alarm.evaluation_periods, alarm.m, alarm.threshold, alarm.treat_missing_data) == (3, 2, 5.0, "notBreaching")
        assert alarm.priority == "P1" and alarm.tags == {"Priority": "P1", "team": "core"}
        assert alarm.alarm_actions == ("arn:aws:sns:eu-west-1:123456789012:critical",)

    def test_it_reads_an_extended_statistic(self):
        alarm = parse_alarm_request(_with(Statistic=..., ExtendedStatistic="p99.9"))
        assert alarm.statistic == "p99.9"

    def test_it_reads_a_metric_math_alarm(self):
        request = _with(Namespace=..., MetricName=..., Statistic=..., Dimensions=..., Period=..., Unit=...,
                        Metrics=[
                            {"Id": "errors", "ReturnData": False, "MetricStat": {
                                "Metric": {"Namespace": "WhisperSync/Worker", "MetricName": "Errors"},
                                "Period": 300, "Stat": "Sum"}},
                            {"Id": "calls", "ReturnData": False, "MetricStat": {
                                "Metric": {"Namespace": "WhisperSync/Worker", "MetricName": "Invocations"},
                                "Period": 300, "Stat": "Sum"}},
                            {"Id": "rate", "Expression": "100 * errors / calls", "Label": "Error %", "ReturnData": True},
                        ])
        alarm = parse_alarm_request(request)
        assert alarm.period == 300 and [q.id for q in alarm.metrics] == ["errors", "calls", "rate"]

    def test_it_reads_a_put_composite_alarm_request(self):
        alarm = parse_alarm_request({"AlarmName": "health", "AlarmRule": 'ALARM("HighErrors") OR ALARM(DLQ)',
                                     "AlarmActions": ["critical"], "Priority": "P2"})
        assert isinstance(alarm, CompositeAlarm) and rule_of(alarm.rule).references == {"HighErrors", "DLQ"}
        assert alarm.priority == "P2"

    def test_it_reads_a_list(self):
        assert [a.name for a in parse_alarm_requests([PUT_METRIC_ALARM, _with(AlarmName="Other")])] == [
            "HighErrors", "Other"]


class TestErrorsNameTheField:
    @pytest.mark.parametrize("changes, field, message", [
        ({"Colour": "red"}, "Colour", "unknown field"),
        ({"AlarmRule": "TRUE"}, "MetricName", "a composite alarm (it has AlarmRule) does not take it"),
        ({"AlarmName": ...}, "AlarmName", "is required"),
        ({"AlarmName": "x" * 256}, "AlarmName", "1-255 characters"),
        ({"AlarmName": "Fehler ü"}, "AlarmName", "ASCII"),
        ({"EvaluationPeriods": ...}, "EvaluationPeriods", "is required"),
        ({"EvaluationPeriods": "3"}, "EvaluationPeriods", "must be an integer"),
        ({"EvaluationPeriods": 0}, "EvaluationPeriods", "at least 1"),
        ({"DatapointsToAlarm": 4}, "DatapointsToAlarm", "from 1 to evaluation_periods (3)"),
        ({"Threshold": ...}, "Threshold", "is required"),
        ({"Threshold": "5"}, "Threshold", "must be a number"),
        ({"ComparisonOperator": "Above"}, "ComparisonOperator", "must be one of"),
        ({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "ComparisonOperator", "anomaly detection"),
        ({"TreatMissingData": "zero"}, "TreatMissingData", "must be one of missing"),
        ({"Period": 45}, "Period", "multiple of 60"),
        ({"Period": 60, "EvaluationPeriods": 1441, "DatapointsToAlarm": 1}, "EvaluationPeriods", "at most 86400 s"),
        ({"Statistic": "p99"}, "Statistic", "percentiles go in ExtendedStatistic"),
        ({"ExtendedStatistic": "p99"}, "Statistic", "exactly one of Statistic and ExtendedStatistic"),
        ({"Statistic": ..., "ExtendedStatistic": "tm99"}, "ExtendedStatistic", "percentile"),
        ({"Dimensions": [{"Name": "FunctionName"}]}, "Dimensions[0].Value", "non-empty string"),
        ({"Dimensions": {"FunctionName": "w"}}, "Dimensions", "must be a list"),
        ({"AlarmActions": ["a", ""]}, "AlarmActions[1]", "non-empty string"),
        ({"AlarmActions": ["a"] * 6}, "AlarmActions", "at most 5"),
        ({"ActionsEnabled": "yes"}, "ActionsEnabled", "true or false"),
        ({"Unit": "Furlongs"}, "Unit", "standard unit"),
        ({"Priority": "P0"}, "Priority", "P1, P2, P3, P4"),
        ({"ThresholdMetricId": "ad1"}, "ThresholdMetricId", "an anomaly detection alarm needs Metrics"),
        ({"Metrics": [{"Id": "m1", "Expression": "1"}]}, "Namespace", "cannot be combined with Metrics"),
    ])
    def test_it_names_the_field(self, changes, field, message):
        with pytest.raises(AlarmInputError) as info:
            parse_alarm_request(_with(**changes))
        assert info.value.field == field
        assert message in str(info.value)
        assert str(info.value).startswith(f"{field}: ")

    @pytest.mark.parametrize("metrics, field, message", [
        ([{"Id": "M1", "Expression": "1", "ReturnData": True}], "Metrics[0].Id", "lowercase"),
        ([{"Id": "m1", "ReturnData": True}], "Metrics[0]", "exactly one of MetricStat and Expression"),
        ([{"Id": "m1", "Expression": "1", "Colour": 1}], "Metrics[0].Colour", "unknown field"),
        ([{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "N"}, "Period": 60, "Stat": "Sum"}}],
         "Metrics[0].MetricStat.Metric.MetricName", "is required"),
        ([{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Median"}}],
         "Metrics[0].MetricStat.Stat", "unknown statistic"),
        ([{"Id": "m1", "ReturnData": False, "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"},
                                                           "Period": 60, "Stat": "Sum"}}],
         "Metrics", "exactly one query must have ReturnData true"),
        ([{"Id": "m1", "ReturnData": False, "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"},
                                                           "Period": 60, "Stat": "Sum"}},
          {"Id": "e1", "Expression": "m1 +* 2"}], "Metrics", "e1"),
    ])
    def test_math_errors_name_the_query(self, metrics, field, message):
        request = {"AlarmName": "m", "EvaluationPeriods": 1, "Threshold": 1,
                   "ComparisonOperator": "GreaterThanThreshold", "Metrics": metrics}
        with pytest.raises(AlarmInputError) as info:
            parse_alarm_request(request)
        assert info.value.field == field and message in str(info.value)

    @pytest.mark.parametrize("request_, field, message", [
        ({"AlarmName": "c", "AlarmRule": "ALARM(a) AND"}, "AlarmRule", "line 1, column 13: "),
        ({"AlarmName": "c", "AlarmRule": "ALARM(c)"}, "AlarmRule", "refers to itself"),
        ({"AlarmName": "c", "AlarmRule": "TRUE", "ActionsSuppressor": "x"}, "ActionsSuppressorWaitPeriod",
         "is required when ActionsSuppressor is given"),
        ({"AlarmName": "c", "AlarmRule": "TRUE", "Threshold": 1}, "Threshold", "does not take it"),
    ])
    def test_composite_errors_name_the_field(self, request_, field, message):
        with pytest.raises(AlarmInputError) as info:
            parse_alarm_request(request_)
        assert info.value.field == field and message in str(info.value)

    def test_an_item_of_a_list_is_numbered(self):
        with pytest.raises(AlarmInputError, match=r"^\[1\]\.Period: "):
            parse_alarm_requests([PUT_METRIC_ALARM, _with(Period=7)])


def test_evaluate_low_sample_count_percentile_is_kept_not_dropped():
    """Issue 9: the field was validated, then ignored; now the alarm carries it."""
    alarm = parse_alarm_request(_with(Statistic=..., ExtendedStatistic="p99", EvaluateLowSampleCountPercentile="ignore"))
    assert alarm.evaluate_low_sample_count_percentile == "ignore"
    assert alarm.to_dict()["evaluate_low_sample_count_percentile"] == "ignore"
    assert alarm_from_dict(alarm.to_dict()) == alarm


PUT_COMPOSITE_ALARM = {
    "AlarmName": "SystemHealth",
    "AlarmRule": "ALARM(HighErrors)",
    "AlarmActions": ["arn:aws:sns:eu-west-1:123456789012:critical"],
    "ActionsSuppressor": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:MaintenanceWindow",
    "ActionsSuppressorWaitPeriod": 120,
    "ActionsSuppressorExtensionPeriod": 180,
}


def _composite(**changes):
    request = dict(PUT_COMPOSITE_ALARM)
    for key, value in changes.items():
        if value is ...:
            request.pop(key, None)
        else:
            request[key] = value
    return request


class TestActionsSuppressor:
    """PutCompositeAlarm's ActionsSuppressor, ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod."""

    def test_it_reads_the_suppressor_and_keeps_the_name_of_an_arn(self):
        alarm = parse_alarm_request(PUT_COMPOSITE_ALARM)
        assert isinstance(alarm, CompositeAlarm)
        assert (alarm.actions_suppressor, alarm.actions_suppressor_wait_period,
                alarm.actions_suppressor_extension_period) == ("MaintenanceWindow", 120, 180)
        assert alarm_from_dict(alarm.to_dict()) == alarm

    def test_a_name_is_taken_as_it_is_and_zero_seconds_are_allowed(self):
        alarm = parse_alarm_request(_composite(ActionsSuppressor="MaintenanceWindow", ActionsSuppressorWaitPeriod=0,
                                               ActionsSuppressorExtensionPeriod=0))
        assert (alarm.actions_suppressor, alarm.actions_suppressor_wait_period,
                alarm.actions_suppressor_extension_period) == ("MaintenanceWindow", 0, 0)

    def test_without_a_suppressor_all_three_are_none(self):
        request = _composite(ActionsSuppressor=..., ActionsSuppressorWaitPeriod=...,
                             ActionsSuppressorExtensionPeriod=...)
        alarm = parse_alarm_request(request)
        assert (alarm.actions_suppressor, alarm.actions_suppressor_wait_period,
                alarm.actions_suppressor_extension_period) == (None, None, None)
        # An empty ActionsSuppressor, as `--generate-cli-skeleton` writes it, is none too.
        assert parse_alarm_request({**request, "ActionsSuppressor": ""}).actions_suppressor is None

    @pytest.mark.parametrize("changes, field, message", [
        ({"ActionsSuppressorWaitPeriod": ...}, "ActionsSuppressorWaitPeriod",
         "is required when ActionsSuppressor is given"),
        ({"ActionsSuppressorExtensionPeriod": ...}, "ActionsSuppressorExtensionPeriod",
         "is required when ActionsSuppressor is given"),
        ({"ActionsSuppressor": ...}, "ActionsSuppressorWaitPeriod", "only applies with ActionsSuppressor"),
        ({"ActionsSuppressorWaitPeriod": -1}, "ActionsSuppressorWaitPeriod", "must be at least 0, got -1"),
        ({"ActionsSuppressorExtensionPeriod": "60"}, "ActionsSuppressorExtensionPeriod", "must be an integer"),
        ({"ActionsSuppressorWaitPeriod": 1.5}, "ActionsSuppressorWaitPeriod", "must be an integer"),
        ({"ActionsSuppressorWaitPeriod": True}, "ActionsSuppressorWaitPeriod", "must be an integer"),
        ({"ActionsSuppressorExtensionPeriod": 2**31}, "ActionsSuppressorExtensionPeriod", "from 0 to 2147483647"),
        ({"ActionsSuppressor": 7}, "ActionsSuppressor", "must be a string"),
        ({"ActionsSuppressor": "arn:aws:sns:eu-west-1:123456789012:critical"}, "ActionsSuppressor",
         "must be an alarm name or an alarm ARN"),
        ({"ActionsSuppressor": "SystemHealth"}, "ActionsSuppressor", "cannot suppress its own actions"),
        ({"ActionsSuppressor": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:SystemHealth"}, "ActionsSuppressor",
         "cannot suppress its own actions"),
        ({"ActionsSuppressor": "x" * 1601}, "ActionsSuppressor", "1-1600 characters"),
        ({"ActionsSuppressor": "x" * 256}, "ActionsSuppressor", "must name an alarm"),
    ])
    def test_errors_name_the_field(self, changes, field, message):
        with pytest.raises(AlarmInputError) as info:
            parse_alarm_request(_composite(**changes))
        assert info.value.field == field and message in str(info.value)

    def test_a_metric_alarm_does_not_take_a_suppressor(self):
        with pytest.raises(AlarmInputError) as info:
            parse_alarm_request(_with(ActionsSuppressor="MaintenanceWindow"))
        assert info.value.field == "ActionsSuppressor" and "does not take it" in str(info.value)
