"""Browser tests: the example app served for real, driven by Debian's Chromium via Playwright.

The demo runs in a subprocess (``demo_server.py``) on a free loopback port, against its
built-in Atlassian emulator and a temporary SQLite database. One demo serves the whole run;
every test gets a fresh browser context, so no cookies leak between tests.

Without ``/usr/bin/chromium`` the tests skip with the reason, except in CI (``CI`` set, as
``.ci/run`` does), where a missing browser fails the run.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Error,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from ..support.chromium import CHROMIUM_ARGS, require_chromium
from ..support.environment import clean_environment
from ..support.servers import ServedApp, free_listener, run_server

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
"""Where screenshots go (git-ignored); those of failed tests go to ``e2e-failures/``."""

STARTUP_TIMEOUT = 30.0
# Generous: a busy CI machine is slow, and a passing test never waits this long.
BROWSER_TIMEOUT_MS = 15_000
expect.set_options(timeout=10_000)

CALL_FAILED = pytest.StashKey[bool]()


DemoServer = ServedApp
"""The example app running in its own process (``url``, ``log()``)."""


@contextmanager
def serve_demo(workdir: Path) -> Iterator[DemoServer]:
    """Serve the example app on a free loopback port for the ``with`` block.

    The socket is bound here and inherited by the server, so the port is known at once and
    no other process can take it in between.
    """
    listener = free_listener(avoid=())
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    # -W error: a warning inside the app fails its request, as a warning fails a test here.
    command = [sys.executable, "-W", "error", "-m", "tests.e2e.demo_server"]
    env = clean_environment(
        KAVACH_DEMO_URL=url,
        KAVACH_DATABASE_URL=f"sqlite:///{workdir / 'demo.db'}",
        # A run signs in more than 30 times a minute from one address.
        KAVACH_RATE_LIMIT="0",
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with run_server(
        [*command, str(listener.fileno())],
        url=url,
        log_path=workdir / "server.log",
        env=env,
        cwd=workdir,
        ready_path="/",
        listener=listener,
        startup_timeout=STARTUP_TIMEOUT,
    ) as server:
        yield server
    # uvicorn re-raises the SIGTERM it handled once it has shut down, so -SIGTERM is normal.
    log = server.log()
    returncode = server.process.returncode
    if returncode not in (0, -signal.SIGTERM) or "Application shutdown complete" not in log:
        pytest.fail(f"the demo server did not shut down cleanly ({returncode}):\n{log}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test itself failed, for the fixtures' teardown."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; skips the browser tests without it, or fails them in CI."""
    return require_chromium()


@pytest.fixture(scope="session")
def demo(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The example app, served once for every browser test of the run."""
    with serve_demo(tmp_path_factory.mktemp("demo")) as server:
        yield server


@pytest.fixture
def fresh_demo(chromium: Path, tmp_path: Path) -> Iterator[DemoServer]:
    """An example app of the test's own, with an empty database and a new emulator."""
    with serve_demo(tmp_path) as server:
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture(autouse=True)
def _demo_logs_no_traceback(demo: DemoServer, request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which the shared demo logged an unhandled exception."""
    before = len(demo.log())
    yield
    during = demo.log()[before:]
    if request.node.stash.get(CALL_FAILED, False):
        print(f"The demo server's log during the test:\n{during}")
    assert "Traceback" not in during, f"the demo server failed during the test:\n{during}"


# Package scope: the sync API marks its event loop as running in this thread while it is
# alive, so it must stop before the asyncio tests of the other packages run.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium: Path) -> Iterator[Browser]:
    """Headless Chromium, shared by the package's tests."""
    browser = playwright.chromium.launch(
        executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()


class NewContext(Protocol):
    """Opens a fresh browser context; it is closed when the test ends."""

    def __call__(self, base_url: str | None = None) -> BrowserContext:
        """Open one on ``base_url``, by default the shared demo's."""
        ...


def _screenshot_failure(name: str, contexts: list[BrowserContext]) -> None:
    folder = ARTIFACTS / "e2e-failures"
    folder.mkdir(parents=True, exist_ok=True)
    for number, context in enumerate(contexts):
        for tab, page in enumerate(context.pages):
            # A page that cannot be drawn must not hide the test's own failure.
            with suppress(Error):
                page.screenshot(path=folder / f"{name}-{number}-{tab}.png", full_page=True)


@pytest.fixture
def new_context(
    browser: Browser, demo: DemoServer, request: pytest.FixtureRequest
) -> Iterator[NewContext]:
    """Open fresh browser contexts (cookie jars) on the shared demo or another server.

    When the test fails, every open page is saved to ``artifacts/e2e-failures/``.
    """
    opened: list[BrowserContext] = []

    def open_context(base_url: str | None = None) -> BrowserContext:
        context = browser.new_context(
            base_url=base_url or demo.url, viewport={"width": 1280, "height": 800}
        )
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        opened.append(context)
        return context

    yield open_context
    if request.node.stash.get(CALL_FAILED, False):
        _screenshot_failure(request.node.name, opened)
    for context in opened:
        context.close()


@pytest.fixture
def context(new_context: NewContext) -> BrowserContext:
    """A fresh browser context on the shared demo."""
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page in the test's context; the test fails if the page's JavaScript throws."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
