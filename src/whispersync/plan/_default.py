"""The built-in plan: the seed's monitoring plan (§1–§10), corrected where it is wrong.

Names come from the catalog, which the producers publish under.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from whispersync import catalog
from whispersync.plan._alarms import CompositeAlarm, MetricAlarm
from whispersync.plan._metrics import MetricDataQuery, MetricFilter, MetricStat
from whispersync.plan._plan import Plan
from whispersync.plan._routing import ROUTES, topic_actions
from whispersync.plan._slo import with_slo_alarms
from whispersync.plan._slots import Baseline, Dashboard, HealthCheck, RedriveRule, Slo

# §3 "Create metric filters from logs". The seed writes
# `FilterPattern.literal("[ERROR]")`, but in CloudWatch's syntax `[ERROR]` is a
# space-delimited pattern with one field named ERROR: it matches any event that is
# exactly one word long, never our JSON log lines. What the seed means is "count the
# error log lines", which for Powertools-style JSON logs is `{ $.level = "ERROR" }`.
LOG_ERRORS = MetricFilter(
    name="ErrorMetricFilter",
    pattern='{ $.level = "ERROR" }',
    namespace=catalog.LOG_ERRORS.namespace,
    metric_name=catalog.LOG_ERRORS.name,
    value="1",
    unit="Count",
)

_QUEUE = catalog.queue_dimensions(catalog.QUEUE)
_DLQ = catalog.queue_dimensions(catalog.DEAD_LETTER_QUEUE)

# ---------------------------------------------------------------------- §4 alarms, §8 remediation
#
# Priorities are the §4 hierarchy: P1 immediate, P2 within 1 hour, P3 within 4
# hours, P4 next business day.

# The seed's `lambda_fn.metric_errors()`: Sum of worker Errors per minute. Errors
# is published per memo processed, so an idle worker publishes nothing; as
# CloudWatch advises for metrics that report only when something happens, missing
# data is not breaching (an idle system is not down).
SYSTEM_DOWN = MetricAlarm(
    name="SystemDown",
    description="Worker errors: 10 or more failed memos in one minute",
    namespace=catalog.WORKER_ERRORS.namespace, metric_name=catalog.WORKER_ERRORS.name,
    dimensions=catalog.WORKER_ERRORS.dimensions, statistic="Sum",
    period=60, evaluation_periods=1, threshold=10, comparison_operator="GreaterThanOrEqualToThreshold",
    treat_missing_data="notBreaching", priority="P1",
    alarm_actions=topic_actions("P1"), ok_actions=topic_actions("P1"),
)

# `dlq.metric_approximate_number_of_messages_visible()` defaults to Maximum over
# 5 minutes in the CDK; the collector publishes it every collector_interval.
# The REDRIVE_TRANSIENT rule below adds its `remediation:redrive_transient` action to this
# alarm only when the rule is enabled, so by default the alarm only tells people.
DLQ_MESSAGES = MetricAlarm(
    name="DLQMessages",
    description="Messages are piling up in the dead-letter queue",
    namespace=catalog.QUEUE_VISIBLE.namespace, metric_name=catalog.QUEUE_VISIBLE.name, dimensions=_DLQ,
    statistic="Maximum", period=300, evaluation_periods=1, threshold=5,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing", priority="P1",
    alarm_actions=topic_actions("P1"), ok_actions=topic_actions("P1"),
)
# §8's second rule: a memo that ran out of receives on transient failures (a timeout, a service
# that was down) gets one automatic redrive; a permanent failure, or a second arrival, stays for a
# person. Off by default; `up --demo` turns it on for its run, a plan file can for good. Local
# only so far: the AWS stack does not deploy it.
REDRIVE_TRANSIENT = RedriveRule(name="redrive_transient", alarm=DLQ_MESSAGES.name)

API_5XX = MetricAlarm(
    name="Api5xx",
    description="The HTTP API answers with server errors",
    namespace=catalog.API_5XX.namespace, metric_name=catalog.API_5XX.name, dimensions=catalog.API_5XX.dimensions,
    statistic="Sum", period=60, evaluation_periods=5, datapoints_to_alarm=2, threshold=5,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching", priority="P2",
    alarm_actions=topic_actions("P2"), ok_actions=topic_actions("P2"),
)

# §4 security layer: a burst of requests with a missing or wrong API token. A person who mistypes
# the token does not get 20 in a minute; a scanner or a client with a stale token does. The total
# (no Route dimension) is watched; AuthFailures by Route tells which endpoint is being tried.
AUTH_FAILURE_BURST = MetricAlarm(
    name="AuthFailureBurst",
    description="Many API requests with a missing or wrong token: a misconfigured client, or someone guessing",
    namespace=catalog.AUTH_FAILURES.namespace, metric_name=catalog.AUTH_FAILURES.name,
    dimensions=catalog.AUTH_FAILURES.dimensions, statistic="Sum", period=60, evaluation_periods=1, threshold=20,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching", priority="P2",
    alarm_actions=topic_actions("P2"), ok_actions=topic_actions("P2"),
)

SYSTEM_HEALTH = CompositeAlarm(
    name="whispersync-system-health",
    description="Overall system health degraded",
    rule="ALARM(SystemDown) OR ALARM(DLQMessages) OR ALARM(Api5xx)",
    priority="P1",
    alarm_actions=topic_actions("P1"), ok_actions=topic_actions("P1"),
)

# §6: the seed's synthetic health check, every 5 minutes, publishes SystemHealth 1/0 but
# nothing watches it. A dependency that does not answer stops every memo: P1, as SystemDown.
# No data means the check did not run, not that a dependency failed: "missing" keeps the state.
DEPENDENCIES_CHECK = HealthCheck(name="dependencies", schedule="rate(5 minutes)", timeout_seconds=10,
                                 kind="dependencies")
DEPENDENCIES_UNHEALTHY = MetricAlarm(
    name="DependenciesUnhealthy",
    description="A dependency (blob store, queue, record store, telemetry store) did not answer its health check",
    namespace=catalog.SYSTEM_HEALTH.namespace, metric_name=catalog.SYSTEM_HEALTH.name,
    dimensions=catalog.SYSTEM_HEALTH.dimensions, statistic="Minimum", period=300, evaluation_periods=1,
    threshold=1, comparison_operator="LessThanThreshold", treat_missing_data="missing", priority="P1",
    alarm_actions=topic_actions("P1"), ok_actions=topic_actions("P1"),
)

# §6 end-to-end: a synthetic memo through ingest, queue, worker and agent every 5 minutes, then removed
# (monitoring/synthetics/_end_to_end.py). Timeout 4 minutes (Synthetics wants it at most the interval), so a
# run ends before the next starts. SuccessPercent's valid statistic is Average, per CanaryName
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_metrics.html);
# with one run per 5-minute period it is that run's 100 or 0. Two failed runs in a row (2 of 2) page: one
# failure can be one memo stuck behind a burst of real ones, two mean memos are not getting through for
# 10 minutes. P2, not P1: NoMemosCompleting (below) and SystemDown page at once when real memos stop.
# No data means the canary did not run (no evidence either way): "missing" keeps the state.
END_TO_END_CHECK = HealthCheck(name="end-to-end", schedule="rate(5 minutes)", timeout_seconds=240,
                               kind="end-to-end", steps=("submit", "process", "cleanup"))
END_TO_END_FAILING = MetricAlarm(
    name="EndToEndCanaryFailing",
    description="The end-to-end canary's synthetic memo did not get through ingest, queue, worker and agent",
    namespace=catalog.CANARY_SUCCESS_PERCENT.namespace, metric_name=catalog.CANARY_SUCCESS_PERCENT.name,
    dimensions={"CanaryName": END_TO_END_CHECK.name}, statistic="Average", period=300, evaluation_periods=2,
    threshold=100, comparison_operator="LessThanThreshold", treat_missing_data="missing", priority="P2",
    alarm_actions=topic_actions("P2"), ok_actions=topic_actions("P2"),
)

# §6 dead-man check: memos are queued and none reaches DONE. Per minute: `waiting` (the most messages the
# collector saw in the transcripts queue, visible + in flight) and `done` (worker invocations - errors;
# synthetic memos count: a canary memo that completes is a memo that completes). A minute breaches when
# memos waited and none completed; an empty queue never breaches. "Period + grace" is 10 minutes:
# the 5-minute period in which a healthy worker pool finishes something while anything waits (a memo takes
# seconds; the canary adds one every 5 minutes), plus 5 minutes' grace for a memo in its retry backoff or a
# slow agent; expressed as 10 of 10 one-minute datapoints, i.e. 10 breaching minutes in a row.
# Missing data: a minute with no invocation while memos wait IS the failure, so Invocations and Errors are
# FILLed with 0. A minute with no queue sample (no collector) is no evidence: the queue is not filled, so the
# IF drops that minute, and treat "ignore" keeps the state while fewer than 10 sampled minutes are in the
# range. Not "missing": with it CloudWatch fires on one breaching datapoint among missing ones ("- - X - -" is
# ALARM for 3 of 3), so a backlog at start-up would page after one minute instead of ten. (The table:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html)
_PER_MINUTE = 60
NO_MEMOS_COMPLETING = MetricAlarm(
    name="NoMemosCompleting",
    description="Memos have been waiting in the transcripts queue for 10 minutes and none reached DONE",
    metrics=(
        MetricDataQuery("visible", MetricStat(catalog.QUEUE_VISIBLE.namespace, catalog.QUEUE_VISIBLE.name, _QUEUE,
                                              "Maximum", _PER_MINUTE), return_data=False),
        MetricDataQuery("in_flight", MetricStat(catalog.QUEUE_NOT_VISIBLE.namespace, catalog.QUEUE_NOT_VISIBLE.name,
                                                _QUEUE, "Maximum", _PER_MINUTE), return_data=False),
        MetricDataQuery("invocations", MetricStat(catalog.WORKER_INVOCATIONS.namespace, catalog.WORKER_INVOCATIONS.name,
                                                  catalog.WORKER_INVOCATIONS.dimensions, "Sum", _PER_MINUTE),
                        return_data=False),
        MetricDataQuery("errors", MetricStat(catalog.WORKER_ERRORS.namespace, catalog.WORKER_ERRORS.name,
                                             catalog.WORKER_ERRORS.dimensions, "Sum", _PER_MINUTE), return_data=False),
        MetricDataQuery("done", expression="FILL(invocations, 0) - FILL(errors, 0)", return_data=False),
        # The outer IF keeps only the minutes with a queue sample; the inner one is 1 when nothing completed.
        MetricDataQuery("stalled", expression="IF(visible + in_flight > 0, IF(done > 0, 0, 1), 0)",
                        label="Minutes with memos waiting and none done"),
    ),
    period=_PER_MINUTE, evaluation_periods=10, datapoints_to_alarm=10, threshold=1,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="ignore", priority="P1",
    alarm_actions=topic_actions("P1"), ok_actions=topic_actions("P1"),
)

# §8 "Auto-scaling based on queue depth": visible >= 1000 for 2 periods calls the
# `scale_up` remediation handler (monitoring/remediation.py) and tells people.
HIGH_QUEUE_DEPTH = MetricAlarm(
    name="HighQueueDepth",
    description="The transcripts queue is backing up; scaling workers up",
    namespace=catalog.QUEUE_VISIBLE.namespace, metric_name=catalog.QUEUE_VISIBLE.name, dimensions=_QUEUE,
    statistic="Maximum", period=300, evaluation_periods=2, threshold=1000,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing", priority="P2",
    alarm_actions=("remediation:scale_up", *topic_actions("P2")), ok_actions=topic_actions("P2"),
)

# §7 cost anomaly, as Cost Explorer's anomaly detection means it (TotalImpact = actual spend - expected
# spend), built on the §1 band over daily cost: m1 is the total EstimatedCostUSD a day (the CostPublisher's
# roll-up without dimensions), ad1 its expected band at 2 standard deviations. A day above the band's upper
# bound is an anomaly; a cheaper day is not (Cost Explorer's monitors alert on cost increases). 1 of 1: a day
# is the period. A day with no data (nothing ran) is not an anomaly: notBreaching. The alarm's reason states
# how far above the upper bound the day was; TotalImpact is measured from the band's centre, the expected
# value: (upper + lower) / 2 of the reason data's thresholds, while the lower bound is not clamped at 0.
COST_ANOMALY = MetricAlarm(
    name="CostAnomaly",
    description=("Daily estimated cost above its expected band (Cost Explorer's anomaly: TotalImpact = actual -"
                 " expected, expected being the band's centre)"),
    metrics=(
        MetricDataQuery("m1", MetricStat(catalog.ESTIMATED_COST.namespace, catalog.ESTIMATED_COST.name, {}, "Sum",
                                         86_400)),
        MetricDataQuery("ad1", expression="ANOMALY_DETECTION_BAND(m1, 2)", label="EstimatedCostUSD (expected)"),
    ),
    threshold=None, threshold_metric_id="ad1", period=86_400, evaluation_periods=1, datapoints_to_alarm=1,
    comparison_operator="GreaterThanUpperThreshold", treat_missing_data="notBreaching", priority="P3",
    alarm_actions=topic_actions("P3"), ok_actions=topic_actions("P3"),
)

# ---------------------------------------------------------------------- §5, §7, §9 dashboards
#
# Written as CloudWatch dashboard bodies (what the CDK synthesises), with metric
# identities from the catalog. Absent fields take CloudWatch's defaults (stat
# Average, period 300), so they are left out where the default is meant.


def _metric(metric: catalog.Metric, dimensions: Mapping[str, str] | None = None, **options: Any) -> list[Any]:
    """A `metrics` entry: [Namespace, MetricName, DimName, DimValue, ..., {rendering options}]."""
    entry: list[Any] = [metric.namespace, metric.name]
    for key, value in {**metric.dimensions, **(dimensions or {})}.items():
        entry += [key, value]
    return [*entry, options] if options else entry


def _math(expression: str, **options: Any) -> list[Any]:
    return [{"expression": expression, **options}]


def _widget(kind: str, x: int, y: int, width: int, height: int, **properties: Any) -> dict[str, Any]:
    return {"type": kind, "x": x, "y": y, "width": width, "height": height, "properties": properties}


_SENT = catalog.queue_dimensions(catalog.QUEUE)
_SUCCESS = {"Status": "Success"}

WORKER_PERFORMANCE = Dashboard(
    name="worker-performance",
    description="§5: the worker pool, named as Lambda's metrics are (invocations, errors, duration, memory).",
    widgets=(
        _widget("metric", 0, 0, 12, 6, title="Invocations", view="timeSeries", period=60,
                metrics=[_metric(catalog.WORKER_INVOCATIONS, stat="Sum", label="Invocations")]),
        # The error rate needs both counts; invocations is a hidden input (visible: false),
        # as the CDK renders a MathExpression's using_metrics.
        _widget("metric", 12, 0, 12, 6, title="Errors and error rate", view="timeSeries", period=60,
                metrics=[_metric(catalog.WORKER_ERRORS, id="errors", stat="Sum", label="Errors"),
                         _metric(catalog.WORKER_INVOCATIONS, id="invocations", stat="Sum", visible=False),
                         _math("errors/invocations*100", id="error_rate", label="Error %", yAxis="right")],
                yAxis={"left": {"label": "Errors", "showUnits": False, "min": 0},
                       "right": {"label": "Error %", "showUnits": False, "min": 0, "max": 100}},
                # SystemDown watches this Sum of Errors per minute: its threshold is drawn on the chart.
                annotations={"alarms": [SYSTEM_DOWN.name]}),
        _widget("metric", 0, 6, 12, 6, title="Duration", view="timeSeries", period=60,
                metrics=[_metric(catalog.WORKER_DURATION, stat="Average", label="Average"),
                         _metric(catalog.WORKER_DURATION, stat="p99", label="p99"),
                         _metric(catalog.WORKER_DURATION, stat="Maximum", label="Maximum")]),
        # The seed graphs AWS/Lambda MemoryUtilization, which does not exist (the catalog
        # says so too): ours is the worker process's resident memory over its limit.
        _widget("metric", 12, 6, 12, 6, title="Memory utilization", view="timeSeries", period=60,
                metrics=[_metric(catalog.WORKER_MEMORY_UTILIZATION, stat="Maximum",
                                 label="Worker RSS, % of its memory limit")],
                yAxis={"left": {"min": 0, "max": 100, "showUnits": False, "label": "%"}}),
        _widget("text", 0, 12, 24, 2, markdown=(
            "**Memory utilization** is WhisperSync's own metric: the worker process's resident memory as a share"
            " of its limit. On AWS, `AWS/Lambda` has no `MemoryUtilization`: use Lambda Insights"
            " (`LambdaInsights` `memory_utilization`) or *Max Memory Used* from the `REPORT` log lines.")),
    ),
)

QUEUE_HEALTH = Dashboard(
    name="queue-health",
    description="§5: the transcripts queue and its dead-letter queue.",
    widgets=(
        # HighQueueDepth watches the visible messages (its Maximum over 5 minutes): its threshold is drawn.
        _widget("metric", 0, 0, 12, 6, title="Queue depth", view="timeSeries", stat="Average", period=60,
                metrics=[_metric(catalog.QUEUE_VISIBLE, _QUEUE, label="Visible"),
                         _metric(catalog.QUEUE_NOT_VISIBLE, _QUEUE, label="In flight")],
                annotations={"alarms": [HIGH_QUEUE_DEPTH.name]}),
        _widget("metric", 12, 0, 12, 6, title="Age of oldest message", view="timeSeries", stat="Maximum", period=60,
                metrics=[_metric(catalog.QUEUE_OLDEST_AGE, _QUEUE, label="Oldest message (s)")]),
        # Maximum, as the DLQMessages alarm watches it (the CDK's default for this metric).
        _widget("metric", 0, 6, 12, 6, title="Messages in DLQ", view="singleValue", stat="Maximum", period=300,
                metrics=[_metric(catalog.QUEUE_VISIBLE, _DLQ, label="Visible in the DLQ")],
                annotations={"alarms": [DLQ_MESSAGES.name]}),
        # The seed's "processing rate" is RATE(sent), but RATE is the change of a series per
        # second ("the difference between the latest data point value and the previous
        # data point value, divided by the time difference in seconds"): applied to the
        # per-period Sum it shows whether sending speeds up, not how many are sent. The
        # messages sent per second is sent/PERIOD(sent); RATE(sent) stays, named for what it is.
        _widget("metric", 12, 6, 12, 6, title="Messages sent", view="timeSeries", period=60,
                metrics=[_metric(catalog.QUEUE_SENT, _SENT, id="sent", stat="Sum", visible=False),
                         _math("sent/PERIOD(sent)", id="sent_per_second", label="Sent per second"),
                         _math("RATE(sent)", id="sent_rate_change", label="RATE(sent): change per second",
                               yAxis="right")]),
    ),
)

EXECUTIVE = Dashboard(
    name="executive",
    description="§9: the last 24 hours at a glance, and the system-health alarm.",
    start="-P1D",
    # "Change against the previous day": each single value has `trend`, its change against
    # the range before it, which for the 24-hour range is the previous day.
    widgets=(
        # setPeriodToTimeRange: one value for the whole range. The seed's period of one day
        # shows the last daily bucket instead, which is not "today" for a rolling range.
        _widget("metric", 0, 0, 6, 4, title="Transcripts processed", view="singleValue", trend=True,
                setPeriodToTimeRange=True, stat="Sum",
                metrics=[_metric(catalog.TRANSCRIPTS_PROCESSED, label="Transcripts")]),
        # The seed names success/total metrics it never defines: the worker publishes
        # TranscriptsProcessed with a Status-only roll-up and a dimensionless total.
        _widget("metric", 6, 0, 6, 4, title="Success rate", view="singleValue", trend=True, setPeriodToTimeRange=True,
                metrics=[_metric(catalog.TRANSCRIPTS_PROCESSED, _SUCCESS, id="success", stat="Sum", visible=False),
                         _metric(catalog.TRANSCRIPTS_PROCESSED, id="total", stat="Sum", visible=False),
                         _math("100*success/total", id="success_rate", label="Success %")]),
        _widget("metric", 12, 0, 6, 4, title="Average processing time", view="singleValue", trend=True,
                setPeriodToTimeRange=True, stat="Average",
                metrics=[_metric(catalog.PROCESSING_DURATION, label="Processing time (ms)")]),
        # The seed's `system_health_metric` is never defined. Until the canaries of §6 publish
        # SuccessPercent, availability is the share of minutes in which the worker pool's
        # collector reported (its heartbeat): 100 for a minute with a report, 0 without.
        _widget("metric", 18, 0, 6, 4, title="Availability", view="singleValue", trend=True, period=60,
                metrics=[_metric(catalog.WORKER_CONCURRENT_EXECUTIONS, id="heartbeat", stat="SampleCount",
                                 visible=False),
                         _math("TIME_SERIES(AVG(FILL(IF(heartbeat > 0, 100, 0), 0)))", id="availability",
                               label="Minutes the workers reported (%)")]),
        _widget("alarm", 0, 4, 24, 3, title="System health", alarms=[SYSTEM_HEALTH.name]),
    ),
)

# §7 is the cost issue's: the seed's formulas are wrong (Average duration where GB-s need
# the Sum; MemorySize and AWS/S3 NumberOfRequests are not CloudWatch metrics), so
# nothing here pretends to compute a cost.
# The cost publisher's services and the worker's agents, spelled out (the plan may not import monitoring or
# domain); tests/monitoring/cost checks them, and the price table's label, against the code.
_COST_SERVICES = ("Lambda", "SQS", "S3", "DynamoDB", "ElevenLabs")
_COST_AGENTS = ("work", "memory", "github_ideas")
_PRICE_TABLE_LABEL = "us-east-1 list prices, table 2026-12.1 of 2026-12-01"


def _cost_per_memo(agent: str) -> list[list[Any]]:
    """CostPerMemo for one agent, as metric math: its estimated cost over the memos it completed."""
    return [_metric(catalog.ESTIMATED_COST, {"AgentType": agent}, id=f"cost_{agent}", stat="Sum", visible=False),
            _metric(catalog.TRANSCRIPTS_PROCESSED, {"AgentType": agent, "Status": "Success"}, id=f"done_{agent}",
                    stat="Sum", visible=False),
            _math(f"cost_{agent}/done_{agent}", id=f"per_memo_{agent}", label=agent)]


COST = Dashboard(
    name="cost",
    description="§7: estimated cost at list price, by service, per memo by agent, and month to date.",
    start="-P7D",
    widgets=(
        _widget("text", 0, 0, 24, 3, markdown=(
            "# Cost (estimates)\n\nList-price **estimates** of what these memos would cost on AWS, from"
            f" WhisperSync's own telemetry: {_PRICE_TABLE_LABEL}. Not the bill: compare with it using"
            " `whispersync cost import`. Shared overhead (canaries, CloudWatch) and the free tier are in"
            " `whispersync cost`.")),
        _widget("metric", 0, 3, 12, 6, title="Estimated cost by service (USD)", view="timeSeries", stacked=True,
                stat="Sum", period=3600,
                metrics=[_metric(catalog.ESTIMATED_COST, {"Service": service}, label=service)
                         for service in _COST_SERVICES]),
        # CostPerMemo = EstimatedCostUSD / TranscriptsProcessed per AgentType (the metric math); the
        # worker publishes TranscriptsProcessed with {AgentType, Status}: completed memos are Status=Success.
        _widget("metric", 12, 3, 12, 6, title="Cost per memo by agent (USD)", view="timeSeries", period=3600,
                metrics=[entry for agent in _COST_AGENTS for entry in _cost_per_memo(agent)]),
        # A level that starts again each month, like AWS/Billing EstimatedCharges: its latest Maximum.
        _widget("metric", 0, 9, 6, 4, title="Month to date (USD)", view="singleValue", stat="Maximum",
                metrics=[_metric(catalog.MONTH_TO_DATE_COST, label="Estimated, this month")]),
    ),
)

DASHBOARDS = (WORKER_PERFORMANCE, QUEUE_HEALTH, EXECUTIVE, COST)

# The user-experience layer: what a user waits for is memo-to-action latency (acceptance to DONE,
# queueing and retries included; canaries' synthetic memos excluded). 99 % of memos within 10 s over 28
# days; a memo that ends FAILED is a bad event. Apdex T = 2.5 s, so 4T is the SLO's 10 s. The plan
# derives the fast (P1) and slow (P2) burn-rate alarms from it (plan/_slo.py).
MEMO_LATENCY_SLO = Slo(name="memo-latency", threshold_ms=10_000, objective=0.99, window_days=28, apdex_t_ms=2_500,
                       description="Memos done within 10 s of acceptance")

# §10 performance baselines: what is normal for each hour, over the last 7 days, computed daily
# (monitoring/baselines.py). The seed baselines AWS/Lambda Duration, MemoryUtilization and Errors; ours are
# the metrics people ask "is this normal?" about: processing time (Average and p99: each its own model),
# memos processed per agent and worker errors. TranscriptsProcessed is published per {AgentType, Status},
# {Status} and with no dimension, never per AgentType alone: the memos an agent processed are its
# Status=Success series (as the Cost dashboard counts them). MemoryUtilization is left out: a level with
# no daily rhythm, which its alarm watches better than a baseline would.
BASELINES = (
    Baseline(name="ProcessingDuration-Average", namespace=catalog.PROCESSING_DURATION.namespace,
             metric_name=catalog.PROCESSING_DURATION.name, statistic="Average"),
    Baseline(name="ProcessingDuration-p99", namespace=catalog.PROCESSING_DURATION.namespace,
             metric_name=catalog.PROCESSING_DURATION.name, statistic="p99"),
    *(Baseline(name=f"TranscriptsProcessed-{agent}", namespace=catalog.TRANSCRIPTS_PROCESSED.namespace,
               metric_name=catalog.TRANSCRIPTS_PROCESSED.name, statistic="Sum",
               dimensions={"AgentType": agent, "Status": "Success"}) for agent in ("work", "memory", "github_ideas")),
    Baseline(name="WorkerErrors", namespace=catalog.WORKER_ERRORS.namespace, metric_name=catalog.WORKER_ERRORS.name,
             statistic="Sum", dimensions=dict(catalog.WORKER_ERRORS.dimensions)),
)

DEFAULT_PLAN = with_slo_alarms(Plan(
    alarms=(SYSTEM_DOWN, DLQ_MESSAGES, API_5XX, AUTH_FAILURE_BURST, SYSTEM_HEALTH, HIGH_QUEUE_DEPTH,
            DEPENDENCIES_UNHEALTHY, END_TO_END_FAILING, NO_MEMOS_COMPLETING, COST_ANOMALY),
    metric_filters=(LOG_ERRORS,),
    routes=ROUTES,
    dashboards=DASHBOARDS,
    health_checks=(DEPENDENCIES_CHECK, END_TO_END_CHECK),
    slos=(MEMO_LATENCY_SLO,),
    redrive_rules=(REDRIVE_TRANSIENT,),
    baselines=BASELINES,
))
