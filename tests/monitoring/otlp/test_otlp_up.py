"""`whispersync up` runs the OTLP receiver: the OTel SDK sends, the `traces search` CLI finds the span."""

from __future__ import annotations

import socket

import orjson
import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from helpers import Server, free_port, run_cli, wait_until
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

pytestmark = pytest.mark.e2e


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_receives_otlp_and_the_cli_finds_the_span(cli_env, tmp_path) -> None:
    port = free_port()
    server = Server(tmp_path / "home", {**cli_env, "WHISPERSYNC_OTLP_PORT": str(port)}).start("--quiet")
    try:
        wait_until(lambda: _listening(port), timeout=20)
        provider = TracerProvider(resource=Resource.create({"service.name": "mobile-app"}))
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("app").start_as_current_span("upload-memo") as span:
            pass
        provider.shutdown()
        trace_id = f"{span.get_span_context().trace_id:032x}"

        def found():
            result = run_cli(cli_env, "traces", "search", "--json")
            assert result.returncode == 0, result.stderr
            return [t for t in orjson.loads(result.stdout)["traces"] if t["trace_id"] == trace_id]

        (trace,) = wait_until(found, timeout=30, interval=0.5)
        assert trace["root_span"] == "upload-memo"
        assert f"OTLP in:  http://127.0.0.1:{port}/v1/" in server.log.read_text()
    finally:
        assert server.terminate() == 0


def test_otlp_port_zero_turns_the_receiver_off(cli_env, tmp_path) -> None:
    port = free_port()
    # The environment asks for a port; --otlp-port 0 on the command line wins and turns it off.
    server = Server(tmp_path / "home", {**cli_env, "WHISPERSYNC_OTLP_PORT": str(port)})
    server.start("--quiet", "--otlp-port", "0")
    try:
        wait_until(lambda: "WhisperSync is up" in server.log.read_text(), timeout=20)
        assert not _listening(port)
        assert "OTLP in:" not in server.log.read_text()
    finally:
        assert server.terminate() == 0


def test_an_explicit_busy_otlp_port_stops_up_before_it_starts(cli_env, tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(cli_env, "up", "--quiet", "--otlp-port", str(port), timeout=60)
    assert result.returncode != 0
    assert "--otlp-port" in result.stderr + result.stdout


def test_the_runtime_exports_a_memos_spans_over_otlp_when_an_endpoint_is_set(tmp_path) -> None:
    """WHISPERSYNC_OTLP_ENDPOINT wiring: a memo processed by the runtime reaches a collector
    (a real receiver decoding with opentelemetry-proto) with its trace id, and the store still has it."""
    from helpers import ServerThread

    from whispersync.app import build_runtime
    from whispersync.domain import Transcript
    from whispersync.monitoring.otlp import OtlpReceiver
    from whispersync.monitoring.store import TelemetryStore
    from whispersync.monitoring.traces import search_traces
    from whispersync.settings import Settings
    from whispersync.web.otlp import create_otlp_app

    collected = TelemetryStore(tmp_path / "collector")
    with ServerThread(create_otlp_app(OtlpReceiver(collected))) as collector:
        settings = Settings.load(home=tmp_path / "home", otlp_endpoint=collector.url, otlp_protocol="http/json",
                                 collector_interval=3600, compaction_interval=3600)
        runtime = build_runtime(settings)
        runtime.start(inbox=False, collector=False, maintenance=False, notifications=False, alarms=False,
                      sweep=False)
        try:
            receipt = runtime.ingestor.accept(Transcript(text="Ship the release on Friday", agent="work"))
            wait_until(lambda: runtime.records.get(receipt.id).status.value in ("done", "failed"), timeout=30)
        finally:
            runtime.close(timeout=10)
        collected.flush()
        exported = search_traces(collected, correlation_id=receipt.correlation_id)
        local = search_traces(runtime.store, correlation_id=receipt.correlation_id)
        assert exported and [t.trace_id for t in exported] == [t.trace_id for t in local]
        assert exported[0].span_count == local[0].span_count
    collected.close()


def test_the_otlp_settings_are_checked(tmp_path) -> None:
    from whispersync.errors import ConfigError
    from whispersync.settings import Settings

    with pytest.raises(ConfigError, match="otlp_endpoint"):
        Settings.load(home=tmp_path, otlp_endpoint="localhost:4318")
    with pytest.raises(ConfigError, match="otlp_protocol"):
        Settings.load(home=tmp_path, otlp_protocol="grpc")
    with pytest.raises(ConfigError, match="otlp_port"):
        Settings.load(home=tmp_path, otlp_port=70000)
    assert Settings.load(home=tmp_path, otlp_endpoint="").otlp_endpoint is None  # empty: export off
    assert Settings.load(home=tmp_path).otlp_port == 4318


def test_a_busy_default_port_leaves_the_receiver_off_and_up_runs(cli_env, tmp_path) -> None:
    """4318 is often a local collector's: `up` then runs without a receiver and says so."""
    env = {k: v for k, v in cli_env.items() if k != "WHISPERSYNC_OTLP_PORT"}
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", 4318))
            holder.listen()
        except OSError:
            pass  # someone else holds it already: the same situation
        server = Server(tmp_path / "home", env).start("--quiet")
        try:
            wait_until(lambda: "OTLP receiver off" in server.log.read_text(), timeout=20)
            assert "OTLP in:" not in server.log.read_text()
        finally:
            assert server.terminate() == 0
