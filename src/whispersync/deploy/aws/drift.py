"""Drift between the plan and a deployed account: the alarms and dashboards CloudWatch holds,
compared with what ``deploy aws synth`` puts in the template.

    deployed = read_deployed(boto3.Session(region_name="eu-west-1"))
    report = compare(plan, deployed)          # {"region", "account", "checked", "drift": [...]}

The expected side is built by the same property builders the stack uses (``_monitoring``), so
the comparison is against exactly what synth deploys, never a second translation.

Which deployed items are ours: every alarm and dashboard the plan names, plus any alarm or
dashboard whose name starts with ``whispersync-`` (the stack's own prefix: the plan's composite,
the topics, the functions), plus any alarm whose actions go to a ``whispersync-`` topic or
function. Only those are reported as *extra*; the rest of the account is left alone.

What is compared: an alarm's kind (metric or composite); for a metric alarm its metric
(namespace, name, dimensions as a set, period, statistic or extended statistic, unit or the
metric-math queries), threshold, comparison operator, evaluation periods, datapoints to alarm,
treat missing data, low-sample-count percentiles, actions enabled and description; for a
composite its rule string, actions enabled, description and actions suppressor; for both the
alarm, OK and insufficient-data actions (as sets of ARNs: the stack's topics and remediation
function in the account's partition and region, ``_monitoring.action_arn``, as synth builds them).
A dashboard's body is compared as parsed JSON (key order and whitespace do not matter).
GetDashboard returns the body PutDashboard stored: the API reference tells users to reuse
its DashboardBody as a PutDashboard template, and documents no rewriting, so nothing else is
normalised (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from whispersync.deploy.aws._monitoring import ACTION_PROPERTIES, ActionError, alarm_properties, dashboard_body_for_aws
from whispersync.errors import WhisperSyncError
from whispersync.plan import Plan

__all__ = ["NAME_PREFIX", "Deployed", "DriftError", "compare", "expected_alarms", "expected_dashboards",
           "read_deployed"]

# The stack's names (topics whispersync-critical…, functions whispersync-worker…, the composite
# whispersync-system-health) start with this: what marks an unknown alarm or dashboard as ours.
NAME_PREFIX = "whispersync-"

METRIC_ALARM_FIELDS = ("Namespace", "MetricName", "Dimensions", "Period", "Statistic", "ExtendedStatistic", "Unit",
                       "Metrics", "Threshold", "ComparisonOperator", "EvaluationPeriods", "DatapointsToAlarm",
                       "TreatMissingData", "EvaluateLowSampleCountPercentile", "ActionsEnabled", "AlarmDescription",
                       *ACTION_PROPERTIES)
COMPOSITE_ALARM_FIELDS = ("AlarmRule", "ActionsEnabled", "AlarmDescription", "ActionsSuppressor",
                          "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod", *ACTION_PROPERTIES)


class DriftError(WhisperSyncError):
    """The account cannot be read (credentials, region, permissions, endpoint): the message says which."""


@dataclass
class Deployed:
    """What an account holds: DescribeAlarms items by name (``"Kind"`` added: MetricAlarm or
    CompositeAlarm) and dashboard bodies by name, parsed (None when the body is not JSON)."""

    region: str
    account: str
    partition: str = "aws"
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, Any] = field(default_factory=dict)


# -- the expected side: what synth deploys ----------------------------------------------------

def expected_alarms(plan: Plan, *, region: str, account: str, partition: str = "aws") -> dict[str, dict[str, Any]]:
    """The plan's alarms as synth deploys them in ``region`` of ``account``: their CloudFormation properties
    (the API's field names, actions as ARNs), with ``"Kind"``."""
    try:
        return {alarm.name: alarm_properties(plan, alarm, partition=partition, region=region, account=account)
                for alarm in plan.alarms}
    except ActionError as exc:
        raise DriftError(f"the plan cannot be deployed as it is: {exc}") from None


def expected_dashboards(plan: Plan, *, region: str, account: str, partition: str = "aws") -> dict[str, Any]:
    """The plan's dashboard bodies as the stack deploys them in ``region`` of ``account``."""
    def alarm_arn(name: str) -> str:
        return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"

    return {d.name: dashboard_body_for_aws(d, alarm_arn, region) for d in plan.dashboards}


# -- the comparison -----------------------------------------------------------------------------

def compare(plan: Plan, deployed: Deployed) -> dict[str, Any]:
    """Every drift between the plan and ``deployed``, as a JSON-ready report.

    ``drift`` items: ``{"type": "alarm"|"dashboard", "name", "drift": "missing"|"extra"|"changed"}``,
    a changed one with ``"field"`` (an alarm field, ``Kind``, or a dashboard body path such as
    ``widgets[2].properties.title``), ``"expected"`` and ``"actual"`` (null where absent).
    """
    drift: list[dict[str, Any]] = []
    alarms = expected_alarms(plan, region=deployed.region, account=deployed.account, partition=deployed.partition)
    for name, expected in alarms.items():
        actual = deployed.alarms.get(name)
        if actual is None:
            drift.append({"type": "alarm", "name": name, "drift": "missing"})
            continue
        for field_name, want, got in alarm_differences(expected, actual):
            drift.append({"type": "alarm", "name": name, "drift": "changed", "field": field_name,
                          "expected": want, "actual": got})
    for name, actual in sorted(deployed.alarms.items()):
        if name not in alarms and _alarm_is_ours(name, actual):
            drift.append({"type": "alarm", "name": name, "drift": "extra"})

    dashboards = expected_dashboards(plan, region=deployed.region, account=deployed.account,
                                     partition=deployed.partition)
    for name, body in dashboards.items():
        if name not in deployed.dashboards:
            drift.append({"type": "dashboard", "name": name, "drift": "missing"})
            continue
        for path, want, got in json_differences(body, deployed.dashboards[name]):
            drift.append({"type": "dashboard", "name": name, "drift": "changed", "field": path or "(body)",
                          "expected": want, "actual": got})
    for name in sorted(deployed.dashboards):
        if name not in dashboards and name.startswith(NAME_PREFIX):
            drift.append({"type": "dashboard", "name": name, "drift": "extra"})
    return {"region": deployed.region, "account": deployed.account,
            "checked": {"alarms": len(alarms), "dashboards": len(dashboards)}, "drift": drift}


def alarm_differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, expected, actual) for each compared field that differs, after CloudWatch's defaults."""
    if expected["Kind"] != actual.get("Kind"):
        return [("Kind", expected["Kind"], actual.get("Kind"))]
    fields = METRIC_ALARM_FIELDS if expected["Kind"] == "MetricAlarm" else COMPOSITE_ALARM_FIELDS
    out = []
    for name in fields:
        want, got = _normalised(name, expected), _normalised(name, actual)
        if want != got:
            out.append((name, want, got))
    return out


