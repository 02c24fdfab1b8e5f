"""`whispersync cost`: what the memos of a window would cost on AWS, estimated from our own telemetry."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich.table import Table

from whispersync.cli._common import JsonOption, app, console, fail, load_settings, parse_since, print_json

# Namespaces whose metrics AWS publishes itself on the AWS target (AWS/Lambda, AWS/SQS,
# AWS/DynamoDB, AWS/ApiGateway), free of charge; the others would be custom metrics.
_AWS_PROVIDED = ("WhisperSync/Worker", "WhisperSync/Queue", "WhisperSync/Store", "WhisperSync/Api")
# A memo's spans may start before the window (ingest just before it): look back this much
# further, and keep the memos whose first span is inside the window.
_SPAN_MARGIN_SECONDS = 86_400
_SPAN_LIMIT = 5_000_000


@app.command("cost")
def cost(
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
    from whispersync.app import list_dashboards, load_plan, open_records, open_store
    from whispersync.errors import NotFound
    from whispersync.monitoring.cost import GROUPINGS, PriceTableError, cost_report, load_price_table, meter_memos

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
    memos = [m for m in meter_memos(spans, records, table) if m.started_at >= start]
    plan = load_plan(settings)
    custom = [m for m in store.list_metrics() if m["namespace"] not in _AWS_PROVIDED]
    report = cost_report(memos, table, memory_mb=settings.lambda_memory_mb,
                         elevenlabs_usd_per_1k_characters=settings.elevenlabs_usd_per_1k_characters,
                         start=start, end=end, by=by, alarms=len(plan.alarms),
                         dashboards=len(list_dashboards(settings)), custom_metrics=len(custom))
    if as_json:
        print_json(report)
        return
    _print(report)


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
    console.print("not metered: " + "; ".join(overhead["not_metered"]), style="dim", highlight=False)
