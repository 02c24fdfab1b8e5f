"""Alarms with CloudWatch's semantics: the model, one evaluation, and the engine.

    alarm = MetricAlarm("SystemDown", namespace="WhisperSync/Worker", metric_name="Errors",
                        dimensions={"FunctionName": "whispersync-worker"}, statistic="Sum",
                        period=60, threshold=10, evaluation_periods=1, priority="P1",
                        alarm_actions=("topic:critical",))
    engine = AlarmEngine(store, AlarmStore(path), definitions=lambda: [alarm], notifier=notifier)
    engine.evaluate(at_ms=...)   # one cycle: every alarm, then composites; actions on changes

What CloudWatch documents, and so what we do ("Using Amazon CloudWatch alarms",
"Configuring how CloudWatch alarms treat missing data"):

* An alarm looks at the last ``evaluation_periods`` (N) complete periods before
  the evaluation time; ``datapoints_to_alarm`` (M, default N) of them must breach
  for ALARM ("M out of N"; they need not be consecutive), else OK.
* It retrieves more datapoints than N: the *evaluation range*. CloudWatch does not
  document its length beyond "depends on the period"; its worked example uses 5
  for N = 3, so we use N + 2 periods.
* If the range holds at least N real datapoints, the most recent N are evaluated
  and ``treat_missing_data`` is not used. Otherwise every real datapoint in the
  range is evaluated, and missing ones fill up to N, "as few times as possible":
  ``breaching`` / ``notBreaching`` count them as such; ``missing`` does not count
  them (so M is capped at the number of real points) and with no real point at
  all the alarm goes to INSUFFICIENT_DATA; ``ignore`` keeps the current state
  instead of going to ALARM on partial data, or when there is no data at all.
  ``tests/monitoring/test_alarms.py`` holds the documentation's tables as cases.
* Actions run on state *changes* only; ``set_state`` (SetAlarmState) changes the
  state until the next evaluation decides otherwise.

A composite alarm's actions suppressor holds its actions back ("Suppressing
composite alarm actions", CloudWatch User Guide, Create_Composite_Alarm_Suppression,
whose six timeline examples are ``tests/monitoring/alarms/test_suppressor.py``):

* When the composite changes state while the suppressor is in ALARM, the actions
  of that change are suppressed by ``Alarm`` (example 4). Otherwise a
  ``WaitPeriod`` starts: the actions wait that long for the suppressor to go into
  ALARM (example 2: then they are suppressed by ``Alarm``); if it does not, they
  run when the period ends (example 1).
* When the suppressor leaves ALARM, an ``ExtensionPeriod`` starts; when it ends
  the composite takes its actions (example 5).
* A new state change of the composite discards a pending period and starts a new
  WaitPeriod (examples 3 and 6): the earlier change's actions are dropped, not
  queued, since "composite alarms take actions that are based on their current
  states" when the periods become inactive. That holds for every action (ALARM,
  OK, INSUFFICIENT_DATA): the page says the composite "stops taking actions".
* "If you replace the action suppressor alarm, any active WaitPeriod or
  ExtensionPeriod is discarded." The page does not say what then becomes of the
  held actions; we decide at once by the new configuration: suppressed by Alarm
  if the new suppressor is in ALARM, else the actions run (an alarm must not stay
  silent because its suppressor was swapped).
* An ExtensionPeriod starts only when actions are being held: the page's
  examples have one, and a composite whose actions already ran has nothing to
  extend (our reading; the page shows no other case). A period of 0 s runs the
  actions at once.

Periods end between evaluation cycles; each cycle runs what ended before it, so
actions come at most one cycle late. A held action is written to the history
(``Did not execute action ...``); the pending suppression lives in the alarm store
and survives a restart; ``describe`` shows ``actions_suppressed_by`` and
``actions_suppressed_reason`` (DescribeAlarms' ActionsSuppressedBy/Reason).

An anomaly detection alarm (``threshold_metric_id`` names an ``ANOMALY_DETECTION_BAND``
query) compares each datapoint with the band at the same time instead of a threshold, with
the operators LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold and
GreaterThanUpperThreshold (API_PutMetricAlarm.html); M of N and missing data work as above.
A datapoint with no band (the model still PENDING_TRAINING) counts as missing. The band uses
its detector's configuration (``_detectors``), created when missing; maintenance windows
and remediation actions are excluded from training as well. The reason follows the
"Thresholds Crossed: ... was greater than the upper thresholds [...]" form CloudWatch gives
band alarms and adds how far outside the band the most recent breaching value was.

A maintenance window (``_maintenance``) holds back every action of every alarm while
it is active, the same way: states and history go on, each held action is written
down as suppressed by ``Maintenance``, and none is replayed when the window ends.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Protocol

from whispersync.domain import iso_utc

from whispersync.monitoring.alarms import _composite as composite
from whispersync.monitoring.alarms._checks import check_alarm, check_references, rule_of, users_of
from whispersync.monitoring.alarms._detectors import automatic_exclusions, band_target, detector_for_alarm
from whispersync.monitoring.alarms._errors import AlarmError
from whispersync.monitoring.metrics import MetricQueryError, get_metric_data
from whispersync.monitoring.store import (
    MetricKey,
    StatisticGroup,
    TelemetryStore,
    metric_key,
)
from whispersync.plan import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    STATES,
    Alarm,
    CompositeAlarm,
    MetricAlarm,
    MetricStat,
)

__all__ = [
    "AlarmEngine",
    "Decision",
    "EvaluationResult",
    "decide",
    "evaluation_window",
    "parse_action",
]

# PutMetricAlarm's static-threshold operators: (test, words in a reason).
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
# The anomaly detection operators: (test of a value against (upper, lower), words in a reason).
BAND_COMPARISONS: dict[str, tuple[Callable[[float, float, float], bool], str]] = {
    "LessThanLowerOrGreaterThanUpperThreshold": (lambda v, up, low: v > up or v < low,
                                                 "less than the lower thresholds or greater than the upper thresholds"),
    "LessThanLowerThreshold": (lambda v, up, low: v < low, "less than the lower thresholds"),
    "GreaterThanUpperThreshold": (lambda v, up, low: v > up, "greater than the upper thresholds"),
}
# A band point: (upper, lower), or None where the model has none (PENDING_TRAINING).
Band = tuple[float, float] | None
# DescribeAlarms' ActionsSuppressedBy values.
SUPPRESSED_BY_WAIT_PERIOD = "WaitPeriod"
SUPPRESSED_BY_EXTENSION_PERIOD = "ExtensionPeriod"
SUPPRESSED_BY_ALARM = "Alarm"
# Ours, not CloudWatch's: an action held back by a maintenance window (`whispersync maintenance start`).
SUPPRESSED_BY_MAINTENANCE = "Maintenance"


# ---------------------------------------------------------------------- one evaluation


@dataclass(frozen=True)
class Decision:
    """What the datapoints of one evaluation range decide.

    ``state`` is None when the alarm keeps its current state (``ignore``).
    ``evaluated`` are (index in the range, value or None for a filled missing
    datapoint, breaching) for the N datapoints evaluated, oldest first.
    """

    state: str | None
    evaluated: tuple[tuple[int, float | None, bool], ...]
    breaching: int
    filled: int


def decide(values: Sequence[float | None], alarm: MetricAlarm, bands: Sequence[Band] | None = None) -> Decision:
    """Apply M out of N and ``treat_missing_data`` to one evaluation range (oldest first; None = missing).

    An anomaly detection alarm needs ``bands`` (one per value); a value without a band is missing.
    """
    n, m = alarm.evaluation_periods, alarm.m
    if alarm.threshold_metric_id is not None:
        if bands is None or len(bands) != len(values):
            raise ValueError("an anomaly detection alarm is decided against its band: give one per datapoint")
        band_test = BAND_COMPARISONS[alarm.comparison_operator][0]
        values = [v if bands[i] is not None else None for i, v in enumerate(values)]
        real = [(i, v, band_test(v, *bands[i])) for i, v in enumerate(values) if v is not None]  # type: ignore[misc]
    else:
        test = COMPARISONS[alarm.comparison_operator][0]
        threshold = float(alarm.threshold)  # type: ignore[arg-type]
        real = [(i, v, test(v, threshold)) for i, v in enumerate(values) if v is not None]
    if len(real) >= n:
        evaluated = tuple(real[-n:])
        breaching = sum(1 for *_, b in evaluated if b)
        return Decision(ALARM if breaching >= m else OK, evaluated, breaching, 0)
    # Too few real datapoints: all of them count, and missing ones fill up to N.
    fills = n - len(real)
    missing_idx = [i for i, v in enumerate(values) if v is None][-fills:] if fills else []
    real_breaching = sum(1 for *_, b in real if b)
    treat = alarm.treat_missing_data
    if treat in ("breaching", "notBreaching"):
        as_breaching = treat == "breaching"
        evaluated = tuple(sorted(real + [(i, None, as_breaching) for i in missing_idx]))
        breaching = real_breaching + (fills if as_breaching else 0)
        return Decision(ALARM if breaching >= m else OK, evaluated, breaching, fills)
    # missing / ignore: filled datapoints are not considered at all.
    if not real:
        return Decision(INSUFFICIENT_DATA if treat == "missing" else None, (), 0, fills)
    state = ALARM if real_breaching >= min(m, len(real)) else OK
    if treat == "ignore" and state == ALARM:
        # Missing data must not move an `ignore` alarm into ALARM: keep the state.
        state = None
    return Decision(state, tuple(real), real_breaching, fills)


def _fmt_value(v: float) -> str:
    return repr(float(v))


def _fmt_ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d/%m/%y %H:%M:%S")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def explain(decision: Decision, alarm: MetricAlarm, timestamps: Sequence[int], previous: str,
            at_ms: int, bands: Sequence[Band] | None = None) -> tuple[str, dict[str, Any]]:
    """CloudWatch-style reason and reason data for a decision that sets a state."""
    if alarm.threshold_metric_id is not None:
        return _explain_band(decision, alarm, timestamps, previous, at_ms, bands or [None] * len(timestamps))
    state = decision.state
    words = COMPARISONS[alarm.comparison_operator][1]
    threshold = float(alarm.threshold)  # type: ignore[arg-type]
    n = alarm.evaluation_periods
    real = [(i, v, b) for i, v, b in decision.evaluated if v is not None]
    evaluated_points = [
        {"timestamp": _iso(timestamps[i]), **({"value": v} if v is not None else {})}
        for i, v, _ in reversed(decision.evaluated)
    ]
    reason_data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _iso(at_ms),
        "startDate": _iso(timestamps[decision.evaluated[0][0]] if decision.evaluated else timestamps[0]),
        "period": alarm.period,
        "recentDatapoints": [v for _, v, _ in real],
        "threshold": threshold,
        "evaluatedDatapoints": evaluated_points,
    }
    if alarm.statistic and not alarm.metrics:
        key = "extendedStatistic" if alarm.statistic.startswith("p") else "statistic"
        reason_data[key] = alarm.statistic
    if alarm.unit:
        reason_data["unit"] = alarm.unit
    if state == INSUFFICIENT_DATA:
        count = len(timestamps)
        return f"Insufficient Data: {_plural(count, 'datapoint')} {'was' if count == 1 else 'were'} unknown.", reason_data
    breaching_wanted = state == ALARM
    treated = "Breaching" if alarm.treat_missing_data == "breaching" else "NonBreaching"
    if not real:
        reason = (f"Threshold Crossed: no datapoints were received for {_plural(decision.filled, 'period')} and "
                  f"{decision.filled} missing datapoint{'' if decision.filled == 1 else 's'} "
                  f"{'was' if decision.filled == 1 else 'were'} treated as [{treated}].")
        return reason, reason_data
    chosen = [(i, v) for i, v, b in reversed(real) if b == breaching_wanted]
    shown = ", ".join(f"{_fmt_value(v)} ({_fmt_ts(timestamps[i])})" for i, v in chosen)
    out_of = n if decision.filled == 0 or alarm.treat_missing_data in ("breaching", "notBreaching") else len(real)
    verb = "was" if len(chosen) == 1 else "were"
    negation = "" if breaching_wanted else "not "
    minimum = alarm.m if breaching_wanted else n - alarm.m + 1
    reason = (f"Threshold Crossed: {len(chosen)} out of the last {out_of} datapoints [{shown}] {verb} {negation}"
              f"{words} the threshold ({_fmt_value(threshold)}) (minimum {_plural(minimum, 'datapoint')} for "
              f"{previous} -> {state} transition).")
    if decision.filled and alarm.treat_missing_data in ("breaching", "notBreaching"):
        reason = reason[:-1] + (f" {decision.filled} missing datapoint{'' if decision.filled == 1 else 's'} "
                                f"{'was' if decision.filled == 1 else 'were'} treated as [{treated}].")
    return reason, reason_data


def outside_band(value: float, band: tuple[float, float]) -> float:
    """How far ``value`` is outside ``(upper, lower)``: positive above, negative below, 0 inside."""
    upper, lower = band
    return value - upper if value > upper else value - lower if value < lower else 0.0


def _explain_band(decision: Decision, alarm: MetricAlarm, timestamps: Sequence[int], previous: str,
                  at_ms: int, bands: Sequence[Band]) -> tuple[str, dict[str, Any]]:
    """The reason for an anomaly detection alarm. CloudWatch words it "Thresholds Crossed: 1 out of the
    last 1 datapoints [v (date)] was greater than the upper thresholds [u] (minimum ...)"; we add how far
    outside the band the most recent breaching value was, in the metric's units and in band widths."""
    state = decision.state
    real = [(i, v, b) for i, v, b in decision.evaluated if v is not None]
    reason_data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _iso(at_ms),
        "startDate": _iso(timestamps[decision.evaluated[0][0]] if decision.evaluated else timestamps[0]),
        "period": alarm.period,
        "recentDatapoints": [v for _, v, _ in real],
        "recentUpperThresholds": [bands[i][0] for i, _, _ in real],  # type: ignore[index]
        "recentLowerThresholds": [bands[i][1] for i, _, _ in real],  # type: ignore[index]
        "evaluatedDatapoints": [{"timestamp": _iso(timestamps[i]), **({"value": v} if v is not None else {})}
                                for i, v, _ in reversed(decision.evaluated)],
    }
    if state == INSUFFICIENT_DATA:
        count = len(timestamps)
        verb = "was" if count == 1 else "were"
        return f"Insufficient Data: {_plural(count, 'datapoint')} {verb} unknown.", reason_data
    if not real:
        treated = "Breaching" if alarm.treat_missing_data == "breaching" else "NonBreaching"
        return (f"Thresholds Crossed: no datapoints were received for {_plural(decision.filled, 'period')} and "
                f"{decision.filled} missing datapoint{'' if decision.filled == 1 else 's'} "
                f"{'was' if decision.filled == 1 else 'were'} treated as [{treated}]."), reason_data
    breaching_wanted = state == ALARM
    chosen = [(i, v) for i, v, b in reversed(real) if b == breaching_wanted]
    shown = ", ".join(f"{_fmt_value(v)} ({_fmt_ts(timestamps[i])})" for i, v in chosen)
    op = alarm.comparison_operator
    uppers = ", ".join(_fmt_value(bands[i][0]) for i, _ in chosen)  # type: ignore[index]
    lowers = ", ".join(_fmt_value(bands[i][1]) for i, _ in chosen)  # type: ignore[index]
    if op == "GreaterThanUpperThreshold":
        words = f"greater than the upper thresholds [{uppers}]"
    elif op == "LessThanLowerThreshold":
        words = f"less than the lower thresholds [{lowers}]"
    else:
        words = f"less than the lower thresholds [{lowers}] or greater than the upper thresholds [{uppers}]"
    n = alarm.evaluation_periods
    out_of = n if decision.filled == 0 or alarm.treat_missing_data in ("breaching", "notBreaching") else len(real)
    minimum = alarm.m if breaching_wanted else n - alarm.m + 1
    reason = (f"Thresholds Crossed: {len(chosen)} out of the last {out_of} datapoints [{shown}] "
              f"{'was' if len(chosen) == 1 else 'were'} {'' if breaching_wanted else 'not '}{words} "
              f"(minimum {_plural(minimum, 'datapoint')} for {previous} -> {state} transition).")
    outside = [(i, v, outside_band(v, bands[i])) for i, v, _ in reversed(real)  # type: ignore[arg-type]
               if outside_band(v, bands[i]) != 0]  # type: ignore[arg-type]
    if breaching_wanted and outside:
        i, v, distance = outside[0]
        upper, lower = bands[i]  # type: ignore[misc]
        width = upper - lower
        relative = f" ({abs(distance) / width:.2g} band widths)" if width > 0 else ""
        reason = reason[:-1] + (f"; {_fmt_value(v)} was {abs(distance):.6g} {'above' if distance > 0 else 'below'}"
                                f" the band [{_fmt_value(lower)}, {_fmt_value(upper)}]{relative}.")
        reason_data["outsideBand"] = {"timestamp": _iso(timestamps[i]), "value": v, "upper": upper,
                                      "lower": lower, "distance": distance}
    return reason, reason_data


