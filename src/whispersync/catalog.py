"""Names both sides must agree on: the producers that publish and the plan that watches.

The pipeline publishes a metric under a name; an alarm in the plan, a dashboard, the
CDK stack and the Prometheus exporter find it by the same name. Spelling it twice is
how an alarm ends up watching a metric nobody publishes, so every such name lives
here, once, on the ground floor (this module imports nothing of ours).

    from whispersync import catalog
    telemetry.metrics.record(catalog.WORKER_ERRORS, 1)
    MetricAlarm(..., namespace=catalog.WORKER_ERRORS.namespace, metric_name=catalog.WORKER_ERRORS.name,
                dimensions=catalog.WORKER_ERRORS.dimensions)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# ---------------------------------------------------------------------- resources

QUEUE = "transcripts"
DEAD_LETTER_QUEUE = "transcripts-dlq"
WORKER_FUNCTION = "whispersync-worker"  # the Lambda function's name on AWS
API_NAME = "whispersync-api"  # API Gateway's ApiName dimension
RECORDS_TABLE = "memos"  # the DynamoDB table's TableName dimension
SERVICE = "whispersync"  # the `service` key of every log line
TRANSCRIPTS_PREFIX = "transcripts"  # blob keys: transcripts/<agent>/<memo id>.txt (S3's convention)

# ---------------------------------------------------------------------- namespaces

BUSINESS = "WhisperSync/Business"
WORKER = "WhisperSync/Worker"
QUEUES = "WhisperSync/Queue"
STORE = "WhisperSync/Store"
API = "WhisperSync/Api"
LOGS = "WhisperSync/Logs"
HEALTH = "WhisperSync/Health"
INGEST = "WhisperSync/Ingest"
SECURITY = "WhisperSync/Security"
SYNTHETICS = "WhisperSync/Synthetics"
COST = "WhisperSync/Cost"
BASELINES = "WhisperSync/Baselines"


@dataclass(frozen=True)
class Metric:
    """One published metric: namespace, name, unit, and the dimensions it always carries.

    `dimensions` are fixed (FunctionName=whispersync-worker); `varying` names the
    dimensions a producer adds per datapoint (AgentType, Status).
    """

    namespace: str
    name: str
    unit: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    varying: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", MappingProxyType(dict(self.dimensions)))

    def with_dimensions(self, **values: str) -> dict[str, str]:
        """The fixed dimensions plus per-datapoint ones."""
        return {**self.dimensions, **values}


def queue_dimensions(queue: str) -> dict[str, str]:
    return {"QueueName": queue}


_WORKER = {"FunctionName": WORKER_FUNCTION}
_TABLE = {"TableName": RECORDS_TABLE}

# Business (§1): published per memo, with AgentType/Status roll-ups.
TRANSCRIPTS_PROCESSED = Metric(BUSINESS, "TranscriptsProcessed", "Count", varying=("AgentType", "Status"))
PROCESSING_DURATION = Metric(BUSINESS, "ProcessingDuration", "Milliseconds", varying=("AgentType",))
# What the user waits for (the SLO's SLI): from the memo's acceptance to DONE, retries and queueing included.
MEMO_LATENCY = Metric(BUSINESS, "MemoLatency", "Milliseconds", varying=("AgentType",))
# Memos that ended FAILED (dead-lettered after their last attempt): bad events for the SLO, once per memo.
MEMOS_FAILED = Metric(BUSINESS, "MemosFailed", "Count")

# The worker pool, named as Lambda's metrics are.
WORKER_INVOCATIONS = Metric(WORKER, "Invocations", "Count", _WORKER)
WORKER_ERRORS = Metric(WORKER, "Errors", "Count", _WORKER)
WORKER_DURATION = Metric(WORKER, "Duration", "Milliseconds", _WORKER)
WORKER_CONCURRENT_EXECUTIONS = Metric(WORKER, "ConcurrentExecutions", "Count", _WORKER)
WORKER_THROTTLES = Metric(WORKER, "Throttles", "Count", _WORKER)
# The seed puts MemoryUtilization in AWS/Lambda, which has no such metric (Lambda
# Insights publishes memory_utilization); ours is the worker process's RSS share.
WORKER_MEMORY_UTILIZATION = Metric(WORKER, "MemoryUtilization", "Percent", _WORKER)

# The queues, named as SQS's metrics are; dimension QueueName (queue_dimensions()).
QUEUE_VISIBLE = Metric(QUEUES, "ApproximateNumberOfMessagesVisible", "Count", varying=("QueueName",))
QUEUE_NOT_VISIBLE = Metric(QUEUES, "ApproximateNumberOfMessagesNotVisible", "Count", varying=("QueueName",))
QUEUE_DELAYED = Metric(QUEUES, "ApproximateNumberOfMessagesDelayed", "Count", varying=("QueueName",))
QUEUE_OLDEST_AGE = Metric(QUEUES, "ApproximateAgeOfOldestMessage", "Seconds", varying=("QueueName",))
QUEUE_SENT = Metric(QUEUES, "NumberOfMessagesSent", "Count", varying=("QueueName",))

# The record store, named as DynamoDB's metrics are.
STORE_READS = Metric(STORE, "ConsumedReadCapacityUnits", "Count", _TABLE)
STORE_WRITES = Metric(STORE, "ConsumedWriteCapacityUnits", "Count", _TABLE)
STORE_USER_ERRORS = Metric(STORE, "UserErrors", "Count", _TABLE)
STORE_SYSTEM_ERRORS = Metric(STORE, "SystemErrors", "Count", _TABLE)

# The HTTP API counts every 5xx answer (API Gateway's name for it).
API_5XX = Metric(API, "5XXError", "Count", {"ApiName": API_NAME})

# Published by the plan's metric filter over error log lines (§3).
LOG_ERRORS = Metric(LOGS, "LogErrors", "Count")

NOTIFICATION_ATTEMPTS = Metric(HEALTH, "NotificationAttempts", "Count", varying=("Channel", "Outcome"))
UNSENT_REENQUEUED = Metric(INGEST, "UnsentMemosReenqueued", "Count")
# Telemetry an exporter could not deliver (telemetry/_otlp.py): Exporter=otlp, Reason=buffer_full|send_failed.
TELEMETRY_EXPORT_LOST = Metric(HEALTH, "TelemetryExportLost", "Count", varying=("Exporter", "Reason"))
# One remediation decision (monitoring/remediation.py): Action=scale_up|scale_down, Result=executed|dry_run|...
REMEDIATION_EXECUTED = Metric(HEALTH, "RemediationExecuted", "Count", varying=("Action", "Result"))

# The seed's health check: 1 when blob store, queue, record store and telemetry store all answer, else 0.
SYSTEM_HEALTH = Metric(HEALTH, "SystemHealth", "None")
# Canary runs, named as CloudWatch Synthetics' metrics are: per canary, and per step with StepName.
CANARY_SUCCESS_PERCENT = Metric(SYNTHETICS, "SuccessPercent", "Percent", varying=("CanaryName", "StepName"))
CANARY_DURATION = Metric(SYNTHETICS, "Duration", "Milliseconds", varying=("CanaryName", "StepName"))

# The API guard (web/api.py), each also published without dimensions (the total the plan's alarm watches).
# Route is the matched route template, never the raw path: a scanner chooses paths, and each would be a series.
AUTH_FAILURES = Metric(SECURITY, "AuthFailures", "Count", varying=("Route",))
# Reason is the refusal's error code (invalid_input, body_too_large, misdirected_request, ...): a bounded set.
REJECTED_INPUTS = Metric(SECURITY, "RejectedInputs", "Count", varying=("Reason",))

# Estimated cost (monitoring/cost): USD at list price of the memos metered in each period, per AgentType and
# Service (Lambda, SQS, S3, DynamoDB, ElevenLabs), with {Service}, {AgentType} and total roll-ups; an estimate
# of what AWS would charge, never the bill.
ESTIMATED_COST = Metric(COST, "EstimatedCostUSD", "None", varying=("AgentType", "Service"))
# The estimated cost of the calendar month (UTC) so far, as AWS/Billing's EstimatedCharges is: a level that
# starts again at 0 each month (the sum of the month's EstimatedCostUSD), for a month-to-date single value.
MONTH_TO_DATE_COST = Metric(COST, "MonthToDateCostUSD", "None")

# The daily baselines (monitoring/baselines, plan §10): for each hour of the day, the band's centre and bounds
# of one plan baseline (Baseline = its name), in that metric's own values; dashboards draw them with Average.
BASELINE_EXPECTED = Metric(BASELINES, "Expected", "None", varying=("Baseline",))
BASELINE_LOWER = Metric(BASELINES, "LowerBound", "None", varying=("Baseline",))
BASELINE_UPPER = Metric(BASELINES, "UpperBound", "None", varying=("Baseline",))

METRICS: tuple[Metric, ...] = tuple(value for value in list(globals().values()) if isinstance(value, Metric))
