"""`whispersync cost`: what the memos of a window would cost on AWS, estimated from our own telemetry;
`whispersync cost import FILE`: that estimate beside the bill, from a Cost Explorer or CUR export."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich.table import Table

from whispersync.cli._common import JsonOption, app, console, fail, load_settings, parse_since, print_json

cost_app = typer.Typer(no_args_is_help=False)
app.add_typer(cost_app, name="cost")

# Namespaces whose metrics AWS publishes itself on the AWS target (AWS/Lambda, AWS/SQS,
# AWS/DynamoDB, AWS/ApiGateway), free of charge; the others would be custom metrics.
_AWS_PROVIDED = ("WhisperSync/Worker", "WhisperSync/Queue", "WhisperSync/Store", "WhisperSync/Api")
# A memo's spans may start before the window (ingest just before it): look back this much
# further, and keep the memos whose first span is inside the window.
_SPAN_MARGIN_SECONDS = 86_400
_SPAN_LIMIT = 5_000_000


@cost_app.callback(invoke_without_command=True)
def cost(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="How far back to look: 1h, 7d, 30d.")] = "7d",
    by: Annotated[Optional[str], typer.Option(help="Also break the direct cost down by agent, service or day.")] = None,
    prices: Annotated[Optional[str], typer.Option(
        help="A price table (TOML) to use instead of the bundled one.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Estimate what the memos of the window would cost on AWS at list price.

    Per memo: the units it used (Lambda invocations and billed ms at the configured memory, SQS
    requests, S3 PUTs/GETs, DynamoDB read/write units, voice characters) from its own spans and
    record, priced with a dated price table. Overhead (canary memos, CloudWatch alarms,
    dashboards, custom metrics) is shown apart; the monthly view applies the free tier.

    Examples:

        whispersync cost

        whispersync cost --since 30d --by agent --json
    """
    from whispersync.app import list_dashboards, load_plan, open_store
    from whispersync.monitoring.cost import GROUPINGS, PriceTableError, cost_report, load_price_table
    from whispersync.monitoring.cost import budget_report, budgets_from_plan

    if ctx.invoked_subcommand is not None:
        return
    if by is not None and by not in GROUPINGS:
        fail(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    window = parse_since(since)
    settings = load_settings(read_only=True)
    try:
        table = load_price_table(prices)
    except PriceTableError as exc:
        fail(str(exc))
    end = time.time()
    start = max(0.0, end - window)
    store = open_store(settings)
    memos = _metered(settings, store, table, start, end)
    plan = load_plan(settings)
    custom = [m for m in store.list_metrics() if m["namespace"] not in _AWS_PROVIDED]
    report = cost_report(memos, table, memory_mb=settings.lambda_memory_mb,
                         elevenlabs_usd_per_1k_characters=settings.elevenlabs_usd_per_1k_characters,
                         start=start, end=end, by=by, alarms=len(plan.alarms),
                         dashboards=len(list_dashboards(settings)), custom_metrics=len(custom))
    # The plan's budgets with their state as `up`'s last cost cycle left it (not re-evaluated here).
    report["budgets"] = budget_report(budgets_from_plan(plan.cost.budgets if plan.cost else ()),
                                      settings.monitoring_db)
    if as_json:
        print_json(report)
        return
    _print(report)


@cost_app.command("import")
def cost_import(
    file: Annotated[str, typer.Argument(help="A Cost Explorer CSV download (grouped by Service, daily) or a "
                                             "Cost and Usage Report CSV.")],
    prices: Annotated[Optional[str], typer.Option(
        help="A price table (TOML) to use instead of the bundled one.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the estimate beside the bill: per service per day, estimate, actual and actual − estimate.

    FILE is Cost Explorer's "Download as CSV" of costs grouped by Service at daily granularity
    (a `Service` column of days, one `<service>($)` column per service), or a Cost and Usage
    Report CSV (lineItem/UsageStartDate, lineItem/ProductCode, lineItem/UnblendedCost). The
    estimate is list price without the free tier; the bill is after it and after credits.

    Example: `whispersync cost import costs.csv --json`
    """
    import datetime as dt

    from whispersync.app import open_store
    from whispersync.monitoring.cost import BillFileError, PriceTableError, compare_with_bill, load_price_table
    from whispersync.monitoring.cost import read_bill

    try:
        bill = read_bill(file)
        table = load_price_table(prices)
    except (BillFileError, PriceTableError) as exc:
        fail(str(exc))
    if not bill.by_day:
        fail(f"{file}: no daily rows (only totals?): export costs at daily granularity")
    settings = load_settings(read_only=True)
    days = bill.days()
    start = dt.datetime.fromisoformat(days[0]).replace(tzinfo=dt.timezone.utc).timestamp()
    end = dt.datetime.fromisoformat(days[-1]).replace(tzinfo=dt.timezone.utc).timestamp() + 86_400
    memos = _metered(settings, open_store(settings), table, start, end)
    report = compare_with_bill(memos, bill, table, memory_mb=settings.lambda_memory_mb,
                               elevenlabs_usd_per_1k_characters=settings.elevenlabs_usd_per_1k_characters)
    if as_json:
        print_json(report)
        return
    console.print(f"[bold]{report['label']}[/]: {bill.layout} export, {len(days)} days", highlight=False)
    rows = Table("day", "service", "estimate", "actual", "actual − estimate", title="Per service per day",
                 title_justify="left")
    for row in report["rows"]:
        if row["estimate_usd"] or row["actual_usd"]:  # a service with nothing on either side is left out
            rows.add_row(row["day"], row["service"], _usd(row["estimate_usd"], 6), _usd(row["actual_usd"], 6),
                         _usd(row["difference_usd"], 6))
    console.print(rows)
    totals = Table("service", "estimate", "actual", "actual − estimate", title="Totals", title_justify="left")
    for row in report["totals"]:
        totals.add_row(row["service"], _usd(row["estimate_usd"], 6), _usd(row["actual_usd"], 6),
                       _usd(row["difference_usd"], 6))
    console.print(totals)
    console.print("; ".join(report["notes"]), style="dim", highlight=False)


def _metered(settings, store, table, start: float, end: float) -> list:
    """The memos whose first span is in ``start``..``end`` (epoch seconds), metered from their spans and records."""
    from whispersync.app import open_records
    from whispersync.errors import NotFound
    from whispersync.monitoring.cost import meter_memos

    spans = store.spans(start_ms=int((start - _SPAN_MARGIN_SECONDS) * 1000), end_ms=int(end * 1000),
                        limit=_SPAN_LIMIT)
    memo_ids = {(s.get("annotations") or {}).get("memo_id") for s in spans} - {None}
    records = {}
    with open_records(settings) as store_records:
        for memo_id in memo_ids:
            try:
                records[memo_id] = store_records.get(memo_id)
            except NotFound:
                pass  # a canary's memo, deleted after its run: sized from its spans
    return [m for m in meter_memos(spans, records, table) if start <= m.started_at < end]


def _usd(value: float | None, places: int = 4) -> str:
    return "-" if value is None else f"${value:,.{places}f}"


def _print(report: dict) -> None:
    direct, overhead = report["direct"], report["overhead"]
    console.print(f"[bold]{report['label']}[/] (estimate)", highlight=False)
    console.print(f"window {report['window']['start']} .. {report['window']['end']}; "
                  f"Lambda memory {report['configuration']['lambda_memory_mb']} MB (configuration)", highlight=False)
    summary = Table("", "USD", title="Cost at list price (no free tier)", title_justify="left")
    summary.add_row(f"direct: {report['memos']} memos", _usd(direct["total_usd"], 6))
    summary.add_row("direct per memo", _usd(direct["per_memo_usd"], 8))
    summary.add_row(f"overhead: {overhead['canary_memos']} canary memos", _usd(overhead["canary_usd"], 6))
    cloudwatch = overhead["cloudwatch"]
    summary.add_row(f"overhead: CloudWatch ({cloudwatch['alarms_counted']} alarms, "
                    f"{cloudwatch['dashboards_counted']} dashboards, {cloudwatch['custom_metrics_counted']} "
                    "custom metrics)", _usd(cloudwatch["alarms"] + cloudwatch["dashboards"]
                                            + cloudwatch["custom_metrics"], 4))
    console.print(summary)
    services = Table("service", "direct USD", title="Direct cost by service", title_justify="left")
    for service, value in direct["by_service"].items():
        services.add_row(service, _usd(value, 8))
    console.print(services)
    if report.get("groups") and report["by"] != "service":
        groups = Table(report["by"], "memos", "USD", "per memo", title=f"Direct cost by {report['by']}",
                       title_justify="left")
        for row in report["groups"]:
            groups.add_row(row["key"], str(row["memos"]), _usd(row["total_usd"], 6), _usd(row["per_memo_usd"], 8))
        console.print(groups)
    monthly = Table("month", "list price", "with free tier", title="Monthly (memos and canaries; free tier per month)",
                    title_justify="left")
    for row in report["monthly"]:
        monthly.add_row(row["month"], _usd(row["list_price_usd"], 6), _usd(row["with_free_tier_usd"], 6))
    console.print(monthly)
    if report.get("budgets"):
        _print_budgets(report["budgets"])
    console.print("not metered: " + "; ".join(overhead["not_metered"]), style="dim", highlight=False)


def _print_budgets(budgets: list[dict]) -> None:
    table = Table("budget", "notification", "state", "spend", "forecast", "notified",
                  title="Budgets (estimated spend this month, as `whispersync up` last evaluated it)",
                  title_justify="left")
    for budget in budgets:
        evaluation = budget["Evaluation"] or {}
        spend = evaluation.get("CalculatedSpend") or {}
        forecast = spend.get("ForecastedSpend")
        states = {_notification_key(n): n for n in evaluation.get("Notifications", [])}
        name = f"{budget['BudgetName']} ({_usd(budget['BudgetLimit']['Amount'], 2)})"
        for spec in budget["Notifications"] or [{"Label": "(no notifications)"}]:
            state = states.get(_notification_key(spec), {}) if "NotificationType" in spec else {}
            table.add_row(name, spec["Label"], state.get("NotificationState", "not evaluated"),
                          _usd((spend.get("ActualSpend") or {}).get("Amount"), 2),
                          _usd(forecast["Amount"] if forecast else None, 2), _when(state.get("NotifiedAt")))
    console.print(table)


def _notification_key(n: dict) -> tuple:
    return (n["NotificationType"], n["ComparisonOperator"], float(n["Threshold"]), n["ThresholdType"])


def _when(epoch: float | None) -> str:
    import datetime as dt

    return "-" if epoch is None else dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%m-%d %H:%MZ")


def print_memo_cost(settings, spans: list[dict]) -> None:
    """Under a memo's trace (`whispersync trace`): what that memo would cost on AWS at list price."""
    from whispersync.app import open_records
    from whispersync.errors import NotFound
    from whispersync.monitoring.cost import PriceTableError, list_price, load_price_table, meter_memos

    try:
        table = load_price_table()
    except PriceTableError as exc:  # a broken bundled table must not hide the trace above
        console.print(f"cost not estimated: {exc}", style="dim", highlight=False)
        return
    memo_ids = {(s.get("annotations") or {}).get("memo_id") for s in spans} - {None}
    records = {}
    with open_records(settings) as store_records:
        for memo_id in memo_ids:
            try:
                records[memo_id] = store_records.get(memo_id)
            except NotFound:
                pass
    for memo in meter_memos(spans, records, table):
        priced = list_price(memo.usage, table, memory_mb=settings.lambda_memory_mb,
                            elevenlabs_usd_per_1k_characters=settings.elevenlabs_usd_per_1k_characters)
        parts = ", ".join(f"{service} {_usd(usd, 8)}" for service, usd in priced.items() if usd)
        kind = "overhead (canary)" if memo.synthetic else "direct"
        console.print(f"estimated cost of memo {memo.memo_id}: {_usd(sum(priced.values()), 8)} {kind}, "
                      f"{memo.deliveries} deliveries ({parts}) at {table.label()}", highlight=False)
        for note in memo.notes:
            console.print(f"  note: {note}", style="dim", highlight=False)
