"""Column schemas of the three telemetry views, and the SQL that builds them.

Each column is ``(name, DuckDB type, expression over j)``, where ``j`` is one JSON
line read by ``read_ndjson_objects``. Compaction writes exactly these columns to
Parquet, and the live-JSONL half of each view computes them on the fly, so a query
cannot tell (and must not care) whether a record has been compacted yet.
"""

from __future__ import annotations

from collections.abc import Sequence

Column = tuple[str, str, str]

_NUMERIC = "json_type(j->'timestamp') IN ('BIGINT', 'UBIGINT', 'DOUBLE')"

# Log timestamps are ISO-8601 strings (Powertools); an epoch-ms number is accepted
# too. TIMESTAMP is naive UTC: casting a string with an offset applies the offset.
_LOG_TS = (
    f"CASE WHEN {_NUMERIC} THEN epoch_ms(CAST(CAST(j->>'timestamp' AS DOUBLE) AS BIGINT))"
    " ELSE try_cast(j->>'timestamp' AS TIMESTAMP) END"
)
# Imported CloudWatch events carry their event time as "@timestamp" (epoch ms),
# which wins over the "timestamp" key of the line they wrap.
_LOG_EVENT_TS = (
    "CASE WHEN json_type(j->'@timestamp') IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
    f" THEN epoch_ms(CAST(CAST(j->>'@timestamp' AS DOUBLE) AS BIGINT)) ELSE {_LOG_TS} END"
)
_METRIC_TS = (
    f"CASE WHEN {_NUMERIC} THEN CAST(CAST(j->>'timestamp' AS DOUBLE) AS BIGINT)"
    " ELSE epoch_ms(try_cast(j->>'timestamp' AS TIMESTAMP)) END"
)
# `k=v` pairs sorted and joined by ",": the identity of a metric's dimension set.
# `dims_key()` in store.py must build the same string.
_DIMS = (
    "coalesce(array_to_string(list_sort(list_transform("
    "map_entries(try_cast(j->'dimensions' AS MAP(VARCHAR, VARCHAR))),"
    " lambda e: e.key || '=' || e.value)), ','), '')"
)

SCHEMAS: dict[str, list[Column]] = {
    "logs": [
        ("ts", "TIMESTAMP", _LOG_EVENT_TS),
        ("level", "VARCHAR", "j->>'level'"),
        ("message", "VARCHAR", "j->>'message'"),
        ("service", "VARCHAR", "j->>'service'"),
        ("correlation_id", "VARCHAR", "j->>'correlation_id'"),
        ("trace_id", "VARCHAR", "coalesce(j->>'trace_id', j->>'xray_trace_id')"),
        ("log_group", "VARCHAR", "j->>'log_group'"),
        ("log_stream", "VARCHAR", "j->>'log_stream'"),
        ("raw", "VARCHAR", "CAST(j AS VARCHAR)"),
        # Logs Insights: an imported event's original line (@message), when it is not `raw`,
        # and each line's size, so bytesScanned does not have to read `raw`.
        ("raw_message", "VARCHAR", "j->>'@message'"),
        ("bytes", "INTEGER", "strlen(CAST(j AS VARCHAR))"),
    ],
    "metrics": [
        ("ts", "BIGINT", _METRIC_TS),  # epoch milliseconds
        ("namespace", "VARCHAR", "j->>'namespace'"),
        ("name", "VARCHAR", "j->>'name'"),
        ("unit", "VARCHAR", "j->>'unit'"),
        ("dims", "VARCHAR", _DIMS),
        ("dimensions", "VARCHAR", "coalesce(CAST(j->'dimensions' AS VARCHAR), '{}')"),
        ("value", "DOUBLE", "try_cast(j->>'value' AS DOUBLE)"),
    ],
    "spans": [
        ("ts", "TIMESTAMP", "make_timestamp(CAST(j->>'start_time_unix_nano' AS BIGINT) // 1000)"),
        ("trace_id", "VARCHAR", "j->>'trace_id'"),
        ("span_id", "VARCHAR", "j->>'span_id'"),
        ("parent_span_id", "VARCHAR", "j->>'parent_span_id'"),
        ("name", "VARCHAR", "j->>'name'"),
        ("kind", "VARCHAR", "j->>'kind'"),
        ("start_time_unix_nano", "BIGINT", "try_cast(j->>'start_time_unix_nano' AS BIGINT)"),
        ("end_time_unix_nano", "BIGINT", "try_cast(j->>'end_time_unix_nano' AS BIGINT)"),
        ("duration_ms", "DOUBLE", "try_cast(j->>'duration_ms' AS DOUBLE)"),
        ("status", "VARCHAR", "j->>'status'"),
        ("status_message", "VARCHAR", "j->>'status_message'"),
        ("service", "VARCHAR", "j->>'service'"),
        ("correlation_id", "VARCHAR", "j->>'correlation_id'"),
        ("annotations", "VARCHAR", "CAST(j->'annotations' AS VARCHAR)"),
        ("metadata", "VARCHAR", "CAST(j->'metadata' AS VARCHAR)"),
        ("raw", "VARCHAR", "CAST(j AS VARCHAR)"),
    ],
}


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _file_list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(_quote(p) for p in paths) + "]"


def from_jsonl(stream: str, paths: Sequence[str]) -> str:
    """SELECT of the typed columns over JSON-lines files; bad or partial lines are skipped."""
    cols = ", ".join(f"CAST({expr} AS {typ}) AS {name}" for name, typ, expr in SCHEMAS[stream])
    # A writer's last line may be half-written: ignore_errors turns it into a NULL row.
    return (
        f"SELECT {cols} FROM read_ndjson_objects({_file_list(paths)}, ignore_errors = true)"
        " AS t(j) WHERE j IS NOT NULL"
    )


def from_parquet(stream: str, paths: Sequence[str]) -> str:
    cols = ", ".join(f"CAST({name} AS {typ}) AS {name}" for name, typ, _ in SCHEMAS[stream])
    # union_by_name: files written by an older schema still read (missing columns NULL).
    return f"SELECT {cols} FROM read_parquet({_file_list(paths)}, union_by_name = true)"


def empty(stream: str) -> str:
    cols = ", ".join(f"CAST(NULL AS {typ}) AS {name}" for name, typ, _ in SCHEMAS[stream])
    return f"SELECT {cols} WHERE false"


def view_sql(stream: str, parquet: Sequence[str], jsonl: Sequence[str]) -> str:
    parts = []
    if parquet:
        parts.append(from_parquet(stream, parquet))
    if jsonl:
        parts.append(from_jsonl(stream, jsonl))
    body = " UNION ALL ".join(parts) if parts else empty(stream)
    return f"CREATE OR REPLACE VIEW {stream} AS {body}"
