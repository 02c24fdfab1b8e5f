"""Reading the bill: Cost Explorer's CSV download and the Cost and Usage Report, hand-made in their layouts."""

from __future__ import annotations

import pytest

from whispersync.monitoring.cost import (
    BillFileError,
    MemoUsage,
    Usage,
    compare_with_bill,
    list_price,
    load_price_table,
    read_bill,
)

# Cost Explorer, costs grouped by Service, daily: the layout of its "Download as CSV".
COST_EXPLORER = '''"Service","Lambda($)","S3($)","SQS($)","CloudWatch($)","Total costs($)"
"Service total","0.5","0.02","","3","3.52"
"2026-12-01","0.2","0.01","","1.5","1.71"
"2026-12-02","0.3","0.01","","1.5","1.81"
'''
# A legacy CUR excerpt (identity columns first, as AWS writes them), hourly line items.
_CUR_HEADER = ("identity/LineItemId,identity/TimeInterval,lineItem/UsageStartDate,lineItem/UsageEndDate,"
               "lineItem/ProductCode,lineItem/UsageType,lineItem/CurrencyCode,lineItem/UnblendedCost")


def _cur_line(item: str, hour: str, product: str, usage_type: str, cost: str) -> str:
    start, end = f"{hour}:00:00Z", f"{hour[:-2]}{int(hour[-2:]) + 1:02d}:00:00Z"
    return f"{item},{start}/{end},{start},{end},{product},{usage_type},USD,{cost}"


CUR = "\n".join([_CUR_HEADER,
                 _cur_line("a1", "2026-12-01T00", "AWSLambda", "USE1-Request", "0.0000004"),
                 _cur_line("a2", "2026-12-01T01", "AWSLambda", "USE1-Lambda-GB-Second", "0.0000166667"),
                 _cur_line("a3", "2026-12-01T01", "AmazonDynamoDB", "USE1-WriteRequestUnits", "0.00000625"),
                 _cur_line("a4", "2026-12-02T00", "AmazonEC2", "USE1-BoxUsage", "0.01")]) + "\n"


def _write(tmp_path, text: str, name: str = "bill.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cost_explorer_days_by_service_without_the_total_row_or_column(tmp_path) -> None:
    bill = read_bill(_write(tmp_path, "\ufeff" + COST_EXPLORER))  # Excel's BOM is tolerated
    assert bill.layout == "cost-explorer"
    assert bill.by_day == {"2026-12-01": {"Lambda": 0.2, "S3": 0.01, "CloudWatch": 1.5},
                           "2026-12-02": {"Lambda": 0.3, "S3": 0.01, "CloudWatch": 1.5}}


def test_cur_line_items_summed_per_utc_day_and_product(tmp_path) -> None:
    bill = read_bill(_write(tmp_path, CUR))
    assert bill.layout == "cur"
    assert bill.by_day["2026-12-01"] == pytest.approx({"Lambda": 0.0000170667, "DynamoDB": 0.00000625})
    assert bill.by_day["2026-12-02"] == {"AmazonEC2": 0.01}  # not ours: kept under the bill's name


def test_cur_2_snake_case_columns(tmp_path) -> None:
    text = ("line_item_usage_start_date,line_item_product_code,line_item_unblended_cost\n"
            "2026-12-01T05:00:00Z,AmazonS3,0.005\n")
    assert read_bill(_write(tmp_path, text)).by_day == {"2026-12-01": {"S3": 0.005}}


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("date,amount\n2026-12-01,3\n", "neither a Cost Explorer CSV export"),
    ('"Service","Lambda($)"\n"yesterday","0.2"\n', "line 2: Service 'yesterday' is not a date"),
    ('"Service","Lambda($)"\n"2026-12-01","lots"\n', "line 2: Lambda($) 'lots' is not a number"),
    ("lineItem/UnblendedCost,lineItem/ProductCode\n0.1,AWSLambda\n", "without the lineItem/UsageStartDate column"),
    ("lineItem/UsageStartDate,lineItem/ProductCode,lineItem/CurrencyCode,lineItem/UnblendedCost\n"
     "2026-12-01T00:00:00Z,AWSLambda,EUR,0.1\n", "currency 'EUR'"),
])
def test_a_file_that_is_neither_gets_a_clear_error(tmp_path, text, message) -> None:
    with pytest.raises(BillFileError) as raised:
        read_bill(_write(tmp_path, text))
    assert message in str(raised.value)


def test_a_binary_or_missing_file(tmp_path) -> None:
    path = tmp_path / "bill.parquet"
    path.write_bytes(b"PAR1\xff\xfe\x00")
    with pytest.raises(BillFileError, match="not UTF-8"):
        read_bill(path)
    with pytest.raises(BillFileError, match="cannot read"):
        read_bill(tmp_path / "nope.csv")


def test_estimate_versus_actual_per_service_per_day(tmp_path) -> None:
    table = load_price_table()
    bill = read_bill(_write(tmp_path, COST_EXPLORER))
    usage = Usage(lambda_requests=2, lambda_billed_ms=2000, s3_puts=4)
    dec1 = 1_796_083_200.0 + 3600  # 2026-12-01T01:00:00Z
    memo = MemoUsage(memo_id="m", correlation_id="c", agent="work", started_at=dec1, synthetic=False,
                     usage=usage, deliveries=2)
    other_day = MemoUsage(memo_id="n", correlation_id="d", agent="work", started_at=dec1 - 86_400,
                          synthetic=False, usage=usage, deliveries=1)  # 2026-11-30: not in the bill
    report = compare_with_bill([memo, other_day], bill, table, memory_mb=512)
    expected = list_price(usage, table, memory_mb=512)
    rows = {(r["day"], r["service"]): r for r in report["rows"]}
    lam = rows[("2026-12-01", "Lambda")]
    assert lam["estimate_usd"] == pytest.approx(expected["Lambda"]) and lam["actual_usd"] == 0.2
    assert lam["difference_usd"] == pytest.approx(0.2 - expected["Lambda"])
    assert rows[("2026-12-02", "Lambda")]["estimate_usd"] == 0
    assert rows[("2026-12-01", "DynamoDB")]["actual_usd"] is None  # not in the bill
    assert rows[("2026-12-01", "CloudWatch")]["estimate_usd"] is None  # overhead: not per memo
    totals = {r["service"]: r for r in report["totals"]}
    assert totals["Lambda"]["actual_usd"] == pytest.approx(0.5)
    assert totals["S3"]["estimate_usd"] == pytest.approx(expected["S3"])
    assert report["bill"] == {"path": str(tmp_path / "bill.csv"), "layout": "cost-explorer", "rows": 3, "days": 2}
