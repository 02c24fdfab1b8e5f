"""Trace search: X-Ray-style filter expressions over the stored spans."""

from whispersync.monitoring.traces._search import (
    TraceFilterError,
    TraceSummary,
    get_trace,
    parse_trace_filter,
    search_traces,
)

__all__ = ["TraceFilterError", "TraceSummary", "get_trace", "parse_trace_filter", "search_traces"]
