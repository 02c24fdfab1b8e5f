"""The plan's budgets, evaluated each cost cycle; a notification that enters ALARM tells people once, as P3.

Each cycle (the CostPublisher's, every 5 minutes in ``up``) evaluates every budget against the
month-to-date estimated spend and its linear forecast (``_budgets.py``) and stores the result,
one row per budget in the monitoring database (table ``cost_budgets``), for ``whispersync cost``.

A notification publishes an alarm notification (OK -> ALARM, priority P3, topic ``medium``)
through the notifier, so it is routed, retried and recorded like an alarm's. AWS Budgets alerts
once per budget period for each notification: so here, at most once per calendar month (UTC)
per notification, even when a FORECASTED one leaves ALARM and comes back in the same month; the
month it was sent for is stored, so a restarted ``up`` does not send it again. Nothing is sent
when a notification goes back to OK (Budgets sends nothing then either). A notification whose
publish fails is not marked as sent and is tried again on the next cycle.

The spend is WhisperSync's own estimate of the memos' direct cost at list price (the
CostPublisher's MonthToDateCostUSD), not the AWS bill: overhead and the free tier are not in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import orjson

from whispersync import sqlite_db
from whispersync.monitoring.cost._budgets import BUDGET_PRIORITY, Budget, BudgetNotification, evaluate_budget

__all__ = ["BudgetAlerts", "budget_report", "budgets_from_plan"]

_TABLE = "cost_budgets"


class _Publisher(Protocol):
    def publish(self, topic: str, notification: Any) -> Any: ...


def budgets_from_plan(specs: Sequence[Any]) -> tuple[Budget, ...]:
    """The plan's ``cost.budgets`` (already checked by the plan) as Budgets to evaluate."""
    return tuple(Budget(s.name, float(s.limit_usd), tuple(
        BudgetNotification(n.notification_type, n.threshold, n.comparison_operator, n.threshold_type)
        for n in s.notifications)) for s in specs)


class BudgetAlerts:
    """Evaluates ``budgets`` on each ``check()`` and publishes each notification entering ALARM once per month."""

    def __init__(self, budgets: Sequence[Budget], path: Path | str, notifier: _Publisher | None, *,
                 log: Any = None) -> None:
        self.budgets = tuple(budgets)
        self.path = Path(path)
        self.notifier = notifier
        self._log = log

    def check(self, spent_usd: float, now: float) -> list[dict[str, Any]]:
        """Evaluate every budget at ``now`` (epoch seconds); store and return the evaluations."""
        if not self.budgets:
            return []  # nothing to watch: the monitoring database is left alone
        when = datetime.fromtimestamp(now, tz=timezone.utc)
        month = when.strftime("%Y-%m")
        conn = sqlite_db.connect(self.path)
        try:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (name TEXT PRIMARY KEY, evaluation TEXT NOT NULL,"
                         " updated_at REAL NOT NULL)")
            stored = {name: orjson.loads(data) for name, data in conn.execute(f"SELECT name, evaluation FROM {_TABLE}")}
            results = []
            for budget in self.budgets:
                result = evaluate_budget(budget, spent_usd, when)
                previous = {_key(n): n for n in (stored.get(budget.name) or {}).get("Notifications", [])}
                for state in result["Notifications"]:
                    before = previous.get(_key(state), {})
                    state["NotifiedMonth"] = before.get("NotifiedMonth")
                    state["NotifiedAt"] = before.get("NotifiedAt")
                    if state["NotificationState"] == "ALARM" and state["NotifiedMonth"] != month:
                        if self._notify(budget, result, state, now):
                            state["NotifiedMonth"], state["NotifiedAt"] = month, now
                result["UpdatedAt"] = now
                conn.execute(f"INSERT OR REPLACE INTO {_TABLE} (name, evaluation, updated_at) VALUES (?, ?, ?)",
                             (budget.name, orjson.dumps(result).decode(), now))
                results.append(result)
            gone = set(stored) - {b.name for b in self.budgets}  # removed from the plan: not shown any more
            conn.executemany(f"DELETE FROM {_TABLE} WHERE name = ?", [(name,) for name in sorted(gone)])
            return results
        finally:
            conn.close()

    def _notify(self, budget: Budget, result: dict[str, Any], state: dict[str, Any], now: float) -> bool:
        from whispersync.monitoring.notify import AlarmNotification
        from whispersync.plan import TOPICS

        if self.notifier is None:
            return False
        spend = result["CalculatedSpend"]["ActualSpend" if state["NotificationType"] == "ACTUAL" else "ForecastedSpend"]
        what = "spend so far" if state["NotificationType"] == "ACTUAL" else "forecast spend for the month"
        notification = AlarmNotification(
            alarm_name=f"Budget {budget.name}: {_label(state)}",
            description=f"Monthly budget {budget.name} ({budget.limit_usd:.2f} USD), estimated spend",
            priority=BUDGET_PRIORITY,
            # Budgets' states are OK and ALARM only, and each budget period starts OK.
            old_state="OK",
            new_state="ALARM",
            reason=(f"{state['NotificationType']}: the {what}, {spend['Amount']:.2f} USD, is "
                    f"{state['ComparisonOperator']} the threshold, {state['ThresholdUSD']:.2f} USD"
                    + (f" ({state['Threshold']:g}% of the {budget.limit_usd:.2f} USD monthly limit)"
                       if state["ThresholdType"] == "PERCENTAGE" else
                       f" (monthly limit {budget.limit_usd:.2f} USD)")),
            reason_data={"BudgetName": budget.name, "BudgetLimit": result["BudgetLimit"],
                         "CalculatedSpend": result["CalculatedSpend"],
                         "Notification": {k: state[k] for k in ("NotificationType", "ComparisonOperator", "Threshold",
                                                                "ThresholdType", "ThresholdUSD")}},
            timestamp=now,
        )
        try:
            self.notifier.publish(TOPICS[BUDGET_PRIORITY], notification)
        except Exception as exc:  # noqa: BLE001 - a failed publish is retried next cycle, not raised into it
            if self._log is not None:
                self._log.warning("Budget notification failed", budget=budget.name, error_type=type(exc).__name__)
            return False
        if self._log is not None:
            self._log.info("Budget notification sent", budget=budget.name, notification=_label(state))
        return True


