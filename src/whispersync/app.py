"""Wiring: build the runtime (adapters, pipeline, telemetry) from Settings.

The CLI, the web app and the tests all get their objects here, so there is one
place that decides which adapter backs which port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from whispersync.agents import Agent, Router, Voice, build_agents, build_voice
from whispersync.domain import AGENTS
from whispersync.monitoring.store import TelemetryStore
from whispersync.pipeline.blobs import DirBlobStore
from whispersync.pipeline.collector import Collector
from whispersync.pipeline.inbox import InboxWatcher
from whispersync.pipeline.ingest import Ingestor
from whispersync.pipeline.queue import RedrivePolicy, SqliteQueue, SqliteQueueBroker
from whispersync.pipeline.records import SqliteRecordStore
from whispersync.pipeline.worker import MemoProcessor, WorkerPool
from whispersync.settings import Settings
from whispersync.telemetry import NullSink, Telemetry

QUEUE_NAME = "transcripts"
DLQ_NAME = "transcripts-dlq"


def open_store(settings: Settings) -> TelemetryStore:
    """The telemetry store alone, for commands that only read it."""
    return TelemetryStore(settings.telemetry_dir, retention_days=settings.retention_days)


@dataclass
class Runtime:
    """Everything one process needs; `start()` runs the background services of `up`."""

    settings: Settings
    store: TelemetryStore
    telemetry: Telemetry
    broker: SqliteQueueBroker
    queue: SqliteQueue
    dlq: SqliteQueue
    blobs: DirBlobStore
    records: SqliteRecordStore
    router: Router
    agents: dict[str, Agent]
    voice: Voice | None
    ingestor: Ingestor
    processor: MemoProcessor
    pool: WorkerPool | None = None
    _services: list = field(default_factory=list)
    _maintenance_stop: threading.Event = field(default_factory=threading.Event)

    def start(self, *, workers: int | None = None, inbox: bool = True, collector: bool = True,
              maintenance: bool = True) -> None:
        s = self.settings
        self.pool = WorkerPool(self.processor, concurrency=workers or s.workers)
        self.pool.start()
        self._services.append(self.pool)
        if inbox:
            watcher = InboxWatcher(s.inbox_dir, self.ingestor, self.telemetry, agents=AGENTS,
                                   poll_seconds=s.inbox_poll_interval)
            watcher.start()
            self._services.append(watcher)
        if collector:
            coll = Collector(self.telemetry, queues=[self.queue, self.dlq], pool=self.pool,
                             records=self.records, interval=s.collector_interval)
            coll.start()
            self._services.append(coll)
        if maintenance:
            threading.Thread(target=self._maintain, name="maintenance", daemon=True).start()

    def _maintain(self) -> None:
        """Compaction every `compaction_interval`; retention once an hour."""
        log = self.telemetry.logger("whispersync.store")
        every = self.settings.compaction_interval
        ticks_per_hour = max(1, int(3600 / every))
        tick = 0
        while not self._maintenance_stop.wait(every):
            try:
                self.store.compact()
                if tick % ticks_per_hour == 0:
                    self.store.apply_retention()
            except Exception as exc:  # noqa: BLE001 - maintenance retries next tick
                log.exception("Telemetry store maintenance failed", error_type=type(exc).__name__)
            tick += 1

    def close(self, timeout: float = 30.0) -> None:
        """Graceful stop: in-flight memos finish (or are released), telemetry is flushed."""
        self._maintenance_stop.set()
        for service in reversed(self._services):
            if isinstance(service, WorkerPool):
                service.stop(timeout)
            else:
                service.stop()
        self._services.clear()
        self.telemetry.flush()
        self.telemetry.close()
        self.broker.close()
        self.records.close()


def build_runtime(settings: Settings) -> Runtime:
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    sink = store if settings.telemetry else NullSink()
    telemetry = Telemetry(sink, service=settings.service, enabled=settings.telemetry)
    broker = SqliteQueueBroker(settings.queue_db)
    dlq = broker.queue(DLQ_NAME, visibility_timeout=settings.visibility_timeout)
    queue = broker.queue(
        QUEUE_NAME,
        visibility_timeout=settings.visibility_timeout,
        redrive=RedrivePolicy(DLQ_NAME, settings.max_receive_count),
    )
    blobs = DirBlobStore(settings.blobs_dir)
    records = SqliteRecordStore(settings.records_db)
    router = Router()
    agents = build_agents(settings.outputs_dir)
    voice = build_voice(
        settings.voice,
        elevenlabs_api_key=settings.elevenlabs_api_key.get_secret_value() if settings.elevenlabs_api_key else None,
        elevenlabs_url=settings.elevenlabs_url,
        voice_id=settings.elevenlabs_voice_id,
    )
    ingestor = Ingestor(blobs=blobs, records=records, queue=queue, telemetry=telemetry,
                        max_bytes=settings.max_transcript_bytes, agents=AGENTS)
    processor = MemoProcessor(
        queue=queue, blobs=blobs, records=records, router=router, agents=agents,
        telemetry=telemetry, outputs_dir=settings.outputs_dir, voice=voice,
        max_receive_count=settings.max_receive_count, dead_letter_queue=dlq,
    )
    return Runtime(settings=settings, store=store, telemetry=telemetry, broker=broker, queue=queue, dlq=dlq,
                   blobs=blobs, records=records, router=router, agents=agents, voice=voice,
                   ingestor=ingestor, processor=processor)


def samples_dir() -> Path:
    return Path(__file__).parent / "samples"
