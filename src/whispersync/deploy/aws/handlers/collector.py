"""The collector on Lambda (an EventBridge schedule, each minute): the queue gauges, as EMF.

The same metrics, with the same dimensions, the local collector publishes
(catalog.QUEUE_*, QueueName = catalog.QUEUE / catalog.DEAD_LETTER_QUEUE), so the
plan's queue alarms watch the same identities on both targets. The counts are SQS's
ApproximateNumberOfMessages{,NotVisible,Delayed}; the age of the oldest message is the
latest AWS/SQS ApproximateAgeOfOldestMessage the adapter reads from CloudWatch.
"""

from __future__ import annotations

import os
from typing import Any

from whispersync import catalog
from whispersync.deploy.aws.environment import ENV
from whispersync.deploy.aws.handlers._lambda import Invocations, env
from whispersync.pipeline.aws import SqsQueue

__all__ = ["handler"]

_invocations = Invocations()
_queues: list[tuple[str, SqsQueue]] | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    telemetry = _invocations.start(context)
    record = telemetry.metrics.record
    published = {}
    try:
        for name, queue in queues():
            counts = queue.counts()
            dims = catalog.queue_dimensions(name)
            record(catalog.QUEUE_VISIBLE, counts.visible, dims)
            record(catalog.QUEUE_NOT_VISIBLE, counts.in_flight, dims)
            record(catalog.QUEUE_DELAYED, counts.delayed, dims)
            record(catalog.QUEUE_OLDEST_AGE, counts.oldest_age_seconds, dims)
            published[name] = counts.visible + counts.in_flight + counts.delayed
    finally:
        telemetry.flush()
    return {"queues": published}


def queues() -> list[tuple[str, SqsQueue]]:
    """(the plan's queue name, its SQS queue); the DLQ only when the stack names one."""
    global _queues
    if _queues is None:
        import boto3  # the age of the oldest message is a CloudWatch read; the collector is not on the hot path

        cloudwatch = boto3.client("cloudwatch")
        named = [(catalog.QUEUE, env(ENV.QUEUE_URL))]
        if os.environ.get(ENV.DLQ_URL):
            named.append((catalog.DEAD_LETTER_QUEUE, os.environ[ENV.DLQ_URL]))
        _queues = [(name, SqsQueue(None, url, cloudwatch=cloudwatch)) for name, url in named]
    return _queues
