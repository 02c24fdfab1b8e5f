"""Running a canary once: its steps (here, the dependency probes), retries, the run record and
its metrics, with CloudWatch Synthetics' semantics.

Synthetics publishes ``SuccessPercent`` and ``Duration`` per canary (dimension CanaryName) and
per step (CanaryName, StepName) in the CloudWatchSynthetics namespace
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_metrics.html);
ours is ``WhisperSync/Synthetics``. A failed attempt is retried up to ``retries`` times before the run is
FAILED (Synthetics' RetryConfig.MaxRetries). The `dependencies` canary also publishes the seed's
``WhisperSync/Health SystemHealth``: 1 when every dependency answered, else 0.
"""

from __future__ import annotations

import time

import httpx
from collections.abc import Callable, Sequence
from typing import Any

from whispersync import catalog
from whispersync.monitoring.synthetics._probes import Probe, check_dependencies
from whispersync.monitoring.synthetics._store import (
    CANARY_FAILURE,
    EXECUTION_FAILURE,
    FAILED,
    PASSED,
    CanaryRun,
)

__all__ = ["publish", "run_dependencies_canary", "run_http_canary"]


def run_dependencies_canary(name: str, probes: Sequence[Probe], *, timeout: float, retries: int = 0,
                            metrics: Any = None, clock: Callable[[], float] = time.time) -> CanaryRun:
    """Probe every dependency (each a step) within ``timeout`` seconds; FAILED with reason
    ``dependency:<first failing name>`` when one does not answer after ``retries`` more attempts."""
    started = clock()
    t0 = time.monotonic()
    attempts = 0
    checks = []
    try:
        for attempts in range(1, retries + 2):
            checks = check_dependencies(probes, timeout)
            if all(c.ok for c in checks):
                break
        failed = [c for c in checks if not c.ok]
        state, code, reason = (FAILED, CANARY_FAILURE, f"dependency:{failed[0].name}") if failed else (PASSED, None,
                                                                                                          None)
    except Exception:  # noqa: BLE001 - the checker's own failure is a run of its own kind, not a crash
        state, code, reason = FAILED, EXECUTION_FAILURE, "execution"
    run = CanaryRun(name, int(started * 1000), (time.monotonic() - t0) * 1000, state, code, reason, attempts,
                    [c.to_dict() for c in checks])
    if metrics is not None:
        publish(run, metrics, system_health=True)
    return run


def publish(run: CanaryRun, metrics: Any, *, system_health: bool = False) -> None:
    """The run's metrics: per canary and per step; SystemHealth for the dependencies canary."""
    canary = {"CanaryName": run.canary}
    metrics.record(catalog.CANARY_SUCCESS_PERCENT, 100.0 if run.state == PASSED else 0.0, canary)
    metrics.record(catalog.CANARY_DURATION, run.duration_ms, canary)
    for step in run.steps:
        dims = {**canary, "StepName": step["name"]}
        metrics.record(catalog.CANARY_SUCCESS_PERCENT, 100.0 if step["ok"] else 0.0, dims)
        metrics.record(catalog.CANARY_DURATION, step["latency_ms"], dims)
    if system_health:
        metrics.record(catalog.SYSTEM_HEALTH, 1.0 if run.state == PASSED else 0.0)


def run_http_canary(name: str, url: str, *, timeout: float, retries: int = 0, metrics: Any = None,
                    clock: Callable[[], float] = time.time) -> CanaryRun:
    """GET ``url`` (one step, named ``request``): PASSED on a 2xx answer; else FAILED with reason
    ``timeout``, ``connect`` (no connection) or ``status`` (an answer that is not 2xx)."""
    started = clock()
    t0 = time.monotonic()
    attempts, reason, detail = 0, None, None
    for attempts in range(1, retries + 2):
        step_t0 = time.monotonic()
        try:
            response = httpx.get(url, timeout=timeout, follow_redirects=False)
            reason = None if 200 <= response.status_code < 300 else "status"
            detail = f"HTTP {response.status_code}"
        except httpx.TimeoutException:
            reason, detail = "timeout", f"no answer within {timeout:g} s"
        except httpx.HTTPError as exc:
            reason, detail = "connect", f"{type(exc).__name__}: {exc}"[:200]
        step_ms = (time.monotonic() - step_t0) * 1000
        if reason is None:
            break
    step = {"name": "request", "ok": reason is None, "latency_ms": round(step_ms, 2), "reason": detail}
    run = CanaryRun(name, int(started * 1000), (time.monotonic() - t0) * 1000, PASSED if reason is None else FAILED,
                    None if reason is None else CANARY_FAILURE, reason, attempts, [step])
    if metrics is not None:
        publish(run, metrics)
    return run
