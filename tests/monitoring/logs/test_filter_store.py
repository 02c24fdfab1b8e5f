"""The stored metric filters: a real SQLite file, several connections, a real TelemetryStore."""

from __future__ import annotations

import pytest

from whispersync.app import metric_filters, open_store
from whispersync.monitoring.alarms import AlarmStore
from whispersync.monitoring.logs import MetricFilterListener, MetricFilterStore, import_metric_filters
from whispersync.monitoring.store import TelemetryStore
from whispersync.plan import DEFAULT_PLAN, MetricFilter, Plan


def _filter(name: str = "NotFound", group: str = "MyApp/access.log", **changes) -> MetricFilter:
    fields = {"name": name, "pattern": "[ip, id, user, timestamp, request, status_code = 404, size]",
              "namespace": "Web", "metric_name": name, "log_group": group, **changes}
    return MetricFilter(**fields)


@pytest.fixture
def store(tmp_path):
    s = MetricFilterStore(tmp_path / "monitoring.sqlite3")
    yield s
    s.close()


class TestStoring:
    def test_a_filter_round_trips_with_its_creation_time(self, store) -> None:
        spec = _filter(dimensions={"Status": "$status_code"}, value="$size", unit="Bytes")
        assert store.put(spec, now_ms=1000).status == "created"
        [stored] = store.stored()
        assert (stored.spec, stored.created_ms) == (spec, 1000)
        assert store.current() == (spec,)

    def test_putting_the_same_filter_again_is_unchanged_and_a_change_is_an_update(self, store) -> None:
        store.put(_filter(), now_ms=1000)
        assert store.put(_filter(), now_ms=2000).status == "unchanged"
        assert store.put(_filter(unit="Count"), now_ms=3000).status == "updated"
        [stored] = store.stored()
        assert stored.spec.unit == "Count" and stored.created_ms == 1000  # an update keeps the creation time

    def test_the_same_name_in_two_groups_is_two_filters(self, store) -> None:
        store.put_all([_filter(group="a"), _filter(group="b")])
        assert [s.spec.log_group for s in store.stored()] == ["a", "b"]
        assert [s.spec.log_group for s in store.stored("b")] == ["b"]
        assert store.delete("a", "NotFound") is True
        assert store.delete("a", "NotFound") is False
        assert [s.spec.log_group for s in store.stored()] == ["b"]

    def test_a_filter_cloudwatch_would_refuse_is_skipped_with_the_reason(self, store) -> None:
        bad = _filter(name="Bad", pattern="{ $.a = ")
        outcomes = store.put_all([bad, _filter()])
        assert [o.status for o in outcomes] == ["skipped", "created"]
        assert outcomes[0].reason == "filterPattern: line 1, column 8: a JSON pattern must end with }"
        assert [s.spec.name for s in store.stored()] == ["NotFound"]

    def test_a_filter_without_a_log_group_is_not_stored(self, store) -> None:
        outcome = store.put(_filter(group=None))
        assert outcome.status == "skipped" and outcome.reason.startswith("logGroupName: is required")

    def test_a_dry_run_stores_nothing(self, store) -> None:
        assert [o.status for o in store.put_all([_filter()], dry_run=True)] == ["created"]
        assert store.stored() == [] and store.current() == ()


class TestQuotas:
    """PutMetricFilter: 100 metric filters per log group; five regular expressions per log group."""

    def test_the_101st_filter_of_a_group_is_refused(self, store) -> None:
        outcomes = store.put_all([_filter(name=f"F{i:03}") for i in range(101)] + [_filter(group="other")])
        assert [o.status for o in outcomes].count("created") == 101  # 100 in the group, 1 in the other
        assert outcomes[100].status == "skipped"
        assert "already has 100 metric filters; CloudWatch allows 100 per log group" in outcomes[100].reason
        assert store.put(_filter(name="F000", unit="Count")).status == "updated"  # replacing one is not adding

    def test_a_sixth_regular_expression_in_a_group_is_refused(self, store) -> None:
        regexes = [_filter(name=f"R{i}", pattern="?%a% ?%b%") for i in range(3)]
        outcomes = store.put_all(regexes)
        assert [o.status for o in outcomes] == ["created", "created", "skipped"]
        assert "would give log group MyApp/access.log 6; CloudWatch allows 5 per log group" in outcomes[2].reason
        assert store.put(_filter(name="R2", pattern="%a%")).status == "created"  # 5 in all


