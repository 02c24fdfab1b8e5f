"""The commands that compute over the ordered result rows (_analytic.py): addtotals, accum,
autoregress, filldown, fillmissing, sessionize, outlier, countFrequent, estimate, limit any.

Each store holds JSON events one second apart from T0 (event i at T0 + i s, unless
given), so without a sort rows come newest first and running values follow that order.
"""

from __future__ import annotations

import orjson
import pytest

from whispersync.monitoring.logs import import_logs
from whispersync.monitoring.logs.insights import InsightsQueryError, run_query
from whispersync.monitoring.store import TelemetryStore

T0 = 1795780800000  # 2026-11-27 12:00:00.000 UTC


@pytest.fixture
def store_of(tmp_path):
    stores = []

    def make(records: list[dict], times_s: list[int] | None = None) -> TelemetryStore:
        store = TelemetryStore(tmp_path / f"telemetry{len(stores)}")
        stores.append(store)
        times = times_s if times_s is not None else list(range(len(records)))
        events = [{"timestamp": T0 + t * 1000, "message": orjson.dumps(r).decode(), "logStreamName": "s",
                   "eventId": str(i)} for i, (t, r) in enumerate(zip(times, records, strict=True))]
        assert import_logs(store, orjson.dumps({"events": events}), log_group="/t").imported == len(records)
        return store

    yield make
    for store in stores:
        store.close()


def run(store: TelemetryStore, query: str) -> dict:
    return run_query(store, query, start_ms=T0, end_ms=T0 + 86_400_000)


def column(result: dict, name: str) -> list:
    i = result["columns"].index(name)
    return [row[i] for row in result["rows"]]


class TestAccum:
    def test_a_running_total_follows_the_row_order(self, store_of):
        store = store_of([{"b": 1}, {"b": 2}, {"b": "n/a"}, {"b": 4}])
        newest_first = run(store, "fields b | accum b as total")
        assert newest_first["columns"] == ["b", "total"]
        assert column(newest_first, "total") == [4, 4, 6, 7]  # a value that is no number adds nothing
        ascending = run(store, "fields @timestamp, b | sort @timestamp asc | accum b as total")
        assert column(ascending, "total") == [1, 3, 3, 7]

    def test_without_as_the_field_becomes_its_total(self, store_of):
        result = run(store_of([{"b": 1}, {"b": 2}]), "fields b | sort @timestamp asc | accum b")
        assert result["columns"] == ["b"] and column(result, "b") == [1, 3]

    def test_after_sort_and_limit_it_runs_over_the_rows_kept_in_their_order(self, store_of):
        store = store_of([{"b": 5}, {"b": 1}, {"b": 3}, {"b": 2}])
        result = run(store, "fields b | sort b asc | limit 3 | accum b as total")
        assert result["rows"] == [[1, 1], [2, 3], [3, 6]]

    def test_after_stats(self, store_of):
        store = store_of([{"k": "a"}, {"k": "b"}, {"k": "b"}, {"k": "c"}])
        result = run(store, "stats count(*) as n by k | accum n as running")
        assert result["rows"] == [["a", 1, 1], ["b", 2, 3], ["c", 1, 4]]


class TestAutoregress:
    def test_a_range_of_lags(self, store_of):
        result = run(store_of([{"b": 1}, {"b": 2}, {"b": 3}]), "fields b | sort @timestamp asc | autoregress b p=1-2")
        assert result["columns"] == ["b", "b_p1", "b_p2"]
        assert result["rows"] == [[1, None, None], [2, 1, None], [3, 2, 1]]

    def test_one_lag_named_with_as_keeps_text(self, store_of):
        result = run(store_of([{"h": "x"}, {"h": "y"}]), "fields h | sort @timestamp asc | autoregress h as before")
        assert result["rows"] == [["x", None], ["y", "x"]]

    @pytest.mark.parametrize("query", ["fields b | autoregress b p=0", "fields b | autoregress b p=3-2",
                                       "fields b | autoregress b p=1-500"])
    def test_bad_lags_are_refused(self, store_of, query):
        with pytest.raises(InsightsQueryError, match="p=N"):
            run(store_of([{"b": 1}]), query)


class TestFilldown:
    def test_no_fields_fills_every_field_shown(self, store_of):
        store = store_of([{"h": "a", "v": 1}, {"v": 2}, {"h": "b"}, {}])
        result = run(store, "fields h, v | sort @timestamp asc | filldown")
        assert result["rows"] == [["a", 1], ["a", 2], ["b", 2], ["b", 2]]

    def test_only_the_fields_and_patterns_named(self, store_of):
        store = store_of([{"h": "a", "cpu_u": 1, "mem": 9}, {}])
        result = run(store, "fields h, cpu_u, mem | sort @timestamp asc | filldown cpu*")
        assert result["rows"] == [["a", 1, 9], [None, 1, None]]


class TestAddtotals:
    def test_row_totals_sum_the_numeric_fields_shown(self, store_of):
        result = run(store_of([{"a": 1, "b": 2, "s": "x"}, {"a": 10, "s": "y"}]), "fields a, b, s | addtotals")
        assert result["columns"] == ["a", "b", "s", "Total"]
        assert sorted(column(result, "Total")) == [3, 10]

    def test_named_fields_and_a_custom_name_and_no_row_total(self, store_of):
        store = store_of([{"a": 1, "b": 2, "c": 4}])
        assert run(store, "fields a, b, c | addtotals fieldname=Sum a, c")["rows"] == [[1, 2, 4, 5]]
        assert run(store, "fields a, b | addtotals row=false")["columns"] == ["a", "b"]

    def test_column_totals_add_a_summary_row_at_the_bottom(self, store_of):
        result = run(store_of([{"a": 1, "s": "x"}, {"a": 2, "s": "y"}]), "fields a, s | addtotals col=true row=false")
        assert result["columns"] == ["a", "s"]
        assert result["rows"][-1] == [3, None] and len(result["rows"]) == 3

    def test_options_are_checked(self, store_of):
        with pytest.raises(InsightsQueryError, match="true or false"):
            run(store_of([{"a": 1}]), "fields a | addtotals col=maybe")


