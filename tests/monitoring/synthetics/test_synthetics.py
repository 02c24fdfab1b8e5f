"""The synthetics wing: dependency probes with timeouts, canary runs (retries, failure codes,
bounded reasons), their records and metrics, and the plan's schedule rules."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from helpers import free_port
from whispersync import catalog
from whispersync.monitoring.store import TelemetryStore
from whispersync.monitoring.synthetics import (
    CanaryRun,
    Probe,
    SyntheticsStore,
    check_dependencies,
    dependency_probes,
    run_dependencies_canary,
    run_http_canary,
)
from whispersync.pipeline.blobs import DirBlobStore
from whispersync.pipeline.queue import SqliteQueueBroker
from whispersync.pipeline.records import SqliteRecordStore
from whispersync.plan import HealthCheck, PlanError, plan_from_toml
from whispersync.telemetry import Telemetry


@pytest.fixture
def stores(tmp_path):
    broker = SqliteQueueBroker(tmp_path / "queue.sqlite3")
    records = SqliteRecordStore(tmp_path / "records.sqlite3")
    telemetry_store = TelemetryStore(tmp_path / "telemetry")
    parts = {"queue": broker.queue("q"), "records": records, "blobs": DirBlobStore(tmp_path / "blobs"),
             "store": telemetry_store, "telemetry_dir": tmp_path / "telemetry"}
    (tmp_path / "telemetry").mkdir(exist_ok=True)
    yield parts
    telemetry_store.close()
    records.close()
    broker.close()


def _raise(exc: BaseException):
    def action() -> None:
        raise exc
    return action


# ---------------------------------------------------------------------- probes


def test_every_dependency_passes_on_working_stores_and_fails_when_its_directory_is_gone(stores, tmp_path):
    probes = dependency_probes(**stores)
    checks = check_dependencies(probes, timeout=5)
    assert [(c.name, c.ok, c.reason) for c in checks] == [
        ("blobs", True, None), ("queue", True, None), ("records", True, None), ("telemetry", True, None)]
    assert all(c.latency_ms >= 0 for c in checks)

    (tmp_path / "blobs").rename(tmp_path / "blobs-moved")
    (tmp_path / "blobs").write_text("not a directory")
    checks = {c.name: c for c in check_dependencies(probes, timeout=5)}
    assert not checks["blobs"].ok and checks["blobs"].reason.split(":")[0] in ("NotADirectoryError",
                                                                               "FileExistsError")
    assert checks["queue"].ok and checks["records"].ok


def test_a_probe_that_hangs_fails_with_timeout_within_the_bound():
    release = threading.Event()
    probes = [Probe("slow", lambda: release.wait(10)), Probe("fast", lambda: None)]
    t0 = time.monotonic()
    checks = check_dependencies(probes, timeout=0.3)
    release.set()
    assert time.monotonic() - t0 < 2
    assert [(c.name, c.ok, c.reason) for c in checks] == [("slow", False, "timeout"), ("fast", True, None)]


# ---------------------------------------------------------------------- canary runs


def test_a_failing_dependency_fails_the_run_with_its_name_and_retries_count(stores):
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise OSError(5, "Input/output error")

    run = run_dependencies_canary("deps", [Probe("queue", lambda: None), Probe("disk", flaky)], timeout=2, retries=1)
    assert (run.state, run.failure_code, run.reason, run.attempts) == ("FAILED", "CANARY_FAILURE", "dependency:disk", 2)
    assert run.steps[1]["reason"].startswith("OSError: Input/output error")
    # A third attempt (retries=2) sees it recover: PASSED, no failure code.
    calls.clear()
    run = run_dependencies_canary("deps", [Probe("disk", flaky)], timeout=2, retries=2)
    assert (run.state, run.failure_code, run.reason, run.attempts) == ("PASSED", None, None, 3)


def test_a_fault_of_the_checker_itself_is_an_execution_failure():
    class NotAProbe:  # the checker cannot even read its steps
        @property
        def name(self):
            raise RuntimeError("broken step definition")

    run = run_dependencies_canary("deps", [NotAProbe()], timeout=1)
    assert (run.state, run.failure_code, run.reason) == ("FAILED", "EXECUTION_FAILURE", "execution")


def test_a_run_publishes_system_health_and_synthetics_metrics(tmp_path):
    store = TelemetryStore(tmp_path / "telemetry")
    telemetry = Telemetry(store, service="test")
    try:
        run_dependencies_canary("deps", [Probe("queue", lambda: None)], timeout=1, metrics=telemetry.metrics)
        run_dependencies_canary("deps", [Probe("queue", _raise(OSError("gone")))], timeout=1,
                                metrics=telemetry.metrics)
        telemetry.flush()
        now = int(time.time() * 1000)

        def values(metric, stat, **dims):
            return store.metric_statistics(metric.namespace, metric.name, dimensions=dims, statistic=stat,
                                           period=3600, start_ms=now - 3_600_000, end_ms=now + 60_000).values

        assert values(catalog.SYSTEM_HEALTH, "Minimum") == [0.0]
        assert values(catalog.SYSTEM_HEALTH, "Maximum") == [1.0]
        assert values(catalog.CANARY_SUCCESS_PERCENT, "Average", CanaryName="deps") == [50.0]
        assert values(catalog.CANARY_SUCCESS_PERCENT, "SampleCount", CanaryName="deps", StepName="queue") == [2.0]
        assert values(catalog.CANARY_DURATION, "SampleCount", CanaryName="deps") == [2.0]
        assert catalog.SYNTHETICS == "WhisperSync/Synthetics"
    finally:
        telemetry.close()


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(1.5)
        self.send_response(200 if self.path == "/ok" else 500)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_an_http_canary_tells_status_connect_and_timeout_apart():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert run_http_canary("web", f"{base}/ok", timeout=5).state == "PASSED"
        failed = run_http_canary("web", f"{base}/broken", timeout=5)
        assert (failed.state, failed.failure_code, failed.reason, failed.steps[0]["reason"]) == (
            "FAILED", "CANARY_FAILURE", "status", "HTTP 500")
        assert run_http_canary("web", f"{base}/slow", timeout=0.3).reason == "timeout"
        assert run_http_canary("web", f"http://127.0.0.1:{free_port()}/", timeout=2).reason == "connect"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------- run records


def test_runs_are_recorded_newest_first_and_pruned_by_age(tmp_path):
    runs = SyntheticsStore(tmp_path / "monitoring.sqlite3")
    try:
        for i, state in enumerate(("PASSED", "FAILED", "PASSED")):
            failed = state == "FAILED"
            runs.record(CanaryRun("deps", 1_000 * (i + 1), 12.5, state, "CANARY_FAILURE" if failed else None,
                                  "dependency:blobs" if failed else None,
                                  steps=[{"name": "blobs", "ok": state == "PASSED", "latency_ms": 1.0, "reason": None}]))
        runs.record(CanaryRun("other", 5_000, 1.0, "PASSED"))
        assert [(r.started_ms, r.state, r.reason) for r in runs.history("deps")] == [
            (3000, "PASSED", None), (2000, "FAILED", "dependency:blobs"), (1000, "PASSED", None)]
        assert runs.history("deps", limit=1)[0].steps[0]["name"] == "blobs"
        assert runs.prune(older_than_ms=2_500) == 2
        assert [r.started_ms for r in runs.history("deps")] == [3000]
        assert [r.canary for r in runs.history("other")] == ["other"]
    finally:
        runs.close()


# ---------------------------------------------------------------------- schedules (the plan's HealthCheck)


@pytest.mark.parametrize(("schedule", "seconds"), [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(60 minutes)", 3600), ("rate(1 hour)", 3600),
    (" rate( 10  minutes ) ", 600),
])
def test_rate_schedules_give_their_interval(schedule, seconds):
    assert HealthCheck("c", schedule=schedule, kind="dependencies", timeout_seconds=10).interval_seconds == seconds


@pytest.mark.parametrize(("fields", "message"), [
    ({"schedule": "rate(2 hours)"}, "between rate(1 minute) and rate(1 hour)"),
    ({"schedule": "rate(61 minutes)"}, "between rate(1 minute) and rate(1 hour)"),
    ({"schedule": "rate(0 minute)"}, "run-once"),
    ({"schedule": "rate(5 days)"}, "rate(number unit)"),
    ({"schedule": "every 5 minutes"}, "rate(number unit)"),
    ({"schedule": "cron(0/5 * * * ? *)"}, "cron expressions are not supported yet"),
    ({"schedule": "rate(1 minute)", "timeout_seconds": 120}, "must not exceed the schedule's interval (60 s)"),
    ({"timeout_seconds": 2}, "from 3 to 840"),
    ({"retries": 3}, "retries: must be an integer from 0 to 2"),
    ({"kind": "http"}, "url: an http check needs"),
    ({"url": "http://example.test/"}, "url: only an http check"),
    ({"kind": "browser"}, "kind: must be one of dependencies, end-to-end, http"),
])
def test_bad_checks_are_refused_with_the_field_named(fields, message):
    with pytest.raises(ValueError) as caught:
        HealthCheck(**{"name": "c", "kind": "dependencies", "timeout_seconds": 10, **fields})
    assert message in str(caught.value)


def test_a_plan_file_with_a_bad_schedule_names_the_check_and_field():
    with pytest.raises(PlanError) as caught:
        plan_from_toml(b'[[health_checks]]\nname = "deps"\nkind = "dependencies"\nschedule = "rate(2 hours)"\n')
    assert "health_checks[0].schedule" in str(caught.value)


def test_a_fresh_home_without_a_telemetry_directory_yet_is_ready(stores, tmp_path):
    """The telemetry store makes its directory at its first write: its absence is not a failure."""
    (tmp_path / "telemetry").rmdir()
    checks = {c.name: c for c in check_dependencies(dependency_probes(**stores), timeout=5)}
    assert checks["telemetry"].ok, checks["telemetry"]
