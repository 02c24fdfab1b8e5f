"""Remediation handlers, looked up by name from an alarm action ``remediation:NAME``.

    registry = RemediationRegistry()
    registry.register("scale_up", lambda request: {"concurrency": 100})
    registry.run("scale_up", alarm="HighQueueDepth", state="ALARM", ...)   # -> the handler's result
    registry.calls   # every call, with its outcome

The plan's §8 rule ("queue depth > 1000 for 2 periods → scale workers up to
MAX_CONCURRENCY") is the ``HighQueueDepth`` alarm with the action
``remediation:scale_up``. The default ``scale_up`` handler only records that it
was asked; `up` replaces it with a PoolScaler's ``handle`` (app.py binds the scaler
to the worker pool: monitoring may not import pipeline), which sets a bounded target,
scales back down after a stabilization window, and obeys a cooldown, an hourly cap
(then it escalates at P1) and a dry-run switch. Every decision it makes goes into
the append-only RemediationAudit in the monitoring database.

The second rule is the DLQMessages alarm's ``remediation:redrive_transient``: a
TransientRedriver (its RedriveRule, off by default) moves the dead-lettered memos whose
failure was transient back to the queue, each at most once automatically; app.py binds
it to the dead-letter queue (pipeline/dead_letters.py's ``redrive_transient``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import orjson

from whispersync import catalog, sqlite_db
from whispersync.domain import iso_utc
from whispersync.plan import TOPICS, Alarm, Plan, RedriveRule, RemediationRule

__all__ = ["PoolScaler", "RemediationAudit", "RemediationRegistry", "RemediationRequest", "ResizablePool",
           "TransientRedriver", "default_registry", "redrive_rule", "scale_up_rule", "with_rule_action"]


@dataclass(frozen=True)
class RemediationRequest:
    """What a handler is told: which alarm changed to which state, and why."""

    handler: str
    alarm: str
    state: str
    previous_state: str
    reason: str
    at_ms: int


Handler = Callable[[RemediationRequest], Any]


class RemediationRegistry:
    """Handlers by name; ``run`` calls one and keeps a record of the call (the last ``keep``)."""

    def __init__(self, *, keep: int = 1000) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._keep = keep
        self.calls: list[dict[str, Any]] = []

    def register(self, name: str, handler: Handler) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a remediation handler needs a non-empty name")
        if not callable(handler):
            raise TypeError(f"remediation handler {name!r} is not callable")
        with self._lock:
            self._handlers[name] = handler

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def run(self, name: str, *, alarm: str, state: str, previous_state: str, reason: str, at_ms: int) -> Any:
        """Call handler ``name``; raise KeyError when none is registered. The call is recorded either way."""
        handler = self._handlers.get(name)
        request = RemediationRequest(name, alarm, state, previous_state, reason, at_ms)
        record: dict[str, Any] = {**asdict(request), "called_at": time.time()}
        try:
            if handler is None:
                registered = ", ".join(self.names()) or "none"
                raise KeyError(f"no remediation handler named {name!r}; registered: {registered}")
            result = handler(request)
            record.update(ok=True, result=result)
            return result
        except Exception as exc:
            record.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            with self._lock:
                self.calls.append(record)
                del self.calls[:-self._keep]


def _record_only_scale_up(request: RemediationRequest) -> dict[str, Any]:
    # The actual scale-up (raise the worker pool to MAX_CONCURRENCY) comes with a
    # later issue; until then the call itself, recorded in the alarm history, is the effect.
    return {"scaled": False, "note": "scale-up not implemented yet; call recorded",
            "alarm": request.alarm, "state": request.state}


def _unbound_redrive(request: RemediationRequest) -> dict[str, Any]:
    # Outside `up` no dead-letter queue is bound: say so instead of failing the alarm action.
    return {"result": "unbound", "note": "automatic redrive runs in `whispersync up`", "alarm": request.alarm}


def default_registry() -> RemediationRegistry:
    """A registry with the plan's handlers: ``scale_up`` and ``redrive_transient`` (`up` binds both)."""
    registry = RemediationRegistry()
    registry.register("scale_up", _record_only_scale_up)
    registry.register("redrive_transient", _unbound_redrive)
    return registry


# ---------------------------------------------------------------------- scaling the worker pool

