"""CloudWatch's DescribeAlarms answer, out and in: `alarms list --format cloudwatch` and `alarms import`.

Out (``describe_alarms``): every alarm as ``aws cloudwatch describe-alarms`` prints it,
``{"MetricAlarms": [...], "CompositeAlarms": [...]}``, with the field names and shapes of
the MetricAlarm and CompositeAlarm data types (CloudWatch API reference; botocore's
cloudwatch service model). Where CloudWatch gives an ARN we give one in the region
``local`` and the account ``000000000000``: ``arn:aws:cloudwatch:local:000000000000:alarm:NAME``
and, for topic actions, ``arn:aws:sns:local:000000000000:critical``. Times are ISO 8601 UTC
as the AWS CLI prints them (``2014-04-09T18:59:06.442Z``); a time we do not have (a plan
alarm's configuration time, the state of an alarm never evaluated) is left out. Two
additions, so that a round trip loses nothing: ``Tags`` in PutMetricAlarm's shape, with
the priority as the tag ``Priority`` (DescribeAlarms leaves tags to ListTagsForResource),
and actions that have no AWS form (``remediation:NAME``) as they are.

In (``import_alarms``): that document, one alarm, or a list of alarms, from CloudWatch or
from here. Each alarm loses its read-only fields (``READ_ONLY_FIELDS``) and becomes a
PutMetricAlarm / PutCompositeAlarm request for ``parse_alarm_request``:

* alarm ARNs in a composite's rule and in ActionsSuppressor become alarm names;
* actions become local ones (``local_action``): an actions map (``--topics FILE``) takes an
  ARN or an SNS topic's name to a local topic, a priority or ``remediation:NAME``; without
  an entry, an SNS topic named like a local topic or ending in a priority
  (``prod-critical``, ``alerts_p1``) goes to that priority's topic. Other actions (Auto
  Scaling, EC2, Systems Manager, Lambda, SNS topics we cannot place) are dropped and
  reported: nothing here can run them, and an alarm that kept them would look wired
  when it is not;
* an alarm with no Priority (field or tag) takes the most urgent priority among the local
  topics its AlarmActions reach: the router pages by priority, not by topic, so an alarm
  that paged ``prod-critical`` in production must be P1 here too.

An alarm we cannot honour (a PromQL alarm, any field our parser
refuses) is skipped with the parser's words, and so is a composite whose rule or
suppressor names a skipped alarm: CloudWatch accepted the alarm, so a refusal means
"not supported here", not a broken file. A document of the wrong shape, two alarms of
one name, or a rule naming an alarm that is neither in the file nor here fails the whole
import, before anything is written.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from whispersync.domain import iso_utc
from whispersync.monitoring.alarms._checks import check_references, rule_of
from whispersync.monitoring.alarms._engine import parse_action
from whispersync.monitoring.alarms._requests import AlarmInputError, parse_alarm_request
from whispersync.monitoring.times import InvalidTime, parse_time
from whispersync.plan import INSUFFICIENT_DATA, PRIORITIES, STATES, TOPICS, Alarm, CompositeAlarm, MetricAlarm

__all__ = [
    "ARN_ACCOUNT",
    "ARN_REGION",
    "READ_ONLY_FIELDS",
    "ImportedAlarm",
    "ImportReport",
    "alarm_arn",
    "describe_alarm",
    "describe_alarms",
    "import_alarms",
    "local_action",
    "plan_import",
    "read_actions_map",
    "topic_arn",
]

# The placeholder region and account of the ARNs we write: no real region is called
# "local", and CloudWatch's own examples use twelve-digit accounts.
ARN_REGION = "local"
ARN_ACCOUNT = "000000000000"

# DescribeAlarms fields that PutMetricAlarm / PutCompositeAlarm do not take: CloudWatch
# sets them. (StateValue and StateReason are used by --keep-state.)
READ_ONLY_FIELDS = (
    "AlarmArn", "AlarmConfigurationUpdatedTimestamp", "StateValue", "StateReason", "StateReasonData",
    "StateUpdatedTimestamp", "StateTransitionedTimestamp", "EvaluationState", "ActionsSuppressedBy",
    "ActionsSuppressedReason",
)
# Alarm kinds CloudWatch has and we do not.
_NOT_SUPPORTED = {
    "EvaluationCriteria": "alarms on a PromQL query (EvaluationCriteria) are not supported",
    "EvaluationInterval": "alarms on a PromQL query (EvaluationInterval) are not supported",
}
_ACTION_FIELDS = ("AlarmActions", "OKActions", "InsufficientDataActions")
_ALARM_ARN = re.compile(r"^arn:aws[\w-]*:cloudwatch:[^:]*:[^:]*:alarm:(.+)$")
# An alarm ARN where a rule names an alarm: after "(", "," or a quote (AlarmRule grammar,
# _composite). Deleting the prefix leaves the name, in the quotes it had.
_ALARM_ARN_IN_RULE = re.compile(r'(?<=[(,"\s])arn:aws[\w-]*:cloudwatch:[^:"(),\s]*:[^:"(),\s]*:alarm:')
_SNS_ARN = re.compile(r"^arn:aws[\w-]*:sns:([^:]*):([^:]*):([^:]+)$")
# Services whose alarm actions we name when we drop them (PutMetricAlarm, AlarmActions).
_SERVICES = {
    "autoscaling": "an Auto Scaling policy",
    "automate": "an EC2 action (stop, terminate, reboot, recover)",
    "ec2": "an EC2 action",
    "ssm": "a Systems Manager OpsItem",
    "ssm-incidents": "a Systems Manager incident",
    "lambda": "a Lambda function",
}
# What a topic name may end with to reach a priority's topic: "critical" or "p1" for P1, ...
_PRIORITY_WORDS = {**{topic: p for p, topic in TOPICS.items()}, **{p.lower(): p for p in PRIORITIES}}
_TOPIC_HINT = f"{', '.join(TOPICS.values())}, {', '.join(PRIORITIES)}, topic:NAME or remediation:NAME"


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{ARN_REGION}:{ARN_ACCOUNT}:alarm:{name}"


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{ARN_REGION}:{ARN_ACCOUNT}:{name}"


# ---------------------------------------------------------------------- out: DescribeAlarms


def describe_alarms(engine: Any, state: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """What ``aws cloudwatch describe-alarms --alarm-types MetricAlarm CompositeAlarm`` prints, for ``engine``."""
    from whispersync.plan import alarm_from_dict

    store = engine.alarm_store
    out: dict[str, list[dict[str, Any]]] = {"MetricAlarms": [], "CompositeAlarms": []}
    for item in engine.describe(state):
        alarm = alarm_from_dict(item["definition"])
        configured = _last_history_ms(store, alarm.name, "ConfigurationUpdate") if item["source"] == "stored" else None
        current = {"state": item["state"], "reason": item["reason"], "reason_data": item["reason_data"],
                   "updated_ms": parse_time(item["updated_at"]) if item["updated_at"] else None}
        described = describe_alarm(alarm, current, configuration_updated_ms=configured,
                                   transitioned_ms=_last_history_ms(store, alarm.name, "StateUpdate"),
                                   suppressed_by=item.get("actions_suppressed_by"),
                                   suppressed_reason=item.get("actions_suppressed_reason"))
        out["CompositeAlarms" if isinstance(alarm, CompositeAlarm) else "MetricAlarms"].append(described)
    return out


def _last_history_ms(store: Any, name: str, type_: str) -> int | None:
    # The history keeps two weeks (CloudWatch's retention), so an older time is not known.
    items = store.history(name, limit=1, type_=type_)
    return items[0]["timestamp_ms"] if items else None


def describe_alarm(alarm: Alarm, state: Mapping[str, Any] | None = None, *, configuration_updated_ms: int | None = None,
                   transitioned_ms: int | None = None, suppressed_by: str | None = None,
                   suppressed_reason: str | None = None) -> dict[str, Any]:
    """One MetricAlarm or CompositeAlarm of DescribeAlarms' answer (fields in the API's order).

    ``state`` is the store's ``{"state", "reason", "reason_data", "updated_ms"}``; without it
    the alarm is as CloudWatch shows a new one. ``transitioned_ms`` is the last change of
    the state's value; by default the last update of the state. ``suppressed_by`` (WaitPeriod,
    ExtensionPeriod or Alarm) and its reason say what holds a composite's actions back now.
    """
    state = state or {"state": INSUFFICIENT_DATA, "reason": "Unchecked: Initial alarm creation", "reason_data": {},
                      "updated_ms": None}
    out: dict[str, Any] = {"AlarmName": alarm.name, "AlarmArn": alarm_arn(alarm.name)}
    if alarm.description:
        out["AlarmDescription"] = alarm.description
    if configuration_updated_ms is not None:
        out["AlarmConfigurationUpdatedTimestamp"] = iso_utc(configuration_updated_ms / 1000)
    out["ActionsEnabled"] = alarm.actions_enabled
    out["OKActions"] = [_exported_action(a) for a in alarm.ok_actions]
    out["AlarmActions"] = [_exported_action(a) for a in alarm.alarm_actions]
    out["InsufficientDataActions"] = [_exported_action(a) for a in alarm.insufficient_data_actions]
    out["StateValue"] = state["state"]
    out["StateReason"] = state["reason"]
    if state.get("reason_data"):
        # A JSON document in a string, as CloudWatch gives it.
        out["StateReasonData"] = orjson.dumps(state["reason_data"]).decode()
    updated_ms = state.get("updated_ms")
    if updated_ms is not None:
        out["StateUpdatedTimestamp"] = iso_utc(updated_ms / 1000)
    if isinstance(alarm, MetricAlarm):
        out.update(_metric_fields(alarm))
    else:
        out["AlarmRule"] = alarm.rule
    transitioned = transitioned_ms if transitioned_ms is not None else updated_ms
    if transitioned is not None:
        out["StateTransitionedTimestamp"] = iso_utc(transitioned / 1000)
    if isinstance(alarm, CompositeAlarm):
        if suppressed_by is not None:
            out["ActionsSuppressedBy"] = suppressed_by
            out["ActionsSuppressedReason"] = suppressed_reason or ""
        suppressor = getattr(alarm, "actions_suppressor", None)
        if suppressor:
            out["ActionsSuppressor"] = alarm_arn(suppressor)
            for key, attribute in (("ActionsSuppressorWaitPeriod", "actions_suppressor_wait_period"),
                                   ("ActionsSuppressorExtensionPeriod", "actions_suppressor_extension_period")):
                value = getattr(alarm, attribute, None)
                if value is not None:
                    out[key] = value
    out["Tags"] = [{"Key": "Priority", "Value": alarm.priority}] + [
        {"Key": k, "Value": v} for k, v in alarm.tags.items() if k != "Priority"]
    return out


def _metric_fields(alarm: MetricAlarm) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not alarm.metrics:
        out["MetricName"] = alarm.metric_name
        out["Namespace"] = alarm.namespace
        if alarm.statistic in ("SampleCount", "Average", "Sum", "Minimum", "Maximum"):
            out["Statistic"] = alarm.statistic
        else:
            out["ExtendedStatistic"] = alarm.statistic  # p99 and the like
        out["Dimensions"] = _dimensions(alarm.dimensions)
        out["Period"] = alarm.period
        if alarm.unit is not None:
            out["Unit"] = alarm.unit
    out["EvaluationPeriods"] = alarm.evaluation_periods
    if alarm.datapoints_to_alarm is not None:
        out["DatapointsToAlarm"] = alarm.datapoints_to_alarm
    if alarm.threshold_metric_id is not None:
        out["ThresholdMetricId"] = alarm.threshold_metric_id  # an anomaly detection alarm has no Threshold
    else:
        out["Threshold"] = float(alarm.threshold)  # type: ignore[arg-type]
    out["ComparisonOperator"] = alarm.comparison_operator
    out["TreatMissingData"] = alarm.treat_missing_data
    if alarm.evaluate_low_sample_count_percentile is not None:
        out["EvaluateLowSampleCountPercentile"] = alarm.evaluate_low_sample_count_percentile
    if alarm.metrics:
        out["Metrics"] = [_query(q) for q in alarm.metrics]
    return out


def _query(query: Any) -> dict[str, Any]:
    """A MetricDataQuery in GetMetricData's (and PutMetricAlarm's) field names."""
    out: dict[str, Any] = {"Id": query.id}
    if query.metric_stat is not None:
        s = query.metric_stat
        stat: dict[str, Any] = {"Metric": {"Namespace": s.namespace, "MetricName": s.name,
                                           "Dimensions": _dimensions(s.dimensions)},
                                "Period": s.period, "Stat": s.statistic}
        if s.unit is not None:
            stat["Unit"] = s.unit
        out["MetricStat"] = stat
    if query.expression is not None:
        out["Expression"] = query.expression
    if query.label is not None:
        out["Label"] = query.label
    out["ReturnData"] = query.return_data
    if query.period is not None:
        out["Period"] = query.period
    return out


def _dimensions(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dimensions.items()]


def _exported_action(action: str) -> str:
    """A topic action as the SNS ARN CloudWatch would show; an ARN or ``remediation:NAME`` as it is."""
    kind, target = parse_action(action)
    if kind == "topic" and not action.startswith("arn:"):
        return topic_arn(target)
    return action


# ---------------------------------------------------------------------- in: actions


def read_actions_map(data: bytes, *, remediations: Collection[str] | None = None) -> dict[str, str]:
    """``--topics FILE``: a JSON object or a TOML table from action ARNs (or SNS topic names) to local actions.

    A value is a local topic (``critical``), a priority (``P1``), ``topic:NAME`` or
    ``remediation:NAME`` (checked against ``remediations`` when given); the result maps
    to ``topic:NAME`` / ``remediation:NAME``. AlarmInputError names the bad entry.
    """
    try:
        raw: Any = orjson.loads(data)
    except orjson.JSONDecodeError as json_error:
        try:
            raw = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as toml_error:
            raise AlarmInputError("file", f"is neither JSON ({json_error}) nor TOML ({toml_error})") from None
    if not isinstance(raw, Mapping):
        raise AlarmInputError("file", 'must be an object like {"arn:aws:sns:eu-west-1:123456789012:prod-critical": '
                                      '"critical"}')
    out = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise AlarmInputError(key, f"must map to {_TOPIC_HINT}, got {value!r}")
        value = value.strip()
        if value in PRIORITIES:
            value = f"topic:{TOPICS[value]}"
        elif value in TOPICS.values():
            value = f"topic:{value}"
        if value.startswith("topic:") and value[len("topic:"):] in TOPICS.values():
            out[key] = value
        elif value.startswith("remediation:") and value[len("remediation:"):]:
            name = value[len("remediation:"):]
            if remediations is not None and name not in remediations:
                known = ", ".join(sorted(remediations)) or "none"
                raise AlarmInputError(key, f"no remediation named {name!r}; known: {known}")
            out[key] = value
        else:
            raise AlarmInputError(key, f"must map to {_TOPIC_HINT}, got {value!r}")
    return out


def local_action(action: str, actions_map: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """``(local action, None)``, or ``(None, why it is dropped)`` for an action nothing here can run."""
    actions_map = actions_map or {}
    if action.startswith(("topic:", "remediation:")):
        return action, None
    if action in actions_map:
        return actions_map[action], None
    sns = _SNS_ARN.match(action)
    if sns:
        region, account, name = sns.groups()
        if name in actions_map:
            return actions_map[name], None
        if (region, account) == (ARN_REGION, ARN_ACCOUNT):  # one of ours, from `alarms list --format cloudwatch`
            return f"topic:{name}", None
        priority = _topic_priority(name)
        if priority is not None:
            return f"topic:{TOPICS[priority]}", None
        return None, (f"no local topic for SNS topic {name!r}: map it in --topics FILE, or name it "
                      f"...-{'/-'.join(TOPICS.values())} or ...-p1 to -p4")
    if action.startswith("arn:"):
        service = action.split(":")[2] if action.count(":") >= 2 else ""
        what = _SERVICES.get(service, f"an action of {service or 'an unknown service'}")
        return None, f"{what} cannot run here; --topics FILE can map it to remediation:NAME or a local topic"
    return action, None  # a bare topic name, as `alarms put` takes it


def _topic_priority(name: str) -> str | None:
    """The priority an SNS topic's name points at: "critical", "prod-critical", "alerts_P1" → P1."""
    lowered = name.lower()
    return _PRIORITY_WORDS.get(lowered) or _PRIORITY_WORDS.get(re.split(r"[-_.]", lowered)[-1])


