"""Dependency probes: one cheap real operation per dependency, each bounded by a timeout.

Used by `GET /readyz` and by the `dependencies` canary. The probes take the pipeline's
objects duck-typed (monitoring does not import pipeline): a queue with ``counts()``, a
record store with ``list(limit=...)``, a blob store with ``put``/``get``, the telemetry
store with ``flush()`` and ``faults``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DependencyCheck", "Probe", "check_dependencies", "dependency_probes"]

_PROBE_KEY = "health/probe.txt"  # one blob, overwritten by every probe, so probes leave nothing behind to grow
_REASON_MAX = 200


@dataclass(frozen=True)
class Probe:
    name: str
    action: Callable[[], object]


@dataclass(frozen=True)
class DependencyCheck:
    """One dependency's answer: ``reason`` is None when it passed, ``timeout`` or the error when not."""

    name: str
    ok: bool
    latency_ms: float
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "latency_ms": round(self.latency_ms, 2), "reason": self.reason}


def dependency_probes(*, queue: Any, records: Any, blobs: Any, store: Any, telemetry_dir: Path) -> list[Probe]:
    """The four dependencies the seed's health check names, in its order."""

    def probe_blobs() -> None:
        data = str(time.time_ns()).encode()
        blobs.put(_PROBE_KEY, data)
        if blobs.get(_PROBE_KEY) != data:
            raise RuntimeError("the probe blob read back differs from what was written")

    def probe_telemetry() -> None:
        # The store's writer swallows its failures (telemetry never fails a caller): a write
        # test in its directory and its fault count are what tell us it cannot write.
        before = store.faults
        store.flush()
        telemetry_dir.mkdir(parents=True, exist_ok=True)  # the store makes it at its first write; so may we
        with tempfile.NamedTemporaryFile(dir=telemetry_dir, prefix=".probe-"):
            pass
        if store.faults > before:
            raise RuntimeError("the telemetry store failed to write its pending records")

    return [Probe("blobs", probe_blobs), Probe("queue", queue.counts), Probe("records", lambda: records.list(limit=1)),
            Probe("telemetry", probe_telemetry)]


def check_dependencies(probes: Sequence[Probe], timeout: float) -> list[DependencyCheck]:
    """Run every probe at once, each in its own thread; one not done within ``timeout`` seconds
    fails with reason ``timeout`` (its thread is left to finish on its own: a daemon, never joined)."""
    results: dict[str, DependencyCheck] = {}
    started = time.monotonic()

    def run(probe: Probe) -> None:
        t0 = time.monotonic()
        try:
            probe.action()
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency is its answer
            results[probe.name] = DependencyCheck(probe.name, False, (time.monotonic() - t0) * 1000,
                                                  _reason(exc))
        else:
            results[probe.name] = DependencyCheck(probe.name, True, (time.monotonic() - t0) * 1000)

    threads = [threading.Thread(target=run, args=(p,), name=f"probe-{p.name}", daemon=True) for p in probes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, timeout - (time.monotonic() - started)))
    return [results.get(p.name) or DependencyCheck(p.name, False, timeout * 1000, "timeout") for p in probes]


def _reason(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc, OSError) or not exc.strerror else f"{exc.strerror}: {exc.filename}"
    return f"{type(exc).__name__}: {text}"[:_REASON_MAX] if text else type(exc).__name__


