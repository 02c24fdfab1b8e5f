"""Fixtures for the HTTP API: a real server on loopback over a fresh runtime."""

from __future__ import annotations

import httpx
import pytest

from helpers import ServerThread
from whispersync.app import build_runtime
from whispersync.settings import Settings
from whispersync.web import create_app


@pytest.fixture
def make_api(tmp_path):
    """A real server over a fresh runtime built with the given settings."""
    opened = []

    def make(**overrides):
        runtime = build_runtime(Settings.load(home=tmp_path / f"home{len(opened)}", collector_interval=3600,
                                              compaction_interval=3600, **overrides))
        server = ServerThread(create_app(runtime)).__enter__()
        opened.append((runtime, server))
        return runtime, server

    yield make
    for runtime, server in opened:
        server.__exit__(None, None, None)
        runtime.close(timeout=2)


@pytest.fixture
def api(make_api):
    runtime, server = make_api()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield runtime, server, client
