"""Promoted JSON fields (``_schema.PROMOTED_LOG_FIELDS``) answer exactly as extraction from ``raw`` did.

Each query runs twice: as compiled now (typed columns) and with the promoted names
removed from the compiler's scope (``raw ->> '$.name'``, the behaviour before the
columns existed); over open JSONL, compacted Parquet, and Parquet compacted before
the columns existed (files without them).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from whispersync.monitoring.store import _schema
from whispersync.monitoring.store import _segments
from whispersync.monitoring.logs.insights import _compiler, run_query
from whispersync.monitoring.logs.insights._parser import parse_query
from whispersync.monitoring.store import TelemetryStore

T0 = int(datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp() * 1000)
START, END = T0 - 60_000, T0 + 3_600_000


def _rec(seconds: int, **fields) -> dict:
    when = datetime.fromtimestamp((T0 + seconds * 1000) / 1000, UTC)
    return {"timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "level": "INFO",
            "message": f"event {seconds}", **fields}


# Strings, numbers, numeric strings, non-numeric strings, booleans, objects, nulls, missing.
RECORDS = [
    _rec(1, agent_type="work", duration_ms=120),
    _rec(2, agent_type="work", duration_ms=80.5),
    _rec(3, agent_type="memory", duration_ms="45.5", error_type="ValueError"),
    _rec(4, agent_type=12, duration_ms="slow", error_type="Time\"out\u00e9"),
    _rec(5, agent_type=True, duration_ms=1e3, error_type=None),
    _rec(6, agent_type={"name": "github", "n": [1, 2]}, duration_ms=None),
    _rec(7, duration_ms=-3),
    _rec(8, agent_type="", duration_ms="120"),
    _rec(9),
]

QUERIES = [
    "fields @timestamp, agent_type, error_type, duration_ms | sort @timestamp asc",
    "fields agent_type, duration_ms | sort duration_ms desc",
    "fields agent_type | sort agent_type asc",
    "filter duration_ms > 100 | fields @timestamp, duration_ms | sort @timestamp asc",
    "filter duration_ms = '120' | fields @timestamp | sort @timestamp asc",
    "filter duration_ms = 120 | fields @timestamp | sort @timestamp asc",
    "filter agent_type = 12 | fields @timestamp, agent_type",
    "filter agent_type = 'work' or error_type like /Val/ | fields @timestamp | sort @timestamp asc",
    "filter ispresent(error_type) | fields error_type | sort error_type asc",
    "filter agent_type in ['memory', 'work'] | stats count() by agent_type",
    "stats count() by agent_type, error_type",
    "stats avg(duration_ms), max(duration_ms), min(duration_ms), sum(duration_ms), count(duration_ms) by agent_type",
    "stats count_distinct(duration_ms) as n, pct(duration_ms, 50) as p50, latest(duration_ms) as last",
    "fields coalesce(error_type, duration_ms) as c, concat(agent_type, '-') as s | sort @timestamp asc",
    "stats count() by duration_ms | sort duration_ms asc",
]


def _as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    scope = {k: v for k, v in _compiler._BASE_SCOPE.items() if k not in _schema.PROMOTED_LOG_FIELDS}
    monkeypatch.setattr(_compiler, "_BASE_SCOPE", scope)


def _answers(store: TelemetryStore) -> list[dict]:
    return [run_query(store, q, start_ms=START, end_ms=END) for q in QUERIES]


def _check(store: TelemetryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    now = _answers(store)
    with monkeypatch.context() as m:
        _as_before(m)
        before = _answers(store)
    for query, a, b in zip(QUERIES, now, before, strict=True):
        assert a == b, query
    # The promoted columns are in the SQL, `raw` is not read for them.
    sql = _compiler.compile_query(parse_query(QUERIES[11]), START, END).sql
    assert "raw" not in sql and "duration_ms__num" in sql


@pytest.fixture
def store(tmp_path: Path):
    clock = [T0 / 1000 + 600]
    store = TelemetryStore(tmp_path / "telemetry", clock=lambda: clock[0])
    for rec in RECORDS:
        store.emit("logs", rec)
    store.flush()
    store.clock = clock  # type: ignore[attr-defined]
    yield store
    store.close()


def _compact(store: TelemetryStore) -> list[str]:
    store.clock[0] = T0 / 1000 + 3 * 86_400  # type: ignore[attr-defined]
    store.compact()
    parquet, jsonl = _segments.live_files(store.root / "logs")
    assert parquet and not jsonl
    return parquet


def test_spot_values(store: TelemetryStore) -> None:
    rows = run_query(store, QUERIES[0], start_ms=START, end_ms=END)["rows"]
    assert [r[1:] for r in rows] == [
        ["work", None, 120], ["work", None, 80.5], ["memory", "ValueError", "45.5"],
        [12, 'Time"out\u00e9', "slow"], [True, None, 1000.0], [{"name": "github", "n": [1, 2]}, None, None],
        [None, None, -3], ["", None, "120"], [None, None, None],
    ]


def test_open_jsonl(store: TelemetryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _check(store, monkeypatch)


def test_compacted_parquet(store: TelemetryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    jsonl_answers = _answers(store)
    _compact(store)
    assert _answers(store) == jsonl_answers
    _check(store, monkeypatch)


def test_parquet_compacted_before_the_columns_existed(store: TelemetryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    jsonl_answers = _answers(store)
    promoted = [name for name, _, _ in _schema._promoted_columns()]
    for path in _compact(store):
        # Rewrite the file as an older WhisperSync wrote it: without the promoted columns.
        with duckdb.connect() as con:
            con.execute(f"COPY (SELECT * EXCLUDE ({', '.join(promoted)}) FROM read_parquet('{path}'))"
                        f" TO '{path}.old' (FORMAT parquet)")
            assert not set(promoted) & {r[0] for r in con.execute(
                f"SELECT name FROM parquet_schema('{path}.old')").fetchall()}
        os.replace(f"{path}.old", path)
    assert _answers(store) == jsonl_answers
    _check(store, monkeypatch)
    # A later merge writes the current schema, computed from `raw`.
    store.emit("logs", _rec(3000, agent_type="late", duration_ms=1))
    store.flush()
    store.clock[0] += 86_400  # type: ignore[attr-defined]
    store.compact()
    assert run_query(store, "stats count() by agent_type", start_ms=START, end_ms=END)["rows"] == [
        ["", 1], ["12", 1], ["late", 1], ["memory", 1], ["true", 1], ["work", 2],
        ['{"name":"github","n":[1,2]}', 1], [None, 2]]
