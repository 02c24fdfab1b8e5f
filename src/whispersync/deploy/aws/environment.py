"""What the CDK stack and the Lambda handlers must agree on: function names, handler
entry points and the environment variables a function is given.

Secrets are never in this environment: a function is given the *name* of an SSM
SecureString parameter or a Secrets Manager secret, and reads the value at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ENV", "FUNCTIONS", "LAMBDA_ARCHITECTURE", "LAMBDA_MACHINE", "LAMBDA_PIP_PLATFORM", "LAMBDA_PYTHON_VERSION",
           "LAMBDA_RUNTIME", "Function", "secret_read_statements", "secret_store"]

# The one runtime and architecture of every function: the stack deploys them, the package builds wheels for
# them (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html: "python3.11"; Architectures
# "x86_64" or "arm64").
LAMBDA_RUNTIME = "python3.11"
LAMBDA_ARCHITECTURE = "x86_64"
# pip's --python-version and --platform for them. Lambda's python3.11 runs on Amazon Linux 2 (glibc 2.26):
# manylinux2014 wheels (glibc 2.17) run there. Lambda says arm64 where wheel tags say aarch64.
LAMBDA_PYTHON_VERSION = LAMBDA_RUNTIME.removeprefix("python")
LAMBDA_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}[LAMBDA_ARCHITECTURE]
LAMBDA_PIP_PLATFORM = f"manylinux2014_{LAMBDA_MACHINE}"


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
    # The plan file synth shipped in the code directory (relative to it: Lambda's LAMBDA_TASK_ROOT), when the
    # user gave one: the alert router's routes and remediation's rules come from it, as the alarms do.
    PLAN_FILE = "WHISPERSYNC_PLAN_FILE"
    # The alert router's email channel: everything but the password (smtp_password, in the secrets).
    SMTP_HOST = "WHISPERSYNC_SMTP_HOST"
    SMTP_PORT = "WHISPERSYNC_SMTP_PORT"
    SMTP_USER = "WHISPERSYNC_SMTP_USER"
    EMAIL_FROM = "WHISPERSYNC_EMAIL_FROM"
    EMAIL_TO = "WHISPERSYNC_EMAIL_TO"  # comma-separated
    # The worker's SQS event source mapping UUID: what remediation resizes (MaximumConcurrency).
    WORKER_EVENT_SOURCE = "WHISPERSYNC_WORKER_EVENT_SOURCE"
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"


_SSM_ARN = re.compile(r"^arn:aws[\w-]*:ssm:")


def secret_store(name: str) -> str:
    """Where the channel secrets named ``name`` live: ``"ssm"`` (a name starting with "/" or an SSM parameter
    ARN) or ``"secretsmanager"`` (anything else). The router reads and the stack grants by this one rule."""
    return "ssm" if name.startswith("/") or _SSM_ARN.match(name) else "secretsmanager"


def secret_read_statements(name: str, *, partition: Any, region: Any, account: Any) -> list[dict[str, list[Any]]]:
    """The least-privilege IAM statements (``{"actions", "resources"}``) to read the channel secrets ``name``.

    SSM: ssm:GetParameter on that parameter (the router calls GetParameter with WithDecryption). No
    kms:Decrypt: the AWS managed key aws/ssm "grants Decrypt permission to all IAM principals in the AWS
    account" (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html);
    a parameter under a customer managed key needs that key's policy to allow the router's role.
    Secrets Manager: secretsmanager:GetSecretValue on the secret; a name matches its ARN with the six
    random characters Secrets Manager appends ("-??????"), a full ARN stands for itself.
    """
    if secret_store(name) == "ssm":
        arn = name if name.startswith("arn:") else f"arn:{partition}:ssm:{region}:{account}:parameter{name}"
        return [{"actions": ["ssm:GetParameter"], "resources": [arn]}]
    arn = name if name.startswith("arn:") else f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-??????"
    return [{"actions": ["secretsmanager:GetSecretValue"], "resources": [arn]}]
