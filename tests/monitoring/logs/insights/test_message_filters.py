"""``filter @message like`` over compacted logs reads the split message columns, not ``raw``,
and answers exactly as a substring search of the whole raw event does.

@message is the whole event (CloudWatch: "the raw unparsed log event"), so the
answers are checked against the same store before compaction (JSONL, where the
search reads the raw line), for every short substring of the events and for
needles at token edges (numbers, ids, spaces, quotes, colons, escapes); and over
Parquet files written before the split columns existed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import _compiler, run_query
from whispersync.monitoring.logs.insights._parser import parse_query
from whispersync.monitoring.store import TelemetryStore, _schema, _segments

T0 = int(datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp() * 1000)
START, END = T0 - 60_000, T0 + 3_600_000


def _rec(seconds: int, **fields) -> dict:
    when = datetime.fromtimestamp((T0 + seconds * 1000) / 1000, UTC)
    return {"timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"), **fields}


RECORDS = [
    _rec(1, level="INFO", message="Processing transcript", agent_type="work", transcript_size=1234,
         correlation_id="9f3a0c2e11b4d5e6-17", trace_id="1-6513270e-128b2f330c5c7fd0a6a3a450"),
    _rec(2, level="ERROR", message="Processing failed", error_type="ValueError", location="handler:57",
         exception="Traceback (most recent call last): ERR0R 42"),
    _rec(3, level="INFO", message="Processing successful", duration_ms=12.5, result_size=-3, ratio=1e-7,
         flags=[1, 2, "x9", {"deep": 31}], ok=True, missing=None),
    _rec(4, level="WARNING", message='He said "stop 12" \\ then 3:45, {x} [y]', path="C:\\tmp\\7",
         note="caf\u00e9 12 \u2603", blank="", spaced="  lead and trail 5  "),
    _rec(5, level="DEBUG", message="Transcript downloaded", bytes=0, nested={"a": {"b": [10, 20.25]}},
         request_id="req-99", key="transcripts/work/99.txt", hexish="DEADbeef", stamp="2026-11-27 12:00:05"),
]
# A plain-text event imported from CloudWatch: its @message is its own line, not JSON.
TEXT_EVENT = {"timestamp": T0 + 6_000, "message": "2026-11-27 12:00:06 [ERROR] disk full 99%",
              "logStreamName": "host-a"}

EDGE_NEEDLES = [
    "ERROR", "Processing", "Processing successful", "1234", "12", "12.5", "-3", "1e-7", "e-7", "true", "null",
    "9f3a0c2e11b4d5e6", "6513270e", "-17", "x9", "31", "stop 12", "3", "45", "caf", "\u00e9 12", "\u2603",
    "lead and trail 5", " lead", "5 ", " ", "DEAD", "beef", "12:00", "2026-11-27", "T12", "Z", "99", "req-99",
    "99.txt", "handler", "57", "20.25", "10", "0", "disk full", "99%", "[ERROR]", "deep", "ok", "tmp",
    "ERR0R 42", ":", ",", "{", "}", "[", "]", '"', "\\", '":', ":1", "1,", '"x9"', "12,", "5}",
]


def _needles() -> list[str]:
    """The edge cases, and every substring of length 1 to 3 of the lines (a dense sample)."""
    out = dict.fromkeys(EDGE_NEEDLES)
    for rec in [*RECORDS, TEXT_EVENT]:
        line = orjson.dumps(rec).decode()
        for size in (1, 3):
            for i in range(0, len(line) - size + 1, size):
                out.setdefault(line[i:i + size])
    # The query language's string literal: skip what its quoting would change.
    return [n for n in out if n and '"' not in n and "\\" not in n and "\n" not in n]


QUERY = 'filter @message like "{}" | stats count() as n'


def _counts(store: TelemetryStore, needles: list[str]) -> list[int]:
    out = []
    for needle in needles:
        rows = run_query(store, QUERY.format(needle), start_ms=START, end_ms=END)["rows"]
        out.append(rows[0][0] if rows else 0)
    return out


@pytest.fixture
def store(tmp_path: Path):
    clock = [T0 / 1000 + 600]
    store = TelemetryStore(tmp_path / "telemetry", clock=lambda: clock[0])
    for rec in RECORDS:
        store.emit("logs", rec)
    store.flush()
    report = import_logs(store, orjson.dumps(TEXT_EVENT) + b"\n", log_group="/imported")
    assert report.imported == 1
    store.clock = clock  # type: ignore[attr-defined]
    yield store
    store.close()


def _compact(store: TelemetryStore) -> list[str]:
    store.clock[0] = T0 / 1000 + 3 * 86_400  # type: ignore[attr-defined]
    store.compact()
    parquet, jsonl = _segments.live_files(store.root / "logs")
    assert parquet and not jsonl
    return parquet


def test_spot_answers(store: TelemetryStore) -> None:
    needles = ["ERROR", "12", "-3", "true", "99", ":", " "]
    assert _counts(store, needles) == [2, 6, 1, 1, 2, 6, 6]


def test_compacted_answers_equal_raw_search(store: TelemetryStore) -> None:
    needles = _needles()
    assert len(needles) > 150
    others = ["filter @message not like /ERROR/ | stats count()", "filter @message like /(?i)error/ | stats count()",
              "filter @message like /ERR.R/ | stats count()", "filter @message like 'successful' | fields @message"]
    before = _counts(store, needles)
    others_before = [run_query(store, q, start_ms=START, end_ms=END)["rows"] for q in others]
    _compact(store)
    after = _counts(store, needles)
    assert {n: a for n, a, b in zip(needles, after, before, strict=True) if a != b} == {}
    # Negated and regex filters, and @message shown, keep their answers too.
    assert [run_query(store, q, start_ms=START, end_ms=END)["rows"] for q in others] == others_before


def test_compacted_search_does_not_read_raw(store: TelemetryStore) -> None:
    _compact(store)
    compiled = _compiler.compile_query(parse_query("filter @message like /ERROR/ | stats count() by level"),
                                       START, END)
    with duckdb.connect() as con:
        source = store.live_source_sql("logs")
        ctes = f"logs AS ({source}), {_compiler.EDGES} AS ({source})"
        plan = con.execute(f"EXPLAIN WITH {ctes} {compiled.sql}").fetchall()
    text = "\n".join(row[1] for row in plan)
    assert "msg_skel" in text and "raw\n" not in text.replace("raw_message", "") and "raw," not in text


def test_split_columns_are_dictionary_encoded(store: TelemetryStore) -> None:
    for _ in range(50):  # repeated templates: a skeleton per template, not per event
        store.emit("logs", _rec(7, level="INFO", message="Processing transcript", correlation_id=os.urandom(8).hex()))
    store.flush()
    (path,) = _compact(store)
    with duckdb.connect() as con:
        distinct = con.execute(f"SELECT count(DISTINCT msg_skel) FROM read_parquet('{path}')").fetchone()[0]
        encodings = con.execute(f"SELECT encodings FROM parquet_metadata('{path}')"
                                " WHERE path_in_schema = 'msg_skel'").fetchone()[0]
    assert distinct <= len(RECORDS) + 2 and "DICTIONARY" in encodings


def test_parquet_written_before_the_split_columns(store: TelemetryStore) -> None:
    needles = _needles()[::3] + EDGE_NEEDLES[:20]
    before = _counts(store, needles)
    split = [name for name, _, _ in _schema.SCHEMAS["logs"] if name.startswith("msg_")]
    assert split
    for path in _compact(store):
        with duckdb.connect() as con:
            con.execute(f"COPY (SELECT * EXCLUDE ({', '.join(split)}) FROM read_parquet('{path}'))"
                        f" TO '{path}.old' (FORMAT parquet)")
        os.replace(f"{path}.old", path)
    assert _counts(store, needles) == before
