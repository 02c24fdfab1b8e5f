"""Remediation end to end: a real `whispersync up` with 1 worker and a backlog behind a slow dependency
(a loopback ElevenLabs that answers in 50 ms), a plan file lowering HighQueueDepth's threshold. The alarm
fires, the pool grows, the queue drains, and once OK has held for the stabilization window the pool
shrinks back; `remediation list` holds exactly those two actions."""

from __future__ import annotations

import http.server
import threading
import time

import httpx
import orjson
import pytest

from helpers import free_port, run_cli, wait_until

PLAN = """
[[alarms]]
name = "HighQueueDepth"
description = "The transcripts queue is backing up (test plan: 100 memos)"
namespace = "WhisperSync/Queue"
metric_name = "ApproximateNumberOfMessagesVisible"
dimensions = { QueueName = "transcripts" }
statistic = "Maximum"
period = 10
evaluation_periods = 1
threshold = 100
comparison_operator = "GreaterThanOrEqualToThreshold"
treat_missing_data = "missing"
priority = "P2"
alarm_actions = ["remediation:scale_up"]

[[remediation]]
name = "scale_up"
alarm = "HighQueueDepth"
action = "remediation:scale_up"
minimum = 1
maximum = 4
cooldown_seconds = 60
stabilization_seconds = 5
"""


@pytest.fixture
def slow_voice():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(0.05)
            self.send_response(200)
            self.send_header("content-type", "audio/mpeg")
            self.end_headers()
            self.wfile.write(b"ID3fake-mp3-audio")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _remediations(env) -> list[dict]:
    done = run_cli(env, "remediation", "list", "--json")
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)["remediations"][::-1]   # oldest first


def test_a_backlog_scales_the_pool_up_then_back_down(server, cli_env, tmp_path, slow_voice):
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    cli_env.update(WHISPERSYNC_VOICE="elevenlabs", WHISPERSYNC_ELEVENLABS_URL=slow_voice,
                   WHISPERSYNC_ELEVENLABS_API_KEY="xi-test-key", WHISPERSYNC_WORKERS="1",
                   WHISPERSYNC_COLLECTOR_INTERVAL="1", WHISPERSYNC_ALARM_INTERVAL="1",
                   WHISPERSYNC_PLAN_FILE=str(plan))
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for n in range(600):
            assert client.post("/v1/transcripts", json={"text": f"Need to do task {n}", "agent": "work"}
                               ).status_code == 202
        wait_until(lambda: [e["action"] for e in _remediations(cli_env)] == ["scale_up"], timeout=150,
                   interval=0.5)
        [up] = _remediations(cli_env)
        assert (up["before"], up["after"], up["result"]) == (1, 2, "executed")
        assert up["alarm"] == "HighQueueDepth" and up["state"] == "ALARM" and up["metrics"]

        def left(status: str) -> int:
            return len(client.get("/v1/memos", params={"status": status, "limit": 1}).json()["memos"])

        # The grown pool drains the queue.
        wait_until(lambda: left("queued") + left("processing") == 0, timeout=90, interval=0.5)
        wait_until(lambda: len(_remediations(cli_env)) == 2, timeout=150, interval=0.5)
        assert left("failed") == 0
    actions = _remediations(cli_env)
    assert [(e["action"], e["before"], e["after"], e["result"]) for e in actions] == [
        ("scale_up", 1, 2, "executed"), ("scale_down", 2, 1, "executed")]
    assert actions[1]["state"] == "OK"
    # Nothing more happens: the pool is back at its baseline.
    time.sleep(3)
    assert len(_remediations(cli_env)) == 2
    assert server.terminate() == 0