class TestFillmissing:
    def test_empty_bins_get_rows_with_the_constant(self, store_of):
        store = store_of([{"l": 100}, {"l": 50}], times_s=[10, 190])  # minutes 0 and 3
        result = run(store, "stats avg(l) as lat by bin(1m) | fillmissing with 0 for lat")
        assert column(result, "lat") == [100, 0, 0, 50]
        assert column(result, "bin(1m)")[1] == "2026-11-27 12:01:00.000"

    def test_for_each_value_of_the_other_by_fields_and_empty_without_a_constant(self, store_of):
        store = store_of([{"k": "a"}, {"k": "b"}, {"k": "a"}], times_s=[0, 60, 120])
        result = run(store, "stats count(*) as n by bin(1m), k | fillmissing")
        assert sorted(result["rows"], key=lambda r: (r[0], r[1])) == [
            ["2026-11-27 12:00:00.000", "a", 1], ["2026-11-27 12:00:00.000", "b", None],
            ["2026-11-27 12:01:00.000", "a", None], ["2026-11-27 12:01:00.000", "b", 1],
            ["2026-11-27 12:02:00.000", "a", 1], ["2026-11-27 12:02:00.000", "b", None]]

    def test_without_stats_by_bin_it_is_refused(self, store_of):
        with pytest.raises(InsightsQueryError, match="by bin"):
            run(store_of([{"k": "a"}]), "stats count(*) by k | fillmissing")


class TestSessionize:
    def test_sessions_split_on_the_gap_and_the_identity(self, store_of):
        minutes = [0, 20, 45, 100, 5]
        users = ["a", "a", "a", "a", "b"]
        store = store_of([{"u": u} for u in users], times_s=[m * 60 for m in minutes])
        result = run(store, "fields @timestamp, u | sort @timestamp asc | sessionize u")  # default gap 30m
        assert result["columns"] == ["@timestamp", "u", "session_id"]
        by_user_time = {(row[1], row[0][11:16]): row[2] for row in result["rows"]}
        assert by_user_time[("a", "12:00")] == by_user_time[("a", "12:20")] == by_user_time[("a", "12:45")]
        assert len({by_user_time[("a", "12:00")], by_user_time[("a", "13:40")], by_user_time[("b", "12:05")]}) == 3
        wider = run(store, "fields u | sessionize u maxspan 1h as s")
        assert len(set(column(wider, "s"))) == 2


class TestCountFrequent:
    def test_counts_most_frequent_first(self, store_of):
        store = store_of([{"m": "GET"}, {"m": "PUT"}, {"m": "GET"}, {"m": "DEL"}, {"m": "GET"}, {"m": "PUT"}])
        result = run(store, "countFrequent m")
        assert result["columns"] == ["m", "_approxcount"]
        assert result["rows"] == [["GET", 3], ["PUT", 2], ["DEL", 1]]
        assert run(store, "count_frequent m | limit 1")["rows"] == [["GET", 3]]


class TestOutlier:
    RECORDS = [{"v": 10}, {"v": 11}, {"v": 12}, {"v": 13}, {"v": 100}, {"v": -80}]

    def test_remove_drops_rows_beyond_the_bounds(self, store_of):
        store = store_of(self.RECORDS)
        assert sorted(column(run(store, "fields v | outlier action=remove v"), "v")) == [-80, 10, 11, 12, 13]
        both = run(store, "fields v | outlier action=remove uselower=true mark=true v")
        assert sorted(column(both, "v")) == [10, 11, 12, 13] and set(column(both, "_outlier")) == {0}

    def test_transform_clamps_to_the_upper_bound(self, store_of):
        result = run(store_of(self.RECORDS), "fields v | outlier param=1 v")
        values = column(result, "v")
        # Quartiles (interpolated) 10.25 and 12.75: the upper bound is 12.75 + 1 * 2.5.
        assert max(values) == pytest.approx(15.25) and min(values) == -80

    def test_a_param_too_large_to_be_a_number_is_a_positioned_error(self, store_of):
        with pytest.raises(InsightsQueryError) as info:
            run(store_of(self.RECORDS), "fields v | outlier param=1e400 v")
        assert info.value.position == 25 and "finite number" in info.value.reason


class TestEstimateAndLimitAny:
    def test_estimate_is_the_bytes_of_the_range_scanned(self, store_of):
        store = store_of([{"a": 1}, {"a": 2}])
        scanned = run(store, "fields a")["statistics"]["bytesScanned"]
        result = run(store, "filter a = 1 | estimate")
        assert result["rows"] == [[scanned]] and scanned > 0

    def test_estimate_must_come_last(self, store_of):
        with pytest.raises(InsightsQueryError, match="last command") as info:
            run(store_of([{"a": 1}]), "estimate | fields a")
        assert info.value.position == 0

    def test_limit_any(self, store_of):
        assert len(run(store_of([{"a": 1}, {"a": 2}]), "fields a | limit any 1")["rows"]) == 1


def test_appendcols_is_refused_where_it_stands(store_of):
    with pytest.raises(InsightsQueryError, match="appendcols command is not supported yet") as info:
        run(store_of([{"a": 1}]), "stats count(*) by a | appendcols ( stats count(*) )")
    assert info.value.position == len("stats count(*) by a | ")
