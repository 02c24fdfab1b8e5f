"""kill -9 of a real `whispersync up` mid-load loses nothing and applies nothing twice."""

from __future__ import annotations

import sqlite3
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


def _statuses(home: Path) -> Counter:
    with sqlite3.connect(home / "records.sqlite3", timeout=30) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM memos GROUP BY status").fetchall()))


def _text(n: int) -> tuple[str, str]:
    agent = ("work", "memory")[n % 2]
    if agent == "work":
        return agent, f"Need to finish task {n} and follow up with Alex."
    return agent, f"Memory {n}: dinner with my sister in Lisbon, a lovely evening."


def test_a_killed_server_finishes_every_accepted_memo_after_restart(server, cli_env, tmp_path) -> None:
    cli_env.update(WHISPERSYNC_WORKERS="2", WHISPERSYNC_VISIBILITY_TIMEOUT="2")
    # A backlog submitted while the server is down (the CLI writes to the durable queue)...
    for agent in ("work", "memory"):
        folder = tmp_path / agent
        folder.mkdir()
        for n in range(0 if agent == "work" else 1, TOTAL, 2):
            (folder / f"{n:04d}.txt").write_text(_text(n)[1])
        assert run_cli(cli_env, "submit", str(folder), "--agent", agent, "--json").returncode == 0

    # ...then the server works through it while a client keeps posting more.
    server.start()
    accepted: list[str] = []
    stop = threading.Event()

    def post_more() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for n in range(TOTAL, 2 * TOTAL):
                if stop.is_set():
                    return
                agent, text = _text(n)
                try:
                    response = client.post("/v1/transcripts", json={"text": text, "agent": agent})
                except httpx.HTTPError:
                    return  # the server is gone; an unanswered post was never accepted
                if response.status_code == 202:
                    accepted.append(response.json()["id"])

    poster = threading.Thread(target=post_more)
    poster.start()
    deadline = time.monotonic() + 60
    while _statuses(server.home)["done"] < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    poster.join(10)
    at_kill = _statuses(server.home)
    total = sum(at_kill.values())
    assert 0 < at_kill["done"] < total, f"the kill must land mid-load: {at_kill}"
    assert total >= TOTAL + len(accepted)

    server.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = _statuses(server.home)
        if statuses["done"] + statuses["failed"] == total:
            break
        time.sleep(0.2)
    assert server.terminate() == 0

    statuses = _statuses(server.home)
    assert statuses == Counter({"done": total}), statuses

    outputs = server.home / "outputs"
    journal = "".join(p.read_text() for p in (outputs / "work" / "journal").glob("*.md"))
    with sqlite3.connect(server.home / "records.sqlite3") as conn:
        by_agent = dict(conn.execute("SELECT id, agent FROM memos").fetchall())
    for memo_id, agent in by_agent.items():
        if agent == "work":
            assert journal.count(f"memo:{memo_id}") == 1, f"journal entry for {memo_id} not exactly once"
    archive = (outputs / "memory" / "archive.jsonl").read_text().splitlines()
    archive_ids = [orjson.loads(line)["id"] for line in archive]
    assert len(archive_ids) == len(set(archive_ids)) == sum(1 for a in by_agent.values() if a == "memory")
    assert set(accepted) <= set(by_agent)

    with sqlite3.connect(server.home / "queue.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