def budget_report(budgets: Sequence[Budget], path: Path | str) -> list[dict[str, Any]]:
    """Each budget with its last stored evaluation (``Evaluation``: None before the first cycle)."""
    stored: dict[str, Any] = {}
    if Path(path).exists():
        try:
            conn = sqlite_db.connect(path, read_only=True)
            try:
                stored = {name: orjson.loads(data) for name, data in
                          conn.execute(f"SELECT name, evaluation FROM {_TABLE}")}
            finally:
                conn.close()
        except Exception:  # noqa: BLE001 - no table yet (no cycle has run): nothing evaluated
            stored = {}
    out = []
    for budget in budgets:
        evaluation = stored.get(budget.name)
        if evaluation is not None:
            # Only the notifications the plan still has (a changed threshold is a new notification).
            current = {_key(_spec(n)) for n in budget.notifications}
            evaluation = {**evaluation, "Notifications": [n for n in evaluation["Notifications"]
                                                          if _key(n) in current]}
        out.append({"BudgetName": budget.name, "BudgetLimit": {"Amount": budget.limit_usd, "Unit": "USD"},
                    "Notifications": [{**_spec(n), "Label": _label(_spec(n))} for n in budget.notifications],
                    "Evaluation": evaluation})
    return out


def _spec(n: BudgetNotification) -> dict[str, Any]:
    return {"NotificationType": n.notification_type, "ComparisonOperator": n.comparison_operator,
            "Threshold": n.threshold, "ThresholdType": n.threshold_type}


def _key(n: dict[str, Any]) -> tuple:
    """A notification's identity: what it watches (a changed threshold is a new notification)."""
    return (n["NotificationType"], n["ComparisonOperator"], float(n["Threshold"]), n["ThresholdType"])


def _label(n: dict[str, Any]) -> str:
    """``ACTUAL > 80%`` or ``FORECASTED > 150 USD``."""
    op = {"GREATER_THAN": ">", "LESS_THAN": "<", "EQUAL_TO": "="}[n["ComparisonOperator"]]
    amount = f"{n['Threshold']:g}%" if n["ThresholdType"] == "PERCENTAGE" else f"{n['Threshold']:g} USD"
    return f"{n['NotificationType']} {op} {amount}"
