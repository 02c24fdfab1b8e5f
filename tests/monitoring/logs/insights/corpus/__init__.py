"""AWS's documented Logs Insights queries, run on events the real producers write.

``producers`` writes each producer's lines (Lambda, VPC flow logs, Route 53, CloudTrail,
API Gateway, Apache, EventBridge, JSON application logs) as CloudWatch events;
``datasets`` holds the events each query runs on; ``queries`` holds every documented
query with the answer worked out by hand; ``runner`` loads a dataset through the log
importer and checks an answer; ``report`` prints the corpus's state:

    python -m tests.monitoring.logs.insights.corpus.report
"""
