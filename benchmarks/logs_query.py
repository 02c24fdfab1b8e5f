"""Logs Insights over the telemetry store: the seed's three queries on 1,000,000 log events.

    python benchmarks/logs_query.py [--events 1000000] [--runs 9] [--history-days 0]

Loads realistic Powertools-shaped log lines (one memo = "Processing transcript",
then "Processing successful" with duration_ms or an ERROR "Processing failed"
with error_type, plus debug noise) spread over one hour into a fresh store,
compacts them to Parquet, then for each seed query (monitoring plan §3) times,
interleaved, the engines a user could run instead of ours:

  ours            run_query() end to end: list files, query, statistics
  DuckDB hand SQL a DuckDB query written by hand over the same Parquet files, on a
                  cursor of one long-lived in-memory DuckDB, as ours runs
  chDB Parquet    ClickHouse in process (chDB) over the same Parquet files, file()
  chDB MergeTree  chDB on a MergeTree table ORDER BY ts loaded from those files
                  (before timing, merged to one part: a settled table)
  python scan     one plain Python scan of the same lines with orjson (one run)

and prints each one's median and min–max, its ratio to ours (peer / ours), and
the targets: ours / hand SQL ≤ 1.5× and ours ≤ 100 ms; ours / chDB MergeTree ≤ 1.0×.
The answers are checked to agree across the engines before timing is trusted.
Then the same queries over a narrow range, the hour's last 5 minutes (no target:
it shows what skipping by time saves, ours and the peers alike). With
--history-days N, N earlier days of events (a quarter of --events each, each
written on its own day, so one file per day) sit beside the hour: a query over
the hour should not pay for them.
Then each seed query's peak RSS by ours: run_query alone in a fresh spawned process over
the compacted store (benchmarks/rss.py), so generating and loading the events do not
count; target peak < 1 GiB.
chDB is a benchmark extra (`pip install -e '.[peers]'`); without it its rows are skipped.
"""

from __future__ import annotations

import argparse
import math
import os
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

sys.path.insert(0, str(Path(__file__).parent))
from rss import mib, peak_in_child, verdict as peak_verdict  # noqa: E402

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


# The same three queries in ClickHouse SQL, for chDB. `{src}` is file() over the
# Parquet files or the MergeTree table; position() is ClickHouse's substring search.
CH_SQL = {
    "error_analysis": """
        SELECT error_type, agent_type, count() AS n
        FROM {src} WHERE ts BETWEEN {lo} AND {hi} AND position(raw, 'ERROR') > 0
        GROUP BY 1, 2 ORDER BY n DESC, 1, 2""",
    "performance_analysis": """
        SELECT agent_type, avg(duration_ms__num), max(duration_ms__num), min(duration_ms__num)
        FROM {src} WHERE ts BETWEEN {lo} AND {hi} AND position(raw, 'Processing successful') > 0
        GROUP BY 1 ORDER BY 1""",
    "user_activity": """
        SELECT toStartOfInterval(ts, INTERVAL 5 MINUTE) AS time_bucket, agent_type, count()
        FROM {src} WHERE ts BETWEEN {lo} AND {hi} AND position(raw, 'Processing transcript') > 0
        GROUP BY 1, 2 ORDER BY 1 DESC, 2""",
}


def parquet_source(paths: list[str]) -> str:
    """ClickHouse's file() over the Parquet files: a {a,b} name list only works within one folder."""
    by_dir: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        by_dir[os.path.dirname(path)].append(os.path.basename(path))
    files = [f"file('{folder}/{{{','.join(names)}}}', Parquet)" for folder, names in sorted(by_dir.items())]
    if len(files) == 1:
        return files[0]
    return "(" + " UNION ALL ".join(f"SELECT * FROM {f}" for f in files) + ")"


def open_chdb(path: Path, parquet: list[str]):
    """A chDB session in ``path`` with table `logs` loaded from the Parquet files; None without chDB."""
    try:
        from chdb import session
    except ImportError:
        print("chDB peer skipped: chdb is not installed (pip install -e '.[peers]')")
        return None
    sess = session.Session(str(path))
    t = time.perf_counter()
    # ts made NOT NULL because a MergeTree sorting key refuses Nullable columns by default;
    # OPTIMIZE merges the inserted parts into one, the state a table settles in.
    sess.query("CREATE TABLE logs ENGINE = MergeTree ORDER BY ts AS "
               f"SELECT * REPLACE (assumeNotNull(ts) AS ts) FROM {parquet_source(parquet)}")
    sess.query("OPTIMIZE TABLE logs FINAL")
    print(f"loaded chDB MergeTree table (ORDER BY ts, one part) in {time.perf_counter() - t:.1f} s")
    return sess


def canonical(name: str, rows) -> list[tuple]:
    """One engine's answer in a comparable form: sorted tuples, buckets as naive UTC datetimes, counts as ints.

    Sorted because ties in the queries' ORDER BY may come in any order.
    """
    out = []
    for row in rows:
        if name == "user_activity":
            bucket = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(str(row[0]))
            out.append((bucket.replace(tzinfo=None), row[1], int(row[2])))
        elif name == "performance_analysis":
            out.append((row[0], *(float(v) for v in row[1:])))
        else:
            out.append((row[0], row[1], int(row[2])))
    return sorted(out, key=repr)


