"""Wiring: build the runtime (adapters, pipeline, telemetry) from Settings.

The CLI, the web app and the tests all get their objects here, so there is one
place that decides which adapter backs which port.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from whispersync import catalog
from whispersync.agents import Agent, Router, Voice, build_agents, build_voice
from whispersync.domain import AGENTS
from whispersync.errors import ConfigError, NotFound
from whispersync.monitoring.alarms import AlarmEngine, AlarmStore
from whispersync.monitoring.baselines import BaselineJob, BaselineStore
from whispersync.monitoring.cost import BudgetAlerts, CostPublisher, budgets_from_plan, load_price_table
from whispersync.monitoring.dashboards import DashboardStore
from whispersync.monitoring.logs import MetricFilterListener, MetricFilterStore
from whispersync.monitoring.notify import (
    SECRET_NAMES,
    ChannelConfig,
    Notifier,
    NotifierConfig,
    read_secrets,
)
from whispersync.monitoring.plan_check import check_plan
from whispersync.monitoring.remediation import (
    PoolScaler,
    RemediationAudit,
    TransientRedriver,
    default_registry,
    redrive_rule,
    scale_up_rule,
    with_rule_action,
)
from whispersync.monitoring.store import TelemetryStore
from whispersync.monitoring.synthetics import (
    CanaryRun,
    DependencyCheck,
    SyntheticsStore,
    check_dependencies,
    dependency_probes,
    SyntheticMemos,
    run_dependencies_canary,
    run_end_to_end_canary,
    run_http_canary,
)
from whispersync.periodic import PeriodicTask
# dead_letters: the DLQ operations the CLI, the API and the console share (they may not import pipeline),
# and the redrive the remediation rule runs.
from whispersync.pipeline import dead_letters
from whispersync.pipeline.blobs import DirBlobStore
from whispersync.pipeline.collector import Collector
from whispersync.pipeline.inbox import InboxWatcher
from whispersync.pipeline.ingest import SWEEP_INTERVAL_SECONDS, Ingestor, UnsentSweeper
from whispersync.pipeline.queue import RedrivePolicy, SqliteQueue, SqliteQueueBroker
from whispersync.pipeline.records import SqliteRecordStore
from whispersync.pipeline.worker import MemoProcessor, WorkerPool
from whispersync.plan import Alarm, HealthCheck, MetricFilter, Plan, PlanError, effective_plan
from whispersync.settings import Settings
from whispersync.telemetry import NullSink, OtlpExporter, TeeSink, Telemetry


def open_store(settings: Settings, plan: Plan | None = None,
               log_listeners: Sequence[Callable[[list[dict]], Iterable[dict]]] = ()) -> TelemetryStore:
    """The telemetry store. The metric filters (the plan's and those stored by `filters put`
    or `filters import`, see `metric_filters`) and any ``log_listeners``, such as `up`'s
    event printer, run on its writer thread (off the hot path) for every log line written
    through it: the pipeline's and `logs import`'s."""
    plan = plan if plan is not None else load_plan(settings)
    # Opened by the writer thread at its first batch of log lines; never closed before the
    # process ends, as the writer may flush until then.
    filters = metric_filters(plan, MetricFilterStore(settings.monitoring_db))
    return TelemetryStore(settings.telemetry_dir, retention_days=settings.retention_days,
                          log_listeners=[MetricFilterListener(filters), *log_listeners])


def otlp_exporter(settings: Settings, loss_sink: TelemetryStore | None = None) -> OtlpExporter:
    """The OTLP exporter for ``settings.otlp_endpoint``; what it loses is counted in ``loss_sink``."""
    try:
        version = metadata.version("whispersync")
    except metadata.PackageNotFoundError:
        version = ""
    return OtlpExporter(settings.otlp_endpoint or "", protocol=settings.otlp_protocol, service=settings.service,
                        service_version=version, loss_sink=loss_sink)


def metric_filters(plan: Plan, filter_store: MetricFilterStore) -> Callable[[], tuple[MetricFilter, ...]]:
    """The metric filters to run: the plan's, then the stored ones (a stored filter replaces
    a plan filter of the same log group and name, as a stored alarm replaces a plan alarm).

    Asked at every flush: the stored ones are read again only when another process changed
    them, and the same tuple comes back while nothing changed (see MetricFilterListener)."""
    plan_filters = tuple(plan.metric_filters)
    last: dict[str, tuple[MetricFilter, ...]] = {}

    def current() -> tuple[MetricFilter, ...]:
        stored = filter_store.current()
        if last.get("stored") is not stored:
            replaced = {(f.log_group, f.name) for f in stored}
            last["merged"] = tuple(f for f in plan_filters if (f.log_group, f.name) not in replaced) + stored
            last["stored"] = stored
        return last["merged"]

    return current


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
    notifier: Notifier | None = None
    alarms: AlarmEngine | None = None
    pool: WorkerPool | None = None
    health_checks: tuple[HealthCheck, ...] = ()  # the plan's canaries, run by start()
    _services: list = field(default_factory=list)
    cost: CostPublisher | None = None  # EstimatedCostUSD each period, run by start(cost=True)
    _synthetic_memos: SyntheticMemos | None = None

    def synthetic_memos(self) -> SyntheticMemos:
        """The end-to-end canary's memos on this runtime's pipeline (one object: it remembers timed-out ones)."""
        if self._synthetic_memos is None:
            self._synthetic_memos = SyntheticMemos(ingestor=self.ingestor, records=self.records, blobs=self.blobs,
                                                   outputs_dir=self.settings.outputs_dir)
        return self._synthetic_memos

    def start(self, *, workers: int | None = None, inbox: bool = True, collector: bool = True,
              maintenance: bool = True, notifications: bool = True, alarms: bool = True,
              sweep: bool = True, checks: bool = True, auto_redrive: bool | None = None,
              cost: bool = True, baselines: bool = True) -> None:
        """``auto_redrive``: turn the plan's redrive_transient rule on or off for this run (None: as the plan says)."""
        s = self.settings
        if notifications and self.notifier is not None:
            # First, and at once, so deliveries left pending by a previous run go out.
            task = PeriodicTask("notify-delivery", self.notifier.interval, self.notifier.deliver_due,
                                self.telemetry.logger("whispersync.notify"), run_immediately=True)
            task.start()
            self._services.append(task)
        self.pool = WorkerPool(self.processor, concurrency=workers or s.workers)
        self.pool.start()
        self._services.append(self.pool)
        if alarms and self.alarms is not None:
            self._services += start_remediation(self, baseline=workers or s.workers, auto_redrive=auto_redrive)
        if inbox:
            watcher = InboxWatcher(s.inbox_dir, self.ingestor, self.telemetry, agents=AGENTS,
                                   poll_seconds=s.inbox_poll_interval, settle_seconds=s.inbox_settle_seconds)
            watcher.start()
            self._services.append(watcher)
        if collector:
            coll = Collector(self.telemetry, queues=[self.queue, self.dlq], pool=self.pool,
                             records=self.records, interval=s.collector_interval)
            coll.start()
            self._services.append(coll)
        if maintenance:
            log = self.telemetry.logger("whispersync.store")
            for task in (PeriodicTask("compaction", s.compaction_interval, self.store.compact, log),
                         PeriodicTask("retention", 3600, self.store.apply_retention, log, run_immediately=True)):
                task.start()
                self._services.append(task)
        if sweep:
            sweeper = UnsentSweeper(self.ingestor, queue_db=self.broker.path,
                                    queue_names=(self.queue.name, self.dlq.name))
            task = PeriodicTask("unsent-sweep", SWEEP_INTERVAL_SECONDS, sweeper.sweep,
                                self.telemetry.logger("whispersync.ingest"), run_immediately=True)
            task.start()
            self._services.append(task)
        if alarms and self.alarms is not None:
            task = PeriodicTask("alarms", s.alarm_interval, self.alarms.evaluate,
                                self.telemetry.logger("whispersync.alarms"))
            task.start()
            self._services.append(task)
        if checks:
            self._services += start_health_checks(self)
        if cost and self.cost is not None:
            self.cost.start()
            self._services.append(self.cost)
        if baselines:
            self._services.append(start_baselines(self))

    def close(self, timeout: float = 30.0) -> None:
        """Graceful stop: in-flight memos finish (or are released), telemetry is flushed."""
        for service in reversed(self._services):
            if isinstance(service, WorkerPool):
                service.stop(timeout)
            else:
                service.stop()
        self._services.clear()
        if self.notifier is not None:
            self.notifier.close()
        self.telemetry.flush()
        self.telemetry.close()
        self.broker.close()
        self.records.close()