# ---------------------------------------------------------------------- in: the import


@dataclass
class ImportedAlarm:
    """One alarm of the file and what the import does with it.

    ``outcome`` is created, updated, unchanged or skipped (``reason`` says why);
    ``changes`` lists what an update changes: ``definition`` and/or ``state``.
    """

    name: str
    kind: str
    where: str
    outcome: str = "created"
    reason: str | None = None
    alarm: Alarm | None = None
    priority_from: str | None = None  # field, tag, topic (its AlarmActions' topics) or default
    mapped_actions: list[dict[str, str]] = field(default_factory=list)
    dropped_actions: list[dict[str, str]] = field(default_factory=list)
    state: dict[str, Any] | None = None  # with --keep-state: {"value", "reason", "reason_data", "at_ms"}
    changes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        state = None
        if self.state is not None:
            state = {"value": self.state["value"], "reason": self.state["reason"],
                     "timestamp": iso_utc(self.state["at_ms"] / 1000)}
        return {"name": self.name, "kind": self.kind, "outcome": self.outcome, "reason": self.reason,
                "changes": list(self.changes), "priority": self.alarm.priority if self.alarm else None,
                "priority_from": self.priority_from, "mapped_actions": self.mapped_actions,
                "dropped_actions": self.dropped_actions, "state": state}


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do), alarm by alarm in the order they are stored."""

    alarms: list[ImportedAlarm]
    dry_run: bool = False
    keep_state: bool = False
    warnings: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for a in self.alarms if a.outcome == outcome)

    def to_dict(self) -> dict[str, Any]:
        return {"alarms": [a.to_dict() for a in self.alarms],
                **{outcome: self.count(outcome) for outcome in ("created", "updated", "unchanged", "skipped")},
                "dry_run": self.dry_run, "keep_state": self.keep_state, "warnings": list(self.warnings)}


class _Skip(Exception):
    """An alarm CloudWatch has and we cannot honour; its message is the reason."""


def plan_import(payload: Any, *, existing: Mapping[str, Alarm], states: Mapping[str, Mapping[str, Any]] | None = None,
                actions_map: Mapping[str, str] | None = None, keep_state: bool = False,
                now_ms: int | None = None) -> ImportReport:
    """What importing ``payload`` into a home holding ``existing`` alarms (with ``states``) would do.

    The alarms come out in the order they must be stored: metric alarms, then composites,
    each after every alarm its rule names. Raises AlarmInputError (or AlarmError, for a
    cycle) for a file that cannot be imported at all.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    states = states or {}
    entries, warnings = _entries(payload)
    report = ImportReport([], keep_state=keep_state, warnings=warnings)
    by_name: dict[str, ImportedAlarm] = {}
    for where, kind, raw in entries:
        item = ImportedAlarm(raw["AlarmName"], kind, where)
        try:
            item.alarm = parse_alarm_request(_request(raw, item, actions_map or {}))
        except (_Skip, AlarmInputError) as exc:
            item.outcome, item.reason = "skipped", str(exc)
        if keep_state and item.alarm is not None:
            item.state = _imported_state(raw, where, now_ms)
        by_name[item.name] = item
    _check_names(by_name, existing)
    for item in _store_order(by_name):
        if item.outcome != "skipped":
            _settle(item, existing.get(item.name), states.get(item.name))
        report.alarms.append(item)
    kept = {**existing, **{i.name: i.alarm for i in report.alarms if i.alarm is not None and i.outcome != "skipped"}}
    check_references(kept.values())  # a cycle across the file and this home
    return report