SCALE_UP_ACTION = "remediation:scale_up"
DEFAULT_SCALE_UP_ALARM = "HighQueueDepth"
# What the cooldown is keyed on besides the action: the one resource this scaler acts on.
POOL = "worker-pool"
# Results, as the audit log and the RemediationExecuted metric's Result dimension name them.
EXECUTED, DRY_RUN, SUPPRESSED, ESCALATED, RATE_LIMITED, NOOP, FAILED, DISABLED = (
    "executed", "dry_run", "suppressed", "escalated", "rate_limited", "noop", "failed", "disabled")
# What a periodic look records only when it happens: a repeat that held back is no news every minute.
_QUIET_RESULTS = (NOOP, SUPPRESSED, RATE_LIMITED)


class ResizablePool(Protocol):
    """The port the scaler drives; app.py binds it to the worker pool (``WorkerPool``)."""

    concurrency: int

    def resize(self, concurrency: int) -> int: ...


def scale_up_rule(plan: Plan) -> RemediationRule:
    """The plan's rule for ``remediation:scale_up``; RemediationRule's defaults on HighQueueDepth without one."""
    for rule in plan.remediation:
        if rule.action == SCALE_UP_ACTION:
            return rule
    return RemediationRule(name="scale_up", alarm=DEFAULT_SCALE_UP_ALARM, action=SCALE_UP_ACTION)