def start_remediation(runtime: Runtime, *, baseline: int, auto_redrive: bool | None = None) -> list[Any]:
    """Bind the plan's rules (monitoring may not import pipeline: the ports are bound here): scale_up to the
    worker pool (the alarm action raises it, a task at the alarm interval raises it again while the alarm
    holds and lets it shrink on OK), redrive_transient to the dead-letter queue (``auto_redrive`` overrides
    the rule's ``enabled`` for this run: `up --demo` turns it on)."""
    s = runtime.settings
    assert runtime.pool is not None and runtime.alarms is not None
    audit = RemediationAudit(s.monitoring_db)
    log = runtime.telemetry.logger("whispersync.remediation")
    plan = load_plan(s)
    maintenance = runtime.alarms.alarm_store.maintenance

    def in_maintenance() -> bool:
        return maintenance.active(int(time.time() * 1000)) is not None

    scaler = PoolScaler(scale_up_rule(plan), runtime.pool, baseline=baseline,
                        alarm_states=runtime.alarms.alarm_store.states, audit=audit, notifier=runtime.notifier,
                        metrics=runtime.telemetry.metrics, log=log, in_maintenance=in_maintenance)
    runtime.alarms.remediation.register("scale_up", scaler.handle)
    rule = redrive_rule(plan)
    if auto_redrive is not None:
        rule = replace(rule, enabled=auto_redrive)

    def redrive(limit: int) -> dict[str, Any]:
        return dead_letters.redrive_transient(runtime.broker, dlq=runtime.dlq, queue=runtime.queue,
                                              records=runtime.records, limit=limit).to_dict()

    redriver = TransientRedriver(rule, redrive, alarm_states=runtime.alarms.alarm_store.states, audit=audit,
                                 metrics=runtime.telemetry.metrics, log=log, in_maintenance=in_maintenance)
    runtime.alarms.remediation.register("redrive_transient", redriver.handle)
    if rule.enabled:
        # The alarm gets the rule's action only now: a disabled rule leaves it as the plan wrote it.
        definitions = runtime.alarms.definitions
        runtime.alarms.definitions = lambda: with_rule_action(definitions(), rule)
    tasks = [PeriodicTask("remediation", s.alarm_interval, scaler.tick, log),
             PeriodicTask("remediation-redrive", s.alarm_interval, redriver.tick, log)]
    for task in tasks:
        task.start()
    # Services stop in reverse order: the tasks first, then the audit log closes.
    return [SimpleNamespace(stop=audit.close), *tasks]


