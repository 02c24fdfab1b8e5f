"""`whispersync up` tells what happens: one line per notable event on stdout (JSON lines
when stdout is not a terminal), none with --quiet; and the demo run twice adds nothing."""

from __future__ import annotations

import http.server
import threading

import httpx
import orjson
import pytest

from helpers import free_port, run_cli, wait_until
from whispersync.cli._events import EventPrinter, event_of, format_event

EMOJI_ONLY = "🎉🎉🎉 🙂👍 !!! ???"  # no words: the work agent fails it permanently


class Receiver:
    """A loopback webhook that answers 200 to every POST."""

    def __init__(self) -> None:
        self.posts = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.posts += 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack():
    receiver = Receiver()
    yield receiver
    receiver.close()


def _by_kind(events: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for e in events:
        kinds.setdefault(e["event"], []).append(e)
    return kinds


def test_up_prints_each_notable_event_as_a_json_line(split_server, cli_env, slack) -> None:
    cli_env.update(WHISPERSYNC_INBOX_SETTLE_SECONDS="0", WHISPERSYNC_SLACK_CRITICAL_WEBHOOK=slack.url,
                   WHISPERSYNC_ALARM_INTERVAL="3600", WHISPERSYNC_COLLECTOR_INTERVAL="3600")
    server = split_server.start()

    # A memo that fails permanently goes to the DLQ at once.
    receipt = httpx.post(f"{server.url}/v1/transcripts", json={"text": EMOJI_ONLY, "agent": "work"}).json()
    # An inbox file that is rejected (empty).
    inbox = server.home / "inbox" / "work"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "empty.txt").write_bytes(b"")
    # An alarm notification, sent by the running server to the (local) Slack webhook.
    done = run_cli(cli_env, "alarms", "set-state", "SystemDown", "ALARM", "--reason", "drill")
    assert done.returncode == 0, done.stderr

    def seen():
        kinds = _by_kind(server.events())
        sent = [e for e in kinds.get("notification_sent", []) if e.get("channel") == "slack_critical"]
        return kinds if kinds.get("memo_dead_lettered") and kinds.get("inbox_file_rejected") and sent else None

    kinds = wait_until(seen, timeout=30)
    dead = kinds["memo_dead_lettered"][0]
    assert dead["correlation_id"] == receipt["correlation_id"]
    assert dead["level"] == "ERROR" and "dead-letter queue" in dead["message"]
    assert dead["timestamp"].endswith("Z") and "T" in dead["timestamp"]  # ISO 8601 UTC (docs/json.md)
    rejected = kinds["inbox_file_rejected"][0]
    assert rejected["file"] == "work/empty.txt" and rejected["reason"]
    sent = [e for e in kinds["notification_sent"] if e["channel"] == "slack_critical"][0]
    assert (sent["alarm_name"], sent["new_state"]) == ("SystemDown", "ALARM")
    assert slack.url not in server.stdout.read_text()  # a webhook URL is a secret
    assert kinds["server_started"][0]["url"] == server.url
    assert kinds["server_started"][0]["console_url"] == server.url + "/"
    assert "memo_failed" not in kinds and "Processing transcript" not in server.stdout.read_text()

    assert server.terminate() == 0
    assert server.events()[-1]["event"] == "server_stopped"


def test_quiet_prints_no_events_and_text_format_prints_lines_for_people(split_server, cli_env) -> None:
    server = split_server.start("--quiet")
    httpx.post(f"{server.url}/v1/transcripts", json={"text": EMOJI_ONLY, "agent": "work"})
    wait_until(lambda: httpx.get(f"{server.url}/v1/memos", params={"status": "failed"}).json()["memos"])
    assert server.terminate() == 0
    assert server.stdout.read_text() == ""

    server.stdout.unlink()
    server.start("--log-format", "text")
    receipt = httpx.post(f"{server.url}/v1/transcripts", json={"text": EMOJI_ONLY, "agent": "work"}).json()
    line = wait_until(lambda: next((ln for ln in server.stdout.read_text().splitlines()
                                    if receipt["correlation_id"] in ln), None))
    assert "memo failed and went to the dead-letter queue" in line and not line.startswith("{")
    assert "WhisperSync is up" in server.stdout.read_text()
    assert server.terminate() == 0