def evaluation_window(alarm: MetricAlarm, at_ms: int) -> tuple[int, int, int]:
    """(start_ms, end_ms, periods) of the evaluation range: N + 2 complete periods ending at or before ``at_ms``."""
    period_ms = alarm.period * 1000
    end = at_ms // period_ms * period_ms
    periods = alarm.evaluation_periods + 2
    return end - periods * period_ms, end, periods


# ---------------------------------------------------------------------- the engine


class Notifier(Protocol):
    def publish(self, topic: str, notification: Any) -> Any: ...


@dataclass
class EvaluationResult:
    name: str
    kind: str
    state: str
    previous: str
    changed: bool
    reason: str
    priority: str
    dry_run: bool = False  # what the state would be; nothing was stored and no action ran

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "state": self.state, "previous_state": self.previous,
                "changed": self.changed, "reason": self.reason, "priority": self.priority,
                "dry_run": self.dry_run}


class AlarmEngine:
    """Evaluates every alarm against the telemetry store and runs actions on state changes.

    ``definitions`` returns the current alarms (plan + plan file + stored ones);
    it is called once per cycle so ``alarms put`` takes effect without a restart.
    ``notifier.publish(topic, AlarmNotification)`` delivers topic actions;
    ``remediation`` runs ``remediation:NAME`` actions. A failing action is
    recorded in the history and never stops the cycle.
    """

    def __init__(self, store: TelemetryStore, alarm_store: Any, *, definitions: Callable[[], Sequence[Alarm]],
                 notifier: Notifier | None = None, remediation: Any = None, dashboard_url: str | None = None,
                 clock: Callable[[], float] = time.time, log: Any = None) -> None:
        self.store = store
        self.alarm_store = alarm_store
        self.definitions = definitions
        self.notifier = notifier
        self.remediation = remediation
        self.dashboard_url = dashboard_url
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()

    def alarms(self) -> dict[str, Alarm]:
        found = {a.name: a for a in self.definitions()}
        rules = {a.name: rule_of(a.rule).references for a in found.values() if isinstance(a, CompositeAlarm)}
        composite.check_cycles(rules)
        return found

    # -- one cycle

    def evaluate(self, at_ms: int | None = None, *, dry_run: bool | None = None) -> list[EvaluationResult]:
        """One evaluation cycle at ``at_ms`` (default now): metric alarms, then composites in dependency order.

        A dry run (``dry_run=True``) says what each state would be and changes nothing: no
        state, history or action. By default (None) a cycle is a dry run when ``at_ms`` is
        before an alarm's last state change: evaluating the past must not move states, and
        their "since" times, backwards.
        """
        at_ms = int(self._clock() * 1000) if at_ms is None else int(at_ms)
        with self._lock:
            alarms = self.alarms()
            states = self.alarm_store.states()
            if dry_run is None:
                dry_run = self.is_in_the_past(at_ms, states)
            metric_alarms = [a for a in alarms.values() if isinstance(a, MetricAlarm)]
            ranges = self._fetch(metric_alarms, at_ms)
            results: list[EvaluationResult] = []
            current = {name: s["state"] for name, s in states.items()}
            if not dry_run:
                self._ensure_detectors(metric_alarms, at_ms)
            for alarm in metric_alarms:
                timestamps, values, counts, bands = ranges[alarm.name]
                previous = current.get(alarm.name, INSUFFICIENT_DATA)
                kept = None
                if isinstance(values, Exception):
                    # A broken math expression: INSUFFICIENT_DATA with the error as reason.
                    decision_state = INSUFFICIENT_DATA
                    reason, data = f"Evaluation error: {values}", {"version": "1.0", "error": str(values)}
                else:
                    decision = decide(values, alarm, bands)
                    kept = _low_sample_reason(decision, alarm, timestamps, counts)
                    decision_state = decision.state if decision.state is not None and kept is None else previous
                    if decision_state != previous:
                        reason, data = explain(decision, alarm, timestamps, previous, at_ms, bands)
                    else:
                        reason, data = "", {}
                result = self._settle(alarm, previous, decision_state, reason, data, at_ms, states, dry_run, alarms)
                if kept is not None and not result.changed:
                    # No transition, so nothing is written to the history: the cycle's result says why.
                    result = replace(result, reason=kept)
                results.append(result)
                current[alarm.name] = decision_state
            for name in _composite_order(alarms):
                alarm = alarms[name]
                previous = current.get(name, INSUFFICIENT_DATA)
                value = rule_of(alarm.rule).evaluate(current)
                new = ALARM if value else OK
                reason, data = ("", {}) if new == previous else _composite_reason(alarm, current, states, new, at_ms)
                results.append(self._settle(alarm, previous, new, reason, data, at_ms, states, dry_run, alarms))
                current[name] = new
            if not dry_run:
                self._advance_suppressions(alarms, current, at_ms)
            return results

    def is_in_the_past(self, at_ms: int, states: Mapping[str, Mapping[str, Any]] | None = None) -> bool:
        """True when ``at_ms`` is before some alarm's last state change (an evaluation there is a dry run)."""
        states = self.alarm_store.states() if states is None else states
        return any(s["updated_ms"] is not None and at_ms < s["updated_ms"] for s in states.values())

    def _settle(self, alarm: Alarm, previous: str, new: str, reason: str, data: dict, at_ms: int,
                states: Mapping[str, Mapping[str, Any]], dry_run: bool = False,
                alarms: Mapping[str, Alarm] | None = None) -> EvaluationResult:
        known = alarm.name in states
        if new == previous and known:
            return EvaluationResult(alarm.name, alarm.kind, new, previous, False, states[alarm.name]["reason"],
                                    alarm.priority, dry_run)
        if dry_run:
            return EvaluationResult(alarm.name, alarm.kind, new, previous, new != previous,
                                    reason or "Unchecked: Initial alarm creation", alarm.priority, True)
        if new == previous:
            # First evaluation confirms the initial INSUFFICIENT_DATA; record it without actions.
            reason = reason or "Unchecked: Initial alarm creation"
            self.alarm_store.set_state(alarm.name, new, reason, data, at_ms, previous=None)
            return EvaluationResult(alarm.name, alarm.kind, new, previous, False, reason, alarm.priority)
        self.transition(alarm, previous, new, reason, data, at_ms, alarms=alarms)
        return EvaluationResult(alarm.name, alarm.kind, new, previous, True, reason, alarm.priority)

    def transition(self, alarm: Alarm, previous: str, new: str, reason: str, data: Mapping[str, Any],
                   at_ms: int, *, alarms: Mapping[str, Alarm] | None = None) -> None:
        """Record a state change and run the actions for the new state, unless an actions suppressor holds them.

        ``alarms`` (default: the current definitions) finds the composites this alarm suppresses.
        """
        self.alarm_store.set_state(alarm.name, new, reason, dict(data), at_ms, previous=previous)
        if self._log is not None:  # `up` shows it as it happens
            self._log.warning("Alarm state changed", alarm=alarm.name, previous_state=previous, new_state=new,
                              reason=reason, priority=alarm.priority)
        self._suppressor_changed(alarm.name, previous, new, at_ms, alarms)
        if isinstance(alarm, CompositeAlarm) and self._suppress(alarm, previous, new, at_ms):
            return
        if not alarm.actions_enabled:
            return
        for action in _actions_for(alarm, new):
            self._run_action(action, alarm, previous, new, reason, data, at_ms)

    # -- action suppression (composite alarms with an actions suppressor; see the module docstring)

    def _suppress(self, alarm: CompositeAlarm, previous: str, new: str, at_ms: int) -> bool:
        """Hold back the actions of the composite's change ``previous`` -> ``new``; False when they run now.

        Any pending suppression is replaced: its actions are dropped (examples 3 and 6).
        """
        pending = self.alarm_store.suppressions().get(alarm.name)
        suppressor = alarm.actions_suppressor
        if suppressor is None or not alarm.actions_enabled:
            if pending is not None:
                self.alarm_store.clear_suppression(alarm.name)
            return False
        if self.alarm_store.states().get(suppressor, {}).get("state") == ALARM:
            by, until = SUPPRESSED_BY_ALARM, None
        elif alarm.actions_suppressor_wait_period:
            by, until = SUPPRESSED_BY_WAIT_PERIOD, at_ms + alarm.actions_suppressor_wait_period * 1000
        else:  # a WaitPeriod of 0 s ends at once
            if pending is not None:
                self.alarm_store.clear_suppression(alarm.name)
            return False
        reason = _suppressed_reason(alarm, by, until)
        self.alarm_store.set_suppression(alarm.name, suppressor=suppressor, suppressed_by=by, reason=reason,
                                         previous=previous, state=new, since_ms=at_ms, until_ms=until)
        for action in _actions_for(alarm, new):
            # Written down so that `alarms history` says why nothing was sent.
            kind, target = parse_action(action)
            outcome = {"action": action, "kind": kind, "target": target, "suppressed": True,
                       "actions_suppressed_by": by, "actions_suppressed_reason": reason}
            summary = f"Did not execute action {action} ({previous} -> {new}): {reason}"
            self.alarm_store.add_history(alarm.name, "Action", summary, outcome, at_ms)
        return True

    def _suppressor_changed(self, name: str, previous: str, new: str, at_ms: int,
                            alarms: Mapping[str, Alarm] | None) -> None:
        """Alarm ``name`` went into or out of ALARM: move on the suppressions of the composites it suppresses."""
        if (previous == ALARM) == (new == ALARM):
            return
        pending = self.alarm_store.suppressions()
        if not pending:
            return
        alarms = self.alarms() if alarms is None else alarms
        for composite_name, record in pending.items():
            alarm = alarms.get(composite_name)
            if isinstance(alarm, CompositeAlarm) and alarm.actions_suppressor == name:
                self._advance(alarm, record, new, at_ms)

    def _advance_suppressions(self, alarms: Mapping[str, Alarm], current: Mapping[str, str], at_ms: int) -> None:
        """End of a cycle: run the actions whose period has ended, and catch up with changed definitions."""
        for name, record in self.alarm_store.suppressions().items():
            alarm = alarms.get(name)
            suppressor = alarm.actions_suppressor if isinstance(alarm, CompositeAlarm) else None
            self._advance(alarm, record, current.get(suppressor) if suppressor else None, at_ms)

    def _advance(self, alarm: Alarm | None, record: Mapping[str, Any], suppressor_state: str | None,
                 at_ms: int) -> None:
        """One pending suppression at ``at_ms``, its suppressor being in ``suppressor_state``."""
        name = record["name"]
        if not isinstance(alarm, CompositeAlarm) or not alarm.actions_enabled:
            self.alarm_store.clear_suppression(name)  # the alarm is gone, or takes no actions any more
            return
        by, until = record["suppressed_by"], record["until_ms"]
        if alarm.actions_suppressor != record["suppressor"]:
            # Replaced: the pending period is discarded, the new suppressor decides now.
            if alarm.actions_suppressor is None or suppressor_state != ALARM:
                self._release(alarm, record, at_ms, "after its actions suppressor changed")
                return
        elif by == SUPPRESSED_BY_ALARM and suppressor_state != ALARM:
            by = SUPPRESSED_BY_EXTENSION_PERIOD
            until = at_ms + (alarm.actions_suppressor_extension_period or 0) * 1000
        if suppressor_state == ALARM:
            by, until = SUPPRESSED_BY_ALARM, None
        if until is not None and until <= at_ms:
            self._release(alarm, record, at_ms, f"after its {by} ended")
            return
        if (by, until, alarm.actions_suppressor) != (record["suppressed_by"], record["until_ms"], record["suppressor"]):
            self.alarm_store.set_suppression(name, suppressor=alarm.actions_suppressor, suppressed_by=by,
                                             reason=_suppressed_reason(alarm, by, until), previous=record["previous"],
                                             state=record["state"], since_ms=record["since_ms"], until_ms=until)

    def _release(self, alarm: CompositeAlarm, record: Mapping[str, Any], at_ms: int, note: str) -> None:
        """The suppression is over: take the actions of the composite's current state."""
        self.alarm_store.clear_suppression(alarm.name)
        current = self.alarm_store.states().get(alarm.name)
        if current is None:
            return
        new = current["state"]
        previous = record["previous"] if record["state"] == new else record["state"]
        for action in _actions_for(alarm, new):
            self._run_action(action, alarm, previous, new, current["reason"], current["reason_data"], at_ms,
                             note=note)

    def set_state(self, name: str, state: str, reason: str, reason_data: Mapping[str, Any] | None = None,
                  at_ms: int | None = None) -> None:
        """SetAlarmState: change the state now (with actions); the next evaluation may change it back."""
        if state not in STATES:
            raise AlarmError(f"state must be one of {', '.join(STATES)}, got {state!r}")
        if not isinstance(reason, str) or not reason.strip():
            raise AlarmError("reason is required")
        with self._lock:
            alarm = self.alarms().get(name)
            if alarm is None:
                raise KeyError(name)
            at_ms = int(self._clock() * 1000) if at_ms is None else at_ms
            previous = self.alarm_store.states().get(name, {}).get("state", INSUFFICIENT_DATA)
            if previous == state:
                self.alarm_store.set_state(name, state, reason, dict(reason_data or {}), at_ms, previous=None)
                return
            self.transition(alarm, previous, state, reason, dict(reason_data or {}), at_ms)

    # -- definitions and their states (what `alarms list`, `put`, `delete` show and change)

    def describe(self, state: str | None = None) -> list[dict[str, Any]]:
        """Every alarm with its current state, like DescribeAlarms; sorted by name."""
        alarms = self.alarms()
        stored = {a.name for a in self.alarm_store.definitions()}
        states = self.alarm_store.states()
        suppressions = self.alarm_store.suppressions()
        out = []
        for name in sorted(alarms):
            alarm = alarms[name]
            current = states.get(name, {"state": INSUFFICIENT_DATA, "reason": "Unchecked: Initial alarm creation",
                                        "reason_data": {}, "updated_ms": None})
            if state is not None and current["state"] != state:
                continue
            entry = {"name": name, "kind": alarm.kind, "priority": alarm.priority,
                     "state": current["state"], "reason": current["reason"],
                     "reason_data": current["reason_data"],
                     "updated_at": iso_utc(current["updated_ms"] / 1000) if current["updated_ms"] is not None
                     else None,
                     "source": "stored" if name in stored else "plan", "definition": alarm.to_dict()}
            if isinstance(alarm, CompositeAlarm):
                # DescribeAlarms' ActionsSuppressedBy (WaitPeriod, ExtensionPeriod, Alarm) and its reason.
                suppression = suppressions.get(name)
                entry["actions_suppressed_by"] = suppression["suppressed_by"] if suppression else None
                entry["actions_suppressed_reason"] = suppression["reason"] if suppression else None
            out.append(entry)
        return out

    def put(self, alarm: Alarm) -> bool:
        """Store ``alarm`` (PutMetricAlarm / PutCompositeAlarm); True when it replaced a stored one.

        A composite's rule must name existing alarms and must not close a cycle.
        """
        return self.put_all([alarm])[0]

    def put_all(self, alarms: Sequence[Alarm]) -> list[bool]:
        """Store every alarm of ``alarms`` or, on a ValueError, none; for each, True when it replaced one.

        The rules are checked against all of them at once (a composite may name an
        alarm later in the list), then they are stored in one transaction.
        """
        for alarm in alarms:
            check_alarm(alarm)
        merged = self.alarms()
        merged.update((alarm.name, alarm) for alarm in alarms)
        check_references(merged.values())
        replaced = self.alarm_store.put_all(alarms)
        self._ensure_detectors([a for a in alarms if isinstance(a, MetricAlarm)], int(self._clock() * 1000))
        return replaced

    def _ensure_detectors(self, alarms: Sequence[MetricAlarm], at_ms: int) -> None:
        """Create the detector of each anomaly detection alarm that has none, as CloudWatch does."""
        detectors = getattr(self.alarm_store, "detectors", None)
        if detectors is None:
            return
        for alarm in alarms:
            detector = detector_for_alarm(alarm) if alarm.threshold_metric_id else None
            if detector is not None:
                detectors.ensure(detector, now_ms=at_ms)

    def _band_settings(self, alarm: MetricAlarm, at_ms: int) -> dict[str, Any]:
        """``anomaly_settings`` for the alarm's band (see ``detector_settings``)."""
        target, detector = band_target(alarm), detector_for_alarm(alarm)
        if target is None or detector is None:
            return {}
        return {target: self.detector_settings(detector, at_ms)}

    def detector_settings(self, detector: Any, at_ms: int) -> Any:
        """A band's AnomalySettings: its detector's configuration (stored, else the default) with
        maintenance windows and remediation actions excluded as well."""
        detectors = getattr(self.alarm_store, "detectors", None)
        stored = detectors.get(detector) if detectors is not None else None
        entries: list[dict[str, Any]] = []
        path = getattr(self.alarm_store, "path", None)
        if path is not None:
            from whispersync.monitoring.remediation import RemediationAudit

            try:  # the remediation audit shares the monitoring database
                entries = RemediationAudit(path, read_only=True).entries(limit=1000)
            except sqlite3.Error:  # no audit log yet, or a locked one: fewer exclusions, not a failed alarm
                entries = []
        incidents = detectors.incidents() if detectors is not None else []
        extra = automatic_exclusions(getattr(self.alarm_store, "maintenance", None), entries, incidents,
                                     now_ms=at_ms)
        return (stored or detector).settings(extra, at_ms=at_ms)

    def delete(self, name: str) -> bool:
        """Delete a stored alarm; ValueError for one the plan declares; False when unknown."""
        stored = {a.name for a in self.alarm_store.definitions()}
        if name not in stored:
            if name in self.alarms():
                raise AlarmError(f"alarm {name!r} is declared in the monitoring plan; override or remove it in a"
                                 " plan file (--plan FILE) instead")
            return False
        users = users_of(name, self.alarms().values())
        if users:
            raise AlarmError(f"alarm {name!r} is used by composite alarm(s) {', '.join(users)} (in a rule or as "
                             "actions suppressor); change or delete those first")
        deleted = self.alarm_store.delete(name)
        # A plan alarm of the same name takes over again: it starts fresh.
        return deleted

    def history(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        if name not in self.alarms() and not self.alarm_store.history(name, limit=1):
            raise KeyError(name)
        """Newest first; `timestamp` in our ISO form (the `+0000` form stays inside CloudWatch's data)."""
        out = self.alarm_store.history(name, limit=limit)
        for item in out:
            item["timestamp"] = iso_utc(item.pop("timestamp_ms") / 1000)
        return out

    # -- actions

    def _run_action(self, action: str, alarm: Alarm, previous: str, new: str, reason: str,
                    data: Mapping[str, Any], at_ms: int, note: str = "") -> None:
        """Run one action and record the outcome; ``note`` says why it runs late (a suppression ended).

        Every action passes here, so a maintenance window is checked here: it holds back
        notifications and remediations alike, and says so in the history.
        """
        kind, target = parse_action(action)
        window = self.alarm_store.maintenance.active(at_ms)
        if window is not None:
            reason = f"maintenance window {window['id']} ({window['reason']}) is active until {window['ends_at']}"
            outcome = {"action": action, "kind": kind, "target": target, "suppressed": True,
                       "actions_suppressed_by": SUPPRESSED_BY_MAINTENANCE, "actions_suppressed_reason": reason,
                       "maintenance_window": window["id"]}
            self.alarm_store.add_history(alarm.name, "Action",
                                         f"Did not execute action {action} ({previous} -> {new}): {reason}",
                                         outcome, at_ms)
            return
        try:
            if kind == "remediation":
                if self.remediation is None:
                    raise RuntimeError("no remediation registry is configured")
                result = self.remediation.run(target, alarm=alarm.name, state=new, previous_state=previous,
                                              reason=reason, at_ms=at_ms)
                if self._log is not None:
                    self._log.info("Remediation ran", handler=target, alarm=alarm.name, new_state=new)
            else:
                if self.notifier is None:
                    raise RuntimeError("no notifier is configured")
                result = self.notifier.publish(target, self._notification(alarm, previous, new, reason, data, at_ms))
            outcome = {"action": action, "kind": kind, "target": target, "ok": True,
                       "result": result if isinstance(result, (dict, list, str, int, float, type(None))) else str(result)}
        except Exception as exc:  # noqa: BLE001 - one failing action must not stop the others
            outcome = {"action": action, "kind": kind, "target": target, "ok": False,
                       "error": f"{type(exc).__name__}: {exc}"}
            if self._log is not None:
                self._log.warning("Alarm action failed", alarm=alarm.name, action=action,
                                  error_type=type(exc).__name__)
        summary = (f"{'Successfully executed' if outcome['ok'] else 'Failed to execute'} action {action}"
                   f" ({previous} -> {new}){' ' + note if note else ''}")
        self.alarm_store.add_history(alarm.name, "Action", summary, outcome, at_ms)

    def _notification(self, alarm: Alarm, previous: str, new: str, reason: str, data: Mapping[str, Any],
                      at_ms: int) -> Any:
        from whispersync.monitoring.notify import AlarmNotification

        trigger = None
        if isinstance(alarm, MetricAlarm):
            trigger = {"Period": alarm.period, "EvaluationPeriods": alarm.evaluation_periods,
                       "DatapointsToAlarm": alarm.m, "ComparisonOperator": alarm.comparison_operator,
                       "TreatMissingData": alarm.treat_missing_data}
            if alarm.threshold_metric_id is not None:
                trigger["ThresholdMetricId"] = alarm.threshold_metric_id
            else:
                trigger["Threshold"] = float(alarm.threshold)  # type: ignore[arg-type]
            if not alarm.metrics:
                trigger.update(MetricName=alarm.metric_name, Namespace=alarm.namespace, Statistic=alarm.statistic,
                               Dimensions=[{"name": k, "value": v} for k, v in sorted(alarm.dimensions.items())])
        return AlarmNotification(
            alarm_name=alarm.name,
            description=alarm.description or None,
            priority=alarm.priority,
            old_state=previous,
            new_state=new,
            reason=reason,
            reason_data=dict(data),
            timestamp=at_ms / 1000,
            dashboard_url=self.dashboard_url,
            trigger=trigger,
        )

    # -- metric reads

    def _fetch(self, alarms: Sequence[MetricAlarm], at_ms: int) -> dict[str, tuple[list[int], Any, Any, Any]]:
        """Each alarm's evaluation range as (timestamps, values-or-None, sample counts, bands), with batched reads.

        Plain metric alarms are read in one ``TelemetryStore.grouped_statistics`` call, a
        group per (period, statistic, unit) over the union of their metrics; math alarms
        run their own GetMetricData. Sample counts (per timestamp, None when missing) are
        read, in the same call, only for percentile alarms with
        ``evaluate_low_sample_count_percentile = "ignore"``; otherwise they are None. Bands
        ((upper, lower) or None per timestamp) only for anomaly detection alarms.
        """
        out: dict[str, tuple[list[int], Any, Any, Any]] = {}
        groups: dict[tuple[int, str, str | None], list[MetricAlarm]] = {}
        for alarm in alarms:
            if alarm.metrics:
                continue
            groups.setdefault((alarm.period, alarm.statistic or "Sum", alarm.unit), []).append(alarm)
        if groups:
            self.store.flush()
            kinds = list(groups)
            windows = [[evaluation_window(a, at_ms) for a in groups[kind]] for kind in kinds]
            requests = [
                StatisticGroup(frozenset(_metric_key(a) for a in groups[kind]), statistic=kind[1], period=kind[0],
                               start_ms=min(s for s, _, _ in spans), end_ms=spans[0][1], unit=kind[2])
                for kind, spans in zip(kinds, windows)
            ]
            # The SampleCount of the same buckets, for the alarms that ignore low sample counts.
            counted = [i for i, kind in enumerate(kinds)
                       if any(_low_sample_minimum(a) is not None for a in groups[kind])]
            requests += [replace(requests[i], statistic="SampleCount") for i in counted]
            found = self.store.grouped_statistics(requests, units=False)
            counts_found = dict(zip(counted, found[len(kinds):]))
            for index, (kind, spans, by_key) in enumerate(zip(kinds, windows, found)):
                period_ms = kind[0] * 1000
                points_of = {key: {bucket: value for bucket, value, _ in rows} for key, rows in by_key.items()}
                counts_of = {key: {bucket: value for bucket, value, _ in rows}
                             for key, rows in counts_found.get(index, {}).items()}
                for alarm, (a_start, _, periods) in zip(groups[kind], spans):
                    points = points_of.get(_metric_key(alarm), {})
                    timestamps = [a_start + k * period_ms for k in range(periods)]
                    counts = None
                    if index in counts_found:
                        by_bucket = counts_of.get(_metric_key(alarm), {})
                        counts = [by_bucket.get(t) for t in timestamps]
                    out[alarm.name] = (timestamps, [points.get(t) for t in timestamps], counts, None)
        for alarm in alarms:
            if not alarm.metrics:
                continue
            start, end, periods = evaluation_window(alarm, at_ms)
            timestamps = [start + k * alarm.period * 1000 for k in range(periods)]
            try:
                band_id = alarm.threshold_metric_id
                settings = self._band_settings(alarm, at_ms) if band_id else None
                results = get_metric_data(self.store, alarm.metrics, start_ms=start, end_ms=end, now_ms=at_ms,
                                          anomaly_settings=settings)
                band = [r for r in results if r.id == band_id]
                results = [r for r in results if r.id != band_id]
                if len(results) != 1:
                    raise ValueError(f"the expression returned {len(results)} time series; an alarm needs one")
                points = dict(zip(results[0].timestamps, results[0].values))
                bands = None
                if band_id:
                    if len(band) != 2:
                        raise ValueError(f"{band_id} must be ANOMALY_DETECTION_BAND(...): two series, got {len(band)}")
                    uppers, lowers = (dict(zip(r.timestamps, r.values)) for r in band)
                    bands = [(uppers[t], lowers[t]) if t in uppers and t in lowers else None for t in timestamps]
                out[alarm.name] = (timestamps, [_finite(points.get(t)) for t in timestamps], None, bands)
            except (MetricQueryError, ValueError) as exc:  # the expression's fault, or ours just above
                out[alarm.name] = (timestamps, exc, None, None)
        return out


def _low_sample_minimum(alarm: MetricAlarm) -> Fraction | None:
    """The fewest samples a period needs before a percentile alarm with ``ignore`` evaluates it.

    "Percentile-based alarms and low data samples" (CloudWatch User Guide,
    percentiles-with-low-samples.html): "For percentiles between 0.5 (inclusive) and
    1.00 (exclusive), this setting is used when there are fewer than 10/(1-percentile)
    data points during the evaluation period [...] For percentiles between 0 and 0.5
    (exclusive), the setting is used when there are fewer than 10/percentile data
    points." None when the setting does not apply (not ``ignore``, not a percentile,
    or p0/p100, which the docs leave out). Exact fractions: 10/(1-0.9) is 100, not
    100.00000000000001.
    """
    if alarm.evaluate_low_sample_count_percentile != "ignore" or alarm.metrics or not alarm.statistic:
        return None
    kind, _, upper = MetricStat.parse_statistic(alarm.statistic)
    if kind != "p":
        return None
    p = Fraction(str(upper[0])) / 100
    if not 0 < p < 1:
        return None
    return 10 / (1 - p) if p >= Fraction(1, 2) else 10 / p


def _low_sample_reason(decision: Decision, alarm: MetricAlarm, timestamps: Sequence[int],
                       counts: Sequence[float | None] | None) -> str | None:
    """Why the alarm keeps its state, when an evaluated datapoint has too few samples; else None.

    With ``ignore`` "the alarm state does not change during periods with too few data
    points to be statistically significant" (PutMetricAlarm, EvaluateLowSampleCountPercentile).
    """
    minimum = _low_sample_minimum(alarm)
    if minimum is None or counts is None:
        return None
    for i, value, _ in decision.evaluated:
        count = counts[i]
        if value is not None and count is not None and count < minimum:
            return (f"Low sample count: {_plural(int(count), 'sample')} at {_fmt_ts(timestamps[i])}, fewer than "
                    f"the {math.ceil(minimum)} that {alarm.statistic} needs; the alarm keeps its state "
                    f"(EvaluateLowSampleCountPercentile: ignore).")
    return None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def parse_action(action: str) -> tuple[str, str]:
    """``topic:NAME``, an SNS topic ARN, or a bare NAME → ("topic", NAME); ``remediation:NAME`` → ("remediation", NAME)."""
    if action.startswith("remediation:"):
        return "remediation", action.split(":", 1)[1]
    if action.startswith("topic:"):
        return "topic", action.split(":", 1)[1]
    if action.startswith("arn:") and ":sns:" in action:
        return "topic", action.rsplit(":", 1)[1]
    return "topic", action


def _metric_key(alarm: MetricAlarm) -> MetricKey:
    return metric_key(alarm.namespace, alarm.metric_name, alarm.dimensions)


def _composite_order(alarms: Mapping[str, Alarm]) -> list[str]:
    """Composite alarms, children before parents (cycles were refused already)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        alarm = alarms[name]
        depends_on = set(rule_of(alarm.rule).references)  # type: ignore[union-attr]
        if alarm.actions_suppressor is not None:  # type: ignore[union-attr]
            # A composite suppressor first, so its state of this cycle decides (a suppression
            # refers to no rule, so it may close a loop; `seen` then keeps the first order).
            depends_on.add(alarm.actions_suppressor)  # type: ignore[union-attr]
        for ref in sorted(depends_on):
            if isinstance(alarms.get(ref), CompositeAlarm):
                visit(ref)
        order.append(name)

    for name in sorted(alarms):
        if isinstance(alarms[name], CompositeAlarm):
            visit(name)
    return order


def _actions_for(alarm: Alarm, state: str) -> tuple[str, ...]:
    return {ALARM: alarm.alarm_actions, OK: alarm.ok_actions, INSUFFICIENT_DATA: alarm.insufficient_data_actions}[state]


def _suppressed_reason(alarm: CompositeAlarm, by: str, until_ms: int | None) -> str:
    """ActionsSuppressedReason; CloudWatch's own begins "Actions suppressed by WaitPeriod"."""
    suppressor = alarm.actions_suppressor
    if by == SUPPRESSED_BY_ALARM:
        return f"Actions suppressed by Alarm: actions suppressor {suppressor} is in ALARM"
    until = iso_utc((until_ms or 0) / 1000)
    if by == SUPPRESSED_BY_WAIT_PERIOD:
        return (f"Actions suppressed by WaitPeriod: waiting {alarm.actions_suppressor_wait_period} s, until {until},"
                f" for actions suppressor {suppressor} to go into ALARM")
    return (f"Actions suppressed by ExtensionPeriod: actions suppressor {suppressor} left ALARM; waiting"
            f" {alarm.actions_suppressor_extension_period} s more, until {until}")


def _composite_reason(alarm: CompositeAlarm, current: Mapping[str, str],
                      states: Mapping[str, Mapping[str, Any]], new: str, at_ms: int) -> tuple[str, dict[str, Any]]:
    triggering = []
    for wanted, name in rule_of(alarm.rule).terms():
        state = current.get(name, INSUFFICIENT_DATA)
        if state == wanted:
            since = states.get(name, {}).get("updated_ms", at_ms)
            triggering.append({"alarm": name, "state": {"value": state, "timestamp": _iso(int(since))}})
    if new == ALARM:
        names = ", ".join(f"{t['alarm']} is {t['state']['value']}" for t in triggering) or "the rule is TRUE"
        reason = f"The alarm rule {alarm.rule} evaluated to TRUE: {names}."
    else:
        reason = f"The alarm rule {alarm.rule} evaluated to FALSE."
    return reason, {"version": "1.0", "queryDate": _iso(at_ms), "rule": alarm.rule, "triggeringAlarms": triggering}
