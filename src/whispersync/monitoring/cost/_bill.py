"""The bill, read from an AWS export, beside the estimate: per service per day, estimate versus actual.

Two layouts are read (the first row says which):
- Cost Explorer's "Download as CSV" of a chart grouped by Service: a `Service` column holding the
  day (YYYY-MM-DD), one `<service>($)` column per service and `Total costs($)`, with a first
  `Service total` row (https://docs.aws.amazon.com/cost-management/latest/userguide/ce-exploring-data.html).
- A Cost and Usage Report (legacy CUR, `lineItem/UsageStartDate`, `lineItem/ProductCode`,
  `lineItem/UnblendedCost`; https://docs.aws.amazon.com/cur/latest/userguide/Lineitem-columns.html), or
  CUR 2.0's snake_case names for the same columns (`line_item_usage_start_date`, ...). Every line item
  counts (usage, tax, credits): it is the bill.

Nothing reconciles a single memo with the bill: the estimate is list price without the free tier,
the bill is after it (and after credits), so the two are compared per service per day only.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whispersync.monitoring.cost._estimate import SERVICES, list_price
from whispersync.monitoring.cost._ledger import MemoUsage
from whispersync.monitoring.cost._prices import PriceTable
from whispersync.monitoring.cost._units import Usage

__all__ = ["Bill", "BillFileError", "compare_with_bill", "read_bill"]

COST_EXPLORER, CUR = "cost-explorer", "cur"
# Our service names for the names the bill uses: Cost Explorer's short and long names, CUR's product codes.
_SERVICE_NAMES = {
    "Lambda": ("lambda", "aws lambda", "awslambda"),
    "SQS": ("sqs", "simple queue service", "amazon simple queue service", "awsqueueservice"),
    "S3": ("s3", "amazon simple storage service", "amazons3"),
    "DynamoDB": ("dynamodb", "amazon dynamodb", "amazondynamodb"),
    "CloudWatch": ("cloudwatch", "amazoncloudwatch"),
}
_BY_BILL_NAME = {alias: ours for ours, aliases in _SERVICE_NAMES.items() for alias in aliases}
_CUR_COLUMNS = {  # what we read: legacy CUR name, CUR 2.0 name
    "date": ("lineItem/UsageStartDate", "line_item_usage_start_date"),
    "service": ("lineItem/ProductCode", "line_item_product_code"),
    "cost": ("lineItem/UnblendedCost", "line_item_unblended_cost"),
}
_CURRENCY = ("lineItem/CurrencyCode", "line_item_currency_code")
_MAX_BYTES = 512 * 1024 * 1024


class BillFileError(ValueError):
    """A file that is not a readable Cost Explorer or CUR export; the message says what is wrong and where."""


@dataclass(frozen=True)
class Bill:
    """Actual USD per day (YYYY-MM-DD, UTC) per service, as the export says."""

    path: str
    layout: str  # COST_EXPLORER or CUR
    rows: int
    by_day: dict[str, dict[str, float]] = field(default_factory=dict)

    def days(self) -> list[str]:
        return sorted(self.by_day)


def service_name(bill_name: str) -> str:
    """Our name for a service of the bill (Lambda, SQS, ...); any other keeps the bill's name."""
    return _BY_BILL_NAME.get(bill_name.strip().lower(), bill_name.strip())


def read_bill(path: str | Path) -> Bill:
    where = str(path)
    try:
        if Path(path).stat().st_size > _MAX_BYTES:
            raise BillFileError(f"{where}: larger than {_MAX_BYTES // 2**20} MB; export a shorter range")
        text = Path(path).read_text("utf-8-sig")
    except OSError as exc:
        raise BillFileError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise BillFileError(f"{where}: not UTF-8 text, so not a CSV export") from None
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise BillFileError(f"{where}: empty")
    header = [cell.strip() for cell in rows[0]]
    if any(name in header for name in _CUR_COLUMNS["cost"]):
        return _read_cur(where, header, rows[1:])
    if header[0] == "Service" and any(name.endswith("($)") for name in header[1:]):
        return _read_cost_explorer(where, header, rows[1:])
    shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
    raise BillFileError(
        f"{where}: neither a Cost Explorer CSV export (first column `Service`, then one `<service>($)` column"
        " per service) nor a Cost and Usage Report (columns lineItem/UsageStartDate, lineItem/ProductCode,"
        f" lineItem/UnblendedCost); its first row is: {shown}")