def import_alarms(engine: Any, payload: Any, *, actions_map: Mapping[str, str] | None = None,
                  keep_state: bool = False, dry_run: bool = False, now_ms: int | None = None) -> ImportReport:
    """Import ``payload`` into ``engine``: every new or changed alarm in one transaction, then (with
    ``keep_state``) their states, straight into the store so that no action runs. A dry run writes nothing."""
    store = engine.alarm_store
    states = store.states()
    report = plan_import(payload, existing=engine.alarms(), states=states, actions_map=actions_map,
                         keep_state=keep_state, now_ms=now_ms)
    report.dry_run = dry_run
    if dry_run:
        return report
    changed = [i.alarm for i in report.alarms if "definition" in i.changes]
    if changed:
        engine.put_all(changed)  # all or none, the rules checked across the batch
    for item in report.alarms:
        if "state" in item.changes and item.state is not None:
            previous = states.get(item.name, {}).get("state", INSUFFICIENT_DATA)
            # With `previous` the store records a transition in the history; the engine would
            # also run the new state's actions, which an import must not do.
            store.set_state(item.name, item.state["value"], item.state["reason"], item.state["reason_data"],
                            item.state["at_ms"], previous=previous if previous != item.state["value"] else None)
    return report


def _entries(payload: Any) -> tuple[list[tuple[str, str, Mapping[str, Any]]], list[str]]:
    """(position, kind, alarm) for each alarm of the document, and warnings about the document."""
    warnings = []
    if isinstance(payload, Mapping) and ("MetricAlarms" in payload or "CompositeAlarms" in payload):
        # ResponseMetadata is what boto3 adds to the answer.
        extra = sorted(set(payload) - {"MetricAlarms", "CompositeAlarms", "NextToken", "ResponseMetadata"})
        if extra:
            raise AlarmInputError(extra[0], "unknown field; a DescribeAlarms answer holds MetricAlarms, "
                                            "CompositeAlarms and NextToken")
        if payload.get("NextToken"):
            warnings.append("the file is one page of DescribeAlarms (NextToken is set): alarms of later pages "
                            "are not in it; the AWS CLI fetches every page unless told --max-items")
        raw = []
        for key, kind in (("MetricAlarms", "metric"), ("CompositeAlarms", "composite")):
            items = payload.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                raise AlarmInputError(key, "must be a list of alarms")
            raw += [(f"{key}[{i}]", kind, item) for i, item in enumerate(items)]
    elif isinstance(payload, Mapping) and "AlarmName" in payload:
        raw = [("alarm", None, payload)]
    elif isinstance(payload, list):
        raw = [(f"[{i}]", None, item) for i, item in enumerate(payload)]
    else:
        raise AlarmInputError("file", 'expected what `aws cloudwatch describe-alarms` prints ({"MetricAlarms": '
                                      '[...], "CompositeAlarms": [...]}), one alarm object, or a list of alarms')
    entries = []
    for where, kind, item in raw:
        if not isinstance(item, Mapping):
            raise AlarmInputError(where, "must be an alarm object")
        name = item.get("AlarmName")
        if not isinstance(name, str) or not name.strip():
            raise AlarmInputError(f"{where}.AlarmName", f"must be a non-empty string, got {name!r}")
        has_rule = item.get("AlarmRule") is not None
        if kind == "metric" and has_rule:
            raise AlarmInputError(f"{where}.AlarmRule", f"{name!r} has a rule: composite alarms go in CompositeAlarms")
        if kind == "composite" and not has_rule:
            raise AlarmInputError(f"{where}.AlarmRule", f"is required: {name!r} is in CompositeAlarms")
        entries.append((where, kind or ("composite" if has_rule else "metric"), item))
    seen: dict[str, str] = {}
    for where, _, item in entries:
        if item["AlarmName"] in seen:
            raise AlarmInputError(f"{where}.AlarmName", f"{item['AlarmName']!r} is also at {seen[item['AlarmName']]}")
        seen[item["AlarmName"]] = where
    return entries, warnings


