"""Budgets with AWS Budgets' semantics: a monthly limit and up to ten notifications on it.

A notification (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Notification.html)
is ``ACTUAL`` (what was spent) or ``FORECASTED`` (what the month is forecast to cost), compared
``GREATER_THAN`` / ``LESS_THAN`` / ``EQUAL_TO`` a threshold that is a percentage of the limit
(``PERCENTAGE``, the default: 80 with a $200 budget means $160) or an amount (``ABSOLUTE_VALUE``).
Its state is ``ALARM`` while the comparison holds, else ``OK``; every alarm here is routed as P3.

The forecast is ours, not Cost Explorer's model: a linear projection of month-to-date spend
(spend so far ÷ time elapsed × the month's length). Before a day of the month has passed it
is not made (None), and FORECASTED notifications stay OK, rather than extrapolate one hour.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["BUDGET_PRIORITY", "Budget", "BudgetNotification", "evaluate_budget", "forecast_month"]

BUDGET_PRIORITY = "P3"
NOTIFICATION_TYPES = ("ACTUAL", "FORECASTED")
COMPARISON_OPERATORS = ("GREATER_THAN", "LESS_THAN", "EQUAL_TO")
THRESHOLD_TYPES = ("PERCENTAGE", "ABSOLUTE_VALUE")
MAX_NOTIFICATIONS = 10  # "A budget can have up to ten notifications."
_MIN_FORECAST_SECONDS = 86_400


@dataclass(frozen=True)
class BudgetNotification:
    notification_type: str
    threshold: float
    comparison_operator: str = "GREATER_THAN"
    threshold_type: str = "PERCENTAGE"

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.notification_type, NOTIFICATION_TYPES, "NotificationType"),
                                     (self.comparison_operator, COMPARISON_OPERATORS, "ComparisonOperator"),
                                     (self.threshold_type, THRESHOLD_TYPES, "ThresholdType")):
            if value not in allowed:
                raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not (
                0 <= self.threshold <= 15e12):
            raise ValueError(f"Threshold must be a number from 0 to 15000000000000, not {self.threshold!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetNotification:
        """From the Budgets API's JSON (NotificationType, ComparisonOperator, Threshold, ThresholdType)."""
        unknown = set(data) - {"NotificationType", "ComparisonOperator", "Threshold", "ThresholdType",
                               "NotificationState"}
        if unknown:
            raise ValueError(f"unknown notification fields: {', '.join(sorted(unknown))}")
        for required in ("NotificationType", "ComparisonOperator", "Threshold"):
            if required not in data:
                raise ValueError(f"a notification needs {required}")
        return cls(data["NotificationType"], data["Threshold"], data["ComparisonOperator"],
                   data.get("ThresholdType", "PERCENTAGE"))

    def amount(self, limit_usd: float) -> float:
        """The threshold in USD."""
        return self.threshold if self.threshold_type == "ABSOLUTE_VALUE" else limit_usd * self.threshold / 100


@dataclass(frozen=True)
class Budget:
    name: str
    limit_usd: float
    notifications: Sequence[BudgetNotification] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a budget needs a name")
        if isinstance(self.limit_usd, bool) or not isinstance(self.limit_usd, (int, float)) or self.limit_usd <= 0:
            raise ValueError(f"BudgetLimit must be an amount > 0 USD, not {self.limit_usd!r}")
        if len(self.notifications) > MAX_NOTIFICATIONS:
            raise ValueError(f"a budget can have up to {MAX_NOTIFICATIONS} notifications, "
                             f"not {len(self.notifications)}")


def forecast_month(spent_usd: float, now: datetime) -> float | None:
    """Linear projection of month-to-date spend to the whole calendar month (UTC); None before one day."""
    now = now.astimezone(timezone.utc)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - month_start).total_seconds()
    if elapsed < _MIN_FORECAST_SECONDS:
        return None
    month_seconds = calendar.monthrange(now.year, now.month)[1] * 86_400
    return spent_usd / elapsed * month_seconds


def evaluate_budget(budget: Budget, spent_usd: float, now: datetime) -> dict[str, Any]:
    """The budget's CalculatedSpend and each notification's state (OK/ALARM), as the Budgets API names them."""
    forecast = forecast_month(spent_usd, now)
    states = []
    for notification in budget.notifications:
        value = spent_usd if notification.notification_type == "ACTUAL" else forecast
        threshold = notification.amount(budget.limit_usd)
        in_alarm = value is not None and _holds(notification.comparison_operator, value, threshold)
        states.append({
            "NotificationType": notification.notification_type,
            "ComparisonOperator": notification.comparison_operator,
            "Threshold": notification.threshold,
            "ThresholdType": notification.threshold_type,
            "ThresholdUSD": threshold,
            "NotificationState": "ALARM" if in_alarm else "OK",
            "Priority": BUDGET_PRIORITY,
        })
    return {"BudgetName": budget.name, "BudgetLimit": {"Amount": budget.limit_usd, "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "CalculatedSpend": {"ActualSpend": {"Amount": spent_usd, "Unit": "USD"},
                                "ForecastedSpend": None if forecast is None else {"Amount": forecast, "Unit": "USD"}},
            "Notifications": states}


def _holds(operator: str, value: float, threshold: float) -> bool:
    if operator == "GREATER_THAN":
        return value > threshold
    if operator == "LESS_THAN":
        return value < threshold
    return round(value, 2) == round(threshold, 2)  # EQUAL_TO on money: to the cent
