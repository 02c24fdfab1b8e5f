"""A real Prometheus scrapes a real `whispersync up` (with an API token) and answers a query over
what it scraped; it also loads the exported alerting rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import pytest

from helpers import Server, free_port, wait_until
from whispersync.monitoring.export import rules_yaml
from whispersync.plan import DEFAULT_PLAN

PROMETHEUS = shutil.which("prometheus")
TOKEN = "scrape-test-token-" + "k3" * 10

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None and not os.environ.get("REQUIRE_PROMETHEUS"),
    reason="prometheus is not installed (Debian package `prometheus`; .ci/run installs it)")


def test_prometheus_scrapes_up_and_answers_for_the_transcripts_counter(cli_env, tmp_path) -> None:
    assert PROMETHEUS is not None, "REQUIRE_PROMETHEUS is set but prometheus is missing"
    rules = tmp_path / "rules.yml"
    exported = subprocess.run([sys.executable, "-m", "whispersync", "export", "prometheus-rules", str(rules)],
                              env=cli_env, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    server = Server(tmp_path / "home", {**cli_env, "WHISPERSYNC_API_TOKEN": TOKEN, "WHISPERSYNC_OTLP_PORT": "0",
                                        "WHISPERSYNC_COLLECTOR_INTERVAL": "1"}).start("--quiet")
    prometheus = None
    try:
        target = server.url.removeprefix("http://").rstrip("/")
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(rules)],
                  "scrape_configs": [{"job_name": "whispersync", "metrics_path": "/metrics",
                                      "authorization": {"type": "Bearer", "credentials": TOKEN},
                                      "static_configs": [{"targets": [target]}]}]}
        (tmp_path / "prometheus.yml").write_text(rules_yaml(config))
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        prometheus = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                                       f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                       f"--web.listen-address=127.0.0.1:{port}"],
                                      stdout=log, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{port}/api/v1"

        def query(promql: str) -> list[dict]:
            try:
                answer = httpx.get(f"{api}/query", params={"query": promql}, timeout=5)
            except httpx.HTTPError:
                return []
            return answer.json()["data"]["result"] if answer.status_code == 200 else []

        # The scrape (with the bearer token) succeeds: up == 1.
        [up] = wait_until(lambda: query('up{job="whispersync"} == 1'), timeout=60, interval=0.5)
        assert up["metric"]["instance"] == target
        posted = httpx.post(f"{server.url}/v1/transcripts", json={"text": "Shipped the exporter.", "agent": "work"},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert posted.status_code == 202, posted.text

        promql = 'whispersync_business_transcripts_processed_total{agent_type="work", status="Success"}'
        [series] = wait_until(lambda: query(promql), timeout=60, interval=0.5)
        assert float(series["value"][1]) == 1.0
        assert series["metric"]["job"] == "whispersync"
        # The collector's queue gauge arrives too, under its table name.
        assert wait_until(lambda: query('whispersync_queue_approximate_number_of_messages_visible'
                                        '{queue_name="transcripts"}'), timeout=30, interval=0.5)
        # Prometheus loaded every exported rule.
        loaded = httpx.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
        assert sorted(r["name"] for g in loaded for r in g["rules"]) == sorted(a.name for a in DEFAULT_PLAN.alarms)
        assert all(r["health"] != "err" for g in loaded for r in g["rules"])
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(20)
        assert server.terminate() == 0
