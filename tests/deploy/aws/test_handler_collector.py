"""The collector handler: the local collector's queue gauges, same identities, as EMF on stdout."""

from __future__ import annotations

import datetime

from whispersync import catalog
from whispersync.telemetry import parse_emf


def test_it_publishes_the_queue_gauges_the_plan_s_alarms_watch(deployed, lam) -> None:
    import boto3

    for n in range(3):
        deployed.sqs.send_message(QueueUrl=deployed.queue_url, MessageBody=f'{{"n": {n}}}')
    deployed.sqs.send_message(QueueUrl=deployed.queue_url, MessageBody="later", DelaySeconds=600)
    lam.receive_all(deployed.sqs, deployed.queue_url, wanted=1)  # one in flight
    # What SQS itself reports to CloudWatch every minute; the adapter reads the latest. (A few seconds
    # back: moto drops a datapoint in the query's last, truncated second.)
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/SQS", MetricData=[{
        "MetricName": "ApproximateAgeOfOldestMessage", "Dimensions": [{"Name": "QueueName", "Value": "transcripts"}],
        "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5), "Value": 42.0,
        "Unit": "Seconds"}])

    answer = deployed.modules["collector"].handler({"source": "aws.events", "detail-type": "Scheduled Event"},
                                                   lam.context("whispersync-collector"))
    assert answer == {"queues": {"transcripts": 4, "transcripts-dlq": 0}}

    points = [r for line in lam.stdout_lines(deployed.stdout) if "_aws" in line for r in parse_emf(line)]
    by_identity = {(r["namespace"], r["name"], tuple(sorted(r["dimensions"].items()))): r["value"] for r in points}
    queue = (("QueueName", catalog.QUEUE),)
    gauges = (catalog.QUEUE_VISIBLE, catalog.QUEUE_NOT_VISIBLE, catalog.QUEUE_DELAYED, catalog.QUEUE_OLDEST_AGE)
    assert by_identity == {
        (catalog.QUEUE_VISIBLE.namespace, catalog.QUEUE_VISIBLE.name, queue): 2,
        (catalog.QUEUE_NOT_VISIBLE.namespace, catalog.QUEUE_NOT_VISIBLE.name, queue): 1,
        (catalog.QUEUE_DELAYED.namespace, catalog.QUEUE_DELAYED.name, queue): 1,
        (catalog.QUEUE_OLDEST_AGE.namespace, catalog.QUEUE_OLDEST_AGE.name, queue): 42.0,
        **{(m.namespace, m.name, (("QueueName", catalog.DEAD_LETTER_QUEUE),)): 0 for m in gauges},
    }
    assert {r["unit"] for r in points if r["name"] == catalog.QUEUE_OLDEST_AGE.name} == {"Seconds"}