def notifier_config(settings: Settings, plan: Plan | None = None) -> NotifierConfig:
    """The Notifier's plain configuration: where its outbox is, its channels, their secrets
    (read here, from the settings and the secrets file), the plan's routes."""
    configured = {}
    for name in SECRET_NAMES:
        value = getattr(settings, name)
        configured[name] = value.get_secret_value() if value is not None else None
    channels = ChannelConfig(pagerduty_url=settings.pagerduty_url, smtp_host=settings.smtp_host,
                             smtp_port=settings.smtp_port, smtp_user=settings.smtp_user,
                             smtp_starttls=settings.smtp_starttls, email_from=settings.email_from,
                             email_to=tuple(settings.email_to))
    return NotifierConfig(outbox_path=settings.monitoring_db,
                          dashboard_url=settings.dashboard_url or f"http://{settings.host}:{settings.port}/",
                          channels=channels, secrets=read_secrets(settings.secrets_file, configured),
                          routes=plan.routes if plan is not None else None)


def load_plan(settings: Settings) -> Plan:
    """The effective plan: built-in, then the plan file. Read once, here, so a broken
    plan file (or one whose expressions do not parse) fails at start-up."""
    plan = effective_plan(settings.plan_file)  # PlanError is a ConfigError
    problems = check_plan(plan)
    if problems:
        raise PlanError(str(settings.plan_file or "built-in"), problems)
    return plan


def alarm_definitions(plan: Plan, alarm_store: AlarmStore) -> Callable[[], list[Alarm]]:
    """The alarms to evaluate: the plan's, then `alarms put` ones (a later one of the same name wins)."""

    def definitions() -> list[Alarm]:
        merged = {a.name: a for a in plan.alarms}
        merged.update((a.name, a) for a in alarm_store.definitions())
        return list(merged.values())

    return definitions


def build_alarm_engine(settings: Settings, store: TelemetryStore, telemetry: Telemetry,
                       notifier: Notifier | None, plan: Plan | None = None) -> AlarmEngine:
    alarm_store = AlarmStore(settings.monitoring_db)
    plan = plan if plan is not None else load_plan(settings)
    return AlarmEngine(store, alarm_store, definitions=alarm_definitions(plan, alarm_store),
                       notifier=notifier, remediation=default_registry(),
                       dashboard_url=settings.dashboard_url, log=telemetry.logger("whispersync.alarms"))