def _request(raw: Mapping[str, Any], item: ImportedAlarm, actions_map: Mapping[str, str]) -> dict[str, Any]:
    """The PutMetricAlarm / PutCompositeAlarm request of one DescribeAlarms alarm; notes its mappings on ``item``."""
    request = {k: v for k, v in raw.items() if k not in READ_ONLY_FIELDS}
    for key, why in _NOT_SUPPORTED.items():
        if request.get(key) not in (None, "", [], {}):
            raise _Skip(f"{key}: {why}")
        request.pop(key, None)
    if request.get("Metrics") is not None and not request.get("Dimensions"):
        request.pop("Dimensions", None)  # CloudWatch lists a math alarm's Dimensions as []
    if not request.get("ActionsSuppressor"):
        # The periods mean nothing without a suppressor (PutCompositeAlarm).
        for key in ("ActionsSuppressor", "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod"):
            request.pop(key, None)
    elif isinstance(request["ActionsSuppressor"], str):
        arn = _ALARM_ARN.match(request["ActionsSuppressor"])
        if arn:
            request["ActionsSuppressor"] = arn.group(1)
    if isinstance(request.get("AlarmRule"), str):
        request["AlarmRule"] = _ALARM_ARN_IN_RULE.sub("", request["AlarmRule"])
    for key in _ACTION_FIELDS:
        if isinstance(request.get(key), list):
            request[key] = _local_actions(key, request[key], item, actions_map)
    tags = request.get("Tags")
    tag_priority = None
    if isinstance(tags, list):
        # The priority is a field of ours; as a tag it would be kept twice.
        priority_tags = [t for t in tags if isinstance(t, Mapping) and t.get("Key") == "Priority"]
        tag_priority = priority_tags[0].get("Value") if priority_tags else None
        request["Tags"] = [t for t in tags if not (isinstance(t, Mapping) and t.get("Key") == "Priority")]
    if "Priority" in request:
        item.priority_from = "field"
    elif tag_priority is not None:
        request["Priority"], item.priority_from = tag_priority, "tag"
    else:
        reached = sorted(p for p, topic in TOPICS.items() if f"topic:{topic}" in (request.get("AlarmActions") or []))
        if reached:
            request["Priority"], item.priority_from = reached[0], "topic"
        else:
            item.priority_from = "default"
    return request


