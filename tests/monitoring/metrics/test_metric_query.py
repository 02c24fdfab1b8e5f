"""GetMetricData over the store: statistics, periods, start rounding, math over ids, errors (HTTP: tests/web)."""

from __future__ import annotations

import time

import duckdb
import pytest

from whispersync.errors import QueryTimeout

from whispersync.monitoring.metrics import MetricQueryError
from whispersync.monitoring.metrics._query import MetricDataQuery, get_metric_data, parse_request, round_start
from whispersync.monitoring.store._store import MetricStat, TelemetryStore, run_with_deadline

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 3_600_000
NS = "WhisperSync/Test"


@pytest.fixture
def store(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    yield store
    store.close()


def put(store: TelemetryStore, name: str, points: list[tuple[int, float]], **dims: str) -> None:
    store.put_metrics([
        {"namespace": NS, "name": name, "value": v, "timestamp": T0 + ms, "unit": "Count", "dimensions": dims}
        for ms, v in points
    ])


def metric(qid: str, name: str, stat: str = "Sum", period: int = 60, *, return_data: bool = True, **dims):
    return MetricDataQuery(qid, MetricStat(NS, name, dims, stat, period), return_data=return_data)


def query(store, *queries, start=T0, end=T0 + 600_000, scan_by="TimestampAscending"):
    return get_metric_data(store, list(queries), start_ms=start, end_ms=end, scan_by=scan_by, now_ms=NOW)


class TestStatistics:
    # Minute 0 holds 1..10 (ten samples), minute 1 holds 100.
    POINTS = [(i * 1000, float(i + 1)) for i in range(10)] + [(60_000, 100.0)]

    @pytest.mark.parametrize(
        ("stat", "expected"),
        [
            ("Sum", [55, 100]),
            ("Average", [5.5, 100]),
            ("Minimum", [1, 100]),
            ("Maximum", [10, 100]),
            ("SampleCount", [10, 1]),
            # nearest rank: ceil(p/100 * n)-th smallest of 1..10
            ("p50", [5, 100]),
            ("p90", [9, 100]),
            ("p95", [10, 100]),
            ("p99", [10, 100]),
            ("p99.9", [10, 100]),
            ("p10", [1, 100]),
        ],
    )
    def test_each_statistic_per_period(self, store, stat, expected) -> None:
        put(store, "M", self.POINTS)
        (result,) = query(store, metric("m1", "M", stat))
        assert result.timestamps == [T0, T0 + 60_000]
        assert result.values == expected
        assert result.unit == "Count"
        assert result.label == "M"

    def test_p99_9_of_a_thousand_samples_is_rank_999(self, store) -> None:
        put(store, "M", [(i, float(i + 1)) for i in range(1000)])
        assert query(store, metric("m1", "M", "p99.9"))[0].values == [999]

    @pytest.mark.parametrize(("period", "stamps"), [(1, [0, 1000, 10_000]), (10, [0, 10_000]),
                                                    (60, [0]), (120, [0])])
    def test_high_resolution_and_minute_periods(self, store, period, stamps) -> None:
        """StorageResolution 1 is queryable at 1-second periods (MetricStat.Period)."""
        store.put_metrics([
            {"namespace": NS, "name": "M", "value": v, "timestamp": T0 + ms, "unit": "Count", "storage_resolution": 1}
            for ms, v in [(0, 1), (500, 2), (1000, 3), (10_000, 4)]
        ])
        (result,) = query(store, metric("m1", "M", "Sum", period))
        assert [t - T0 for t in result.timestamps] == stamps

    @pytest.mark.parametrize("period", [1, 10, 60])
    def test_standard_resolution_points_answer_per_minute(self, store, period) -> None:
        """Unmarked points are standard resolution: one-minute granularity at any shorter period."""
        put(store, "M", [(0, 1), (500, 2), (1000, 3), (10_000, 4), (61_000, 5)])
        (result,) = query(store, metric("m1", "M", "Sum", period))
        assert ([t - T0 for t in result.timestamps], result.values) == ([0, 60_000], [10, 5])

    @pytest.mark.parametrize("period", [0, 7, 45, 90, -60])
    def test_other_periods_are_refused(self, store, period) -> None:
        with pytest.raises(MetricQueryError, match="period must be"):
            query(store, metric("m1", "M", "Sum", period))

    def test_unknown_statistic_is_refused(self, store) -> None:
        with pytest.raises(MetricQueryError, match="unknown statistic"):
            query(store, metric("m1", "M", "Median"))

    def test_dimensions_must_match_exactly(self, store) -> None:
        put(store, "M", [(0, 1)], Fn="a")
        put(store, "M", [(0, 10)], Fn="a", Extra="x")
        assert query(store, metric("m1", "M", Fn="a"))[0].values == [1]
        assert query(store, metric("m1", "M"))[0].values == []

    def test_scan_by_defaults_to_newest_first(self, store) -> None:
        put(store, "M", [(0, 1), (60_000, 2)])
        (result,) = get_metric_data(store, [metric("m1", "M")], start_ms=T0, end_ms=T0 + 600_000, now_ms=NOW)
        assert result.values == [2, 1]

    def test_start_is_rounded_down_as_cloudwatch_documents(self) -> None:
        assert round_start(T0 + 83_000, 10, NOW) == T0 + 80_000  # 10 s divisions of a minute
        assert round_start(T0 + 83_000, 60, NOW) == T0 + 60_000  # < 15 days: the minute
        day = 86_400_000
        assert round_start(T0 + 7 * 60_000, 60, T0 + 20 * day) == T0 + 5 * 60_000  # 15-63 days: 5 min
        assert round_start(T0 + 7 * 60_000, 60, T0 + 70 * day) == T0  # older: the hour

    def test_datapoints_start_at_the_rounded_start_time(self, store) -> None:
        put(store, "M", [(30_000, 1), (90_000, 2), (150_000, 3)])
        (result,) = query(store, metric("m1", "M", "Sum", 120), start=T0 + 60_000 + 5_000)
        # start rounds to T0+60 s; buckets [60 s, 180 s)
        assert result.timestamps == [T0 + 60_000] and result.values == [5]


class TestMath:
    def test_the_seed_error_rate_with_a_missing_timestamp(self, store) -> None:
        put(store, "Errors", [(0, 1), (120_000, 3)])
        put(store, "Invocations", [(0, 10), (60_000, 5), (120_000, 30)])
        results = query(
            store,
            metric("errors", "Errors", return_data=False),
            metric("invocations", "Invocations", return_data=False),
            MetricDataQuery("rate", expression="errors/invocations*100", label="Error %"),
        )
        assert [(r.id, r.label) for r in results] == [("rate", "Error %")]
        assert results[0].timestamps == [T0, T0 + 60_000, T0 + 120_000]
        assert results[0].values == [10, 0, 10]

    def test_rate_of_sent(self, store) -> None:
        put(store, "Sent", [(0, 60), (60_000, 180), (180_000, 180)])
        results = query(store, metric("sent", "Sent", return_data=False), MetricDataQuery("r", expression="RATE(sent)"))
        assert results[0].values == [2, 0]
        assert results[0].label == "r"

    def test_expressions_can_use_other_expressions(self, store) -> None:
        put(store, "M", [(0, 4)])
        results = query(store, metric("m1", "M", return_data=False), MetricDataQuery("e2", expression="e1 * 2"),
                        MetricDataQuery("e1", expression="m1 + 1", return_data=False))
        assert [r.values for r in results] == [[10]]

    def test_an_array_result_gives_one_result_per_series(self, store) -> None:
        put(store, "A", [(0, 1)])
        put(store, "B", [(0, 2)])
        results = query(store, metric("a", "A", return_data=False), metric("b", "B", return_data=False),
                        MetricDataQuery("e", expression="FILL(METRICS(), 0)", label="Filled"))
        assert [(r.id, r.label) for r in results] == [("e", "Filled A"), ("e", "Filled B")]
        assert results[0].values == [1] + [0] * 9

    @pytest.mark.parametrize(
        ("queries", "message"),
        [
            ([MetricDataQuery("e", expression="nope * 2")], "unknown id 'nope'"),
            ([MetricDataQuery("a", expression="b + 1"), MetricDataQuery("b", expression="a + 1")],
             "cycle: a -> b -> a"),
            ([MetricDataQuery("e", expression="e + 1")], "cycle: e -> e"),
            ([MetricDataQuery("e", expression="1 +")], "query 'e': line 1, column 4: "),
            ([MetricDataQuery("E1", expression="1")], "must start with a lowercase letter"),
            ([MetricDataQuery("e", expression="TIME_SERIES(1)"), MetricDataQuery("e", expression="1")], "used twice"),
            ([MetricDataQuery("e", expression="2 * 3")], "evaluates to a scalar"),
            ([MetricDataQuery("e")], "exactly one of"),
        ],
    )
    def test_bad_requests_are_input_errors(self, store, queries, message) -> None:
        """The caller's fault: MetricQueryError (an InputError, a 400), never a plain ValueError."""
        with pytest.raises(MetricQueryError, match=message):
            query(store, *queries)


class TestRequestParsing:
    def test_our_shape(self) -> None:
        queries, start, end, scan_by, aws = parse_request({
            "queries": [{"id": "m1", "metric_stat": {"namespace": NS, "name": "M", "dimensions": {"Fn": "a"},
                                                     "stat": "p99", "period": 60}, "return_data": False},
                        {"id": "e1", "expression": "m1*2", "label": "Twice"}],
            "start": "2026-01-01T00:00:00Z", "end": T0 + 60_000,
        })
        assert queries[0].metric_stat == MetricStat(NS, "M", {"Fn": "a"}, "p99", 60)
        assert (queries[1].label, start, end, scan_by, aws) == ("Twice", T0, T0 + 60_000, "TimestampAscending", False)

    def test_getmetricdata_field_names(self) -> None:
        queries, start, end, _, aws = parse_request({
            "MetricDataQueries": [{"Id": "m1", "MetricStat": {
                "Metric": {"Namespace": NS, "MetricName": "M", "Dimensions": [{"Name": "Fn", "Value": "a"}]},
                "Period": 60, "Stat": "Sum"}, "ReturnData": True}],
            "StartTime": T0 // 1000, "EndTime": "2026-01-01T01:00:00Z",
        })
        assert queries[0].metric_stat == MetricStat(NS, "M", {"Fn": "a"}, "Sum", 60)
        assert (start, end, aws) == (T0, NOW, True)

    @pytest.mark.parametrize("payload", [[], {"queries": []}, {"queries": [{"id": "a"}]},
                                         {"queries": [{"id": "a", "expression": "1", "bogus": 1}], "start": 0, "end": 1},
                                         {"queries": [{"id": "a", "expression": "1"}], "start": "yesterday", "end": 1},
                                         # A unit that is not a string used to be a 500 (unhashable list).
                                         {"queries": [{"id": "a", "metric_stat": {"namespace": NS, "name": "M",
                                                                                  "unit": ["Count"]}}],
                                          "start": 0, "end": 1},
                                         {"queries": [{"id": "a", "metric_stat": {"namespace": NS, "name": "M",
                                                                                  "unit": 5}}],
                                          "start": 0, "end": 1},
                                         {"MetricDataQueries": [{"Id": "a", "MetricStat": {
                                             "Metric": {"Namespace": NS, "MetricName": "M"}, "Period": 60,
                                             "Stat": "Sum", "Unit": {"x": 1}}}], "StartTime": 0, "EndTime": 1}])
    def test_malformed_requests(self, payload) -> None:
        with pytest.raises(MetricQueryError):
            parse_request(payload)


class TestLimits:
    def test_a_chain_of_500_expressions_evaluates_without_recursion(self, store) -> None:
        """Each expression refers to the one before: resolved in order, not by recursion."""
        put(store, "Errors", [(0, 1)])
        chain = [metric("m0", "Errors", return_data=False)]
        chain += [MetricDataQuery(f"e{i}", expression=f"{'m0' if i == 1 else f'e{i - 1}'} + 1", return_data=False)
                  for i in range(1, 500)]
        chain[-1] = MetricDataQuery("e499", expression="e498 + 1")
        (result,) = get_metric_data(store, chain, start_ms=T0, end_ms=T0 + 60_000, now_ms=NOW)
        assert result.values == [500.0]

    def test_a_statistics_query_past_its_budget_is_a_query_timeout(self, store) -> None:
        put(store, "Errors", [(0, 1)])
        with pytest.raises(QueryTimeout):
            get_metric_data(store, [metric("m1", "Errors")], start_ms=T0, end_ms=T0 + 60_000, now_ms=NOW,
                            timeout=0)

    def test_a_budget_interrupts_a_running_statement(self, store) -> None:
        con = store.connect()
        try:
            started = time.perf_counter()
            with pytest.raises(QueryTimeout):
                run_with_deadline(con, "SELECT count(*) FROM range(1000000000000) a, range(10) b", timeout=0.3)
            assert time.perf_counter() - started < 5
        finally:
            con.close()

    def test_query_connections_read_no_file_outside_the_store(self, store) -> None:
        put(store, "Errors", [(0, 1)])
        con = store.connect()
        try:
            assert con.execute("SELECT count(*) FROM metrics").fetchone() == (1,)
            for sql in ["SELECT * FROM read_csv('/etc/passwd')", "COPY (SELECT 1) TO '/tmp/whispersync-x.csv'",
                        "SET enable_external_access = true", f"SELECT * FROM read_text('{store.root}/../../x')"]:
                with pytest.raises(duckdb.Error):
                    con.execute(sql)
        finally:
            con.close()
