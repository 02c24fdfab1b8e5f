"""`whispersync submit` as a real process: idempotent reruns, progress, and inputs it must not read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers import run_cli


def _folder(tmp_path: Path, n: int = 3) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(n):
        (folder / f"{i}.txt").write_text(f"Need to follow up on task {i} with Alex")
    return folder


def _memo_count(cli_env) -> int:
    return len(json.loads(run_cli(cli_env, "memos", "--limit", "1000", "--json").stdout)["memos"])


def test_submitting_a_folder_again_creates_no_new_memos_and_says_so(cli_env, tmp_path) -> None:
    folder = _folder(tmp_path)
    first = run_cli(cli_env, "submit", str(folder), "--agent", "work", "--json")
    assert first.returncode == 0, first.stderr
    first_rows = json.loads(first.stdout)["results"]
    assert [r["duplicate"] for r in first_rows] == [False, False, False]

    again = run_cli(cli_env, "submit", str(folder), "--agent", "work", "--json")  # e.g. rerun after a crash
    assert again.returncode == 0, again.stderr
    again_rows = json.loads(again.stdout)["results"]
    assert [r["duplicate"] for r in again_rows] == [True, True, True]
    assert [r["id"] for r in again_rows] == [r["id"] for r in first_rows]
    assert _memo_count(cli_env) == 3

    text = run_cli(cli_env, "submit", str(folder), "--agent", "work")
    assert text.returncode == 0, text.stderr
    assert text.stdout.count("already submitted") == 3
    assert "--force" in text.stderr

    forced = run_cli(cli_env, "submit", str(folder), "--agent", "work", "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert [r["duplicate"] for r in json.loads(forced.stdout)["results"]] == [False, False, False]
    assert _memo_count(cli_env) == 6


def test_a_changed_file_is_a_new_submission(cli_env, tmp_path) -> None:
    folder = _folder(tmp_path, 1)
    assert run_cli(cli_env, "submit", str(folder)).returncode == 0
    (folder / "0.txt").write_text("Need to follow up with Alex, and book the venue")
    rows = json.loads(run_cli(cli_env, "submit", str(folder), "--json").stdout)["results"]
    assert rows[0]["duplicate"] is False
    assert _memo_count(cli_env) == 2


def test_each_file_is_reported_as_it_is_accepted(cli_env, tmp_path) -> None:
    """A run that dies later (here: killed while waiting) has already said what it accepted."""
    folder = _folder(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "whispersync", "submit", str(folder), "--wait", "--timeout", "600"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(30, proc.kill)  # if nothing is printed before the wait, fail rather than hang
    watchdog.start()
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # no server runs, so --wait waits until killed
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait(10)
    assert all("correlation_id=" in line for line in lines), lines
    assert sorted(line.split()[-1] for line in lines) == sorted(str(p) for p in folder.iterdir())


def test_links_inside_a_submitted_folder_are_not_followed(cli_env, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Need to rotate the root password")
    folder = _folder(tmp_path, 1)
    (folder / "linked.txt").symlink_to(outside / "secret.txt")
    (folder / "linked-folder").symlink_to(outside)

    result = run_cli(cli_env, "submit", str(folder), "--json")

    assert result.returncode == 1  # the links were refused
    rows = {Path(r["file"]).name: r for r in json.loads(result.stdout)["results"]}
    assert "id" in rows["0.txt"]
    for name in ("linked.txt", "linked-folder"):
        assert "symbolic link" in rows[name]["error"]
    assert [m["title"] for m in json.loads(run_cli(cli_env, "memos", "--json").stdout)["memos"]] == ["0"]
    assert (outside / "secret.txt").read_text() == "Need to rotate the root password"


def test_an_oversized_file_is_refused_with_its_size(cli_env, tmp_path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as out:
        out.truncate(300 * 1024 * 1024)  # sparse: no disk used, but 300 MB if read

    result = run_cli(cli_env, "submit", str(path), "--json", timeout=60)

    assert result.returncode == 1
    [row] = json.loads(result.stdout)["results"]
    assert row["error"] == "file is 314572800 bytes; the limit is 1048576 bytes"


def test_a_fifo_is_refused_rather_than_read_forever(cli_env, tmp_path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # nobody ever writes to it
    started = time.monotonic()

    result = run_cli(cli_env, "submit", str(fifo), "--json", timeout=30)

    assert result.returncode == 1
    assert "not a regular file" in json.loads(result.stdout)["results"][0]["error"]
    assert time.monotonic() - started < 30


def test_dev_zero_is_refused_without_reading_it_all(cli_env) -> None:
    result = run_cli(cli_env, "submit", "/dev/zero", "--json", timeout=60)

    assert result.returncode == 1
    assert "not a regular file" in json.loads(result.stdout)["results"][0]["error"]


def test_the_same_file_for_another_agent_is_a_new_submission(cli_env, tmp_path) -> None:
    folder = _folder(tmp_path, 1)
    assert run_cli(cli_env, "submit", str(folder), "--agent", "work").returncode == 0
    rows = json.loads(run_cli(cli_env, "submit", str(folder), "--agent", "memory", "--json").stdout)["results"]
    assert rows[0]["duplicate"] is False
    assert sorted(m["agent"] for m in json.loads(run_cli(cli_env, "memos", "--json").stdout)["memos"]) == ["memory", "work"]
