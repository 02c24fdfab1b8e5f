"""CloudWatch Logs Insights, locally: parse a query, run it on the telemetry store.

    from whispersync.monitoring.logs.insights import run_query
    result = run_query(store, "filter level = 'ERROR' | stats count() by bin(5m)")
    result["columns"], result["rows"], result["statistics"]

Log groups (``@log``) are picked in the query (``SOURCE '/aws/lambda/f' | ...``) or,
as StartQuery's logGroupNames, with ``run_query(..., log_groups=[...])``.

The query is compiled to one DuckDB SQL statement over the store's ``logs``
view (``_compiler``); the language follows CloudWatch's documentation, which is
the specification.
"""

from whispersync.monitoring.logs.insights._errors import InsightsQueryError
from whispersync.monitoring.logs.insights._executor import check_query, explain, format_timestamp, run_query
from whispersync.monitoring.logs.insights._parser import parse_query
from whispersync.monitoring.logs.insights.saved import SAVED_QUERIES, saved_query

__all__ = [
    "SAVED_QUERIES",
    "InsightsQueryError",
    "check_query",
    "explain",
    "format_timestamp",
    "parse_query",
    "run_query",
    "saved_query",
]
