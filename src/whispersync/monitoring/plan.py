"""The monitoring plan as code: the one place that declares what is watched.

The local engine runs it, ``deploy/aws`` compiles it, exporters render it. Keep
this module declarative: names and values only, no behaviour.
"""

from __future__ import annotations

from whispersync import catalog
from whispersync.monitoring.alarms import CompositeAlarm, MetricAlarm
from whispersync.monitoring.filters import MetricFilter

__all__ = ["ALARMS", "METRIC_FILTERS", "TOPICS"]

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

METRIC_FILTERS: tuple[MetricFilter, ...] = (LOG_ERRORS,)


# ---------------------------------------------------------------------- §4 alarms, §8 remediation
#
# Priorities are the §4 hierarchy: P1 immediate, P2 within 1 hour, P3 within 4
# hours, P4 next business day. Each alarm publishes to its priority's topic on
# ALARM and on OK (so a page is resolved); the alert router subscribes to every
# topic and routes by priority. Users add or override alarms (same name) with a
# plan file: `whispersync up --plan FILE` (settings.plan_file), a Python file
# defining ALARMS.

TOPICS = {"P1": "critical", "P2": "high", "P3": "medium", "P4": "low"}

# Metric and queue names come from the catalog, which the producers publish under.
_QUEUE = catalog.queue_dimensions(catalog.QUEUE)
_DLQ = catalog.queue_dimensions(catalog.DEAD_LETTER_QUEUE)


def _topic(priority: str) -> tuple[str, ...]:
    return (f"topic:{TOPICS[priority]}",)


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
    alarm_actions=_topic("P1"), ok_actions=_topic("P1"),
)

# `dlq.metric_approximate_number_of_messages_visible()` defaults to Maximum over
# 5 minutes in the CDK; the collector publishes it every collector_interval.
DLQ_MESSAGES = MetricAlarm(
    name="DLQMessages",
    description="Messages are piling up in the dead-letter queue",
    namespace=catalog.QUEUE_VISIBLE.namespace, metric_name=catalog.QUEUE_VISIBLE.name, dimensions=_DLQ,
    statistic="Maximum", period=300, evaluation_periods=1, threshold=5,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing", priority="P1",
    alarm_actions=_topic("P1"), ok_actions=_topic("P1"),
)

API_5XX = MetricAlarm(
    name="Api5xx",
    description="The HTTP API answers with server errors",
    namespace=catalog.API_5XX.namespace, metric_name=catalog.API_5XX.name, dimensions=catalog.API_5XX.dimensions,
    statistic="Sum",
    period=60, evaluation_periods=5, datapoints_to_alarm=2, threshold=5,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching", priority="P2",
    alarm_actions=_topic("P2"), ok_actions=_topic("P2"),
)

SYSTEM_HEALTH = CompositeAlarm(
    name="whispersync-system-health",
    description="Overall system health degraded",
    rule="ALARM(SystemDown) OR ALARM(DLQMessages) OR ALARM(Api5xx)",
    priority="P1",
    alarm_actions=_topic("P1"), ok_actions=_topic("P1"),
)

# §8 "Auto-scaling based on queue depth": visible >= 1000 for 2 periods calls the
# `scale_up` remediation handler (monitoring/remediation.py) and tells people.
HIGH_QUEUE_DEPTH = MetricAlarm(
    name="HighQueueDepth",
    description="The transcripts queue is backing up; scaling workers up",
    namespace=catalog.QUEUE_VISIBLE.namespace, metric_name=catalog.QUEUE_VISIBLE.name, dimensions=_QUEUE,
    statistic="Maximum", period=300, evaluation_periods=2, threshold=1000,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing", priority="P2",
    alarm_actions=("remediation:scale_up", *_topic("P2")), ok_actions=_topic("P2"),
)

ALARMS: tuple[MetricAlarm | CompositeAlarm, ...] = (
    SYSTEM_DOWN, DLQ_MESSAGES, API_5XX, SYSTEM_HEALTH, HIGH_QUEUE_DEPTH,
)
