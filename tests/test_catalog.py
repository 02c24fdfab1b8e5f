"""The catalog is the one spelling of every published name: the pipeline publishes
only catalog metrics, and the plan watches only what someone publishes."""

from __future__ import annotations

from whispersync import catalog
from whispersync.domain import Transcript
from whispersync.plan import DEFAULT_PLAN as plan
from whispersync.pipeline.collector import Collector


def _published(runtime) -> set[tuple[str, str]]:
    runtime.telemetry.flush()
    runtime.store.flush()
    return {(m["namespace"], m["name"]) for m in runtime.store.list_metrics()}


def test_everything_the_pipeline_publishes_is_in_the_catalog(runtime) -> None:
    runtime.ingestor.accept(Transcript(text="Need to review the PR", agent="work"))
    runtime.processor.process(runtime.queue.receive(1)[0])
    Collector(runtime.telemetry, queues=[runtime.queue, runtime.dlq], records=runtime.records,
              interval=3600).collect()
    published = _published(runtime)
    declared = {(m.namespace, m.name) for m in catalog.METRICS}
    assert published  # the run above did publish
    assert published - declared == set()


def test_every_plan_alarm_watches_a_catalog_metric() -> None:
    declared = {(m.namespace, m.name): m for m in catalog.METRICS}
    for alarm in plan.alarms:
        if alarm.kind != "metric" or alarm.metrics:
            continue
        metric = declared.get((alarm.namespace, alarm.metric_name))
        assert metric is not None, f"{alarm.name} watches {alarm.namespace} {alarm.metric_name}, which nobody publishes"
        # Every dimension the alarm names is one the producer sets (fixed or per datapoint).
        assert set(alarm.dimensions) <= set(metric.dimensions) | set(metric.varying), alarm.name


def test_metric_filters_publish_catalog_metrics() -> None:
    declared = {(m.namespace, m.name) for m in catalog.METRICS}
    assert all((f.namespace, f.metric_name) in declared for f in plan.metric_filters)


def test_names_are_unique() -> None:
    keys = [(m.namespace, m.name) for m in catalog.METRICS]
    assert len(keys) == len(set(keys))
