"""Cost per memo, honestly estimated (seed §7): a dated price table, a ledger of the units each
memo used (from WhisperSync's own telemetry), list prices per memo, the free tier per month, and
shared overhead on its own line. Every figure is an estimate of what the AWS target would cost.
"""

from whispersync.monitoring.cost._budget_alerts import BudgetAlerts, budget_report, budgets_from_plan
from whispersync.monitoring.cost._bill import Bill, BillFileError, compare_with_bill, read_bill
from whispersync.monitoring.cost._budgets import (
    BUDGET_PRIORITY,
    Budget,
    BudgetNotification,
    evaluate_budget,
    forecast_month,
)
from whispersync.monitoring.cost._estimate import SERVICES, cloudwatch_overhead, gb_seconds, list_price, monthly_cost
from whispersync.monitoring.cost._ledger import MemoUsage, meter_memos
from whispersync.monitoring.cost._prices import DEFAULT_PRICE_TABLE, PriceTable, PriceTableError, load_price_table
from whispersync.monitoring.cost._publisher import CostPublisher
from whispersync.monitoring.cost._report import GROUPINGS, cost_report, memo_cost
from whispersync.monitoring.cost._units import (
    Usage,
    dynamodb_item_bytes,
    read_units,
    sqs_requests,
    write_units,
)

__all__ = [
    "BUDGET_PRIORITY",
    "Bill",
    "BillFileError",
    "Budget",
    "BudgetAlerts",
    "BudgetNotification",
    "CostPublisher",
    "DEFAULT_PRICE_TABLE",
    "GROUPINGS",
    "SERVICES",
    "MemoUsage",
    "PriceTable",
    "PriceTableError",
    "Usage",
    "budget_report",
    "budgets_from_plan",
    "cloudwatch_overhead",
    "compare_with_bill",
    "cost_report",
    "dynamodb_item_bytes",
    "evaluate_budget",
    "forecast_month",
    "gb_seconds",
    "list_price",
    "load_price_table",
    "memo_cost",
    "meter_memos",
    "monthly_cost",
    "read_bill",
    "read_units",
    "sqs_requests",
    "write_units",
]
