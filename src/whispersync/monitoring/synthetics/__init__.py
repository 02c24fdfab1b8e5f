"""Health checks and canaries (CloudWatch Synthetics, locally): dependency probes with timeouts
(`GET /readyz` and the `dependencies` canary), canary runs and their records (the schedule is the plan's HealthCheck).

    checks = check_dependencies(dependency_probes(queue=..., records=..., blobs=..., store=...,
                                                  telemetry_dir=...), timeout=2.0)
    run = run_dependencies_canary("dependencies", probes, timeout=30, retries=0, metrics=telemetry.metrics)
    SyntheticsStore(settings.monitoring_db).record(run)

The `end-to-end` canary sends a synthetic memo through the pipeline (``SyntheticMemos``, bound in app.py).

Modules: ``_probes``, ``_canary`` (one run), ``_end_to_end`` (the synthetic memo), ``_store`` (the runs).
"""

from whispersync.monitoring.synthetics._canary import publish, run_dependencies_canary, run_http_canary
from whispersync.monitoring.synthetics._end_to_end import SyntheticMemos, run_end_to_end_canary
from whispersync.monitoring.synthetics._probes import DependencyCheck, Probe, check_dependencies, dependency_probes
from whispersync.monitoring.synthetics._store import (
    CANARY_FAILURE,
    EXECUTION_FAILURE,
    FAILED,
    PASSED,
    CanaryRun,
    SyntheticsStore,
)

__all__ = [
    "CANARY_FAILURE",
    "EXECUTION_FAILURE",
    "FAILED",
    "PASSED",
    "CanaryRun",
    "DependencyCheck",
    "Probe",
    "SyntheticMemos",
    "SyntheticsStore",
    "check_dependencies",
    "dependency_probes",
    "publish",
    "run_dependencies_canary",
    "run_end_to_end_canary",
    "run_http_canary",
]
