"""Trace search: X-Ray-style filter expressions over the stored spans."""

from whispersync.monitoring.traces._search import (
    TraceFilterError,
    TraceSummary,
    find_correlation_ids,
    find_trace_ids,
    get_trace,
    parse_trace_filter,
    search_traces,
)

__all__ = ["TraceFilterError", "TraceSummary", "find_correlation_ids", "find_trace_ids", "get_trace",
           "parse_trace_filter", "search_traces"]
