"""The CLI as a user runs it, against a real `whispersync up`."""

from __future__ import annotations

import json
import time

import pytest

from helpers import run_cli

pytestmark = pytest.mark.e2e


def _json(result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_demo_memo_can_be_followed_through_trace_logs_and_metrics(server, cli_env) -> None:
    server.start()
    document = _json(run_cli(cli_env, "demo", "--json"))
    assert set(document) == {"results"}  # docs/json.md: one object at the top, never a bare list
    results = document["results"]
    accepted = [r for r in results if "id" in r]
    refused = [r for r in results if "error" in r]
    assert len(accepted) >= 25 and len(refused) >= 3
    # emoji-only.txt is valid UTF-8 but has no words: the agent fails it permanently → DLQ.
    assert {r["file"]: r["status"] for r in accepted if r["status"] != "done"} == {"bad/emoji-only.txt": "failed"}
    accepted = [r for r in accepted if r["status"] == "done"]
    memo = next(r for r in accepted if r["agent"] == "work")
    cid = memo["correlation_id"]
    time.sleep(1.5)  # telemetry is flushed to the store every half second

    trace = _json(run_cli(cli_env, "trace", cid, "--json"))
    assert trace["trace_id"] == memo["trace_id"]
    names = [s["name"] for s in trace["spans"]]
    assert {"ingest", "queue", "worker", "transcript_download", "agent_processing"} <= set(names)
    assert all(s["duration_ms"] >= 0 for s in trace["spans"])
    assert _json(run_cli(cli_env, "trace", memo["id"], "--json"))["trace_id"] == memo["trace_id"]

    lines = _json(run_cli(cli_env, "logs", "search", "--correlation-id", cid, "--json"))["events"]
    # The worker may log "Processing transcript" before the submitting process logs
    # "Transcript accepted" (that line follows the enqueue), so compare as a set.
    assert sorted(line["message"] for line in lines) == ["Processing successful", "Processing transcript",
                                                         "Transcript accepted"]
    assert {line["correlation_id"] for line in lines} == {cid}
    assert {line["trace_id"] for line in lines} == {memo["trace_id"]}

    series = _json(run_cli(cli_env, "metrics", "get", "WhisperSync/Business", "TranscriptsProcessed",
                           "--dim", "Status=Success", "--stat", "Sum", "--period", "3600", "--json"))
    assert sum(series["values"]) == len(accepted)
    per_agent = _json(run_cli(cli_env, "metrics", "get", "WhisperSync/Business", "TranscriptsProcessed",
                              "--dim", "AgentType=work", "--dim", "Status=Success", "--json"))
    assert sum(per_agent["values"]) == sum(1 for r in accepted if r["agent"] == "work")

    listed = _json(run_cli(cli_env, "metrics", "list", "--json"))["metrics"]
    assert {"namespace": "WhisperSync/Worker", "name": "Invocations",
            "dimensions": {"FunctionName": "whispersync-worker"}} in listed

    memos = _json(run_cli(cli_env, "memos", "--status", "done", "--json"))["memos"]
    assert len(memos) == len(accepted)
    [dead] = _json(run_cli(cli_env, "dlq", "list", "--json"))["messages"]
    assert dead["error"].startswith("ProcessingError") and dead["memo_id"]
    assert _json(run_cli(cli_env, "dlq", "redrive", "--json")) == {"moved": 1}

    assert server.terminate() == 0
    assert not (server.home / "server.json").exists()


def test_submit_and_wait_reports_each_file(server, cli_env, tmp_path) -> None:
    server.start()
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Need to renew the domain")
    (folder / "b.txt").write_text("Need to email the landlord")
    (folder / "bad.txt").write_bytes(b"\xff\xfe")
    result = run_cli(cli_env, "submit", str(folder), "--agent", "work", "--wait", "--json")
    assert result.returncode == 1  # one file was refused
    rows = json.loads(result.stdout)["results"]
    assert sorted(r.get("status", "refused") for r in rows) == ["done", "done", "refused"]
    assert "not valid UTF-8" in next(r["error"] for r in rows if "id" not in r)


def test_inbox_files_are_picked_up_while_up_runs(server, cli_env) -> None:
    server.start()
    inbox = server.home / "inbox"
    (inbox / "memory" / "beach.txt").write_text("Swimming at the beach in Nice with Marie")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        memos = _json(run_cli(cli_env, "memos", "--json"))["memos"]
        if memos and memos[0]["status"] == "done":
            break
        time.sleep(0.5)
    assert memos[0]["agent"] == "memory" and memos[0]["source"] == "inbox"


def test_cli_errors_are_one_clear_line(cli_env) -> None:
    result = run_cli(cli_env, "submit", "/nonexistent/file.txt", "--agent", "poetry")
    assert result.returncode == 2
    assert "unknown agent 'poetry'" in result.stderr
    bad_env = {**cli_env, "WHISPERSYNC_WORKERS": "lots"}
    result = run_cli(bad_env, "memos")
    assert result.returncode == 2 and "workers" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(cli_env, "demo")
    assert result.returncode == 2 and "not running" in result.stderr


def test_the_api_refuses_to_bind_beyond_loopback_without_a_token(cli_env) -> None:
    result = run_cli(cli_env, "up", "--host", "0.0.0.0", timeout=30)
    assert result.returncode == 2
    assert "WHISPERSYNC_API_TOKEN" in result.stderr


def test_a_second_server_on_a_taken_port_says_so_and_exits(server, cli_env, tmp_path) -> None:
    server.start()
    other = {**cli_env, "WHISPERSYNC_HOME": str(tmp_path / "other-home")}
    result = run_cli(other, "up", timeout=30)
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1:" in result.stderr and "--port" in result.stderr