def same_answer(a: list[tuple], b: list[tuple]) -> bool:
    """Equal, but floats (the averages) only to 1e-9 relative: engines sum in different orders."""
    if len(a) != len(b):
        return False
    for row_a, row_b in zip(a, b):
        if len(row_a) != len(row_b):
            return False
        for x, y in zip(row_a, row_b):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9):
                    return False
            elif x != y:
                return False
    return True


def query_in_child(root: str, text: str, start_ms: int, end_ms: int) -> int:
    """One query by ours, for rss.peak_in_child (a fresh process): the rows answered."""
    store = TelemetryStore(Path(root))
    try:
        return len(run_query(store, text, start_ms=start_ms, end_ms=end_ms)["rows"])
    finally:
        store.close()


def interleaved_ms(engines: dict, runs: int) -> dict[str, list[float]]:
    """Each engine's times in ms, the engines taking turns within each round so load hits all alike."""
    for fn in engines.values():
        fn()  # warm the page cache and each engine's caches once
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(runs):
        for name, fn in engines.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--history-days", type=int, default=0,
                        help="earlier days of events (a quarter of --events each) beside the hour queried")
    args = parser.parse_args()
    if args.events < 1 or args.runs < 1:
        parser.error("--events and --runs must be at least 1")
    if not 0 <= args.history_days <= 30:
        parser.error("--history-days must be from 0 to 30 (the store keeps 30 days)")

    now_s = time.time()
    end_ms = int(now_s * 1000) // HOUR_MS * HOUR_MS  # the last whole hour, so it merges
    start_ms = end_ms - HOUR_MS
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        lines = generate(args.events, start_ms)
        mb = sum(map(len, lines)) / 1e6
        print(f"generated {len(lines):,} lines ({mb:.0f} MB) in {time.perf_counter() - t:.1f} s")

        clock = [now_s]
        store = TelemetryStore(Path(tmp) / "telemetry", clock=lambda: clock[0])
        t = time.perf_counter()
        for day in range(args.history_days, 0, -1):
            # Written on their own day, as a server running then would have: one file per day.
            day_start = start_ms - day * 86_400_000
            clock[0] = day_start / 1000 + 60
            store_lines(store, generate(max(1, args.events // 4), day_start, seed=day))
        clock[0] = now_s
        store_lines(store, lines)
        history = f" (and {args.history_days} earlier days)" if args.history_days else ""
        print(f"stored{history} in {time.perf_counter() - t:.1f} s")
        clock[0] = now_s + 2 * 86_400  # every window closed
        t = time.perf_counter()
        store.compact()
        store.close()
        parquet, jsonl = _segments.live_files(store.root / "logs")
        assert parquet and not jsonl, (parquet, jsonl)
        size = sum(Path(p).stat().st_size for p in parquet)
        print(f"compacted to {len(parquet)} Parquet file(s), {size / 1e6:.0f} MB, in {time.perf_counter() - t:.1f} s")

        ch = open_chdb(Path(tmp) / "chdb", parquet)
        try:
            failed = run_queries(store, lines, parquet, ch, start_ms, end_ms, args.runs)
        finally:
            if ch is not None:
                ch.close()
    sys.exit(1 if failed else 0)


def store_lines(store: TelemetryStore, lines: list[bytes]) -> None:
    for i in range(0, len(lines), 100_000):
        for line in lines[i : i + 100_000]:
            store.emit("logs", orjson.loads(line))
        store.flush()


def run_queries(store, lines, parquet, ch, start_ms: int, end_ms: int, runs: int) -> bool:
    """Check, time and print the seed queries on every engine; True if a target was missed."""
    files = "[" + ", ".join(f"'{p}'" for p in parquet) + "]"
    duck_lo, duck_hi = f"epoch_ms({start_ms})", f"epoch_ms({end_ms})"
    ch_lo, ch_hi = f"fromUnixTimestamp64Milli({start_ms})", f"fromUnixTimestamp64Milli({end_ms})"
    hand_db = duckdb.connect()
    hand_db.execute("SET GLOBAL TimeZone = 'UTC'")
    failed = False
    summary = []
    for name, text in SAVED_QUERIES.items():
        def ours(text=text):
            return run_query(store, text, start_ms=start_ms, end_ms=end_ms)["rows"]

        def hand(sql=HAND_SQL[name].format(files=files, lo=duck_lo, hi=duck_hi)):
            # Like ours: a cursor on one long-lived in-memory database.
            with hand_db.cursor() as cur:
                return cur.execute(sql).fetchall()

        engines = {"ours": ours, "DuckDB hand SQL": hand}
        if ch is not None:
            for label, src in (("chDB Parquet", parquet_source(parquet)), ("chDB MergeTree", "logs")):
                sql = CH_SQL[name].format(src=src, lo=ch_lo, hi=ch_hi)
                engines[label] = lambda sql=sql: orjson.loads(ch.query(sql, "JSONCompact").bytes())["data"]

        mine = canonical(name, ours())
        for label, fn in engines.items():
            theirs = canonical(name, fn())
            if not same_answer(mine, theirs):
                sys.exit(f"{name}: {label} answers differently from ours\n  ours:   {mine}\n  theirs: {theirs}")
        times = interleaved_ms(engines, runs)
        t = time.perf_counter()
        python_scan(lines, name)
        py_ms = (time.perf_counter() - t) * 1000

        med = {label: statistics.median(ts) for label, ts in times.items()}
        print(f"\n{name}: {len(mine)} result rows, the same on every engine; {runs} interleaved runs")
        print(f"  {'engine':20} {'median ms':>10} {'min–max ms':>16} {'peer / ours':>12}")
        for label, ts in times.items():
            ratio = "" if label == "ours" else f"{med[label] / med['ours']:11.2f}×"
            print(f"  {label:20} {med[label]:10.1f} {min(ts):7.1f}–{max(ts):<8.1f} {ratio:>12}")
        print(f"  {'python scan (1 run)':20} {py_ms:10.0f} {'':16} {py_ms / med['ours']:11.2f}×")

        vs_hand = med["ours"] / med["DuckDB hand SQL"]
        ok_hand = vs_hand <= 1.5 and med["ours"] <= 100
        verdict = f"  target ours / hand SQL {vs_hand:.2f}× ≤ 1.5× and ours ≤ 100 ms: {'ok' if ok_hand else 'MISSED'}"
        failed |= not ok_hand
        vs_merge = med["ours"] / med["chDB MergeTree"] if ch is not None else None
        if vs_merge is not None:
            ok_merge = vs_merge <= 1.0
            failed |= not ok_merge
            verdict += f"; ours / chDB MergeTree {vs_merge:.2f}× ≤ 1.0×: {'ok' if ok_merge else 'MISSED'}"
        print(verdict)
        summary.append((name, med, vs_hand, vs_merge))

    print(f"\nmedians, ms {'':10} " + " ".join(f"{label:>15}" for label in summary[0][1])
          + f" {'ours/hand':>10} {'ours/MergeTree':>15}")
    for name, med, vs_hand, vs_merge in summary:
        merge = f"{vs_merge:14.2f}×" if vs_merge is not None else f"{'skipped':>15}"
        print(f"{name:22} " + " ".join(f"{v:15.1f}" for v in med.values()) + f" {vs_hand:9.2f}× {merge}")

    narrow_range(store, parquet, ch, end_ms - 300_000, end_ms, runs)

    print(f"\npeak RSS of ours, each query alone in a fresh process over {len(lines):,} events:")
    for name, text in SAVED_QUERIES.items():
        rows, before, peak = peak_in_child(query_in_child, str(store.root), text, start_ms, end_ms)
        print(f"  {name:22} peak {mib(peak):>8} (before the query {mib(before)}, {rows} rows); {peak_verdict(peak)}")
        failed |= peak / 1024 >= 1024
    return failed


def narrow_range(store, parquet, ch, start_ms: int, end_ms: int, runs: int) -> None:
    """The seed queries over [start_ms, end_ms] only, on every engine: medians, ms (answers checked to agree)."""
    files = "[" + ", ".join(f"'{p}'" for p in parquet) + "]"
    hand_db = duckdb.connect()
    hand_db.execute("SET GLOBAL TimeZone = 'UTC'")
    print(f"\nnarrow range, the last {(end_ms - start_ms) // 60_000} minutes: medians, ms")
    for name, text in SAVED_QUERIES.items():
        engines = {"ours": lambda text=text: run_query(store, text, start_ms=start_ms, end_ms=end_ms)["rows"]}
        hand = HAND_SQL[name].format(files=files, lo=f"epoch_ms({start_ms})", hi=f"epoch_ms({end_ms})")

        def hand_sql(sql=hand):
            with hand_db.cursor() as cur:
                return cur.execute(sql).fetchall()

        engines["DuckDB hand SQL"] = hand_sql
        if ch is not None:
            sql = CH_SQL[name].format(src="logs", lo=f"fromUnixTimestamp64Milli({start_ms})",
                                      hi=f"fromUnixTimestamp64Milli({end_ms})")
            engines["chDB MergeTree"] = lambda sql=sql: orjson.loads(ch.query(sql, "JSONCompact").bytes())["data"]
        mine = canonical(name, engines["ours"]())
        for label, fn in engines.items():
            if not same_answer(mine, canonical(name, fn())):
                sys.exit(f"{name}, narrow range: {label} answers differently from ours")
        med = {label: statistics.median(ts) for label, ts in interleaved_ms(engines, runs).items()}
        peers = "".join(f"  {label} {ms:.1f} ({ms / med['ours']:.2f}×)" for label, ms in med.items() if label != "ours")
        print(f"  {name:22} ours {med['ours']:.1f}{peers}")


if __name__ == "__main__":
    main()