def _local_actions(key: str, actions: list[Any], item: ImportedAlarm, actions_map: Mapping[str, str]) -> list[Any]:
    out: list[Any] = []
    for action in actions:
        if not isinstance(action, str):
            out.append(action)  # the parser names it
            continue
        local, why = local_action(action, actions_map)
        if local is None:
            item.dropped_actions.append({"field": key, "action": action, "reason": why or ""})
            continue
        if local != action:
            item.mapped_actions.append({"field": key, "from": action, "to": local})
        if local not in out:  # two production topics may both map to one local topic
            out.append(local)
    return out


def _imported_state(raw: Mapping[str, Any], where: str, now_ms: int) -> dict[str, Any] | None:
    value = raw.get("StateValue")
    if value is None:
        return None
    if value not in STATES:
        raise AlarmInputError(f"{where}.StateValue", f"must be one of {', '.join(STATES)}, got {value!r}")
    reason = raw.get("StateReason")
    if reason is not None and not isinstance(reason, str):
        raise AlarmInputError(f"{where}.StateReason", f"must be a string, got {reason!r}")
    data_text = raw.get("StateReasonData")
    data: Any = {}
    if data_text not in (None, ""):
        try:
            data = orjson.loads(data_text) if isinstance(data_text, str) else None
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise AlarmInputError(f"{where}.StateReasonData",
                                  "must be a JSON object in a string, as CloudWatch gives it")
    at_ms = now_ms
    if raw.get("StateUpdatedTimestamp") is not None:
        try:
            # A clock ahead of ours must not put the state in our future (evaluations there would be dry runs).
            at_ms = min(parse_time(raw["StateUpdatedTimestamp"]), now_ms)
        except InvalidTime as exc:
            raise AlarmInputError(f"{where}.StateUpdatedTimestamp", str(exc)) from None
    return {"value": value, "reason": reason or f"Imported from CloudWatch in state {value}", "reason_data": data,
            "at_ms": at_ms}