def _queues(settings: Settings) -> tuple[SqliteQueueBroker, SqliteQueue, SqliteQueue]:
    broker = SqliteQueueBroker(settings.queue_db)
    dlq = broker.queue(catalog.DEAD_LETTER_QUEUE, visibility_timeout=settings.visibility_timeout)
    queue = broker.queue(
        catalog.QUEUE,
        visibility_timeout=settings.visibility_timeout,
        redrive=RedrivePolicy(catalog.DEAD_LETTER_QUEUE, settings.max_receive_count),
    )
    return broker, queue, dlq


def build_runtime(settings: Settings,
                  log_listeners: Sequence[Callable[[list[dict]], Iterable[dict]]] = ()) -> Runtime:
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    plan = load_plan(settings)
    store = open_store(settings, plan, log_listeners)
    sink = store if settings.telemetry else NullSink()
    if settings.telemetry and settings.otlp_endpoint:
        sink = TeeSink(store, otlp_exporter(settings, loss_sink=store))
    telemetry = Telemetry(sink, service=settings.service, enabled=settings.telemetry)
    broker, queue, dlq = _queues(settings)
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
    notifier = Notifier(notifier_config(settings, plan), telemetry=telemetry)
    return Runtime(settings=settings, store=store, telemetry=telemetry, broker=broker, queue=queue, dlq=dlq,
                   blobs=blobs, records=records, router=router, agents=agents, voice=voice,
                   ingestor=ingestor, processor=processor,
                   notifier=notifier, alarms=build_alarm_engine(settings, store, telemetry, notifier, plan),
                   health_checks=tuple(plan.health_checks),
                   cost=build_cost_publisher(settings, store, records, telemetry, plan=plan, notifier=notifier))


def build_cost_publisher(settings: Settings, store: TelemetryStore, records: SqliteRecordStore, telemetry: Telemetry,
                         *, plan: Plan | None = None, notifier: Notifier | None = None,
                         **timing: float) -> CostPublisher:
    """The publisher of the memos' estimated cost (bundled price table); ``timing``: its interval/settle/clock.
    With a plan, it also evaluates the plan's budgets each run and sends their notifications through ``notifier``."""
    def find_memo(memo_id: str):
        try:
            return records.get(memo_id)
        except NotFound:
            return None  # a canary's memo, deleted after its run: sized from its spans

    budgets = None if plan is None else BudgetAlerts(budgets_from_plan(plan.cost.budgets if plan.cost else ()),
                                                     settings.monitoring_db, notifier,
                                                     log=telemetry.logger("whispersync.cost"))
    return CostPublisher(store, find_memo, telemetry, load_price_table(), memory_mb=settings.lambda_memory_mb,
                         elevenlabs_usd_per_1k_characters=settings.elevenlabs_usd_per_1k_characters, budgets=budgets,
                         **timing)


# -- health: `GET /readyz` and the plan's canaries (`up` runs them on schedule, `checks run` once) ---

READY_TIMEOUT_SECONDS = 2.0  # per dependency; a load balancer's readiness probe waits a few seconds at most


def dependency_checks(runtime: Runtime, timeout: float = READY_TIMEOUT_SECONDS) -> list[DependencyCheck]:
    """Each dependency's answer to one cheap real operation (see monitoring.synthetics)."""
    return check_dependencies(_dependency_probes(runtime), timeout)


def _dependency_probes(runtime: Runtime):
    return dependency_probes(queue=runtime.queue, records=runtime.records, blobs=runtime.blobs, store=runtime.store,
                             telemetry_dir=runtime.settings.telemetry_dir)


def run_health_check(runtime: Runtime, check: HealthCheck, runs: SyntheticsStore) -> CanaryRun:
    """Run one canary now: its metrics are published, the run is recorded and old runs pruned."""
    metrics = runtime.telemetry.metrics
    if check.kind == "dependencies":
        run = run_dependencies_canary(check.name, _dependency_probes(runtime), timeout=check.timeout_seconds,
                                      retries=check.retries, metrics=metrics)
    elif check.kind == "end-to-end":
        # Processed by the running worker pool (`up`'s; `checks run` starts one when no `up` runs).
        run = run_end_to_end_canary(check.name, runtime.synthetic_memos(), timeout=check.timeout_seconds,
                                    retries=check.retries, metrics=metrics)
    else:
        run = run_http_canary(check.name, check.url or "", timeout=check.timeout_seconds, retries=check.retries,
                              metrics=metrics)
    runs.record(run)
    runs.prune(older_than_ms=run.started_ms - check.retention_days * 86_400_000)
    return run


