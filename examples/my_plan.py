"""A plan file: alarms added to (or replacing, by name) the built-in plan.

Check it with `whispersync plan validate my_plan.py`; run it with
`whispersync up --plan my_plan.py` (or `plan_file = "my_plan.py"` in whispersync.toml).
"""

from whispersync.plan import MetricAlarm

ALARMS = [
    # p99 processing time over 5 s for 15 minutes: memos are getting slow.
    MetricAlarm(
        name="SlowMemos",
        namespace="WhisperSync/Business",
        metric_name="ProcessingDuration",
        statistic="p99",
        period=300,
        evaluation_periods=3,
        threshold=5000,
        comparison_operator="GreaterThanThreshold",
        priority="P3",
    ),
]
