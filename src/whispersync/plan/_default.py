"""The built-in plan: the seed's monitoring plan (§1–§10), corrected where it is wrong.

Names come from the catalog, which the producers publish under.
"""

from __future__ import annotations

from whispersync import catalog
from whispersync.plan._alarms import CompositeAlarm, MetricAlarm
from whispersync.plan._metrics import MetricFilter
from whispersync.plan._plan import Plan
from whispersync.plan._routing import ROUTES, topic_actions

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
DLQ_MESSAGES = MetricAlarm(
    name="DLQMessages",
    description="Messages are piling up in the dead-letter queue",
    namespace=catalog.QUEUE_VISIBLE.namespace, metric_name=catalog.QUEUE_VISIBLE.name, dimensions=_DLQ,
    statistic="Maximum", period=300, evaluation_periods=1, threshold=5,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing", priority="P1",
    alarm_actions=topic_actions("P1"), ok_actions=topic_actions("P1"),
)

API_5XX = MetricAlarm(
    name="Api5xx",
    description="The HTTP API answers with server errors",
    namespace=catalog.API_5XX.namespace, metric_name=catalog.API_5XX.name, dimensions=catalog.API_5XX.dimensions,
    statistic="Sum", period=60, evaluation_periods=5, datapoints_to_alarm=2, threshold=5,
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

DEFAULT_PLAN = Plan(
    alarms=(SYSTEM_DOWN, DLQ_MESSAGES, API_5XX, SYSTEM_HEALTH, HIGH_QUEUE_DEPTH),
    metric_filters=(LOG_ERRORS,),
    routes=ROUTES,
)
