"""Logs Insights reads only the files that may hold events of the range, counts what it scanned without
scanning it twice, and caches plans."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError, _executor, check_query, run_query
from whispersync.monitoring.store import TelemetryStore

HOUR = 3_600_000
DAY = 24 * HOUR
D0 = int(datetime(2026, 11, 25, tzinfo=UTC).timestamp() * 1000)  # day 0; days 1 and 2 follow


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _day(n: int) -> tuple[int, int]:
    """Day ``n``'s range, both ends inclusive as run_query takes them."""
    return D0 + n * DAY, D0 + (n + 1) * DAY - 1


@pytest.fixture
def days(tmp_path: Path):
    """Four events on each of three days, each written when it happened; compacted to one file per day."""
    clock = [D0 / 1000]
    store = TelemetryStore(tmp_path / "telemetry", clock=lambda: clock[0])
    for day in range(3):
        for i in range(4):
            at = D0 + day * DAY + (i + 1) * HOUR
            clock[0] = at / 1000
            store.emit("logs", {"timestamp": _iso(at), "level": "ERROR" if i == 0 else "INFO",
                                "message": f"day {day} event {i}", "day": day})
            store.flush()
    clock[0] = (D0 + 4 * DAY) / 1000  # every window and day closed
    store.compact()
    yield store, clock
    store.close()


def _files(source_sql: str) -> list[str]:
    """The partitions of the files a source SELECT names, e.g. ['dt=2026-11-26/m-....parquet']."""
    return sorted("/".join(Path(p).parts[-2:]) for p in re.findall(r"'([^']+\.(?:parquet|jsonl))'", source_sql))


def _unpruned(store: TelemetryStore, sql: str, lo: int, hi: int) -> list[tuple]:
    """``sql`` over every live file (the logs view), events of [lo, hi] only."""
    con = store.connect()
    try:
        return con.execute(sql.format(where=f"ts BETWEEN epoch_ms({lo}) AND epoch_ms({hi})")).fetchall()
    finally:
        con.close()


class TestFileSkipping:
    def test_a_day_reads_only_that_days_file(self, days):
        """Each day is one merged file; a query over day 1 names only day 1's."""
        store, _ = days
        every = _files(store.live_source_sql("logs"))
        assert [f.split("/")[0] for f in every] == ["dt=2026-11-25", "dt=2026-11-26", "dt=2026-11-27"]
        assert _files(store.live_source_sql("logs", *_day(1))) == [every[1]]
        # Both ends are inclusive: from day 0's last event to day 1's first, exactly.
        touching = (D0 + 4 * HOUR, D0 + DAY + HOUR)
        assert _files(store.live_source_sql("logs", *touching)) == every[:2]
        assert _files(store.live_source_sql("logs", touching[0] + 1, touching[1] - 1)) == []
        assert run_query(store, "stats count() as n", start_ms=touching[0], end_ms=touching[1])["rows"] == [[2]]

    def test_answers_are_those_of_every_file(self, days):
        store, _ = days
        lo, hi = _day(1)
        result = run_query(store, "stats count() as n by level | sort level", start_ms=lo, end_ms=hi)
        expected = _unpruned(store, "SELECT level, count(*) FROM logs WHERE {where} GROUP BY level ORDER BY level",
                             lo, hi)
        assert result["rows"] == [list(row) for row in expected] == [["ERROR", 1], ["INFO", 3]]
        ((count, size),) = _unpruned(store, "SELECT count(*), sum(bytes) FROM logs WHERE {where}", lo, hi)
        assert result["statistics"] == {"recordsMatched": 4, "recordsScanned": count, "bytesScanned": size}

    def test_an_old_event_imported_later_is_found(self, days):
        """An import writes old events into today's file: that file's footer, not its name, says so."""
        store, clock = days
        clock[0] = (D0 + 4 * DAY + 60_000) / 1000
        line = orjson.dumps({"timestamp": _iso(D0 + 6 * HOUR), "level": "WARN", "message": "imported late"})
        assert import_logs(store, line + b"\n", log_group="/imported").imported == 1
        clock[0] += 2 * 86_400
        store.compact()
        source = store.live_source_sql("logs", *_day(0))
        assert [f.split("/")[0] for f in _files(source)] == ["dt=2026-11-25", "dt=2026-11-29"]
        rows = run_query(store, "filter level = 'WARN' | fields message", start_ms=_day(0)[0], end_ms=_day(0)[1])
        assert rows["rows"] == [["imported late"]]

    def test_an_open_segment_is_always_read(self, days):
        """A JSONL segment has no footer: whatever its name, its events may be of any time."""
        store, clock = days
        clock[0] = (D0 + 2 * DAY + 23 * HOUR) / 1000
        store.emit("logs", {"timestamp": _iso(D0 + 7 * HOUR), "level": "INFO", "message": "late and open"})
        store.flush()
        source = store.live_source_sql("logs", *_day(0))
        assert any(f.startswith("dt=2026-11-27/") and f.endswith(".jsonl") for f in _files(source))
        result = run_query(store, "filter message = 'late and open' | fields message",
                           start_ms=_day(0)[0], end_ms=_day(0)[1])
        assert result["rows"] == [["late and open"]] and result["statistics"]["recordsScanned"] == 5

    def test_without_a_range_every_file_is_named(self, days):
        store, _ = days
        assert len(_files(store.live_source_sql("logs"))) == 3


