"""Shared fixtures: fresh settings and a runtime under a temporary home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from whispersync.settings import Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's WHISPERSYNC_* variables or whispersync.toml."""
    for name in list(os.environ):
        if name.startswith("WHISPERSYNC_") or name == "ELEVENLABS_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("WHISPERSYNC_CONFIG", str(tmp_path / "no-such-whispersync.toml"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", visibility_timeout=5, collector_interval=3600,
                         compaction_interval=3600)


@pytest.fixture
def runtime(settings: Settings):
    from whispersync.app import build_runtime

    rt = build_runtime(settings)
    yield rt
    rt.close(timeout=5)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    env.update(WHISPERSYNC_HOME=str(tmp_path / "home"), WHISPERSYNC_CONFIG=str(tmp_path / "none.toml"),
               WHISPERSYNC_INBOX_POLL_INTERVAL="0.2")
    return env
