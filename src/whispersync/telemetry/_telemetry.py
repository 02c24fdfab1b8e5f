"""The Telemetry object: one per process (or per test), built by ``app.py`` and passed down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ._logger import LEVELS, Logger, _Clock
from ._metrics import Metrics
from ._sink import NullSink, Sink
from ._tracer import Tracer


# Deferred records built at once by the thread that makes this many, if the sink has
# not drained them first: about a hundred memos' worth, whose values are still in the
# CPU's larger caches. A batch of a whole flush interval at full speed (~60,000 in a
# tight loop) would be read back from memory, slower than building each in place.
# Smaller bounds were measured too (issue 15): 128 keeps what the waiting records hold
# under the garbage collector's first threshold (700 objects), so they are never
# promoted and full collections (~45 ms over a runtime's ~60,000 objects) stay rare;
# it cut the replayed per-memo cost ~10 %, but in the pipeline the drains then run
# in the middle of memos, and telemetry's CPU per memo rose from ~145 to ~185 µs.
DRAIN_AT = 2048


class Telemetry:
    """Logger, metrics and tracer writing to one :class:`Sink`.

    Telemetry never raises into the caller: a failing sink is counted in
    ``faults`` and the record dropped. With ``enabled=False`` or a
    :class:`NullSink` nothing is built or written, but spans still carry trace
    ids so correlation keeps working.

    ``log_level`` drops lines below it ("DEBUG" keeps everything).

    Records built off the hot path: with a sink that takes producers (the telemetry
    store, see ``TelemetryStore.add_producer``), a log line, a finished span or a batch
    of metric points is kept as the values it was made of, and the records are built
    and handed to the sink when it flushes (every 0.5 s on the store's writer thread)
    or when a thread has made ``DRAIN_AT`` of them, a batch at a time. In the
    pipeline, between SQLite calls that evict the SDK from the CPU's caches, a record
    built in place cost several times what it costs in a batch (issue 15). The sink
    would not write a record before its next flush anyway. ``drain()`` builds them
    now. Any other sink gets each record at once.
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
        # Entries (stream, build, *args) whose records drain() builds; None: build at once.
        self._deferred: list[tuple] | None = None
        self._drain_lock = threading.RLock()  # re-entered if a listener ever logs while draining
        add_producer = getattr(sink, "add_producer", None)
        if self.enabled and callable(add_producer):
            self._deferred = []
            add_producer(self.drain)
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

    def _defer(self, entry: tuple) -> None:
        """Keep *entry*, ``(stream, build, *args)``, for the next drain, where ``build(*args)`` makes
        its record or a list of them; only when ``_deferred`` is a list. One flat tuple of values:
        each object a waiting record holds counts towards the next garbage collection (DRAIN_AT)."""
        deferred = self._deferred
        deferred.append(entry)  # type: ignore[union-attr]
        if len(deferred) >= DRAIN_AT:  # type: ignore[arg-type]
            self.drain()  # also bounds the memory a sink that stopped flushing costs

    def drain(self) -> None:
        """Build the deferred records and hand them to the sink and the listeners now, in order.

        The sink's flushes do this; a reader of the listeners' view (``GET /metrics``)
        calls it so that what it shows counts every record made so far.
        """
        deferred = self._deferred
        if not deferred:
            return
        with self._drain_lock:  # one drain at a time: the sink gets the records in order
            # Copying then deleting the first n are each one C call: an entry appended
            # between them stays for the next drain.
            taken = deferred[:]
            del deferred[:len(taken)]
            emit = self._sink_emit
            for entry in taken:
                try:
                    built = entry[1](*entry[2:])  # a record, or a list of them (a batch of metric points)
                except Exception:  # noqa: BLE001 - telemetry never raises; the record is counted
                    self.faults += 1
                    continue
                stream = entry[0]
                for record in (built,) if type(built) is dict else built:
                    try:
                        emit(stream, record)
                    except Exception:  # noqa: BLE001
                        self.faults += 1

    def _emit(self, stream: str, record: dict[str, Any]) -> None:
        try:
            self._sink_emit(stream, record)
        except Exception:
            self.faults += 1

    def _fault(self) -> None:
        self.faults += 1

    def flush(self) -> None:
        """Build the deferred records and flush the sink; a failure is counted, not raised."""
        self.drain()
        try:
            self.sink.flush()
        except Exception:
            self.faults += 1

    def close(self) -> None:
        """Flush and close the sink; a failure is counted, not raised."""
        self.drain()
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
