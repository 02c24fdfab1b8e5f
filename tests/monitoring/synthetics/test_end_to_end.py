"""The end-to-end canary on a real runtime (SQLite queue and records, a blob directory, the agents, a worker
pool): its synthetic memo goes through and leaves nothing behind; timeouts, failures and ingest faults give
the documented reasons; its metrics are the canary's, never the business ones."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helpers import wait_until
from whispersync import catalog
from whispersync.app import build_runtime, run_health_check
from whispersync.domain import SYNTHETIC_SOURCE, MemoStatus
from whispersync.errors import NotFound
from whispersync.monitoring.synthetics import SyntheticsStore, run_end_to_end_canary
from whispersync.plan import DEFAULT_PLAN
from whispersync.settings import Settings

[CHECK] = [c for c in DEFAULT_PLAN.health_checks if c.name == "end-to-end"]


def _start_workers(runtime) -> None:
    runtime.start(workers=1, inbox=False, collector=False, maintenance=False, notifications=False, alarms=False,
                  sweep=False, checks=False)


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its content, and every folder (as None), so a left folder shows too."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = b""
        for name in filenames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = Path(path).read_bytes()
    return out


def _user_files(outputs: Path) -> None:
    """What a user already has: a journal that memos append to, and an idea whose folder the canary's
    title would claim."""
    journal = outputs / "work" / "journal" / "2026-W48.md"
    journal.parent.mkdir(parents=True)
    journal.write_text("# Work journal · 2026-W48\n\n## Mon · Standup\n<!-- memo:user-1 -->\n\nShip it.\n\n")
    idea = outputs / "github_ideas" / "whispersync-end-to-end-canary"
    idea.mkdir(parents=True)
    (idea / ".memo").write_text("user-2")
    (idea / "README.md").write_text("# A user's idea that happens to have the canary's name\n")


def _values(runtime, metric, stat, **dims):
    runtime.telemetry.flush()
    now = int(time.time() * 1000)
    return runtime.store.metric_statistics(metric.namespace, metric.name, dimensions=dims, statistic=stat,
                                           period=3600, start_ms=now - 3_600_000, end_ms=now + 60_000).values


class TestEndToEndCanary:
    def test_a_synthetic_memo_goes_through_and_leaves_nothing_behind(self, runtime, tmp_path):
        outputs = runtime.settings.outputs_dir
        _user_files(outputs)
        before = _files(outputs)
        blobs_before = _files(runtime.settings.blobs_dir)
        _start_workers(runtime)
        runs = SyntheticsStore(tmp_path / "runs.sqlite3")
        try:
            run = run_health_check(runtime, CHECK, runs)
        finally:
            runs.close()

        assert (run.state, run.failure_code, run.reason) == ("PASSED", None, None), run.steps
        assert [(s["name"], s["ok"]) for s in run.steps] == [("submit", True), ("process", True), ("cleanup", True)]
        memo_id = run.steps[0]["memo_id"]
        assert 0 < run.steps[1]["latency_ms"] < CHECK.timeout_seconds * 1000
        with pytest.raises(NotFound):
            runtime.records.get(memo_id)
        assert runtime.records.list() == []
        # Files only: the blob store's folders are the store's (S3 has none), not the canary's leftovers.
        assert {k: v for k, v in _files(runtime.settings.blobs_dir).items() if not k.endswith("/")} == blobs_before
        assert _files(outputs) == before  # the journal and the user's idea untouched, no folder left

        assert _values(runtime, catalog.CANARY_SUCCESS_PERCENT, "Average", CanaryName="end-to-end") == [100.0]
        assert _values(runtime, catalog.CANARY_DURATION, "SampleCount", CanaryName="end-to-end",
                       StepName="process") == [1.0]
        # The worker counted it as an invocation (the dead-man alarm sees it), not as a transcript processed.
        assert _values(runtime, catalog.WORKER_INVOCATIONS, "Sum", **catalog.WORKER_INVOCATIONS.dimensions) == [1.0]
        assert _values(runtime, catalog.TRANSCRIPTS_PROCESSED, "Sum") == []
        assert _values(runtime, catalog.MEMO_LATENCY, "SampleCount") == []

    def test_without_a_worker_it_times_out_and_the_memo_is_removed_by_a_later_run_once_done(self, runtime):
        memos = runtime.synthetic_memos()
        run = run_end_to_end_canary("end-to-end", memos, timeout=0.5)
        assert (run.state, run.failure_code, run.reason) == ("FAILED", "CANARY_FAILURE", "timeout")
        assert [(s["name"], s["ok"]) for s in run.steps] == [("submit", True), ("process", False), ("cleanup", True)]
        late = run.steps[0]["memo_id"]
        # Kept while queued: without its blob, the worker would fail it into the DLQ later.
        assert runtime.records.get(late).status is MemoStatus.QUEUED
        assert runtime.records.get(late).source == SYNTHETIC_SOURCE

        _start_workers(runtime)
        wait_until(lambda: runtime.records.get(late).status is MemoStatus.DONE)
        again = run_end_to_end_canary("end-to-end", memos, timeout=30)
        assert again.state == "PASSED", again.steps
        assert runtime.records.list() == []
        assert _files(runtime.settings.outputs_dir / "github_ideas") == {}

    def test_a_memo_that_fails_is_an_assertion_and_is_kept_for_diagnosis(self, tmp_path):
        runtime = build_runtime(Settings.load(home=tmp_path / "home", visibility_timeout=5, max_receive_count=1,
                                              collector_interval=3600, compaction_interval=3600))
        try:
            # A real fault: a file where the agent's folder must be, so the agent cannot write.
            runtime.settings.outputs_dir.mkdir(parents=True, exist_ok=True)
            (runtime.settings.outputs_dir / "github_ideas").write_text("not a folder")
            _start_workers(runtime)
            run = run_end_to_end_canary("end-to-end", runtime.synthetic_memos(), timeout=30)
            assert (run.state, run.failure_code, run.reason) == ("FAILED", "CANARY_FAILURE", "assertion")
            assert run.steps[1]["reason"].startswith("the memo FAILED: ")
            kept = runtime.records.get(run.steps[0]["memo_id"])
            assert kept.status is MemoStatus.FAILED and kept.error
        finally:
            runtime.close(timeout=5)

    def test_an_ingest_fault_names_the_dependency_and_leaves_nothing(self, runtime):
        # A real fault: a file where ingest must make the canary's blob folder.
        (runtime.settings.blobs_dir / "transcripts").mkdir(parents=True, exist_ok=True)
        (runtime.settings.blobs_dir / "transcripts" / "github_ideas").write_text("not a folder")
        run = run_end_to_end_canary("end-to-end", runtime.synthetic_memos(), timeout=5)
        assert (run.state, run.failure_code, run.reason) == ("FAILED", "CANARY_FAILURE", "dependency:blobs")
        assert [(s["name"], s["ok"]) for s in run.steps] == [("submit", False)]
        assert runtime.records.list() == []

    def test_a_done_memo_whose_outputs_are_missing_fails_the_assertion(self, runtime):
        memos = runtime.synthetic_memos()
        memo_id = memos.submit()
        runtime.records.update(memo_id, status=MemoStatus.DONE,
                               result={"outputs": ["github_ideas/gone/spec.json", "github_ideas/gone_response.json"]})
        assert memos.missing_outputs(runtime.records.get(memo_id)) == ["github_ideas/gone/spec.json",
                                                                       "github_ideas/gone_response.json"]
        runtime.records.update(memo_id, result={"outputs": []})
        assert memos.missing_outputs(runtime.records.get(memo_id)) == ["<agent>_response.json"]
        runtime.records.update(memo_id, result={"outputs": ["../../etc/passwd_response.json"]})
        with pytest.raises(ValueError, match="not under the outputs folder"):
            memos.remove(memo_id)


class TestPlan:
    def test_the_default_plan_runs_it_every_5_minutes_within_the_interval_and_alarms_on_it(self):
        assert (CHECK.kind, CHECK.schedule, CHECK.steps) == ("end-to-end", "rate(5 minutes)",
                                                             ("submit", "process", "cleanup"))
        assert CHECK.timeout_seconds <= CHECK.interval_seconds
        [alarm] = [a for a in DEFAULT_PLAN.alarms if a.name == "EndToEndCanaryFailing"]
        assert (alarm.metric_name, dict(alarm.dimensions), alarm.priority) == (
            "SuccessPercent", {"CanaryName": "end-to-end"}, "P2")
        assert (alarm.evaluation_periods, alarm.treat_missing_data) == (2, "missing")
