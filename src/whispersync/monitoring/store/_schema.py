"""Column schemas of the three telemetry views, and the SQL that builds them.

Each column is ``(name, DuckDB type, expression over j)``, where ``j`` is one JSON
line read by ``read_ndjson_objects``. Compaction writes exactly these columns to
Parquet, and the live-JSONL half of each view computes them on the fly, so a query
cannot tell (and must not care) whether a record has been compacted yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from ._footers import footer_fact

Column = tuple[str, str, str]

_NUMERIC = "json_type(j->'timestamp') IN ('BIGINT', 'UBIGINT', 'DOUBLE')"

# Log timestamps are ISO-8601 strings (Powertools); an epoch-ms number is accepted
# too. TIMESTAMP is naive UTC. A string -> TIMESTAMP cast *drops* an offset
# ("12:00+05:30" becomes 12:00), so strings go through TIMESTAMPTZ, which applies
# it; a string without an offset is read in the session time zone, which every
# connection over these views sets to UTC.
_LOG_TS = (
    f"CASE WHEN {_NUMERIC} THEN epoch_ms(CAST(CAST(j->>'timestamp' AS DOUBLE) AS BIGINT))"
    " ELSE timezone('UTC', try_cast(j->>'timestamp' AS TIMESTAMPTZ)) END"
)
# Imported CloudWatch events carry their event time as "@timestamp" (epoch ms),
# which wins over the "timestamp" key of the line they wrap.
_LOG_EVENT_TS = (
    "CASE WHEN json_type(j->'@timestamp') IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
    f" THEN epoch_ms(CAST(CAST(j->>'@timestamp' AS DOUBLE) AS BIGINT)) ELSE {_LOG_TS} END"
)
_METRIC_TS = (
    f"CASE WHEN {_NUMERIC} THEN CAST(CAST(j->>'timestamp' AS DOUBLE) AS BIGINT)"
    " ELSE epoch_ms(try_cast(j->>'timestamp' AS TIMESTAMPTZ)) END"
)
# `k=v` pairs sorted and joined by ",": the identity of a metric's dimension set.
# `dims_key()` in store.py must build the same string.
_DIMS = (
    "coalesce(array_to_string(list_sort(list_transform("
    "map_entries(try_cast(j->'dimensions' AS MAP(VARCHAR, VARCHAR))),"
    " lambda e: e.key || '=' || e.value)), ','), '')"
)

# JSON fields of our own log records promoted to typed columns, so Logs Insights
# queries naming them do not read (and decompress) the whole `raw` line. These are
# the fields the seed's saved queries filter and group on (agent_type, error_type,
# duration_ms: monitoring plan §3, insights/saved.py); keep the list short, since
# every promoted field costs columns in every log file. name → numeric?
# Each field f gets columns exactly as `raw->>'$.f'` would give it, so answers do
# not change (insights/_compiler.py maps the field name to them):
#   f          VARCHAR  `j->>'$.f'`: the value as text (strings unquoted)
#   f__text    BOOLEAN  whether the JSON value is a string, so a result column can
#                       give back the JSON value (number stays number, "12" stays text)
#   f__num     DOUBLE   numeric fields only: try_cast(f AS DOUBLE), what comparing
#                       with a number, sum/avg/min/max and sort use
PROMOTED_LOG_FIELDS: dict[str, bool] = {"agent_type": False, "error_type": False, "duration_ms": True}


def _promoted_columns() -> list[Column]:
    columns: list[Column] = []
    for name, numeric in PROMOTED_LOG_FIELDS.items():
        path = f"'$.{name}'"
        columns.append((name, "VARCHAR", f"j->>{path}"))
        columns.append((f"{name}__text", "BOOLEAN", f"json_type(j->{path}) = 'VARCHAR'"))
        if numeric:
            columns.append((f"{name}__num", "DOUBLE", f"try_cast(j->>{path} AS DOUBLE)"))
    return columns


_RAW = "CAST(j AS VARCHAR)"

# `filter @message like "x"` is a substring search of the whole raw line, which is
# what most Logs Insights queries spend their time on. Compaction splits the line
# into three columns so the search reads far fewer bytes with the same answer:
#   msg_skel  the line with its volatile tokens cut out (quoted strings holding a
#             digit, numbers): few distinct values per file, dictionary-encoded
#   msg_hex   the cut tokens made only of HEX_CHARS (ids, timestamps, numbers),
#             joined by ","
#   msg_vol   the other cut tokens, joined by ","
# Every cut is bounded on both sides by a character of SPLIT_BOUNDARY (a quote, or
# `:,[{` then spaces / spaces then `,}]`), so a needle with none of those
# characters that neither starts nor ends with a space lies either wholly inside
# one cut token or wholly in the skeleton, never across: such a needle is in the
# line exactly when it is in one of the three columns (insights/_compiler.py).
# Other needles, and regexes, read `raw`.
SPLIT_BOUNDARY = frozenset('"{}[]:,')
HEX_CHARS = frozenset("0123456789abcdefABCDEF.:+-TZ ")
_QUOTED_WITH_DIGIT = r'"([^"\\]*[0-9][^"\\]*)"'
_NUMBER = r"([:,\[]\s*)(-?[0-9][0-9.eE+\-]*)(\s*[,}\]])"
_HEX_TOKEN = r"[0-9a-fA-F.:+\-TZ ]*"


def split_messages(stream: str, select: str) -> str:
    """``select`` (rows of ``stream``) with the logs' message columns split from ``raw``.

    Rows split already (a merge of split files) keep their split; other streams
    pass through unchanged.
    """
    if stream != "logs":
        return select
    cuts = (f"list_concat(regexp_extract_all(raw, '{_QUOTED_WITH_DIGIT}', 1),"
            f" regexp_extract_all(s1, '{_NUMBER}', 2))")
    split = (f"SELECT *, regexp_replace(s1, '{_NUMBER}', '\\1\\3', 'g') AS s2, {cuts} AS cuts FROM"
             f" (SELECT *, regexp_replace(raw, '{_QUOTED_WITH_DIGIT}', '\"\"', 'g') AS s1 FROM ({select}))")
    unsplit = "msg_vol IS NULL AND msg_hex IS NULL"
    return (
        "SELECT * EXCLUDE (s1, s2, cuts) REPLACE ("
        f"CASE WHEN {unsplit} THEN s2 ELSE msg_skel END AS msg_skel,"
        f" CASE WHEN {unsplit} THEN nullif(array_to_string(list_filter(cuts,"
        f" lambda t: NOT regexp_full_match(t, '{_HEX_TOKEN}')), ','), '') ELSE msg_vol END AS msg_vol,"
        f" CASE WHEN {unsplit} THEN nullif(array_to_string(list_filter(cuts,"
        f" lambda t: regexp_full_match(t, '{_HEX_TOKEN}')), ','), '') ELSE msg_hex END AS msg_hex)"
        f" FROM ({split})"
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
        *_promoted_columns(),
        # `raw` split for `@message like` (see split_messages): until compaction splits
        # it, the skeleton is the whole line and the token columns are NULL.
        ("msg_skel", "VARCHAR", _RAW),
        ("msg_vol", "VARCHAR", "NULL"),
        ("msg_hex", "VARCHAR", "NULL"),
    ],
    "metrics": [
        ("ts", "BIGINT", _METRIC_TS),  # epoch milliseconds
        ("namespace", "VARCHAR", "j->>'namespace'"),
        ("name", "VARCHAR", "j->>'name'"),
        ("unit", "VARCHAR", "j->>'unit'"),
        ("dims", "VARCHAR", _DIMS),
        ("dimensions", "VARCHAR", "coalesce(CAST(j->'dimensions' AS VARCHAR), '{}')"),
        ("value", "DOUBLE", "try_cast(j->>'value' AS DOUBLE)"),
        # A statistic set (PutMetricData's StatisticValues): NULL for a raw data point,
        # whose `value` is then the one sample. A set's `value` is Sum/SampleCount, so
        # readers that know nothing of sets still see a sensible number.
        ("set_count", "DOUBLE", "try_cast(j->'statistic_values'->>'SampleCount' AS DOUBLE)"),
        ("set_sum", "DOUBLE", "try_cast(j->'statistic_values'->>'Sum' AS DOUBLE)"),
        ("set_min", "DOUBLE", "try_cast(j->'statistic_values'->>'Minimum' AS DOUBLE)"),
        ("set_max", "DOUBLE", "try_cast(j->'statistic_values'->>'Maximum' AS DOUBLE)"),
        # PutMetricData's StorageResolution: 1 for a high-resolution point; NULL (files
        # and lines written before the column, or points without it) means 60, standard.
        ("storage_resolution", "INTEGER", "try_cast(j->>'storage_resolution' AS INTEGER)"),
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


# How compaction lays out each stream's Parquet: the sort order, and COPY options beside the codec.
# Logs and spans are sorted by time in DuckDB's default row groups: their queries name a time
# range, and row groups outside it are skipped by their min/max statistics.
# Metrics are sorted by series, then time, in small row groups: store/_series.py reads a series'
# rows from a day file once, and the row groups of every other series are skipped by their
# statistics on the series columns (for `=`, for IN lists of many keys and for the join's
# min/max filter alike: checked in DuckDB's query profile). Reading footers (each file's ts
# range) grows with the number of row groups, hence not smaller ones. One day file, 2,000
# series x 1,440 points (2.88 M rows), DuckDB 2.0:
#   layout                    row groups  footer ts range  first read of one series  file size
#   by time (before)               24          9 ms               158 ms              23.5 MB
#   by series, 16,384 rows        176         29 ms                20 ms              14.8 MB
#   by series, 32,768 rows         88         21 ms                14 ms              14.1 MB
# PARQUET_VERSION V2: its delta encoding of each series' rising ts makes files 30 % smaller
# than V1's per-row-group dictionaries, at the same read speed. The cost: time-range queries
# on the SQL path read a whole day file (a trimmed statistic of all 200 series over 1 h of a
# week: 56 -> 84 ms; list_metrics 144 -> 173 ms the first time, a few ms after, as it keeps
# each file's metrics), and merging a day sorts more (288,000 rows: 254 -> 382 ms, once a day).
COMPACTED_ORDER = {"logs": "ts", "metrics": "namespace, name, dims, ts", "spans": "ts"}
COMPACTED_OPTIONS = {"logs": "", "metrics": ", ROW_GROUP_SIZE 32768, PARQUET_VERSION V2", "spans": ""}


def compacted(stream: str, select: str) -> str:
    """``select`` (rows of ``stream``) in the order compaction writes them."""
    return f"{select} ORDER BY {COMPACTED_ORDER[stream]}"


_ALL_COLUMNS = frozenset(name for columns in SCHEMAS.values() for name, _, _ in columns)


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
    """SELECT of the typed columns over Parquet files, whatever schema wrote them.

    Files written before a column existed lack it: the column is computed from the
    file's ``raw`` line as the JSONL half computes it (NULL for a stream without
    ``raw``), so such files give the same answers. Files are grouped by the columns
    they hold; files of the current schema are read as they are.
    """
    schema = SCHEMAS[stream]
    groups: dict[frozenset[str], list[str]] = {}
    for path in paths:
        groups.setdefault(_parquet_columns(path), []).append(path)
    has_raw = any(name == "raw" for name, _, _ in schema)
    parts = []
    for present, files in groups.items():
        source = f"read_parquet({_file_list(files)}, union_by_name = true)"
        cols = []
        for name, typ, expr in schema:
            if name in present:
                value = name
            elif expr == _RAW and "raw" in present:
                value = "raw"  # the stored line itself, not the line parsed and written again
            elif has_raw and "raw" in present:
                value = expr  # over j, the stored line parsed again (below)
            else:
                value = "NULL"
            cols.append(f"CAST({value} AS {typ}) AS {name}")
        if has_raw and "raw" in present and not present >= {name for name, _, _ in schema}:
            source = f"(SELECT *, CAST(raw AS JSON) AS j FROM {source})"
        # union_by_name: files of one group share their columns, not necessarily their order.
        parts.append(f"SELECT {', '.join(cols)} FROM {source}")
    return " UNION ALL ".join(parts) if parts else empty(stream)


def _parquet_columns(path: str) -> frozenset[str]:
    """The column names in a Parquet file's footer (read once per file). A file that
    cannot be read is assumed current: the query itself then fails and is retried."""
    return footer_fact(path, _read_columns, _ALL_COLUMNS)


def _read_columns(db: duckdb.DuckDBPyConnection, path: str) -> frozenset[str]:
    rows = db.execute(
        "SELECT name FROM parquet_schema(?) WHERE num_children IS NULL OR num_children = 0", [path]
    ).fetchall()
    return frozenset(name for (name,) in rows)


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
