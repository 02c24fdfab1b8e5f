"""Browser tests of the web console: Playwright driving Debian's chromium against a real
`whispersync up --demo` (issue 10, "Done when").

The CI budget is tight, so a session holds ONE demo server and ONE browser; a second
server, with an API token, starts only for the login tests. Each test gets its own browser
context (its own cookies). Screenshots go to test-artifacts/browser/: `<test>.png` where a
test takes one, `<test>-failed.png` whenever a test fails.

Without the playwright package or /usr/bin/chromium the tests skip, saying which is missing;
with REQUIRE_BROWSER_TESTS set (`.ci/run` sets it, and installs both) they fail instead.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path

import httpx
import pytest

from helpers import Server, wait_for_health, wait_until

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
_saved: list[Path] = []
_failed_call = pytest.StashKey[bool]()


def _what_is_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def _server_env(root: Path) -> dict[str, str]:
    """Like the `cli_env` fixture, for a whole session: none of the developer's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPERSYNC_") and k != "ELEVENLABS_API_KEY"}
    (root / "empty-whispersync.toml").touch()
    (root / "xdg-data").mkdir(exist_ok=True)
    env.update(WHISPERSYNC_HOME=str(root / "home"), WHISPERSYNC_CONFIG=str(root / "empty-whispersync.toml"),
               XDG_DATA_HOME=str(root / "xdg-data"))
    return env


def _stop(server: Server) -> None:
    if server.proc is None or server.proc.poll() is not None:
        return
    try:
        server.terminate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="session")
def browser():
    missing = _what_is_missing()
    if missing is not None:
        if os.environ.get("REQUIRE_BROWSER_TESTS"):
            pytest.fail(f"browser tests required (REQUIRE_BROWSER_TESTS is set) but {missing}")
        pytest.skip(f"browser tests need Playwright and Debian's chromium: {missing}")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    # Chromium refuses its sandbox to root (CI containers run as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def expect(browser):
    """Playwright's auto-waiting assertions (imported only once the browser is known to exist)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=10_000)  # 2 busy CI cores: more than the 5 s default
    return playwright_expect


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory):
    """One `whispersync up --demo` on a free loopback port, its sample memos all processed."""
    root = tmp_path_factory.mktemp("console")
    server = Server(root / "home", _server_env(root))
    try:
        server.start("--demo")
        wait_for_health(server.url)
        # `up --demo` says this once every sample memo is done or failed.
        wait_until(lambda: "demo: done" in server.log.read_text(errors="replace"), timeout=120, interval=0.2)
        # Spans reach the store a second or two after the memo is done: wait for every memo's trace.
        memos = httpx.get(f"{server.url}/v1/memos", params={"limit": 1000}, timeout=10).json()["memos"]
        wait_until(lambda: all(httpx.get(f"{server.url}/v1/traces/{memo['trace_id']}", timeout=10).status_code == 200
                               for memo in memos), timeout=30, interval=0.5)
        yield server
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def locked_console(tmp_path_factory: pytest.TempPathFactory):
    """A second `whispersync up`, with an API token (in its `env`): its console asks for it."""
    root = tmp_path_factory.mktemp("locked-console")
    server = Server(root / "home", {**_server_env(root), "WHISPERSYNC_API_TOKEN": secrets.token_hex(24)})
    try:
        server.start()
        wait_for_health(server.url)
        yield server
    finally:
        _stop(server)


def _save(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    _saved.append(path)
    return path


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    if request.node.stash.get(_failed_call, False):
        try:
            _save(tab, f"{request.node.name}-failed")
        except Exception as exc:  # the page may be gone with the failure; the test's own error matters more
            print(f"no failure screenshot for {request.node.name}: {exc}")
    context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest):
    """`screenshot(page)` saves test-artifacts/browser/<test name>.png; `screenshot(page, "x")`
    saves <test name>-x.png, for a test that shows more than one page."""

    def take(page, suffix: str = "") -> Path:
        return _save(page, request.node.name + (f"-{suffix}" if suffix else ""))

    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.stash[_failed_call] = True


def pytest_terminal_summary(terminalreporter) -> None:
    if _saved:
        terminalreporter.write_line(f"browser screenshots ({len(_saved)}): {ARTIFACTS}")
