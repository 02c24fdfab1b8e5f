"""One `whispersync up` per home.

Two servers on one home would both evaluate alarms (paging twice) and fight over
`server.json`. `up` holds an exclusive `flock` on `<home>/up.lock` for its whole
life. The kernel drops the lock when the process ends, however it ends (`kill -9`
included), so a crashed server never blocks the next one; the file itself stays
(removing it would let a third process lock a fresh file while a second still
holds the old one). While held, the file says who holds it, for the refusal.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

import orjson

from whispersync.errors import WhisperSyncError

LOCK_FILE = "up.lock"


class HomeLocked(WhisperSyncError):
    """Another process holds the home; `holder` is what it wrote (pid, url), maybe empty."""

    def __init__(self, message: str, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


class HomeLock:
    """An exclusive lock on a home, held until `release()` or the process ends."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None


def lock_home(home: Path, *, url: str) -> HomeLock:
    """Take the home's lock or raise HomeLocked saying who holds it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by child processes (PEP 446)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _read_holder(path)
        raise HomeLocked(_refusal(home, holder), holder) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, orjson.dumps({"pid": os.getpid(), "url": url, "started_at": time.time()}), 0)
    return HomeLock(fd)


def _read_holder(path: Path) -> dict[str, Any]:
    # The holder writes its details just after taking the lock: a refusal that
    # races its start finds the file empty for a moment.
    for _ in range(20):
        try:
            holder = orjson.loads(path.read_bytes())
            if isinstance(holder, dict):
                return holder
        except (OSError, orjson.JSONDecodeError):
            pass
        time.sleep(0.05)
    return {}


def _refusal(home: Path, holder: dict[str, Any]) -> str:
    pid, url = holder.get("pid"), holder.get("url")
    who = f"pid {pid}" if pid else "another process"
    where = f", serving {url}" if url else ""
    how = f"stop it (Ctrl-C in its terminal, or `kill {pid}`)" if pid else "stop it"
    return (f"WhisperSync is already running on {home.resolve()} ({who}{where}); "
            f"{how}, or use another WHISPERSYNC_HOME")
