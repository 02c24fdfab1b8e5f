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
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from whispersync import catalog, sqlite_db
from whispersync.domain import iso_utc
from whispersync.plan import TOPICS, Plan, RemediationRule

__all__ = ["PoolScaler", "RemediationAudit", "RemediationRegistry", "RemediationRequest", "ResizablePool",
           "default_registry", "scale_up_rule"]


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
                raise KeyError(f"no remediation handler named {name!r}; registered: {', '.join(self.names()) or 'none'}")
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


def default_registry() -> RemediationRegistry:
    """A registry with the plan's handlers: ``scale_up``."""
    registry = RemediationRegistry()
    registry.register("scale_up", _record_only_scale_up)
    return registry


# ---------------------------------------------------------------------- scaling the worker pool

SCALE_UP_ACTION = "remediation:scale_up"
DEFAULT_SCALE_UP_ALARM = "HighQueueDepth"
# What the cooldown is keyed on besides the action: the one resource this scaler acts on.
POOL = "worker-pool"
# Results, as the audit log and the RemediationExecuted metric's Result dimension name them.
EXECUTED, DRY_RUN, SUPPRESSED, ESCALATED, RATE_LIMITED, NOOP, FAILED = (
    "executed", "dry_run", "suppressed", "escalated", "rate_limited", "noop", "failed")


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
    * ``tick`` runs periodically (app.py schedules it): it reads the alarm's state and,
      when OK, recommends the ``baseline``. It scales down only to the HIGHEST
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
                 clock: Callable[[], float] = time.time, log: Any = None) -> None:
        self.rule = rule
        self.pool = pool
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
        return self.observe(current.get("state") or "INSUFFICIENT_DATA", current.get("reason") or "",
                            current.get("reason_data"))

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
             metrics: Any) -> dict[str, Any]:
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
        if self.audit is not None:
            try:
                entry["id"] = self.audit.append(entry)
            except sqlite3.Error as exc:
                if self._log is not None:
                    self._log.warning("Remediation audit write failed", error_type=type(exc).__name__)
        if self._metrics is not None:
            self._metrics.record(catalog.REMEDIATION_EXECUTED, 1, {"Action": entry["action"],
                                                                    "Result": entry["result"]})
        if self._log is not None:
            self._log.info("Remediation", remediation_action=entry["action"], result=entry["result"],
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
    correlation_id TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS remediation_audit_no_update BEFORE UPDATE ON remediation_audit
BEGIN SELECT RAISE(ABORT, 'the remediation audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS remediation_audit_no_delete BEFORE DELETE ON remediation_audit
BEGIN SELECT RAISE(ABORT, 'the remediation audit log is append-only'); END;
"""
_AUDIT_COLUMNS = ("id", "at_ms", "rule", "action", "alarm", "state", "state_reason", "metrics", "before", "after",
                  "target", "result", "detail", "correlation_id")


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
            self._connections.get().executescript(_AUDIT_SCHEMA)

    def append(self, entry: Mapping[str, Any]) -> int:
        if self._connections is None:
            raise sqlite3.OperationalError("the remediation audit log is open read-only")
        values = [entry[c] for c in _AUDIT_COLUMNS[1:]]
        values[_AUDIT_COLUMNS.index("metrics") - 1] = orjson.dumps(entry.get("metrics")).decode()
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
            rows = con.execute(f"SELECT {', '.join(_AUDIT_COLUMNS)} FROM remediation_audit ORDER BY id DESC LIMIT ?",
                               (limit,)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            if self._connections is None:
                con.close()
        out = []
        for row in rows:
            item = dict(zip(_AUDIT_COLUMNS, row))
            item["metrics"] = orjson.loads(item["metrics"])
            # docs/json.md: a point in time is ISO 8601 UTC under a key ending in _at.
            item = {"id": item.pop("id"), "occurred_at": iso_utc(item.pop("at_ms") / 1000), **item}
            out.append(item)
        return out

    def close(self) -> None:
        if self._connections is not None:
            self._connections.close()