def test_the_demo_twice_into_the_same_home_adds_nothing(server, cli_env) -> None:
    server.start()
    first = run_cli(cli_env, "demo", "--json", timeout=300)
    assert first.returncode == 0, first.stderr
    again = run_cli(cli_env, "demo", "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    ids = [r["id"] for r in orjson.loads(first.stdout)["results"] if "id" in r]
    results = orjson.loads(again.stdout)["results"]
    assert ids and [r["id"] for r in results if "id" in r] == ids
    assert all(r["already_submitted"] for r in results if "id" in r)
    memos = httpx.get(f"{server.url}/v1/memos").json()["memos"]
    assert sorted(m["id"] for m in memos) == sorted(ids)


# -- the formatter, without a server


def _record(**fields) -> dict:
    return {"timestamp": "2026-12-02T02:23:13.123Z", "level": "INFO", "service": "whispersync", **fields}


def test_a_retried_failure_and_a_final_one_are_told_apart() -> None:
    trace = "Traceback (most recent call last):\n  ...\nAgentError: no words in the transcript\n"
    failed = _record(level="ERROR", message="Processing failed", receive_count=1, permanent=False,
                     error_type="AgentError", exception=trace, correlation_id="c-1")
    event = event_of(failed, max_receive_count=3)
    assert event["event"] == "memo_failed"
    assert event["message"] == "memo failed (attempt 1 of 3), will retry: AgentError: no words in the transcript"
    assert event_of({**failed, "receive_count": 3}, max_receive_count=3)["event"] == "memo_dead_lettered"
    assert event_of({**failed, "permanent": True}, max_receive_count=3)["event"] == "memo_dead_lettered"
    text = format_event(event, "text")
    assert text.startswith("2026-12-02T02:23:13.123Z  ERROR") and text.endswith("[correlation id c-1]")
    assert "\n" not in text
    assert orjson.loads(format_event(event, "json")) == event


@pytest.mark.parametrize(("fields", "kind", "words"), [
    ({"message": "Alarm state changed", "alarm": "SystemDown", "previous_state": "OK", "new_state": "ALARM",
      "reason": "Threshold Crossed"}, "alarm_state_changed", "alarm SystemDown OK -> ALARM: Threshold Crossed"),
    ({"message": "Remediation ran", "handler": "scale_up", "alarm": "HighQueueDepth", "new_state": "ALARM"},
     "remediation", "remediation scale_up ran for alarm HighQueueDepth"),
    ({"message": "Notification delivery failed", "level": "ERROR", "channel": "slack", "alarm_name": "A",
      "error": "HTTP 404", "target": "https://hooks.slack.com/services/SECRET"}, "notification_failed",
     "notification for A via slack failed: HTTP 404"),
    ({"message": "Alarm action failed", "level": "WARNING", "alarm": "A", "action": "remediation:x",
      "error_type": "KeyError"}, "alarm_action_failed", "action remediation:x failed"),
    ({"message": "Inbox file rejected", "level": "WARNING", "file": "work/a\nb.txt", "reason": "empty"},
     "inbox_file_rejected", "inbox file work/a b.txt rejected: empty"),
    ({"message": "compaction failed", "level": "ERROR", "error_type": "OSError"}, "error",
     "compaction failed: OSError"),
])
def test_each_notable_kind_is_one_line(fields, kind, words) -> None:
    event = event_of(_record(**fields), max_receive_count=3)
    assert event["event"] == kind
    line = format_event(event, "text")
    assert words in line and "\n" not in line
    assert "SECRET" not in format_event(event, "json")


@pytest.mark.parametrize("message", ["Processing transcript", "Processing successful", "Transcript accepted",
                                     "Inbox file accepted", "Notification queued"])
def test_routine_lines_are_not_events(message) -> None:
    assert event_of(_record(message=message), max_receive_count=3) is None


def test_the_printer_writes_whole_lines_and_adds_no_metrics(tmp_path) -> None:
    out = (tmp_path / "out").open("w")
    printer = EventPrinter(out, "json", max_receive_count=3)
    assert printer([_record(message="Processing successful"),
                    _record(message="Inbox file rejected", file="x.txt", reason="empty")]) == []
    out.close()
    [line] = (tmp_path / "out").read_text().splitlines()
    assert orjson.loads(line)["event"] == "inbox_file_rejected"
