"""A few log lines as a Lambda function using aws-lambda-powertools writes them, on stdout.

    python examples/powertools_app.py > powertools.log
    whispersync logs import powertools.log --log-group /aws/lambda/whispersync

Outside Lambda there is no X-Ray trace header, so one is set here as Lambda would;
Powertools adds it to every line as `xray_trace_id`.
"""

import os

os.environ.setdefault("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")

from aws_lambda_powertools import Logger  # noqa: E402 - reads the variable above

logger = Logger(service="whispersync")  # the default format: "2026-12-02 03:08:37,969+0000"

for agent in ("work", "work", "memory"):
    logger.info("Processing transcript", agent_type=agent)
logger.info("Processing successful", agent_type="work", duration_ms=42)
try:
    {}["transcript"]
except KeyError:
    logger.exception("Processing failed", extra={"agent_type": "memory", "error_type": "KeyError"})