def _normalised(name: str, alarm: dict[str, Any]) -> Any:
    """A field as CloudWatch means it: absent and its default are the same thing."""
    value = alarm.get(name)
    if name == "Dimensions":
        return _dimensions(value)
    if name == "Metrics":
        return sorted((_query(q) for q in value), key=lambda q: q["Id"]) if value else None
    if name == "DatapointsToAlarm":  # PutMetricAlarm: defaults to EvaluationPeriods
        return value if value is not None else alarm.get("EvaluationPeriods")
    if name == "TreatMissingData":  # PutMetricAlarm: "If you omit this parameter, the default of missing is used"
        return value or "missing"
    if name == "ActionsEnabled":  # PutMetricAlarm / PutCompositeAlarm: "The default is TRUE"
        return True if value is None else bool(value)
    if name == "Threshold":
        return None if value is None else float(value)
    if name in ACTION_PROPERTIES:  # a set of ARNs: CloudWatch keeps no meaningful order
        return sorted(value) if value else None
    if name == "ActionsSuppressor" and isinstance(value, str) and ":alarm:" in value:
        return value.rsplit(":alarm:", 1)[1]  # an ARN and the name it ends with are the same alarm
    return value if value not in ("", []) else None


def _dimensions(value: Any) -> list[dict[str, str]] | None:
    """A metric's dimensions are a set: order does not matter."""
    if not value:
        return None
    return sorted(({"Name": d["Name"], "Value": d["Value"]} for d in value), key=lambda d: (d["Name"], d["Value"]))


