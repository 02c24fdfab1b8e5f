"""What the CDK stack and the Lambda handlers must agree on: function names, handler
entry points and the environment variables a function is given.

Secrets are never in this environment: a function is given the *name* of an SSM
SecureString parameter or a Secrets Manager secret, and reads the value at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENV", "FUNCTIONS", "Function"]


@dataclass(frozen=True)
class Function:
    name: str  # the Lambda function's name (FunctionName dimension of AWS/Lambda metrics)
    handler: str  # module.function, as Lambda's Handler setting spells it
    description: str


FUNCTIONS = {
    "ingest": Function("whispersync-ingest", "whispersync.deploy.aws.handlers.ingest.handler",
                       "S3 ObjectCreated under transcripts/ (and the function URL): record + message"),
    "worker": Function("whispersync-worker", "whispersync.deploy.aws.handlers.worker.handler",
                       "SQS batches of memos: the same MemoProcessor and agents as locally"),
    "alert_router": Function("whispersync-alert-router", "whispersync.deploy.aws.handlers.alert_router.handler",
                             "P1-P4 SNS topics: the same router and channels as locally"),
    "remediation": Function("whispersync-remediation", "whispersync.deploy.aws.handlers.remediation.handler",
                            "CloudWatch alarm actions: scale the worker's event source with the local guards"),
    "collector": Function("whispersync-collector", "whispersync.deploy.aws.handlers.collector.handler",
                          "every minute: the queue gauges the plan's alarms watch, as EMF"),
}


class ENV:
    """Environment variable names (values are resource names/ARNs the stack fills in)."""

    BUCKET = "WHISPERSYNC_BUCKET"
    QUEUE_URL = "WHISPERSYNC_QUEUE_URL"
    DLQ_URL = "WHISPERSYNC_DLQ_URL"
    TABLE = "WHISPERSYNC_TABLE"
    MAX_RECEIVE_COUNT = "WHISPERSYNC_MAX_RECEIVE_COUNT"
    # Ingest's size limit, as Settings.max_transcript_bytes reads it locally (default 1 MiB).
    MAX_TRANSCRIPT_BYTES = "WHISPERSYNC_MAX_TRANSCRIPT_BYTES"
    # Name of the SSM parameter / Secrets Manager secret holding channel secrets (JSON), never the secret.
    SECRETS_NAME = "WHISPERSYNC_SECRETS_NAME"
    # The worker's SQS event source mapping UUID: what remediation resizes (MaximumConcurrency).
    WORKER_EVENT_SOURCE = "WHISPERSYNC_WORKER_EVENT_SOURCE"
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