class TestPickingUpChanges:
    def test_current_is_the_same_tuple_and_reads_nothing_while_nothing_changed(self, store, tmp_path) -> None:
        store.put(_filter())
        first = store.current()
        statements: list[str] = []
        store._connections.get().set_trace_callback(statements.append)
        # Another writer of the same file (the alarm store shares it) changes nothing of ours.
        alarms = AlarmStore(tmp_path / "monitoring.sqlite3")
        alarms.add_history("A", "Action", "x", {}, 1)
        alarms.close()
        assert store.current() is first  # the file changed: the version row is read, not the filters
        assert statements and not any("FROM metric_filters " in s for s in statements)
        statements.clear()
        assert store.current() is first
        assert statements == ["PRAGMA data_version"]  # nothing changed since: one pragma, no read

    def test_a_filter_another_connection_stores_is_seen(self, store, tmp_path) -> None:
        assert store.current() == ()
        other = MetricFilterStore(tmp_path / "monitoring.sqlite3")
        other.put(_filter())
        assert store.current() == (_filter(),)
        other.delete("MyApp/access.log", "NotFound")
        other.close()
        assert store.current() == ()

    def test_a_running_telemetry_store_counts_with_a_filter_stored_while_it_runs(self, tmp_path) -> None:
        """As `up` does: the listener asks the filters at each flush; a filter stored meanwhile applies."""
        filters = MetricFilterStore(tmp_path / "monitoring.sqlite3")
        telemetry = TelemetryStore(tmp_path / "telemetry",
                                   log_listeners=[MetricFilterListener(metric_filters(DEFAULT_PLAN, filters))])
        line = '127.0.0.1 - frank [27/Nov/2026:12:00:00 +0000] "GET /x HTTP/1.0" 404 12'
        try:
            telemetry.emit("logs", {"@timestamp": 1795780800000, "@message": line, "log_group": "MyApp/access.log"})
            telemetry.flush()
            writer = MetricFilterStore(tmp_path / "monitoring.sqlite3")  # another connection, as another process
            writer.put(_filter())
            writer.close()
            for ts in (1795780860000, 1795780920000):
                telemetry.emit("logs", {"@timestamp": ts, "@message": line, "log_group": "MyApp/access.log"})
                telemetry.emit("logs", {"@timestamp": ts, "@message": line, "log_group": "elsewhere"})
            telemetry.flush()
            assert _points(telemetry, "NotFound") == [(1795780860000, 1.0), (1795780920000, 1.0)]
        finally:
            telemetry.close()
            filters.close()

    def test_open_store_runs_the_plan_filters_and_the_stored_ones(self, settings) -> None:
        stored = MetricFilterStore(settings.monitoring_db)
        stored.put(_filter())
        stored.close()
        telemetry = open_store(settings, Plan(metric_filters=(_filter(name="Everywhere", group=None,
                                                                      pattern="GET"),)))
        try:
            telemetry.emit("logs", {"@timestamp": 1795780800000, "log_group": "MyApp/access.log",
                                    "@message": '1.2.3.4 - - [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.0" 404 1'})
            telemetry.flush()
            assert _points(telemetry, "NotFound") == [(1795780800000, 1.0)]
            assert _points(telemetry, "Everywhere") == [(1795780800000, 1.0)]
        finally:
            telemetry.close()

    def test_a_stored_filter_replaces_the_plan_filter_of_its_group_and_name(self, store) -> None:
        plan = Plan(metric_filters=(_filter(namespace="FromPlan"), _filter(name="Other")))
        current = metric_filters(plan, store)
        assert [f.namespace for f in current()] == ["FromPlan", "Web"]
        assert current() is current()  # nothing changed: the same tuple, so the listener compiles nothing
        store.put(_filter(namespace="Stored"))
        assert [(f.name, f.namespace) for f in current()] == [("Other", "Web"), ("NotFound", "Stored")]


class TestImport:
    DOCUMENT = {"metricFilters": [
        {"filterName": "NotFound", "logGroupName": "MyApp/access.log", "creationTime": 1399277571078,
         "filterPattern": "[ip, id, user, timestamp, request, status_code=404, size]",
         "metricTransformations": [{"metricName": "ApacheNotFoundErrorCount", "metricNamespace": "MyNamespace",
                                    "metricValue": "1"}]},
        {"filterName": "Broken", "logGroupName": "MyApp/access.log", "filterPattern": "{ $.latency > }",
         "metricTransformations": [{"metricName": "L", "metricNamespace": "MyNamespace", "metricValue": "1"}]},
        {"filterName": "NoGroup", "filterPattern": "ERROR",
         "metricTransformations": [{"metricName": "E", "metricNamespace": "MyNamespace", "metricValue": "1"}]},
    ]}

    def test_it_imports_what_it_can_and_says_why_it_skipped_the_rest(self, store) -> None:
        report = import_metric_filters(store, self.DOCUMENT).to_dict()
        assert report["created"] == [{"log_group": "MyApp/access.log", "name": "NotFound"}]
        assert [(s["index"], s["name"]) for s in report["skipped"]] == [(1, "Broken"), (2, "NoGroup")]
        assert report["skipped"][0]["reason"] == "filterPattern: line 1, column 15: expected a value"  # at the }
        assert report["skipped"][1]["reason"].startswith("logGroupName: is required")

    def test_importing_again_changes_nothing(self, store) -> None:
        import_metric_filters(store, self.DOCUMENT)
        report = import_metric_filters(store, self.DOCUMENT).to_dict()
        assert (report["created"], report["updated"]) == ([], [])
        assert report["unchanged"] == [{"log_group": "MyApp/access.log", "name": "NotFound"}]

    def test_a_default_log_group_takes_the_filters_that_name_none(self, store) -> None:
        report = import_metric_filters(store, self.DOCUMENT, log_group="app").to_dict()
        assert {(c["log_group"], c["name"]) for c in report["created"]} == {("MyApp/access.log", "NotFound"),
                                                                            ("app", "NoGroup")}

    def test_a_dry_run_reports_and_stores_nothing(self, store) -> None:
        report = import_metric_filters(store, self.DOCUMENT, dry_run=True).to_dict()
        assert len(report["created"]) == 1 and store.stored() == []

    def test_the_same_filter_twice_in_one_document_is_skipped_the_second_time(self, store) -> None:
        first = self.DOCUMENT["metricFilters"][0]
        report = import_metric_filters(store, {"metricFilters": [first, first]}).to_dict()
        assert len(report["created"]) == 1
        assert report["skipped"][0]["reason"].startswith("the same filter as metricFilters[0]")


def _points(telemetry: TelemetryStore, name: str) -> list[tuple[int, float]]:
    con = telemetry.connect()
    try:
        return [tuple(r) for r in con.execute("SELECT ts, value FROM metrics WHERE name = ? ORDER BY ts",
                                              [name]).fetchall()]
    finally:
        con.close()