def _query(query: dict[str, Any]) -> dict[str, Any]:
    """A MetricDataQuery with its defaults made explicit (ReturnData is true unless said otherwise)."""
    out: dict[str, Any] = {"Id": query.get("Id"), "ReturnData": query.get("ReturnData", True) is not False}
    for key in ("Expression", "Label", "Period", "AccountId"):
        if query.get(key) not in (None, ""):
            out[key] = query[key]
    stat = query.get("MetricStat")
    if stat:
        metric = stat.get("Metric", {})
        out["MetricStat"] = {
            "Metric": {"Namespace": metric.get("Namespace"), "MetricName": metric.get("MetricName"),
                       "Dimensions": _dimensions(metric.get("Dimensions"))},
            "Period": stat.get("Period"), "Stat": stat.get("Stat"), "Unit": stat.get("Unit") or None,
        }
    return out


def json_differences(expected: Any, actual: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, expected, actual) for each place two JSON values differ; a missing key or item is None."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in list(expected) + [k for k in actual if k not in expected]:
            sub = f"{path}.{key}" if path else str(key)
            out += json_differences(expected.get(key), actual.get(key), sub)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        out = []
        for i in range(max(len(expected), len(actual))):
            out += json_differences(expected[i] if i < len(expected) else None,
                                    actual[i] if i < len(actual) else None, f"{path}[{i}]")
        return out
    if expected == actual and type(expected) is type(actual) or _same_number(expected, actual):
        return []
    return [(path, expected, actual)]


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool)
            and not isinstance(b, bool) and a == b)


def _alarm_is_ours(name: str, alarm: dict[str, Any]) -> bool:
    if name.startswith(NAME_PREFIX):
        return True
    actions = [*alarm.get("AlarmActions", []), *alarm.get("OKActions", []), *alarm.get("InsufficientDataActions", [])]
    # arn:aws:sns:eu-west-1:123:whispersync-critical, arn:aws:lambda:…:function:whispersync-remediation
    return any(isinstance(a, str) and a.rsplit(":", 1)[-1].startswith(NAME_PREFIX) for a in actions)


# -- the reader: boto3, kept thin ---------------------------------------------------------------

def read_deployed(session: Any) -> Deployed:
    """The account's alarms and dashboards through a boto3 ``session`` (its region and credentials).

    DescribeAlarms asks for both alarm types (without AlarmTypes only metric alarms come back)
    and follows NextToken; ListDashboards too; GetDashboard once per dashboard. Raises
    DriftError for missing credentials or region and for refused or failed calls.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        cloudwatch = session.client("cloudwatch")
        identity = session.client("sts").get_caller_identity()
        deployed = Deployed(region=cloudwatch.meta.region_name, account=identity["Account"],
                            partition=identity["Arn"].split(":")[1])
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            for kind in ("MetricAlarm", "CompositeAlarm"):
                for alarm in page.get(f"{kind}s", []):
                    deployed.alarms[alarm["AlarmName"]] = {"Kind": kind, **alarm}
        for page in cloudwatch.get_paginator("list_dashboards").paginate():
            for entry in page.get("DashboardEntries", []):
                name = entry["DashboardName"]
                body = cloudwatch.get_dashboard(DashboardName=name).get("DashboardBody") or ""
                try:
                    deployed.dashboards[name] = orjson.loads(body)
                except orjson.JSONDecodeError:
                    deployed.dashboards[name] = None
    except NoCredentialsError:
        raise DriftError("no AWS credentials found: configure them (aws configure, AWS_PROFILE or the "
                         "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables)") from None
    except NoRegionError:
        raise DriftError("no AWS region: pass --region or set AWS_REGION") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise DriftError(f"AWS refused {exc.operation_name}: {error.get('Code', '?')}: "
                         f"{error.get('Message', '')}".rstrip(": ")) from None
    except BotoCoreError as exc:
        raise DriftError(f"AWS could not be reached: {exc}") from None
    return deployed
