"""CloudWatch's alarm operations over the alarm engine the CLI uses (``runtime.alarms``).

PutMetricAlarm and PutCompositeAlarm go through ``plan_import`` (what ``alarms import``
does with an alarm from CloudWatch: ARNs in rules and suppressors become names, SNS
topic ARNs become local topics) and ``AlarmEngine.put_all`` (what ``alarms put`` does).
DescribeAlarms answers with ``describe_alarms`` (what ``alarms list --format cloudwatch``
prints), so the plan's alarms are listed with their configuration as PutMetricAlarm would
have set it. DescribeAlarmHistory reads the engine's history (``alarms history``),
SetAlarmState is ``AlarmEngine.set_state`` (``alarms set-state``: the actions run, through
the same notifier), DeleteAlarms is ``AlarmEngine.delete`` (``alarms delete``).

A plan alarm can be overridden (a stored alarm of the same name replaces it, as a plan
file's does), so PutMetricAlarm and Enable/DisableAlarmActions on one store an override,
and DeleteAlarms of that name removes the override. A plan alarm with no override cannot
be deleted: that is ``ResourceConflict`` (HTTP 409), the one error of DeleteAlarms' model
that fits, "the request conflicts with the current state of the alarm"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DeleteAlarms.html);
``ResourceNotFound`` would tell the caller the alarm is not there, which DescribeAlarms
contradicts. An alarm a composite still uses is refused the same way.

Limits are the API Reference's: DescribeAlarms' and DescribeAlarmHistory's MaxRecords
1-100 (default 50), up to 100 AlarmNames per call, one composite alarm per DeleteAlarms.
PutMetricAlarm's LimitExceeded (the account's alarm quota) has no counterpart here: a
home has no alarm quota.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from whispersync.app import Runtime
from whispersync.monitoring.alarms import (
    AlarmEngine,
    AlarmError,
    AlarmInputError,
    describe_alarms,
    plan_import,
    rule_of,
)
from whispersync.monitoring.times import parse_time
from whispersync.plan import Alarm, CompositeAlarm, MetricAlarm
from whispersync.web.aws._metrics_ops import _fingerprint, _offset, _token, epoch_ms
from whispersync.web.aws._protocol import AwsError, combination, invalid

DEFAULT_RECORDS = 50
MAX_NAMES = 100
# The history keeps two weeks (CloudWatch's retention); per alarm, this is far more than that holds.
MAX_HISTORY_PER_ALARM = 100_000
_TIMESTAMPS = ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp", "StateTransitionedTimestamp")
_KINDS = {"MetricAlarm": "MetricAlarms", "CompositeAlarm": "CompositeAlarms"}


def _engine(runtime: Runtime) -> AlarmEngine:
    if runtime.alarms is None:
        raise AwsError("InternalServiceError", "this server runs without the alarm engine", status=500,
                       sender_fault=False)
    return runtime.alarms


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message, status=404)


def _conflict(message: str) -> AwsError:
    return AwsError("ResourceConflict", message, status=409)


def _records(params: dict[str, Any]) -> int:
    count = params.get("MaxRecords", DEFAULT_RECORDS)
    if not 1 <= count <= 100:
        raise invalid(f"The value {count} for parameter MaxRecords is not between 1 and 100.")
    return count


def _names(params: dict[str, Any]) -> list[str]:
    names = params.get("AlarmNames") or []
    if len(names) > MAX_NAMES:
        raise invalid(f"The collection AlarmNames must not have a size greater than {MAX_NAMES}.")
    return names


def _page(rows: list, params: dict[str, Any]) -> tuple[list, str | None]:
    """One page of ``rows`` (MaxRecords of them, from the NextToken's offset) and the next token."""
    size = _records(params)
    fingerprint = _fingerprint({k: v for k, v in params.items() if k != "MaxRecords"})
    offset = _offset(params.get("NextToken"), fingerprint, lambda m: AwsError("InvalidNextToken", m))
    more = offset + size < len(rows)
    return rows[offset:offset + size], _token(fingerprint, offset + size) if more else None


# ---------------------------------------------------------------------- PutMetricAlarm, PutCompositeAlarm


def _put(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(runtime)
    try:
        report = plan_import(dict(params), existing=engine.alarms())
    except (AlarmInputError, AlarmError) as exc:
        raise invalid(str(exc)) from None
    [item] = report.alarms
    if item.outcome == "skipped":
        raise invalid(item.reason or "this alarm cannot be evaluated here")
    if item.dropped_actions:
        # The import drops them with a report; over the API no one would read it, and an alarm
        # that looks wired when it is not is worse than a refusal.
        dropped = item.dropped_actions[0]
        raise invalid(f"{dropped['field']}: {dropped['action']}: {dropped['reason']}")
    if "definition" in item.changes:
        try:
            engine.put_all([item.alarm])
        except AlarmError as exc:  # a rule naming an unknown alarm, a cycle
            raise invalid(str(exc)) from None
    return {}


def put_metric_alarm(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    return _put(runtime, params)


def put_composite_alarm(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    return _put(runtime, params)


# ---------------------------------------------------------------------- DescribeAlarms


def _has_action(alarm: dict[str, Any], prefix: str) -> bool:
    """ActionPrefix: any action of the alarm as DescribeAlarms shows it (a topic as its SNS ARN)."""
    actions = alarm["AlarmActions"] + alarm["OKActions"] + alarm["InsufficientDataActions"]
    return any(a.startswith(prefix) for a in actions)


def _users(name: str, alarms: Iterable[Alarm]) -> list[str]:
    """The composite alarms that name ``name`` in their rule or as their actions suppressor."""
    return sorted(a.name for a in alarms if isinstance(a, CompositeAlarm)
                  and (name in rule_of(a.rule).references or a.actions_suppressor == name))


def _wire_times(alarm: dict[str, Any]) -> dict[str, Any]:
    """``describe_alarm`` gives times as the AWS CLI prints them; the wire wants timestamps."""
    out = dict(alarm)
    for key in _TIMESTAMPS:
        if key in out:
            out[key] = datetime.fromtimestamp(parse_time(out[key]) / 1000, UTC)
    return out


def describe_alarms_op(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(runtime)
    names = _names(params)
    prefix = params.get("AlarmNamePrefix")
    children, parents = params.get("ChildrenOfAlarmName"), params.get("ParentsOfAlarmName")
    if names and prefix:
        raise combination("give AlarmNames or AlarmNamePrefix, not both")
    if children or parents:
        # "If you specify ChildrenOfAlarmName, you cannot specify any other parameters in the request except
        # for MaxRecords and NextToken" (and the same for ParentsOfAlarmName): DescribeAlarms.
        others = set(params) - {"ChildrenOfAlarmName", "ParentsOfAlarmName", "MaxRecords", "NextToken"}
        if (children and parents) or others:
            raise combination("with ChildrenOfAlarmName or ParentsOfAlarmName, give only MaxRecords and NextToken")
    state = params.get("StateValue")
    # "If you omit this parameter, only metric alarms are returned, even if composite alarms exist."
    types = params.get("AlarmTypes") or ["MetricAlarm"]
    if children or parents:
        types = list(_KINDS)
    wanted_lists = {_KINDS[t] for t in types if t in _KINDS}
    alarms = engine.alarms()
    related: set[str] | None = None
    if children:
        parent = alarms.get(children)
        related = set(_references(parent)) if isinstance(parent, CompositeAlarm) else set()
    elif parents:
        related = {n for n, a in alarms.items()
                   if isinstance(a, CompositeAlarm) and parents in rule_of(a.rule).references}
    described = describe_alarms(engine, state)
    rows = []
    for key in ("MetricAlarms", "CompositeAlarms"):
        if key not in wanted_lists:
            continue
        for alarm in described[key]:
            name = alarm["AlarmName"]
            if (names and name not in names) or (prefix and not name.startswith(prefix)) \
                    or (related is not None and name not in related):
                continue
            if params.get("ActionPrefix") and not _has_action(alarm, params["ActionPrefix"]):
                continue
            rows.append((key, alarm))
    page, token = _page(rows, params)
    output: dict[str, Any] = {"MetricAlarms": [], "CompositeAlarms": []}
    for key, alarm in page:
        output[key].append(_wire_times(alarm))
    if token:
        output["NextToken"] = token
    return output


def _references(alarm: CompositeAlarm) -> list[str]:
    return sorted(rule_of(alarm.rule).references)


# ---------------------------------------------------------------------- DescribeAlarmHistory


def describe_alarm_history(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(runtime)
    alarms = engine.alarms()
    name = params.get("AlarmName")
    types = params.get("AlarmTypes") or ["MetricAlarm"]  # as DescribeAlarms: "only metric alarms are returned"
    kind_of = {n: "CompositeAlarm" if isinstance(a, CompositeAlarm) else "MetricAlarm" for n, a in alarms.items()}
    if name is not None:
        names = [name] if kind_of.get(name, "MetricAlarm") in types else []
    else:
        names = sorted(n for n, kind in kind_of.items() if kind in types)
    item_type = params.get("HistoryItemType")
    if item_type is not None and item_type not in ("ConfigurationUpdate", "StateUpdate", "Action"):
        names = []  # AlarmContributorStateUpdate, AlarmContributorAction: no alarm here has contributors
    start = epoch_ms(params["StartDate"]) if "StartDate" in params else None
    end = epoch_ms(params["EndDate"]) if "EndDate" in params else None
    rows = []
    for alarm_name in names:
        for item in engine.alarm_store.history(alarm_name, limit=MAX_HISTORY_PER_ALARM, type_=item_type):
            at = item["timestamp_ms"]
            if (start is not None and at < start) or (end is not None and at > end):
                continue
            rows.append({"AlarmName": alarm_name, "AlarmType": kind_of.get(alarm_name, "MetricAlarm"),
                         "Timestamp": datetime.fromtimestamp(at / 1000, UTC), "HistoryItemType": item["type"],
                         "HistorySummary": item["summary"],
                         "HistoryData": orjson.dumps(item["data"]).decode()})
    oldest_first = params.get("ScanBy") == "TimestampAscending"
    rows.sort(key=lambda r: r["Timestamp"], reverse=not oldest_first)  # stable: the store's order within a time
    page, token = _page(rows, params)
    output: dict[str, Any] = {"AlarmHistoryItems": page}
    if token:
        output["NextToken"] = token
    return output


# ---------------------------------------------------------------------- SetAlarmState


def set_alarm_state(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    engine = _engine(runtime)
    data = None
    if "StateReasonData" in params:
        try:
            data = orjson.loads(params["StateReasonData"])
        except orjson.JSONDecodeError as exc:
            raise AwsError("InvalidFormat", f"StateReasonData is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise AwsError("InvalidFormat", "StateReasonData must be a JSON object")
    try:
        engine.set_state(params["AlarmName"], params["StateValue"], params["StateReason"], data)
    except KeyError:
        raise not_found(f"Alarm {params['AlarmName']} does not exist.") from None
    except AlarmError as exc:
        raise invalid(str(exc)) from None
    return {}


# ---------------------------------------------------------------------- DeleteAlarms


def delete_alarms(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    """Every conflict is found before anything is deleted; unknown names do not stop the others
    ("If you specify any incorrect alarm names, the alarms you specify with correct names are still
    deleted"), and are reported afterwards as ResourceNotFound."""
    engine = _engine(runtime)
    names = list(dict.fromkeys(_names(params)))
    alarms = engine.alarms()
    stored = {a.name for a in engine.alarm_store.definitions()}
    if sum(isinstance(alarms.get(n), CompositeAlarm) for n in names) > 1:
        raise invalid("You can delete no more than one composite alarm in one DeleteAlarms operation.")
    for name in names:
        if name in alarms and name not in stored:
            raise _conflict(f"Alarm {name} is declared in the monitoring plan and cannot be deleted; override or "
                            "remove it in a plan file (--plan FILE) instead")
    doomed = [n for n in names if n in stored]
    remaining = [a for n, a in alarms.items() if n not in doomed]
    for name in doomed:
        users = _users(name, remaining)
        if users:
            raise _conflict(f"Alarm {name} is used by composite alarm(s) {', '.join(users)} (in a rule or as actions "
                            "suppressor); change or delete those first")
    # Composites first: the engine refuses to delete an alarm a composite still uses.
    for name in sorted(doomed, key=lambda n: not isinstance(alarms[n], CompositeAlarm)):
        try:
            engine.delete(name)
        except AlarmError as exc:  # changed under us by another writer
            raise _conflict(str(exc)) from None
    unknown = [n for n in names if n not in alarms]
    if unknown:
        raise not_found(f"Alarm(s) {', '.join(unknown)} do not exist; the others were deleted.")
    return {}


# ---------------------------------------------------------------------- EnableAlarmActions, DisableAlarmActions


def _set_actions_enabled(enabled: bool) -> Callable[[Runtime, dict[str, Any]], dict[str, Any]]:
    def operation(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
        engine = _engine(runtime)
        alarms = engine.alarms()
        names = list(dict.fromkeys(_names(params)))
        unknown = [n for n in names if n not in alarms]
        if unknown:  # checked first: nothing changes when a name is wrong
            raise not_found(f"Alarm(s) {', '.join(unknown)} do not exist.")
        changed: list[MetricAlarm | CompositeAlarm] = [
            dataclasses.replace(alarms[n], actions_enabled=enabled) for n in names
            if alarms[n].actions_enabled != enabled]
        if changed:
            engine.put_all(changed)  # a plan alarm gets a stored override, as `alarms put` would store
        return {}

    return operation


OPERATIONS: dict[str, Callable[[Runtime, dict[str, Any]], dict[str, Any]]] = {
    "PutMetricAlarm": put_metric_alarm,
    "PutCompositeAlarm": put_composite_alarm,
    "DescribeAlarms": describe_alarms_op,
    "DescribeAlarmHistory": describe_alarm_history,
    "SetAlarmState": set_alarm_state,
    "DeleteAlarms": delete_alarms,
    "EnableAlarmActions": _set_actions_enabled(True),
    "DisableAlarmActions": _set_actions_enabled(False),
}
