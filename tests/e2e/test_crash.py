"""kill -9 of a real `whispersync up` mid-load, and of `whispersync submit` mid-run,
loses nothing and applies nothing twice."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from helpers import run_cli

pytestmark = pytest.mark.e2e

TOTAL = 600
KILLS = 3  # rounds of kill -9 under load before the server is let finish
SUBMIT_FILES = 1500
SUBMIT_KILLS = 2


def _statuses(home: Path) -> Counter:
    with sqlite3.connect(home / "records.sqlite3", timeout=30) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM memos GROUP BY status").fetchall()))


def _memo_count(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'records.sqlite3'}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM memos").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _text(n: int) -> tuple[str, str]:
    agent = ("work", "memory")[n % 2]
    if agent == "work":
        return agent, f"Need to finish task {n} and follow up with Alex."
    return agent, f"Memory {n}: dinner with my sister in Lisbon, a lovely evening."


def _wait_all_finished(server, total: int, timeout: float = 120) -> None:
    """Every memo finished and the queue empty: a message whose memo was done but not yet deleted when the
    server was killed comes back after its visibility timeout, and is only then seen as a duplicate and
    deleted; stopping before that would leave it for the next start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = _statuses(server.home)
        if statuses["done"] + statuses["failed"] == total and _queued(server.home) == 0:
            return
        time.sleep(0.2)


def _queued(home: Path) -> int:
    with sqlite3.connect(home / "queue.sqlite3", timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]


def _assert_outputs_once(home: Path) -> dict[str, str]:
    """Every memo's output exists exactly once; returns {memo id: agent}."""
    outputs = home / "outputs"
    journal = "".join(p.read_text() for p in (outputs / "work" / "journal").glob("*.md"))
    with sqlite3.connect(home / "records.sqlite3") as conn:
        by_agent = dict(conn.execute("SELECT id, agent FROM memos").fetchall())
    for memo_id, agent in by_agent.items():
        if agent == "work":
            assert journal.count(f"memo:{memo_id}") == 1, f"journal entry for {memo_id} not exactly once"
    archive_file = outputs / "memory" / "archive.jsonl"
    archive = archive_file.read_text().splitlines() if archive_file.exists() else []
    archive_ids = [orjson.loads(line)["id"] for line in archive]
    assert len(archive_ids) == len(set(archive_ids)) == sum(1 for a in by_agent.values() if a == "memory")
    with sqlite3.connect(home / "queue.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    return by_agent


def test_a_server_killed_again_and_again_finishes_every_accepted_memo(server, cli_env, tmp_path) -> None:
    cli_env.update(WHISPERSYNC_WORKERS="2", WHISPERSYNC_VISIBILITY_TIMEOUT="2")
    # A backlog submitted while the server is down (the CLI writes to the durable queue)...
    for agent in ("work", "memory"):
        folder = tmp_path / agent
        folder.mkdir()
        for n in range(0 if agent == "work" else 1, TOTAL, 2):
            (folder / f"{n:04d}.txt").write_text(_text(n)[1])
        assert run_cli(cli_env, "submit", str(folder), "--agent", agent, "--json").returncode == 0

    # ...then the server works through it while a client keeps posting more, and is
    # killed mid-load, round after round.
    accepted: list[str] = []
    next_post = TOTAL
    for _ in range(KILLS):
        server.start()
        done_before = _statuses(server.home)["done"]
        stop = threading.Event()

        def post_more(stop: threading.Event) -> None:
            nonlocal next_post
            with httpx.Client(base_url=server.url, timeout=5) as client:
                while not stop.is_set():
                    agent, text = _text(next_post)
                    next_post += 1
                    try:
                        response = client.post("/v1/transcripts", json={"text": text, "agent": agent})
                    except httpx.HTTPError:
                        return  # the server is gone; an unanswered post was never accepted
                    if response.status_code == 202:
                        accepted.append(response.json()["id"])

        poster = threading.Thread(target=post_more, args=(stop,))
        poster.start()
        deadline = time.monotonic() + 60
        while _statuses(server.home)["done"] < done_before + 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        stop.set()
        poster.join(10)
        at_kill = _statuses(server.home)
        total = sum(at_kill.values())
        assert done_before < at_kill["done"] < total, f"the kill must land mid-load: {at_kill}"
        assert total >= TOTAL + len(accepted)

    server.start()
    _wait_all_finished(server, total)
    assert server.terminate() == 0

    statuses = _statuses(server.home)
    assert statuses == Counter({"done": total}), statuses
    by_agent = _assert_outputs_once(server.home)
    assert set(accepted) <= set(by_agent)


def test_a_submit_killed_mid_run_and_rerun_submits_each_file_once(server, cli_env, tmp_path) -> None:
    """Relies on `submit` being idempotent by default (issue 7, item 8)."""
    cli_env.update(WHISPERSYNC_WORKERS="2", WHISPERSYNC_VISIBILITY_TIMEOUT="2")
    folder = tmp_path / "memos"
    folder.mkdir()
    for n in range(SUBMIT_FILES):
        (folder / f"memo-{n:05d}.txt").write_text(_text(n)[1])
    command = [sys.executable, "-m", "whispersync", "submit", str(folder), "--agent", "work", "--json"]

    for _ in range(SUBMIT_KILLS):
        before = _memo_count(server.home)
        proc = subprocess.Popen(command, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while _memo_count(server.home) < before + 100 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.kill()
        proc.wait(10)
        at_kill = _memo_count(server.home)
        assert before < at_kill < SUBMIT_FILES, f"the kill must land mid-run: {before} -> {at_kill}"

    rerun = run_cli(cli_env, "submit", str(folder), "--agent", "work", "--json")
    assert rerun.returncode == 0, rerun.stderr

    with sqlite3.connect(server.home / "records.sqlite3") as conn:
        per_file = Counter(title for (title,) in conn.execute("SELECT title FROM memos"))
    expected = Counter({f"memo-{n:05d}": 1 for n in range(SUBMIT_FILES)})
    lost, duplicated = expected - per_file, per_file - expected
    assert (len(lost), len(duplicated)) == (0, 0), f"lost {sorted(lost)[:5]}…, duplicated {sorted(duplicated)[:5]}…"

    server.start()
    _wait_all_finished(server, SUBMIT_FILES)
    assert server.terminate() == 0
    assert _statuses(server.home) == Counter({"done": SUBMIT_FILES})
    _assert_outputs_once(server.home)
