"""The `end-to-end` canary: one synthetic memo through ingest → queue → worker → agent, timed, then removed.

Three steps, each published as a Synthetics step (``StepName``):

- ``submit``: the ingestor accepts a short fixed transcript with ``source="synthetic"`` (the worker leaves
  such memos out of the business metrics and the SLO, but counts them in its Invocations and Errors);
- ``process``: wait until the record is DONE or FAILED. Its latency is the memo-to-done latency, from
  acceptance to DONE as the record has them (what the worker's MemoLatency measures for real memos);
- ``cleanup``: delete the memo's output files, its blob and its record, so canaries leave nothing behind.

Why the ``github_ideas`` agent: it writes only files of its own memo (``github_ideas/<slug>/spec.json``,
``README.md``, the folder's ``.memo`` claim mark and the response), which can be removed exactly. The work
agent appends to the week's journal and the memory agent to its archive, files users read and other memos
append to at the same time: a canary entry would show in a user's journal, and cutting it out again would
race the worker's appends.

What is kept on purpose: a FAILED memo (its message is in the DLQ; the record says why, for whoever
looks), and a memo still queued when the run timed out (deleting its blob would make the worker fail it
into the DLQ later). The latter is removed by a later run of the same canary once it is DONE.

The pipeline is taken duck-typed (monitoring does not import pipeline; app.py binds it): an ingestor with
``accept(transcript, memo_id=...)``, a record store with ``get``/``delete``, a blob store with
``exists``/``delete``, and the outputs folder.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whispersync import catalog
from whispersync.domain import SYNTHETIC_SOURCE, MemoStatus, Transcript
from whispersync.errors import NotFound
from whispersync.monitoring.synthetics._canary import publish
from whispersync.monitoring.synthetics._store import CANARY_FAILURE, EXECUTION_FAILURE, FAILED, PASSED, CanaryRun

__all__ = ["SyntheticMemos", "run_end_to_end_canary"]

AGENT = "github_ideas"
TITLE = "WhisperSync end-to-end canary"
TEXT = ("A synthetic memo sent by the end-to-end canary. It should be processed like any other memo, "
        "and then removed again.")
_CLAIM_MARK = ".memo"  # the github_ideas agent's mark on the folder it claims: the owning memo's id
_DETAIL_MAX = 200


class _SubmitFailed(Exception):
    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(detail)
        self.dependency = dependency


class SyntheticMemos:
    """Submits, reads and removes the canary's synthetic memos on the pipeline it is given."""

    def __init__(self, *, ingestor: Any, records: Any, blobs: Any, outputs_dir: Path) -> None:
        self.ingestor = ingestor
        self.records = records
        self.blobs = blobs
        self.outputs_dir = Path(outputs_dir)
        self._pending: set[str] = set()  # memos of timed-out runs, removed once they are DONE
        self._lock = threading.Lock()

    def submit(self) -> str:
        """Accept the synthetic transcript; its memo id. _SubmitFailed names the dependency that failed."""
        memo_id = uuid.uuid4().hex  # as ingest makes them: the agents name files by its first characters
        transcript = Transcript(text=TEXT, agent=AGENT, title=TITLE, source=SYNTHETIC_SOURCE)
        try:
            self.ingestor.accept(transcript, memo_id=memo_id)
        except Exception as exc:
            dependency = self._failed_dependency(memo_id)
            try:
                self._remove_parts(memo_id)  # what ingest stored before it failed
            except Exception:  # noqa: BLE001 - best effort: the failing store may refuse this too
                pass
            raise _SubmitFailed(dependency, _detail(exc)) from exc
        return memo_id

    def _failed_dependency(self, memo_id: str) -> str:
        # Ingest writes the blob, then the record, then sends the message: the first part missing
        # is the one that failed (a store that cannot even answer counts as missing).
        try:
            if not self.blobs.exists(_key(memo_id)):
                return "blobs"
        except Exception:  # noqa: BLE001 - the blob store does not answer: that is the failure
            return "blobs"
        try:
            self.records.get(memo_id)
        except Exception:  # noqa: BLE001 - NotFound, or a store that does not answer
            return "records"
        return "queue"

    def status(self, memo_id: str) -> Any:
        """The memo's record (``status``, ``created_at``, ``updated_at``, ``result``, ``error``)."""
        return self.records.get(memo_id)

    def missing_outputs(self, memo: Any) -> list[str]:
        """The outputs the record lists that are not on disk; all of them when it lists none."""
        outputs = list((memo.result or {}).get("outputs") or [])
        if not any(o.endswith("_response.json") for o in outputs):
            return ["<agent>_response.json"]
        return [o for o in outputs if not self._output_path(o).is_file()]

    def remove(self, memo_id: str) -> None:
        """Delete the memo's outputs, blob and record (a DONE memo), or remember it for later when it is
        still queued; a FAILED memo is kept. A memo already gone is no error."""
        try:
            memo = self.records.get(memo_id)
        except NotFound:
            self._remove_parts(memo_id)
            return
        if memo.status is MemoStatus.FAILED:
            return
        if memo.status is not MemoStatus.DONE:
            with self._lock:
                self._pending.add(memo_id)
            return
        for relative in (memo.result or {}).get("outputs") or []:
            self._remove_output(relative, memo_id)
        self._remove_parts(memo_id, memo.key)

    def remove_finished(self) -> None:
        """Remove the memos of earlier timed-out runs that have finished since."""
        with self._lock:
            pending, self._pending = self._pending, set()
        for memo_id in pending:
            self.remove(memo_id)

    def _remove_parts(self, memo_id: str, key: str | None = None) -> None:
        self.blobs.delete(key or _key(memo_id))
        self.records.delete(memo_id)

    def _output_path(self, relative: str) -> Path:
        path = (self.outputs_dir / relative).resolve()
        root = self.outputs_dir.resolve()
        if root not in path.parents:
            raise ValueError(f"output {relative[:80]!r} is not under the outputs folder")
        return path

    def _remove_output(self, relative: str, memo_id: str) -> None:
        path = self._output_path(relative)
        path.unlink(missing_ok=True)
        folder = path.parent
        mark = folder / _CLAIM_MARK
        try:
            if mark.read_text(encoding="utf-8").strip() == memo_id:
                mark.unlink()
        except FileNotFoundError:
            pass
        # The agent's own folder (outputs/<agent>) stays; a folder of this memo's is removed once empty.
        agent_dir = (self.outputs_dir / AGENT).resolve()
        while folder != agent_dir and agent_dir in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty: another memo's files live there too
                break
            folder = folder.parent


