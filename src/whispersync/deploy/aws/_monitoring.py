"""The plan's monitoring as CloudFormation properties: alarms, composite alarms and dashboard bodies.

Plain functions over the plan model; nothing here imports aws_cdk, so the stack
passes CDK tokens in (partition, region, account) and ``deploy aws check`` passes the
account's own: both get the same properties, alarm actions included.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from whispersync.deploy.aws.environment import FUNCTIONS
from whispersync.plan import CompositeAlarm, Dashboard, MetricAlarm, MetricDataQuery, MetricStat, Plan

ACTION_PROPERTIES = ("AlarmActions", "OKActions", "InsufficientDataActions")
REMEDIATION_ACTION = "remediation:"  # the plan's action prefix for the remediation function (remediation:scale_up)

# PutMetricAlarm's Statistic takes only these; anything else (p99, tm90, TM(10%:90%), IQM…)
# goes in ExtendedStatistic ("Statistic ... or ExtendedStatistic ... but not both").
BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
# The names a composite rule refers to: ALARM(name), OK("name"), INSUFFICIENT_DATA(name).
_RULE_REFERENCE = re.compile(r"\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*\"?([^\")]+?)\"?\s*\)")
_ALARM_ARN = re.compile(r"^arn:aws[\w-]*:cloudwatch:")


class ActionError(ValueError):
    """A plan action names no topic of the plan (the message says which alarm and action)."""


def topic_name(local_topic: str) -> str:
    """The SNS topic of a plan topic (``critical`` → ``whispersync-critical``)."""
    return f"whispersync-{local_topic}"


def remediation_function_arn(*, partition: Any, region: Any, account: Any) -> str:
    """The remediation function's ARN (Lambda's ``arn:…:function:NAME``, as its GetAtt Arn is)."""
    return f"arn:{partition}:lambda:{region}:{account}:function:{FUNCTIONS['remediation'].name}"


def action_arn(plan: Plan, alarm_name: str, action: str, *, partition: Any, region: Any, account: Any) -> str:
    """The ARN a plan action (``topic:critical``, ``critical``, ``remediation:scale_up``, an ARN) deploys as:
    the stack's topic ``whispersync-<topic>`` (an SNS topic's ARN is ``arn:…:sns:REGION:ACCOUNT:NAME``),
    the remediation function, or the ARN itself; as the local engine reads them (``parse_action``)."""
    if action.startswith(REMEDIATION_ACTION):
        return remediation_function_arn(partition=partition, region=region, account=account)
    if action.startswith("arn:"):
        return action
    name = action.split(":", 1)[1] if action.startswith("topic:") else action
    if name not in plan.topics.values():
        raise ActionError(f"alarms.{alarm_name}: action {action!r} names no topic;"
                          f" known: {', '.join(plan.topics.values())}")
    return f"arn:{partition}:sns:{region}:{account}:{topic_name(name)}"


def alarm_properties(plan: Plan, alarm: MetricAlarm | CompositeAlarm, *, partition: Any, region: Any,
                     account: Any) -> dict[str, Any]:
    """What synth deploys for ``alarm`` (``"Kind"``: MetricAlarm or CompositeAlarm, then its CloudFormation
    properties), the actions as ARNs in ``account``. A metric alarm named by a plan remediation rule
    also invokes the remediation function on ALARM."""
    def actions(plan_actions: tuple[str, ...]) -> list[str]:
        arns = [action_arn(plan, alarm.name, a, partition=partition, region=region, account=account)
                for a in plan_actions]
        return list(dict.fromkeys(arns))

    if isinstance(alarm, CompositeAlarm):
        return {"Kind": "CompositeAlarm", **composite_alarm_properties(alarm, actions)}
    props = metric_alarm_properties(alarm, actions)
    if alarm.name in {rule.alarm for rule in plan.remediation}:
        remediation = remediation_function_arn(partition=partition, region=region, account=account)
        props["AlarmActions"] = list(dict.fromkeys([*props.get("AlarmActions", []), remediation]))
    return {"Kind": "MetricAlarm", **props}


def statistic_fields(statistic: str) -> dict[str, str]:
    """``{"Statistic": …}`` for the five basic statistics, else ``{"ExtendedStatistic": …}``."""
    return {"Statistic": statistic} if statistic in BASIC_STATISTICS else {"ExtendedStatistic": statistic}


def _dimensions(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in dimensions.items()]


def _metric_stat(stat: MetricStat) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Metric": {"Namespace": stat.namespace, "MetricName": stat.name, "Dimensions": _dimensions(stat.dimensions)},
        "Period": stat.period, "Stat": stat.statistic,
    }
    if stat.unit:
        out["Unit"] = stat.unit
    return out


def _query(query: MetricDataQuery) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": query.id, "ReturnData": query.return_data}
    if query.metric_stat is not None:
        out["MetricStat"] = _metric_stat(query.metric_stat)
    if query.expression is not None:
        out["Expression"] = query.expression
    if query.label is not None:
        out["Label"] = query.label
    if query.period is not None:
        out["Period"] = query.period
    return out


def metric_alarm_properties(alarm: MetricAlarm, actions: Callable[[tuple[str, ...]], list[Any]]) -> dict[str, Any]:
    """AWS::CloudWatch::Alarm properties (CloudFormation's spelling) for a plan alarm.

    ``actions`` turns the plan's action strings (``topic:critical``,
    ``remediation:scale_up``, ARNs) into ARNs or CDK tokens. DatapointsToAlarm is
    written only when the plan sets it: CloudWatch's default is EvaluationPeriods,
    which is also what the local engine uses (``MetricAlarm.m``).
    """
    props: dict[str, Any] = {
        "AlarmName": alarm.name,
        "ComparisonOperator": alarm.comparison_operator,
        "EvaluationPeriods": alarm.evaluation_periods,
        "TreatMissingData": alarm.treat_missing_data,
        "ActionsEnabled": alarm.actions_enabled,
    }
    if alarm.threshold_metric_id is not None:  # an anomaly detection alarm: the band is its threshold
        props["ThresholdMetricId"] = alarm.threshold_metric_id
    else:
        props["Threshold"] = float(alarm.threshold)  # type: ignore[arg-type]
    if alarm.description:
        props["AlarmDescription"] = alarm.description
    if alarm.datapoints_to_alarm is not None:
        props["DatapointsToAlarm"] = alarm.datapoints_to_alarm
    if alarm.evaluate_low_sample_count_percentile is not None:
        props["EvaluateLowSampleCountPercentile"] = alarm.evaluate_low_sample_count_percentile
    if alarm.metrics:
        props["Metrics"] = [_query(q) for q in alarm.metrics]
    else:
        props.update(Namespace=alarm.namespace, MetricName=alarm.metric_name,
                     Dimensions=_dimensions(alarm.dimensions), Period=alarm.period,
                     **statistic_fields(alarm.statistic or "Sum"))
        if alarm.unit:
            props["Unit"] = alarm.unit
    _add_actions(props, alarm, actions)
    return props


def composite_alarm_properties(alarm: CompositeAlarm,
                               actions: Callable[[tuple[str, ...]], list[Any]]) -> dict[str, Any]:
    """AWS::CloudWatch::CompositeAlarm properties; the rule string is the plan's, unchanged
    (AlarmRule accepts alarm names as well as ARNs: PutCompositeAlarm)."""
    props: dict[str, Any] = {"AlarmName": alarm.name, "AlarmRule": alarm.rule, "ActionsEnabled": alarm.actions_enabled}
    if alarm.description:
        props["AlarmDescription"] = alarm.description
    if alarm.actions_suppressor is not None:
        props.update(ActionsSuppressor=alarm.actions_suppressor,
                     ActionsSuppressorWaitPeriod=alarm.actions_suppressor_wait_period,
                     ActionsSuppressorExtensionPeriod=alarm.actions_suppressor_extension_period)
    _add_actions(props, alarm, actions)
    return props


def _add_actions(props: dict[str, Any], alarm: MetricAlarm | CompositeAlarm,
                 actions: Callable[[tuple[str, ...]], list[Any]]) -> None:
    for prop, plan_actions in zip(ACTION_PROPERTIES, (alarm.alarm_actions, alarm.ok_actions,
                                                      alarm.insufficient_data_actions), strict=True):
        if plan_actions:
            props[prop] = actions(plan_actions)


def rule_references(rule: str) -> list[str]:
    """The alarm names (or ARNs) a composite rule refers to, in order, without repeats."""
    return list(dict.fromkeys(m.group(1).strip() for m in _RULE_REFERENCE.finditer(rule)))


def dashboard_body_for_aws(dashboard: Dashboard, alarm_arn: Callable[[str], Any], region: Any) -> dict[str, Any]:
    """The plan dashboard's body as CloudWatch needs it deployed.

    Two changes, both required by the Dashboard Body Structure reference
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
    alarm names in a metric widget's ``annotations.alarms`` and an alarm widget's
    ``alarms`` become alarm ARNs ("The alarms are specified as ARNs"), and a metric or
    log widget without ``region`` gets the stack's region (``region``: "Required: Yes").
    Everything else is the plan's body as it is.
    """
    body = copy.deepcopy(dashboard.body())
    for widget in body["widgets"]:
        properties = widget.get("properties")
        if not isinstance(properties, dict):
            continue
        kind = widget.get("type")
        if kind in ("metric", "log") and "region" not in properties:
            properties["region"] = region
        if kind == "alarm" and isinstance(properties.get("alarms"), list):
            properties["alarms"] = [_arn(a, alarm_arn) for a in properties["alarms"]]
        annotations = properties.get("annotations")
        if kind == "metric" and isinstance(annotations, dict) and isinstance(annotations.get("alarms"), list):
            annotations["alarms"] = [_arn(a, alarm_arn) for a in annotations["alarms"]]
    return body


def _arn(name: Any, alarm_arn: Callable[[str], Any]) -> Any:
    if isinstance(name, str) and not _ALARM_ARN.match(name):
        return alarm_arn(name)
    return name