def start_health_checks(runtime: Runtime) -> list[PeriodicTask]:
    """One task per canary of the plan, each on its schedule; the first run comes one interval after start."""
    runs = SyntheticsStore(runtime.settings.monitoring_db)
    log = runtime.telemetry.logger("whispersync.checks")
    tasks = []
    for check in runtime.health_checks:
        task = PeriodicTask(f"check-{check.name}", check.interval_seconds,
                            lambda check=check: run_health_check(runtime, check, runs), log)
        task.start()
        tasks.append(task)
    return tasks


def start_baselines(runtime: Runtime) -> BaselineJob:
    """§10: the plan's baselines, computed, stored and published once a day (at start when today's is missing,
    then checked hourly); see monitoring/baselines.py."""
    plan_baselines = tuple(load_plan(runtime.settings).baselines)
    job = BaselineJob(lambda: plan_baselines, runtime.store, BaselineStore(runtime.settings.monitoring_db),
                      log=runtime.telemetry.logger("whispersync.baselines"))
    job.start()
    return job


# -- for the CLI and the web: the stores without the services of `up` -----------------------------


@contextmanager
def open_records(settings: Settings) -> Iterator[SqliteRecordStore]:
    """The memo records, closed on exit."""
    records = SqliteRecordStore(settings.records_db)
    try:
        yield records
    finally:
        records.close()


@dataclass
class Queues:
    broker: SqliteQueueBroker
    queue: SqliteQueue
    dlq: SqliteQueue


@contextmanager
def open_queues(settings: Settings) -> Iterator[Queues]:
    """The transcripts queue and its dead-letter queue, as `up` configures them."""
    broker, queue, dlq = _queues(settings)
    try:
        yield Queues(broker, queue, dlq)
    finally:
        broker.close()


@contextmanager
def open_notifier(settings: Settings) -> Iterator[Notifier]:
    """The notification outbox, to read or re-queue; nothing is delivered unless asked."""
    notifier = Notifier(notifier_config(settings), telemetry=Telemetry(NullSink()))
    try:
        yield notifier
    finally:
        notifier.close()


@dataclass(frozen=True)
class ListedDashboard:
    """A dashboard as the CLI and the console list it: a name, its CloudWatch body, where it comes from."""

    name: str
    body: Mapping[str, Any]
    source: str  # "built-in", the plan file, or "stored"
    description: str = ""
    updated_ms: int | None = None


def list_dashboards(settings: Settings) -> list[ListedDashboard]:
    """The plan's dashboards, then the stored ones; a stored one takes a plan one's place.

    ConfigError when the plan file cannot be used or the stored dashboards cannot be read."""
    plan = load_plan(settings)
    by_name = {d.name: ListedDashboard(d.name, d.body(), plan.source_of("dashboards", d.name), d.description)
               for d in plan.dashboards}
    if settings.monitoring_db.exists():
        with open_dashboards(settings) as store:
            try:
                stored = store.stored()
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot read the stored dashboards in {store.path}: {exc}") from None
        for d in stored:
            by_name[d.name] = ListedDashboard(d.name, d.body, "stored", updated_ms=d.updated_ms)
    return list(by_name.values())


@contextmanager
def open_metric_filters(settings: Settings) -> Iterator[MetricFilterStore]:
    """The stored metric filters (`filters put`/`import`/`delete`), closed on exit."""
    store = MetricFilterStore(settings.monitoring_db)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_dashboards(settings: Settings) -> Iterator[DashboardStore]:
    """The stored dashboards (`dashboards import`/`delete`), closed on exit."""
    store = DashboardStore(settings.monitoring_db)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_alarms(settings: Settings) -> Iterator[AlarmEngine]:
    """The alarm engine over the telemetry store, as `up` builds it, without its schedule.

    Notifications it queues are delivered by a running `up`; without one, what is due
    is delivered on exit, so `alarms evaluate` and `set-state` still reach people."""
    plan = load_plan(settings)
    telemetry = Telemetry(NullSink())
    notifier = Notifier(notifier_config(settings, plan), telemetry=telemetry)
    try:
        engine = build_alarm_engine(settings, open_store(settings, plan), telemetry, notifier, plan)
        try:
            yield engine
        finally:
            if not settings.server_file.exists():
                notifier.deliver_due()
            engine.alarm_store.close()
    finally:
        notifier.close()


def samples_dir() -> Path:
    return Path(__file__).parent / "samples"