def run_end_to_end_canary(name: str, memos: SyntheticMemos, *, timeout: float, retries: int = 0,
                          metrics: Any = None, clock: Callable[[], float] = time.time,
                          poll_seconds: float = 0.05) -> CanaryRun:
    """Send one synthetic memo and wait for it within ``timeout`` seconds (each retry sends a new one).

    FAILED reasons: ``dependency:<blobs|records|queue>`` when ingest fails, ``timeout`` when the memo is not
    DONE or FAILED in time, ``assertion`` when it FAILED or an output it lists is missing (CANARY_FAILURE);
    ``execution`` when the canary could not run or clean up (EXECUTION_FAILURE)."""
    started = clock()
    t0 = time.monotonic()
    attempts, steps = 0, []
    state, code, reason = FAILED, EXECUTION_FAILURE, "execution"
    try:
        memos.remove_finished()
        for attempts in range(1, retries + 2):
            deadline = time.monotonic() + timeout
            state, code, reason, steps = _attempt(memos, deadline, poll_seconds)
            if state == PASSED:
                break
    except Exception as exc:  # noqa: BLE001 - the checker's own failure is a run of its own kind, not a crash
        state, code, reason = FAILED, EXECUTION_FAILURE, "execution"
        steps = [*steps, {"name": "execution", "ok": False, "latency_ms": 0.0, "reason": _detail(exc)}]
    run = CanaryRun(name, int(started * 1000), (time.monotonic() - t0) * 1000, state, code, reason, attempts, steps)
    if metrics is not None:
        publish(run, metrics)
    return run


def _attempt(memos: SyntheticMemos, deadline: float, poll_seconds: float) -> tuple[str, str | None, str | None,
                                                                                    list[dict[str, Any]]]:
    steps: list[dict[str, Any]] = []

    def step(name: str, ok: bool, t0: float, detail: str | None = None, **extra: Any) -> None:
        steps.append({"name": name, "ok": ok, "latency_ms": round((time.monotonic() - t0) * 1000, 2),
                      "reason": detail, **extra})

    t0 = time.monotonic()
    try:
        memo_id = memos.submit()
    except _SubmitFailed as exc:
        step("submit", False, t0, str(exc))
        return FAILED, CANARY_FAILURE, f"dependency:{exc.dependency}", steps
    step("submit", True, t0, memo_id=memo_id)

    t0 = time.monotonic()
    memo = memos.status(memo_id)
    while memo.status not in (MemoStatus.DONE, MemoStatus.FAILED) and time.monotonic() < deadline:
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))
        memo = memos.status(memo_id)
    outcome: tuple[str, str | None, str | None]
    if memo.status is MemoStatus.DONE:
        missing = memos.missing_outputs(memo)
        outcome = (FAILED, CANARY_FAILURE, "assertion") if missing else (PASSED, None, None)
        step("process", not missing, t0, f"outputs missing: {', '.join(missing)}"[:_DETAIL_MAX] if missing else None)
        # The memo-to-done latency: acceptance to DONE as the record has them, not this loop's polling.
        steps[-1]["latency_ms"] = round(max(0.0, memo.updated_at - memo.created_at) * 1000, 2)
    elif memo.status is MemoStatus.FAILED:
        outcome = FAILED, CANARY_FAILURE, "assertion"
        step("process", False, t0, f"the memo FAILED: {memo.error or 'no error recorded'}"[:_DETAIL_MAX])
    else:
        outcome = FAILED, CANARY_FAILURE, "timeout"
        step("process", False, t0, f"still {memo.status.value} when the canary's timeout ran out")

    t0 = time.monotonic()
    try:
        memos.remove(memo_id)
    except Exception as exc:  # noqa: BLE001 - what the canary could not tidy is its own failure
        step("cleanup", False, t0, _detail(exc))
        return (FAILED, EXECUTION_FAILURE, "execution", steps) if outcome[0] == PASSED else (*outcome, steps)
    step("cleanup", True, t0)
    return (*outcome, steps)


def _key(memo_id: str) -> str:
    # Where ingest stores a transcript with an agent (pipeline.ingest): transcripts/<agent>/<memo id>.txt.
    return f"{catalog.TRANSCRIPTS_PREFIX}/{AGENT}/{memo_id}.txt"


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_DETAIL_MAX]
