"""An alarm fires end to end from a real pipeline fault and resolves: a real `whispersync up`,
memos that fail permanently, `alarms evaluate --at`, and a P1 page and Slack message delivered
to real local HTTP servers — then, once the errors stop, OK and a PagerDuty resolve."""

from __future__ import annotations

import http.server
import threading
import time

import httpx
import orjson
import pytest

from helpers import free_port, run_cli, wait_until

EMOJI_ONLY = "🎉🎉🎉 🙂👍 !!! ???"  # src/whispersync/samples/bad/emoji-only.txt: no words, fails permanently

PLAN = """
from whispersync.plan import MetricAlarm

# A low-threshold SystemDown: any worker error in the last two minutes pages.
ALARMS = [MetricAlarm(
    name="SystemDown", description="Worker errors (test plan)",
    namespace="WhisperSync/Worker", metric_name="Errors", dimensions={"FunctionName": "whispersync-worker"},
    statistic="Sum", period=60, evaluation_periods=2, datapoints_to_alarm=1, threshold=1,
    comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching", priority="P1",
    alarm_actions=("topic:critical",), ok_actions=("topic:critical",))]
"""


class Receiver:
    """A loopback HTTP server that records every POST body and answers 202."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        received = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((self.path, orjson.loads(body)))
                self.send_response(202)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "success"}')

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = {"slack": Receiver(), "pagerduty": Receiver()}
    yield made
    for r in made.values():
        r.close()


def _evaluate(env, at_ms: int) -> dict:
    done = run_cli(env, "alarms", "evaluate", "--at", str(at_ms), "--json")
    assert done.returncode == 0, done.stderr
    return {a["name"]: a for a in orjson.loads(done.stdout)["alarms"]}


def test_a_failing_agent_pages_and_the_page_resolves(server, cli_env, tmp_path, receivers):
    plan = tmp_path / "plan.py"
    plan.write_text(PLAN)
    cli_env.update(
        WHISPERSYNC_SLACK_CRITICAL_WEBHOOK=f"{receivers['slack'].base}/services/critical/T000/B000/secret",
        WHISPERSYNC_PAGERDUTY_ROUTING_KEY="R0UT1NGKEY0000000000000000000000",
        WHISPERSYNC_PAGERDUTY_URL=f"{receivers['pagerduty'].base}/v2/enqueue",
        WHISPERSYNC_ALARM_INTERVAL="3600",  # only our `alarms evaluate --at` decides, not the clock
        WHISPERSYNC_COLLECTOR_INTERVAL="3600",
    )
    server.start("--plan", str(plan))
    # Every later command sees the same plan file (through the setting, as `--plan` would).
    cli_env["WHISPERSYNC_PLAN_FILE"] = str(plan)

    # The fault: three memos the work agent rejects permanently.
    for _ in range(3):
        r = httpx.post(f"{server.url}/v1/transcripts", json={"text": EMOJI_ONLY, "agent": "work"})
        assert r.status_code == 202, r.text
    wait_until(lambda: len(httpx.get(f"{server.url}/v1/memos", params={"status": "failed"}).json()["memos"]) == 3)
    done_ms = int(time.time() * 1000)

    # Every alarm known and reported by `alarms list`, with the plan file's override in force.
    listed = orjson.loads(run_cli(cli_env, "alarms", "list", "--plan", str(plan), "--json").stdout)["alarms"]
    assert {a["name"]: a["definition"]["threshold"] for a in listed if a["kind"] == "metric"}["SystemDown"] == 1.0

    # The next minute boundary: the minute that held the errors is complete.
    fire_at = done_ms // 60_000 * 60_000 + 60_000 + 1_000
    states = _evaluate(cli_env, fire_at)
    assert states["SystemDown"]["state"] == "ALARM", states["SystemDown"]
    assert states["SystemDown"]["reason"].startswith("Threshold Crossed: 1 out of the last 2 datapoints [")
    assert states["whispersync-system-health"]["state"] == "ALARM"

    # The running server's notifier delivers the outbox: a PagerDuty trigger and a Slack post.
    def pages(action):
        return [b for _, b in receivers["pagerduty"].posts
                if b["event_action"] == action and b["dedup_key"].endswith("SystemDown")]

    wait_until(lambda: pages("trigger") and receivers["slack"].posts, timeout=30)
    trigger = pages("trigger")[0]
    assert trigger["routing_key"] == "R0UT1NGKEY0000000000000000000000"
    assert trigger["payload"]["severity"] == "critical"
    assert "SystemDown" in trigger["payload"]["summary"]
    slack_text = orjson.dumps([b for _, b in receivers["slack"].posts]).decode()
    assert "SystemDown" in slack_text and "ALARM" in slack_text
    assert all(path.startswith("/services/critical/") for path, _ in receivers["slack"].posts)

    # The errors stop. While the error minute is still inside the evaluation range
    # (N + 2 = 4 periods) CloudWatch keeps evaluating it ("any real data points in the
    # evaluation range ... are included"), so the alarm stays in ALARM ...
    assert _evaluate(cli_env, fire_at + 3 * 60_000)["SystemDown"]["state"] == "ALARM"
    # ... and once it has left the range, the alarm is OK and the page resolves.
    states = _evaluate(cli_env, fire_at + 4 * 60_000)
    assert states["SystemDown"]["state"] == "OK"
    wait_until(lambda: pages("resolve"), timeout=30)
    assert pages("resolve")[0]["dedup_key"] == trigger["dedup_key"]

    history = orjson.loads(run_cli(cli_env, "alarms", "history", "SystemDown", "--json").stdout)["history"]
    assert [h["summary"] for h in history if h["type"] == "StateUpdate"][:2] == [
        "Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM"]
    assert server.terminate() == 0