class TestScannedStatistics:
    """recordsScanned and bytesScanned without scanning the range twice (issue 15): a Parquet file
    wholly inside the range is counted once per file identity; the files at the range's edges
    and the open segments are counted on every query, in the query's own statement."""

    @pytest.fixture
    def statements(self, monkeypatch):
        """The statements run_query runs (a spy: each still runs)."""
        seen: list[str] = []
        real = _executor.run_with_deadline

        def spy(cursor, sql, *args, **kwargs):
            seen.append(sql)
            return real(cursor, sql, *args, **kwargs)

        monkeypatch.setattr(_executor, "run_with_deadline", spy)
        return seen

    def test_a_repeated_query_scans_only_what_is_not_wholly_inside_its_range(self, days, statements):
        store, _ = days
        text = "filter level = 'ERROR' | fields message"
        result = run_query(store, text, start_ms=_day(0)[0], end_ms=_day(2)[1])
        assert len(statements) == 4  # the query, then each day file's statistics
        assert result["rows"] == [["day 2 event 0"], ["day 1 event 0"], ["day 0 event 0"]]
        ((size,),) = _unpruned(store, "SELECT sum(bytes) FROM logs WHERE {where}", _day(0)[0], _day(2)[1])
        expected = {"recordsMatched": 3, "recordsScanned": 12, "bytesScanned": size}
        assert result["statistics"] == expected
        statements.clear()
        assert run_query(store, text, start_ms=_day(0)[0], end_ms=_day(2)[1])["statistics"] == expected
        assert len(statements) == 1  # the query alone: every file's statistics are kept
        statements.clear()
        # Up to day 2's first event: day 2's file is at the range's edge, counted in the query's statement.
        edge = run_query(store, text, start_ms=_day(0)[0], end_ms=D0 + 2 * DAY + 2 * HOUR - 1)
        assert len(statements) == 1 and edge["statistics"]["recordsScanned"] == 9

    def test_a_file_rewritten_in_place_is_counted_again(self, days):
        store, _ = days
        first = run_query(store, "fields message", start_ms=_day(0)[0], end_ms=_day(2)[1])["statistics"]
        assert first["recordsScanned"] == 12
        [day0] = [p for p in store.live_files_in("logs", *_day(0))[0]]
        con = store.connect()
        try:  # the same path, one event fewer: a new identity
            con.execute(f"COPY (SELECT * FROM read_parquet('{day0}') WHERE message <> 'day 0 event 3') "
                        f"TO '{day0}.new' (FORMAT parquet)")
        finally:
            con.close()
        Path(f"{day0}.new").replace(day0)
        again = run_query(store, "fields message", start_ms=_day(0)[0], end_ms=_day(2)[1])["statistics"]
        assert again["recordsScanned"] == 11 and again["bytesScanned"] < first["bytesScanned"]

    def test_no_rows_still_have_statistics(self, days, statements):
        """Nothing matched: the statistics still count every event of the range."""
        store, _ = days
        result = run_query(store, "filter level = 'FATAL'", start_ms=_day(1)[0], end_ms=_day(1)[1])
        ((size,),) = _unpruned(store, "SELECT sum(bytes) FROM logs WHERE {where}", *_day(1))
        assert result["rows"] == []
        assert result["statistics"] == {"recordsMatched": 0, "recordsScanned": 4, "bytesScanned": size}

    def test_estimate_keeps_its_statistics(self, days):
        """estimate scans nothing itself (its statistics are 0), and its one row says how much it would."""
        store, _ = days
        result = run_query(store, "estimate", start_ms=_day(1)[0], end_ms=_day(1)[1])
        ((size,),) = _unpruned(store, "SELECT sum(bytes) FROM logs WHERE {where}", *_day(1))
        assert result["rows"] == [[size]]
        assert result["statistics"] == {"recordsMatched": 0, "recordsScanned": 0, "bytesScanned": 0}