def _read_cost_explorer(where: str, header: list[str], rows: list[list[str]]) -> Bill:
    by_day: dict[str, dict[str, float]] = {}
    for number, row in enumerate(rows, start=2):
        label = (row[0] if row else "").strip()
        if label in ("Service total", ""):
            continue  # the export's own total row; a blank separator
        day = _day(label, where, number, "Service")
        costs = by_day.setdefault(day, {})
        for column, cell in zip(header[1:], row[1:]):
            if not column.endswith("($)") or column == "Total costs($)" or not cell.strip():
                continue
            service = service_name(column[:-3])
            costs[service] = costs.get(service, 0.0) + _usd(cell, where, number, column)
    return Bill(where, COST_EXPLORER, len(rows), by_day)


def _read_cur(where: str, header: list[str], rows: list[list[str]]) -> Bill:
    index: dict[str, int] = {}
    for key, names in _CUR_COLUMNS.items():
        found = [header.index(name) for name in names if name in header]
        if not found:
            raise BillFileError(f"{where}: a Cost and Usage Report without the {names[0]} column")
        index[key] = found[0]
    currency = next((header.index(name) for name in _CURRENCY if name in header), None)
    by_day: dict[str, dict[str, float]] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise BillFileError(f"{where}, line {number}: {len(row)} columns where the header has {len(header)}")
        if currency is not None and row[currency].strip() not in ("", "USD"):
            raise BillFileError(f"{where}, line {number}: currency {row[currency]!r}; the estimate is in USD")
        day = _day(row[index["date"]].strip()[:10], where, number, header[index["date"]])
        service = service_name(row[index["service"]]) or "(no product)"
        costs = by_day.setdefault(day, {})
        costs[service] = costs.get(service, 0.0) + _usd(row[index["cost"]], where, number, header[index["cost"]])
    return Bill(where, CUR, len(rows), by_day)


def _day(text: str, where: str, number: int, column: str) -> str:
    try:
        return _dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise BillFileError(f"{where}, line {number}: {column} {text!r} is not a date (YYYY-MM-DD)") from None


def _usd(text: str, where: str, number: int, column: str) -> float:
    try:
        value = float(text.strip() or 0)
    except ValueError:
        raise BillFileError(f"{where}, line {number}: {column} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BillFileError(f"{where}, line {number}: {column} {text!r} is not a finite number")
    return value


def compare_with_bill(memos: Sequence[MemoUsage], bill: Bill, table: PriceTable, *, memory_mb: int,
                      elevenlabs_usd_per_1k_characters: float = 0.0) -> dict[str, Any]:
    """Per day of the bill and service: the estimate of the memos metered that day (canaries too: they are
    billed) at list price, the actual, and actual − estimate. A service on one side only shows None on the other."""
    estimates: dict[str, Usage] = {}
    for memo in memos:
        day = _dt.datetime.fromtimestamp(memo.started_at, tz=_dt.timezone.utc).date().isoformat()
        if day in bill.by_day:
            estimates[day] = estimates.get(day, Usage()) + memo.usage
    rows: list[dict[str, Any]] = []
    for day in bill.days():
        estimated = list_price(estimates.get(day, Usage()), table, memory_mb=memory_mb,
                               elevenlabs_usd_per_1k_characters=elevenlabs_usd_per_1k_characters)
        actual = bill.by_day[day]
        for service in [*SERVICES, *sorted(set(actual) - set(SERVICES))]:
            rows.append(_row(day, service, estimated.get(service), actual.get(service)))
    totals: dict[str, list[float | None]] = {}
    for row in rows:
        estimate, actual = totals.setdefault(row["service"], [None, None])
        totals[row["service"]] = [_add(estimate, row["estimate_usd"]), _add(actual, row["actual_usd"])]
    return {
        "estimate": True,
        "label": f"Estimate at {table.label()} (no free tier) versus the bill",
        "price_table": table.to_dict(),
        "bill": {"path": bill.path, "layout": bill.layout, "rows": bill.rows, "days": len(bill.by_day)},
        "rows": rows,
        "totals": [_row(None, service, estimate, actual) for service, (estimate, actual) in totals.items()],
        "notes": ["the estimate is list price without the free tier or credits; the bill is after both",
                  "a memo's cost counts on the UTC day its first span started"],
    }


def _add(total: float | None, value: float | None) -> float | None:
    return total if value is None else (value if total is None else total + value)


def _row(day: str | None, service: str, estimate: float | None, actual: float | None) -> dict[str, Any]:
    difference = None if estimate is None or actual is None else actual - estimate
    row: Mapping[str, Any] = {"service": service, "estimate_usd": estimate, "actual_usd": actual,
                              "difference_usd": difference}
    return {"day": day, **row} if day is not None else dict(row)
