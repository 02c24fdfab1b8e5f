"""A background thread that runs one function every interval, until stopped.

The inbox scan, the metric collector and store maintenance all need exactly this;
a failure is logged and the next tick runs as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from whispersync.telemetry import Logger


class PeriodicTask:
    def __init__(self, name: str, interval: float, action: Callable[[], object], log: Logger, *,
                 run_immediately: bool = False) -> None:
        self.name = name
        self.interval = interval
        self.action = action
        self.run_immediately = run_immediately
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        if self.run_immediately:
            self._tick()
        while not self._stop.wait(self.interval):
            self._tick()

    def _tick(self) -> None:
        try:
            self.action()
        except Exception as exc:  # noqa: BLE001 - one bad tick must not end the task
            self._log.exception(f"{self.name} failed", error_type=type(exc).__name__)
