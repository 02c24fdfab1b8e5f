"""kill -9 of a real `whispersync up` mid-load loses nothing and applies nothing twice."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

pytestmark = pytest.mark.e2e

TOTAL = 600


def _statuses(home: Path) -> Counter:
    with sqlite3.connect(home / "records.sqlite3", timeout=30) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM memos GROUP BY status").fetchall()))


def test_a_killed_server_finishes_every_accepted_memo_after_restart(server, cli_env) -> None:
    cli_env.update(WHISPERSYNC_WORKERS="2", WHISPERSYNC_VISIBILITY_TIMEOUT="2")
    server.start()
    accepted: list[dict] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for n in range(TOTAL):
            agent = ("work", "memory")[n % 2]
            text = (f"Need to finish task {n} and follow up with Alex." if agent == "work"
                    else f"Memory {n}: dinner with my sister in Lisbon, a lovely evening.")
            response = client.post("/v1/transcripts", json={"text": text, "agent": agent,
                                                            "recorded_at": "2026-11-25T10:00:00Z"})
            assert response.status_code == 202
            accepted.append(response.json())

    deadline = time.monotonic() + 60
    while _statuses(server.home)["done"] < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()
    at_kill = _statuses(server.home)
    assert 0 < at_kill["done"] < TOTAL, f"the kill must land mid-load: {at_kill}"

    server.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = _statuses(server.home)
        if statuses["done"] + statuses["failed"] == TOTAL:
            break
        time.sleep(0.2)
    assert server.terminate() == 0

    statuses = _statuses(server.home)
    assert statuses == Counter({"done": TOTAL}), statuses

    outputs = server.home / "outputs"
    journal = "".join(p.read_text() for p in (outputs / "work" / "journal").glob("*.md"))
    for receipt in accepted[0::2]:
        assert journal.count(f"memo:{receipt['id']}") == 1, f"journal entry for {receipt['id']} not exactly once"
    archive_ids = [orjson.loads(line)["memo_id"] for line in (outputs / "memory" / "archive.jsonl").read_text().splitlines()]
    assert len(archive_ids) == len(set(archive_ids)) == TOTAL // 2

    with sqlite3.connect(server.home / "queue.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
