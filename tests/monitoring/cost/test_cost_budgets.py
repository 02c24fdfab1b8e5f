"""Budgets: ACTUAL and FORECASTED notifications at percentage or absolute thresholds, P3."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from whispersync.monitoring.cost import Budget, BudgetNotification, evaluate_budget, forecast_month


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)  # November: 30 days


class TestForecast:
    def test_it_projects_month_to_date_linearly(self) -> None:
        # $10 in the first 10 days of a 30-day month → $30.
        assert forecast_month(10.0, at(11)) == pytest.approx(30.0)

    def test_it_makes_no_forecast_in_the_first_day(self) -> None:
        assert forecast_month(5.0, at(1, 23)) is None


class TestNotifications:
    # The Budgets API's own example: a $200 budget, ACTUAL GREATER_THAN 80 % → notified over $160.
    budget = Budget("memos", 200.0, (
        BudgetNotification.from_dict({"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                                      "Threshold": 80, "ThresholdType": "PERCENTAGE"}),
        BudgetNotification("FORECASTED", 100),
        BudgetNotification("ACTUAL", 50, threshold_type="ABSOLUTE_VALUE"),
    ))

    def states(self, spent: float, now: datetime) -> list[str]:
        return [n["NotificationState"] for n in evaluate_budget(self.budget, spent, now)["Notifications"]]

    def test_actual_percentage_is_of_the_limit(self) -> None:
        assert self.states(160.0, at(29))[0] == "OK"
        assert self.states(160.01, at(29))[0] == "ALARM"

    def test_forecasted_alarms_before_the_money_is_spent(self) -> None:
        # $70 after 10 days → $210 forecast > $200, while ACTUAL (70 of 160) is fine and the $50 absolute one is not.
        assert self.states(70.0, at(11)) == ["OK", "ALARM", "ALARM"]

    def test_the_report_names_spend_forecast_and_priority(self) -> None:
        result = evaluate_budget(self.budget, 10.0, at(11))
        assert result["CalculatedSpend"]["ActualSpend"] == {"Amount": 10.0, "Unit": "USD"}
        assert result["CalculatedSpend"]["ForecastedSpend"]["Amount"] == pytest.approx(30.0)
        assert {n["Priority"] for n in result["Notifications"]} == {"P3"}
        assert result["Notifications"][0]["ThresholdUSD"] == 160.0

    def test_bad_notifications_are_refused_with_the_field_named(self) -> None:
        with pytest.raises(ValueError, match="NotificationType must be one of ACTUAL, FORECASTED"):
            BudgetNotification("SPENT", 80)
        with pytest.raises(ValueError, match="ThresholdType must be one of"):
            BudgetNotification("ACTUAL", 80, threshold_type="DOLLARS")
        with pytest.raises(ValueError, match="a notification needs Threshold"):
            BudgetNotification.from_dict({"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN"})
        with pytest.raises(ValueError, match="up to 10 notifications"):
            Budget("b", 1.0, [BudgetNotification("ACTUAL", 1)] * 11)
        with pytest.raises(ValueError, match="BudgetLimit must be an amount > 0"):
            Budget("b", 0)