def _references(alarm: Alarm | None) -> set[str]:
    """The alarms a composite needs: those its rule names, and its actions suppressor."""
    if not isinstance(alarm, CompositeAlarm):
        return set()
    names = set(rule_of(alarm.rule).references)
    suppressor = getattr(alarm, "actions_suppressor", None)
    if suppressor:
        names.add(suppressor)
    return names


def _check_names(by_name: dict[str, ImportedAlarm], existing: Mapping[str, Alarm]) -> None:
    """Skip the composites that name a skipped alarm; refuse those naming an alarm found nowhere."""
    changed = True
    while changed:  # a skipped composite may be named by another
        changed = False
        for item in by_name.values():
            if item.outcome == "skipped":
                continue
            skipped = sorted(n for n in _references(item.alarm) if n in by_name and by_name[n].outcome == "skipped")
            if skipped:
                item.outcome, changed = "skipped", True
                item.reason = f"it names alarm(s) {', '.join(skipped)}, which are skipped"
    for item in by_name.values():
        if item.outcome == "skipped":
            continue
        missing = sorted(_references(item.alarm) - set(by_name) - set(existing))
        if missing:
            in_rule = set(missing) & rule_of(item.alarm.rule).references  # type: ignore[union-attr]
            raise AlarmInputError(f"{item.where}.{'AlarmRule' if in_rule else 'ActionsSuppressor'}",
                                  f"{item.name!r} names alarm(s) {', '.join(missing)}, "
                                  "which are neither in the file nor in this home")


