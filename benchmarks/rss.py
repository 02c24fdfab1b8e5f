"""Resident memory of benchmark processes, read from /proc/PID/status (Linux).

    from rss import mib, peak_in_child, status_kib
    idle_kib = status_kib(server.pid)["VmRSS"]
    result, before_kib, peak_kib = peak_in_child(query, home, name)  # query runs in a fresh process

Why a fresh process for a query's peak: VmHWM (the peak RSS) only ever grows, so in the
benchmark's own process it would count the data generation (a million log lines in lists,
DuckDB's COPY buffers). A ``spawn`` child is a clean interpreter that imports the
benchmark's modules, unpickles the arguments, runs the one query and reports its own VmHWM;
``before_kib`` is its VmRSS just before the call (the interpreter and imports). Reading the
child's own VmHWM rather than ``RUSAGE_CHILDREN`` keeps other children of the benchmark
(`whispersync up`, Prometheus) out of the figure.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

TARGET_PEAK_MIB = 1024  # issue 15: peak < 1 GiB


def status_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM and the other Vm* lines of /proc/PID/status, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Vm") and line.rstrip().endswith("kB"):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def verdict(peak_kib: int) -> str:
    return f"target peak < 1 GiB: {'met' if peak_kib / 1024 < TARGET_PEAK_MIB else 'NOT met'}"


def _measured(fn: Callable[..., Any], args: tuple) -> tuple[Any, int, int]:
    before = status_kib()["VmRSS"]
    result = fn(*args)
    return result, before, status_kib()["VmHWM"]


def peak_in_child(fn: Callable[..., Any], *args: Any) -> tuple[Any, int, int]:
    """Run ``fn(*args)`` (a module-level function) in a fresh spawned process: (result, RSS before, peak) in KiB."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, fn, args).result()