class TestPlanCache:
    def test_a_repeated_query_is_compiled_once(self, days):
        store, _ = days
        text = "stats count() as n | fields n, queryStartTime() as s  # plan cache test"
        before = (_executor._PLANS.hits, _executor._PLANS.misses)
        first = run_query(store, text, start_ms=_day(0)[0], end_ms=_day(0)[1])
        second = run_query(store, text, start_ms=_day(1)[0], end_ms=_day(2)[1])
        assert (_executor._PLANS.hits - before[0], _executor._PLANS.misses - before[1]) == (1, 1)
        # The cached plan takes each call's range: its own events and queryStartTime().
        assert first["rows"] == [[4, _day(0)[0]]] and second["rows"] == [[8, _day(1)[0]]]

    def test_a_checked_query_runs_without_compiling_again(self, days):
        # StartQuery checks the query when asked and runs it later.
        store, _ = days
        text = "stats count() as n  # plan cache check test"
        before = (_executor._PLANS.hits, _executor._PLANS.misses)
        check_query(text, ["/none"])
        assert run_query(store, text, start_ms=_day(0)[0], end_ms=_day(0)[1], log_groups=["/none"])["rows"] == [[0]]
        assert (_executor._PLANS.hits - before[0], _executor._PLANS.misses - before[1]) == (1, 1)
        with pytest.raises(InsightsQueryError):
            check_query("stats count( by", None)

    def test_log_groups_are_part_of_the_key(self, days):
        store, _ = days
        text = "stats count() as n  # plan cache groups test"
        lo, hi = _day(0)
        misses = _executor._PLANS.misses
        assert run_query(store, text, start_ms=lo, end_ms=hi)["rows"] == [[4]]
        assert run_query(store, text, start_ms=lo, end_ms=hi, log_groups=["/none"])["rows"] == [[0]]
        assert _executor._PLANS.misses - misses == 2

    def test_a_bad_query_fails_every_time(self, days):
        store, _ = days
        for _ in range(2):
            with pytest.raises(InsightsQueryError, match="unknown function"):
                run_query(store, "fields nosuch(@message)  # plan cache error test", start_ms=0, end_ms=1)

    def test_the_least_recently_used_plan_goes_first(self):
        cache = _executor._PlanCache(2)
        for text in ("fields a", "fields b", "fields a", "fields c", "fields a", "fields b"):
            cache.get(text, None)
        # a, b compiled; a hit; c compiled (b dropped); a hit; b compiled again.
        assert (cache.hits, cache.misses) == (2, 4)

    def test_threads_share_the_cache(self, days):
        store, _ = days
        text = "stats count() as n by level | sort level  # plan cache threads test"
        answers: list = []

        def run(day: int) -> None:
            answers.append((day, run_query(store, text, start_ms=_day(day)[0], end_ms=_day(day)[1])["rows"]))

        threads = [threading.Thread(target=run, args=(i % 3,)) for i in range(9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(answers) == 9 and all(rows == [["ERROR", 1], ["INFO", 3]] for _, rows in answers)
