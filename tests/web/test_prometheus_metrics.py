"""`GET /metrics`: the runtime's own telemetry in the Prometheus text format and OpenMetrics."""

from __future__ import annotations

import httpx
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from whispersync import catalog
from whispersync.domain import Transcript
from whispersync.telemetry import MemorySink, Telemetry
from whispersync.web.prometheus import TelemetryCollector

TOKEN = "prometheus-test-token-" + "z9" * 10
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def submit_and_process(runtime, text: str, agent: str) -> str:
    """Accept a memo and run it through the worker: the worker's metrics go out through the runtime's telemetry."""
    receipt = runtime.ingestor.accept(Transcript(text=text, agent=agent))
    [message] = runtime.queue.receive(1)
    assert runtime.processor.process(message)
    return receipt.id


def samples(text: str, parse=text_string_to_metric_families) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for family in parse(text) for s in family.samples}


def test_a_processed_memo_is_counted_with_its_labels(api) -> None:
    runtime, _, client = api
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert not any(k[0].startswith("whispersync_business") for k in samples(before.text))

    submit_and_process(runtime, "Fixed the flaky deploy today.", "work")
    submit_and_process(runtime, "Fixed another one.", "work")
    found = samples(client.get("/metrics").text)

    processed = ("whispersync_business_transcripts_processed_total",
                 frozenset({"agent_type": "work", "status": "Success"}.items()))
    assert found[processed] == 2.0
    # The roll-ups CloudWatch needs ({Status} alone, no dimensions) are not exposed: sum by (status) gives them.
    assert [k for k in found if k[0] == processed[0]] == [processed]
    invocations = ("whispersync_worker_invocations_total",
                   frozenset({"function_name": catalog.WORKER_FUNCTION}.items()))
    assert found[invocations] == 2.0
    # Durations: a histogram in seconds, every memo in the +Inf bucket, a sum below a minute for two quick memos.
    duration = "whispersync_business_processing_duration_seconds"
    assert found[(f"{duration}_count", frozenset({"agent_type": "work"}.items()))] == 2.0
    assert found[(f"{duration}_bucket", frozenset({"agent_type": "work", "le": "+Inf"}.items()))] == 2.0
    assert 0 < found[(f"{duration}_sum", frozenset({"agent_type": "work"}.items()))] < 60


def test_openmetrics_when_the_accept_header_asks(api) -> None:
    runtime, _, client = api
    submit_and_process(runtime, "An idea for the garden.", "github_ideas")
    answer = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert answer.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert answer.text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(answer.text)}
    processed = families["whispersync_business_transcripts_processed"]
    assert processed.type == "counter"
    [sample] = [s for s in processed.samples if s.name.endswith("_total")]
    assert sample.labels == {"agent_type": "github_ideas", "status": "Success"} and sample.value == 1.0
    assert families["whispersync_business_processing_duration_seconds"].type == "histogram"


def test_a_token_guards_metrics_as_it_guards_the_api(make_api) -> None:
    runtime, server = make_api(api_token=TOKEN)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized"
            assert "whispersync" not in refused.text.replace("unauthorized", "")
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert "process_cpu_seconds_total" in allowed.text


def test_gauges_keep_the_last_value_in_base_units() -> None:
    collector = TelemetryCollector()
    telemetry = Telemetry(MemorySink())
    telemetry.add_listener(collector.listen)
    dims = catalog.queue_dimensions(catalog.QUEUE)
    telemetry.metrics.record(catalog.QUEUE_VISIBLE, 7, dims)
    telemetry.metrics.record(catalog.QUEUE_VISIBLE, 3, dims)
    telemetry.metrics.record(catalog.WORKER_MEMORY_UTILIZATION, 42.0)
    telemetry.metrics.put("Custom/App", "Latency", 250, unit="Milliseconds", dimensions={"Route": "/x"})
    families = {f.name: f for f in collector.collect()}
    [depth] = families["whispersync_queue_approximate_number_of_messages_visible"].samples
    assert (depth.labels, depth.value) == ({"queue_name": "transcripts"}, 3.0)
    [memory] = families["whispersync_worker_memory_utilization_ratio"].samples
    assert memory.value == 0.42  # Percent is exposed as a 0-1 ratio
    latency = {s.name: s for s in families["custom_app_latency_seconds"].samples if "le" not in s.labels}
    assert latency["custom_app_latency_seconds_sum"].value == 0.25
    assert latency["custom_app_latency_seconds_sum"].labels == {"route": "/x"}


def test_a_failing_listener_is_a_counted_fault_and_the_sink_still_gets_the_record() -> None:
    sink = MemorySink()
    telemetry = Telemetry(sink)
    seen = []

    def broken(stream, record):
        raise RuntimeError("boom")

    telemetry.add_listener(broken)
    telemetry.add_listener(lambda stream, record: seen.append(stream))
    telemetry.metrics.record(catalog.WORKER_ERRORS, 1)
    telemetry.logger("t").info("hello")
    assert telemetry.faults == 2
    assert [r["name"] for r in sink.records["metrics"]] == ["Errors"] and len(sink.records["logs"]) == 1
    assert seen == ["metrics", "logs"]


def test_memos_processed_as_up_starts_are_counted(cli_env, tmp_path) -> None:
    """Memos left in the queue by an earlier run are processed as soon as the workers start:
    /metrics listens from before then, so they are all counted."""
    from helpers import Server, wait_until

    from whispersync.app import build_runtime
    from whispersync.domain import MemoStatus
    from whispersync.settings import Settings

    home = tmp_path / "home"
    queued = 40
    runtime = build_runtime(Settings.load(home=home))
    try:
        ids = [runtime.ingestor.accept(Transcript(text=f"Left in the queue {n}.", agent="work")).id
               for n in range(queued)]
    finally:
        runtime.close(timeout=2)
    server = Server(home, cli_env).start("--quiet", "--otlp-port", "0")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            def all_done() -> bool:
                memos = client.get("/v1/memos", params={"limit": 100}).json()["memos"]
                return sum(m["status"] == MemoStatus.DONE.value for m in memos if m["id"] in ids) == queued

            wait_until(all_done, timeout=60, interval=0.2)
            found = samples(client.get("/metrics").text)
        processed = ("whispersync_business_transcripts_processed_total",
                     frozenset({"agent_type": "work", "status": "Success"}.items()))
        assert found.get(processed) == float(queued)
    finally:
        assert server.terminate() == 0