def _store_order(by_name: Mapping[str, ImportedAlarm]) -> list[ImportedAlarm]:
    """Metric alarms in the file's order, then composites, each after the composites it names."""
    order = [i for i in by_name.values() if i.kind == "metric"]
    done: set[str] = set()

    def visit(item: ImportedAlarm, path: tuple[str, ...]) -> None:
        if item.name in done or item.name in path:  # a cycle is reported by check_references
            return
        for name in sorted(_references(item.alarm)):
            if name in by_name and by_name[name].kind == "composite":
                visit(by_name[name], (*path, item.name))
        done.add(item.name)
        order.append(item)

    for item in by_name.values():
        if item.kind == "composite":
            visit(item, ())
    return order


def _settle(item: ImportedAlarm, current: Alarm | None, state: Mapping[str, Any] | None) -> None:
    """created / updated / unchanged, with what changes."""
    assert item.alarm is not None
    if current is None or _definition(current) != _definition(item.alarm):
        item.changes.append("definition")
    if item.state is not None:
        now = (state["state"], state["reason"], state["reason_data"]) if state else None
        if now != (item.state["value"], item.state["reason"], item.state["reason_data"]):
            item.changes.append("state")
    item.outcome = "created" if current is None else "updated" if item.changes else "unchanged"


def _definition(alarm: Alarm) -> dict[str, Any]:
    """What an import compares: the alarm, less a ``Priority`` tag that repeats its priority.

    An import keeps the priority as the field it is; `alarms put` also keeps the tag. An
    alarm put with the tag, exported and imported again, is the same alarm.
    """
    out = alarm.to_dict()
    if out["tags"].get("Priority") == alarm.priority:
        out["tags"] = {k: v for k, v in out["tags"].items() if k != "Priority"}
    return out
