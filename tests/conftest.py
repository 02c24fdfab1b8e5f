"""Shared fixtures: fresh settings and a runtime under a temporary home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from whispersync.settings import Settings

# pytest-xdist's workers inherit COLUMNS=80 and LINES from it, and rich fixes a console's
# width from them when it is made (at import); a test sets COLUMNS itself where the width
# matters, as a user's terminal would.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


@pytest.fixture(scope="session")
def _isolation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside every test's tmp_path (tests list their tmp_path) for an empty
    config file and an empty user data directory."""
    root = tmp_path_factory.mktemp("isolation")
    (root / "empty-whispersync.toml").touch()
    (root / "xdg-data").mkdir()
    return root


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, _isolation: Path) -> None:
    """No test sees the developer's WHISPERSYNC_* variables, whispersync.toml or home in the
    user data directory (a config file named explicitly must exist: this one is empty)."""
    for name in list(os.environ):
        if name.startswith("WHISPERSYNC_") or name == "ELEVENLABS_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("WHISPERSYNC_CONFIG", str(_isolation / "empty-whispersync.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(_isolation / "xdg-data"))


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
def cli_env(tmp_path: Path, _isolation: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_")}
    env.update(WHISPERSYNC_HOME=str(tmp_path / "home"), WHISPERSYNC_CONFIG=str(_isolation / "empty-whispersync.toml"),
               XDG_DATA_HOME=str(_isolation / "xdg-data"), WHISPERSYNC_INBOX_POLL_INTERVAL="0.2")
    return env
