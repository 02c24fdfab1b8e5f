"""Remediation on Lambda: the CloudWatch alarm-action payload → scale the worker's SQS event source.

The payload
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#Lambda-action-payload):

    {"source": "aws.cloudwatch", "alarmArn": ..., "alarmData": {"alarmName": ...,
     "state": {"value", "reason", "timestamp"}, "previousState": {...}, "configuration": {...}}}

An alarm of the plan whose actions include `remediation:scale_up` (HighQueueDepth),
entering ALARM, raises the worker's event source mapping ScalingConfig.MaximumConcurrency
toward the plan's maximum: double the current value, capped at the rule's maximum, and
within what Lambda accepts for it (2..1000,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). The rule is the
plan's RemediationRule for that alarm, else RemediationRule's defaults (maximum,
cooldown). The guard is the cooldown: no change within `cooldown_seconds` of the
mapping's LastModified, so the alarm's repeated actions (CloudWatch calls once per
state change; a user may re-set the state) cannot ratchet it at once. A mapping
without a MaximumConcurrency is not capped, so there is nothing to raise.
Every decision is logged ("Remediation ...") with its reason.
"""

from __future__ import annotations

import os
import time
from typing import Any

from whispersync.deploy.aws.environment import ENV
from whispersync.deploy.aws.handlers._lambda import Invocations, deployed_plan, env
from whispersync.plan import Plan, RemediationRule

__all__ = ["MAX_CONCURRENCY_BOUNDS", "handler", "rule_for"]

ACTION = "remediation:scale_up"
MAX_CONCURRENCY_BOUNDS = (2, 1000)  # Lambda's ScalingConfig.MaximumConcurrency range

_invocations = Invocations()
_lambda_client: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    telemetry = _invocations.start(context)
    log = telemetry.logger("whispersync.remediation")
    try:
        data = event.get("alarmData") or {}
        alarm = str(data.get("alarmName", ""))
        state = (data.get("state") or {}).get("value")
        previous = (data.get("previousState") or {}).get("value")
        rule = rule_for(deployed_plan(), alarm)  # the plan synth shipped (ENV.PLAN_FILE), else the built-in
        if rule is None or state != "ALARM":
            reason = "not a scale-up alarm of the plan" if rule is None else f"state is {state}, not ALARM"
            log.info("Remediation skipped", alarm_name=alarm, state=state, reason=reason)
            return {"changed": False, "reason": reason}
        result = scale_up(rule, env(ENV.WORKER_EVENT_SOURCE), now=time.time())
        log.info("Remediation applied" if result["changed"] else "Remediation skipped", alarm_name=alarm,
                 state=state, previous_state=previous, rule=rule.name, **result)
        return result
    finally:
        telemetry.flush()


def rule_for(plan: Plan, alarm_name: str) -> RemediationRule | None:
    """The plan's rule for this alarm; RemediationRule's defaults for an alarm with the scale-up action."""
    for rule in plan.remediation:
        if rule.alarm == alarm_name:
            return rule
    for alarm in plan.alarms:
        if alarm.name == alarm_name and ACTION in getattr(alarm, "alarm_actions", ()):
            return RemediationRule(name="scale_up", alarm=alarm_name, action=ACTION)
    return None


def scale_up(rule: RemediationRule, mapping_uuid: str, *, now: float) -> dict[str, Any]:
    """One step of the rule on the event source mapping; what was decided, and why."""
    client = _client()
    mapping = client.get_event_source_mapping(UUID=mapping_uuid)
    current = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    low, high = MAX_CONCURRENCY_BOUNDS
    cap = min(max(rule.maximum, low), high)
    if current is None:
        return {"changed": False, "reason": "the event source has no MaximumConcurrency: it is not capped"}
    if current >= cap:
        return {"changed": False, "reason": f"already at the plan's maximum ({current} >= {cap})",
                "maximum_concurrency": current}
    since = now - _epoch(mapping.get("LastModified"))
    if since < rule.cooldown_seconds:
        return {"changed": False, "reason": f"cooldown: the mapping changed {since:.0f} s ago "
                                            f"(< {rule.cooldown_seconds} s)", "maximum_concurrency": current}
    target = min(max(current * 2, low), cap)
    client.update_event_source_mapping(UUID=mapping_uuid, ScalingConfig={"MaximumConcurrency": target})
    return {"changed": True, "reason": f"raised toward the plan's maximum {cap}", "previous_concurrency": current,
            "maximum_concurrency": target}


def _epoch(value: Any) -> float:
    """LastModified as boto3 returns it (a datetime), or epoch seconds."""
    if value is None:
        return 0.0
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value)


def _client() -> Any:
    global _lambda_client
    if _lambda_client is None:
        import boto3

        _lambda_client = boto3.client("lambda", region_name=os.environ.get("AWS_REGION") or None)
    return _lambda_client