class PoolScaler:
    """Sets the worker pool's size from one alarm, under the guards of its RemediationRule.

    * ``handle`` is the ``scale_up`` handler: on ALARM the target is double the
      current size (at least one more), capped at ``rule.maximum`` (a target, not an
      increment: a repeated call cannot overshoot).
    * ``tick`` runs periodically (app.py schedules it) and reads the alarm's state. While it
      is ALARM (and no maintenance window holds actions), tick asks for the scale-up again, under the same
      guards: a backlog that
      persists doubles the pool again after each cooldown, up to the maximum. A CloudWatch
      alarm action runs once per state change ("Except for Auto Scaling actions, the actions
      happen only on state transitions, and are not performed again if the condition
      persists", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html),
      so the seed's scale-up would run once; EC2 Auto Scaling is the exception we follow: "an
      alarm invokes an Auto Scaling action once each minute when the alarm remains in a new
      state" (https://repost.aws/knowledge-center/autoscaling-policy-cloudwatch-alarm). A repeat
      that is held back (cooldown, at the maximum, over the hourly cap) is not recorded each time.
      When OK, tick recommends the ``baseline``. It scales down only to the HIGHEST
      recommendation made within the last ``rule.stabilization_seconds``, as the
      Kubernetes HPA's scale-down stabilization window does ("the highest recommendation
      within the window is used", default 300 s:
      https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window,
      and KEP 853's algorithm). A flapping alarm therefore never shrinks the pool early.
    * A change of the same action on the pool within ``rule.cooldown_seconds`` of the
      last one is suppressed (so an alarm flapping inside the cooldown yields one action).
    * After ``rule.max_actions_per_hour`` actions in a rolling hour it stops acting and
      publishes one P1 notification (as an alarm action would, through the notifier),
      then records further attempts as rate_limited until the hour has room again.
    * ``rule.dry_run`` decides and records everything but never resizes.

    Every decision that would change the size (and every alarm call) is appended to
    ``audit`` and counted as ``WhisperSync/Health RemediationExecuted`` by Action and Result.
    """

    def __init__(self, rule: RemediationRule, pool: ResizablePool, *, baseline: int,
                 alarm_states: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
                 audit: RemediationAudit | None = None, notifier: Any = None, metrics: Any = None,
                 clock: Callable[[], float] = time.time, log: Any = None,
                 in_maintenance: Callable[[], bool] | None = None) -> None:
        self.rule = rule
        self.pool = pool
        self._in_maintenance = in_maintenance or (lambda: False)
        self.baseline = min(max(baseline, rule.minimum), rule.maximum)
        self._alarm_states = alarm_states
        self.audit = audit
        self._notifier = notifier
        self._metrics = metrics
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()
        self._recommendations: deque[tuple[float, int]] = deque()
        self._last_action: dict[tuple[str, str], float] = {}
        self._actions: deque[float] = deque()   # when each counted action ran, for the hourly cap
        self._escalated_at: float | None = None
        # In a dry run the pool keeps its size; the scaler goes on as if it had changed.
        self._size = pool.concurrency

    @property
    def size(self) -> int:
        """The size the scaler has set (in a dry run: the size it would have set)."""
        return self._size if self.rule.dry_run else self.pool.concurrency

    def handle(self, request: RemediationRequest) -> dict[str, Any]:
        """The ``scale_up`` handler: on ALARM raise the target; any other state is a recommendation only."""
        with self._lock:
            now = self._clock()
            if request.state != "ALARM":
                self._recommend(now, self.baseline if request.state == "OK" else self.size)
                return {"result": NOOP, "reason": f"scale_up acts on ALARM, not {request.state}"}
            before = self.size
            target = min(max(before * 2, before + 1, self.rule.minimum), self.rule.maximum)
            self._recommend(now, target)
            return self._act("scale_up", before, target, now, alarm=request.alarm, state=request.state,
                             reason=request.reason, metrics=self._trigger_values(request.alarm))

    def _trigger_values(self, alarm: str) -> Any:
        # The engine stores the new state (with its reason data) before it runs the actions.
        if self._alarm_states is None:
            return None
        return _datapoints((self._alarm_states().get(alarm) or {}).get("reason_data"))

    def tick(self) -> dict[str, Any] | None:
        """One periodic look at the alarm; the audit entry when it acted (or tried to), else None."""
        current = (self._alarm_states() if self._alarm_states else {}).get(self.rule.alarm) or {}
        state, reason = current.get("state") or "INSUFFICIENT_DATA", current.get("reason") or ""
        if state == "ALARM":
            # A maintenance window holds the alarm's actions; the repeat is one, so it waits too.
            return None if self._in_maintenance() else self._scale_up_again(reason, current.get("reason_data"))
        return self.observe(state, reason, current.get("reason_data"))

    def _scale_up_again(self, reason: str, reason_data: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The alarm still holds: the scale-up decision once more, as Auto Scaling repeats its policy."""
        with self._lock:
            now = self._clock()
            before = self.size
            target = min(max(before * 2, before + 1, self.rule.minimum), self.rule.maximum)
            self._recommend(now, target)
            return self._act("scale_up", before, target, now, alarm=self.rule.alarm, state="ALARM",
                             reason=reason, metrics=_datapoints(reason_data), quiet=True)

    def observe(self, state: str, reason: str = "", reason_data: Mapping[str, Any] | None = None
                ) -> dict[str, Any] | None:
        """Record this moment's recommendation and scale down when the window allows."""
        with self._lock:
            now = self._clock()
            before = self.size
            # OK recommends the baseline; ALARM or no data holds the current size.
            self._recommend(now, self.baseline if state == "OK" else before)
            desired = max(n for _, n in self._recommendations)
            if desired >= before:
                return None
            return self._act("scale_down", before, desired, now, alarm=self.rule.alarm, state=state, reason=reason,
                             metrics=_datapoints(reason_data))

    # -- the guards, in order

    def _recommend(self, now: float, value: int) -> None:
        self._recommendations.append((now, min(max(value, self.rule.minimum), self.rule.maximum)))
        while self._recommendations and self._recommendations[0][0] < now - self.rule.stabilization_seconds:
            self._recommendations.popleft()

    def _act(self, action: str, before: int, after: int, now: float, *, alarm: str, state: str, reason: str,
             metrics: Any, quiet: bool = False) -> dict[str, Any] | None:
        """Apply the guards and act; the audit entry. ``quiet``: a decision that did nothing is not recorded (None)."""
        entry = {"at_ms": int(now * 1000), "rule": self.rule.name, "action": action, "alarm": alarm,
                 "state": state, "state_reason": reason, "metrics": metrics, "before": before, "after": before,
                 "target": after, "correlation_id": uuid.uuid4().hex, "detail": ""}
        while self._actions and self._actions[0] <= now - 3600:
            self._actions.popleft()
        last = self._last_action.get((action, POOL))
        if after == before:
            entry.update(result=NOOP, detail=f"already at {before} (bounds {self.rule.minimum}..{self.rule.maximum})")
        elif last is not None and now - last < self.rule.cooldown_seconds:
            entry.update(result=SUPPRESSED, detail=f"cooldown: {action} ran {now - last:.0f} s ago"
                                                   f" (< {self.rule.cooldown_seconds} s)")
        elif len(self._actions) >= self.rule.max_actions_per_hour:
            if self._escalated_at is None or now - self._escalated_at >= 3600:
                self._escalated_at = now
                entry.update(result=ESCALATED, detail=self._escalate(entry))
            else:
                entry.update(result=RATE_LIMITED, detail=f"{len(self._actions)} actions in the last hour"
                                                         f" (max {self.rule.max_actions_per_hour}); escalated")
        else:
            self._last_action[(action, POOL)] = now
            self._actions.append(now)
            if self.rule.dry_run:
                self._size = after
                entry.update(result=DRY_RUN, detail=f"would resize {before} -> {after}")
            else:
                try:
                    self.pool.resize(after)
                    entry.update(result=EXECUTED, after=after)
                except Exception as exc:  # noqa: BLE001 - recorded; the alarm engine goes on
                    entry.update(result=FAILED, detail=f"{type(exc).__name__}: {exc}")
        if quiet and entry["result"] in _QUIET_RESULTS:
            return None
        self._record(entry)
        return entry

    def _escalate(self, entry: Mapping[str, Any]) -> str:
        from whispersync.monitoring.notify import AlarmNotification

        text = (f"Remediation {self.rule.name} stopped acting: {len(self._actions)} actions in the last hour"
                f" (max_actions_per_hour {self.rule.max_actions_per_hour}); it wanted {entry['action']}"
                f" {entry['before']} -> {entry['target']} for alarm {entry['alarm']}. A person must look.")
        if self._notifier is None:
            return text + " (no notifier configured)"
        notification = AlarmNotification(
            alarm_name=f"Remediation-{self.rule.name}", description=text, priority="P1", old_state="OK",
            new_state="ALARM", reason=text, reason_data={"remediation": dict(entry)}, timestamp=entry["at_ms"] / 1000)
        try:
            self._notifier.publish(TOPICS["P1"], notification)
        except Exception as exc:  # noqa: BLE001 - the escalation failing is recorded, not raised
            return f"{text} (escalation failed: {type(exc).__name__}: {exc})"
        return text

    def _record(self, entry: dict[str, Any]) -> None:
        _record(entry, audit=self.audit, metrics=self._metrics, log=self._log)


# ---------------------------------------------------------------------- redriving transient failures

REDRIVE_ACTION = "redrive"  # the audit's action and RemediationExecuted's Action dimension


def redrive_rule(plan: Plan) -> RedriveRule:
    """The plan's rule for ``remediation:redrive_transient`` (an enabled one first); off on DLQMessages without one."""
    rules = sorted((r for r in plan.redrive_rules if r.action == "remediation:redrive_transient"),
                   key=lambda r: not r.enabled)
    return rules[0] if rules else RedriveRule(name="redrive_transient", alarm="DLQMessages")


def with_rule_action(alarms: Sequence[Alarm], rule: RedriveRule) -> list[Alarm]:
    """``alarms`` with an enabled rule's action added to its alarm's ALARM actions: a disabled rule leaves
    the alarm as the plan wrote it, so its actions only tell people."""
    if not rule.enabled:
        return list(alarms)
    return [replace(a, alarm_actions=(rule.action, *a.alarm_actions))
            if a.name == rule.alarm and rule.action not in a.alarm_actions else a for a in alarms]


class TransientRedriver:
    """Moves dead-lettered memos whose failure was transient back to the queue, under its RedriveRule.

    ``redrive(limit)`` does the moving (app.py binds pipeline/dead_letters.py's ``redrive_transient``:
    monitoring may not import pipeline) and returns its ``AutoRedriven.to_dict()``: the memos moved, and
    those left as ``permanent``, ``already_redriven`` (at most once per memo) or ``over_limit``.

    * ``handle`` is the ``redrive_transient`` handler, run by the alarm's action on entering ALARM
      (``with_rule_action`` adds the action to the alarm when the rule is enabled). With the rule
      disabled it moves nothing and records nothing (result ``disabled``).
    * ``tick`` runs periodically: while the alarm stays in ALARM it redrives again. The alarm action
      fires only on a state change (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
      alarm-actions.html), and DLQMessages stays in ALARM while permanent failures sit in the DLQ, so
      without this a transient failure arriving later would wait for a person. Safe to repeat: a memo
      is moved automatically once, whatever calls. A tick that moves nothing records nothing; a
      maintenance window holds the tick as it holds the alarm's actions.
    * After a redrive that moved memos, the next waits ``rule.cooldown_seconds``.

    Every decision from the alarm action, and every redrive that moved memos or failed, is appended to
    ``audit`` (before/after: dead-lettered memos; target and memo_ids: the memos moved)
    and counted as RemediationExecuted with Action ``redrive``.
    """

    def __init__(self, rule: RedriveRule, redrive: Callable[[int], Mapping[str, Any]], *,
                 alarm_states: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
                 audit: RemediationAudit | None = None, metrics: Any = None,
                 clock: Callable[[], float] = time.time, log: Any = None,
                 in_maintenance: Callable[[], bool] | None = None) -> None:
        self.rule = rule
        self._redrive = redrive
        self._in_maintenance = in_maintenance or (lambda: False)
        self._alarm_states = alarm_states
        self.audit = audit
        self._metrics = metrics
        self._clock = clock
        self._log = log
        self._lock = threading.Lock()
        self._last_moved_at: float | None = None

    def handle(self, request: RemediationRequest) -> dict[str, Any]:
        if not self.rule.enabled:
            return {"result": DISABLED, "reason": f"redrive rule {self.rule.name} is disabled (enabled = false)"}
        if request.state != "ALARM":
            return {"result": NOOP, "reason": f"redrive acts on ALARM, not {request.state}"}
        return self._run(alarm=request.alarm, reason=request.reason, metrics=self._trigger_values(request.alarm),
                         quiet=False)

    def tick(self) -> dict[str, Any] | None:
        """One periodic look at the alarm; the audit entry when it redrove (or failed to), else None."""
        if not self.rule.enabled or self._alarm_states is None or self._in_maintenance():
            return None
        current = self._alarm_states().get(self.rule.alarm) or {}
        if current.get("state") != "ALARM":
            return None
        return self._run(alarm=self.rule.alarm, reason=current.get("reason") or "",
                         metrics=_datapoints(current.get("reason_data")), quiet=True)

    def _trigger_values(self, alarm: str) -> Any:
        if self._alarm_states is None:
            return None
        return _datapoints((self._alarm_states().get(alarm) or {}).get("reason_data"))

    def _run(self, *, alarm: str, reason: str, metrics: Any, quiet: bool) -> dict[str, Any] | None:
        with self._lock:
            now = self._clock()
            entry: dict[str, Any] = {
                "at_ms": int(now * 1000), "rule": self.rule.name, "action": REDRIVE_ACTION, "alarm": alarm,
                "state": "ALARM", "state_reason": reason, "metrics": metrics, "before": 0, "after": 0, "target": 0,
                "memo_ids": [], "correlation_id": uuid.uuid4().hex, "detail": ""}
            last = self._last_moved_at
            if last is not None and now - last < self.rule.cooldown_seconds:
                if quiet:
                    return None
                entry.update(result=SUPPRESSED, detail=f"cooldown: a redrive moved memos {now - last:.0f} s ago"
                                                       f" (< {self.rule.cooldown_seconds} s)")
                return self._record(entry)
            try:
                done = self._redrive(self.rule.max_per_run)
            except Exception as exc:  # noqa: BLE001 - recorded; the alarm engine goes on
                entry.update(result=FAILED, detail=f"{type(exc).__name__}: {exc}")
                return self._record(entry)
            moved = list(done.get("memo_ids") or [])
            left = {key: list(done.get(key) or []) for key in ("permanent", "already_redriven", "over_limit")}
            entry.update(before=len(moved) + sum(map(len, left.values())), target=len(moved), memo_ids=moved)
            entry["after"] = entry["before"] - len(moved)
            detail = (f"left {len(left['permanent'])} permanent, {len(left['already_redriven'])} already redriven"
                      f" once, {len(left['over_limit'])} over max_per_run {self.rule.max_per_run}")
            if moved:
                self._last_moved_at = now
                entry.update(result=EXECUTED, detail=f"redrove {len(moved)} memo(s); {detail}")
            elif quiet:
                return None
            else:
                entry.update(result=NOOP, detail=f"no transient failure to redrive; {detail}")
            return self._record(entry)

    def _record(self, entry: dict[str, Any]) -> dict[str, Any]:
        _record(entry, audit=self.audit, metrics=self._metrics, log=self._log)
        return entry


def _record(entry: dict[str, Any], *, audit: RemediationAudit | None, metrics: Any, log: Any) -> None:
    """The audit entry, the RemediationExecuted point and the log line of one decision."""
    if audit is not None:
        try:
            entry["id"] = audit.append(entry)
        except sqlite3.Error as exc:
            if log is not None:
                log.warning("Remediation audit write failed", error_type=type(exc).__name__)
    if metrics is not None:
        metrics.record(catalog.REMEDIATION_EXECUTED, 1, {"Action": entry["action"], "Result": entry["result"]})
    if log is not None:
        log.info("Remediation", remediation_action=entry["action"], result=entry["result"],
                 before=entry["before"], after=entry["after"], alarm_name=entry["alarm"],
                 detail=entry["detail"], correlation_id=entry["correlation_id"])


def _datapoints(reason_data: Mapping[str, Any] | None) -> Any:
    """The metric values in an alarm's state reason data (CloudWatch's ``recentDatapoints``), when there."""
    if not reason_data:
        return None
    return reason_data.get("recentDatapoints")


# ---------------------------------------------------------------------- the audit log

_AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS remediation_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    rule TEXT NOT NULL,
    action TEXT NOT NULL,
    alarm TEXT NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT NOT NULL,
    metrics TEXT NOT NULL,
    before INTEGER NOT NULL,
    after INTEGER NOT NULL,
    target INTEGER NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    memo_ids TEXT NOT NULL DEFAULT '[]'
);
CREATE TRIGGER IF NOT EXISTS remediation_audit_no_update BEFORE UPDATE ON remediation_audit
BEGIN SELECT RAISE(ABORT, 'the remediation audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS remediation_audit_no_delete BEFORE DELETE ON remediation_audit
BEGIN SELECT RAISE(ABORT, 'the remediation audit log is append-only'); END;
"""
_AUDIT_COLUMNS = ("id", "at_ms", "rule", "action", "alarm", "state", "state_reason", "metrics", "before", "after",
                  "target", "result", "detail", "correlation_id", "memo_ids")
_JSON_COLUMNS = ("metrics", "memo_ids")


class RemediationAudit:
    """Every remediation decision, append-only (triggers refuse UPDATE and DELETE), in the monitoring database."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._read_only = read_only
        if read_only:
            self._connections = None
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connections = sqlite_db.ThreadConnections(self.path, timeout=30)
            con = self._connections.get()
            con.executescript(_AUDIT_SCHEMA)
            # A log written before memo_ids existed (the redrive rule) gains the column; ALTER is no UPDATE.
            if "memo_ids" not in _columns(con):
                try:
                    con.execute("ALTER TABLE remediation_audit ADD COLUMN memo_ids TEXT NOT NULL DEFAULT '[]'")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process added it just now
                        raise

    def append(self, entry: Mapping[str, Any]) -> int:
        if self._connections is None:
            raise sqlite3.OperationalError("the remediation audit log is open read-only")
        row = {**entry, "metrics": orjson.dumps(entry.get("metrics")).decode(),
               "memo_ids": orjson.dumps(list(entry.get("memo_ids") or [])).decode()}
        values = [row[c] for c in _AUDIT_COLUMNS[1:]]
        cursor = self._connections.get().execute(
            f"INSERT INTO remediation_audit ({', '.join(_AUDIT_COLUMNS[1:])}) VALUES"
            f" ({', '.join('?' * (len(_AUDIT_COLUMNS) - 1))})", values)
        return int(cursor.lastrowid)

    def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest first (``occurred_at`` ISO UTC); none before the first one."""
        if self._connections is not None:
            con = self._connections.get()
        elif self.path.exists():
            con = sqlite_db.connect(self.path, read_only=True)
        else:
            return []
        try:
            # A log opened read-only may predate a column: what it lacks reads as the default.
            present = [c for c in _AUDIT_COLUMNS if c in _columns(con)]
            if not present:
                return []
            rows = con.execute(f"SELECT {', '.join(present)} FROM remediation_audit ORDER BY id DESC LIMIT ?",
                               (limit,)).fetchall()
        finally:
            if self._connections is None:
                con.close()
        out = []
        for row in rows:
            item = {"memo_ids": "[]", **dict(zip(present, row))}
            for column in _JSON_COLUMNS:
                item[column] = orjson.loads(item[column])
            # docs/json.md: a point in time is ISO 8601 UTC under a key ending in _at.
            item = {"id": item.pop("id"), "occurred_at": iso_utc(item.pop("at_ms") / 1000), **item}
            out.append(item)
        return out

    def close(self) -> None:
        if self._connections is not None:
            self._connections.close()


def _columns(con: sqlite3.Connection) -> set[str]:
    return {row[1] for row in con.execute("PRAGMA table_info(remediation_audit)")}
