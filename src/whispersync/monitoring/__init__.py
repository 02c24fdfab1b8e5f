"""The local monitoring engine, in wings, each with a public face (its ``__init__``):

    store/     the telemetry store: segments, compaction, reads, statistics (DuckDB)
    metrics/   GetMetricData and metric math
    logs/      filter patterns, metric filters, Logs Insights, log import
    traces/    trace search
    alarms/    evaluation, the engine, composite rules, alarm requests, state
    notify/    topics, routing, channels, the delivery outbox
    dashboards/ CloudWatch dashboard bodies: parse, validate, render, each widget's data
    remediation.py, times.py, plan_check.py

It runs the plan (``whispersync.plan``); importing this package imports none of them.
"""

__all__: list[str] = []
