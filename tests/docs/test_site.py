"""The site builds with ``mkdocs build --strict``, and its quick-start page renders cleanly offline.

The page is opened in Debian's Chromium (through Playwright) from a local server, and a screenshot
goes to ``artifacts/docs-quick-start.png`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from kavach_fastapi import ErrorCode

from .conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "artifacts"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from the sources as `make test` builds it."""
    target = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    completed = subprocess.run(  # noqa: S603 - our own interpreter and mkdocs
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return target


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site on a loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_every_error_code_is_on_the_built_errors_page(site: Path) -> None:
    page = (site / "errors" / "index.html").read_text()
    for code in ErrorCode:
        assert f"<code>{code.value}</code>" in page, code


def test_the_reference_has_no_leftover_restructuredtext(site: Path) -> None:
    page = (site / "reference" / "index.html").read_text()
    assert ":class:" not in page
    assert ":func:" not in page


def test_quick_start_renders_offline_and_cleanly(served: str) -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    ARTIFACTS.mkdir(exist_ok=True)
    requested: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            answer = page.goto(f"{served}/quick-start/", wait_until="networkidle")
            assert answer is not None
            assert answer.status == 200
            heading = page.locator("article h1").inner_text()
            code = page.locator("article pre code").first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "docs-quick-start.png"), full_page=True)
        finally:
            browser.close()

    assert heading.strip().rstrip("¶") == "Quick start"
    assert "make demo" in code
    assert problems == []
    assert [url for url in requested if not url.startswith(served)] == []
