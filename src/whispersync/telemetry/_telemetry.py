"""The Telemetry object: one per process (or per test), built by ``app.py`` and passed down."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ._logger import LEVELS, Logger, _Clock
from ._metrics import Metrics
from ._sink import NullSink, Sink
from ._tracer import Tracer


class Telemetry:
    """Logger, metrics and tracer writing to one :class:`Sink`.

    Telemetry never raises into the caller: a failing sink is counted in
    ``faults`` and the record dropped. With ``enabled=False`` or a
    :class:`NullSink` nothing is built or written, but spans still carry trace
    ids so correlation keeps working.

    ``log_level`` drops lines below it ("DEBUG" keeps everything).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        service: str = "whispersync",
        enabled: bool = True,
        clock_ns: Callable[[], int] = time.time_ns,
        log_level: str = "DEBUG",
    ) -> None:
        if log_level not in LEVELS:
            raise ValueError(f"log_level must be one of {list(LEVELS)}, not {log_level!r}")
        self.sink = sink
        self.service = service
        self.enabled = bool(enabled) and not isinstance(sink, NullSink)
        self.log_level = log_level
        self.faults = 0
        self._clock_ns = clock_ns
        self._clock = _Clock(clock_ns)
        self._sink_emit = sink.emit
        self._listeners: tuple[Callable[[str, dict[str, Any]], None], ...] = ()
        self._loggers: dict[str, Logger] = {}
        self.metrics = Metrics(self)
        self.tracer = Tracer(self)

    def logger(self, name: str) -> Logger:
        """The logger called *name* (e.g. "whispersync.worker"); cached."""
        logger = self._loggers.get(name)
        if logger is None:
            logger = self._loggers[name] = Logger(self, name)
        return logger

    def add_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Also hand every record to ``listener(stream, record)``, before the sink takes it.

        For views of the same records (``/metrics`` keeps counters of what is emitted): a
        listener must not change or keep the record, and must be quick, as it runs on the
        caller's thread. A listener that raises is counted in ``faults``; the sink still
        gets the record. Without listeners the hot path is unchanged.
        """
        self._listeners = (*self._listeners, listener)
        listeners, sink_emit, fault = self._listeners, self.sink.emit, self._fault

        def emit(stream: str, record: dict[str, Any]) -> None:
            for each in listeners:
                try:
                    each(stream, record)
                except Exception:  # noqa: BLE001 - a faulty view costs its own records only
                    fault()
            sink_emit(stream, record)

        self._sink_emit = emit

    def _emit(self, stream: str, record: dict[str, Any]) -> None:
        try:
            self._sink_emit(stream, record)
        except Exception:
            self.faults += 1

    def _fault(self) -> None:
        self.faults += 1

    def flush(self) -> None:
        """Flush the sink; a failure is counted, not raised."""
        try:
            self.sink.flush()
        except Exception:
            self.faults += 1

    def close(self) -> None:
        """Flush and close the sink; a failure is counted, not raised."""
        try:
            self.sink.close()
        except Exception:
            self.faults += 1

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"<Telemetry {self.service!r} {state} sink={type(self.sink).__name__} faults={self.faults}>"
