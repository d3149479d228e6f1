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

from ..support.chromium import CHROMIUM_ARGS, require_chromium
from .conftest import REPO

ARTIFACTS = REPO / "artifacts"


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
    pages = sorted((site / "reference").glob("**/index.html"))
    assert len(pages) > 1
    for page in pages:
        text = page.read_text()
        assert ":class:" not in text, page
        assert ":func:" not in text, page


def test_quick_start_renders_offline_and_cleanly(served: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    seen = _visit(served, "/quick-start/", "true")

    assert seen["heading"].strip().rstrip("¶") == "Quick start"
    assert "make demo" in seen["code"][0]
    assert seen["problems"] == []
    assert seen["outside"] == []


REPOSITORY = "https://github.com/kavach-fastapi/kavach-fastapi"
REFERENCE_AREAS = ("routers", "dependencies", "errors", "client", "testing")


def _visit(served: str, path: str, ready: str) -> dict[str, Any]:
    """Open ``path`` in Chromium, wait until ``ready`` (JavaScript) is true, report what it saw."""
    chromium = require_chromium()
    requested: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            answer = page.goto(f"{served}{path}", wait_until="networkidle")
            assert answer is not None
            assert answer.status == 200
            page.wait_for_function(ready, timeout=15_000)
            seen = {
                "diagrams": page.eval_on_selector_all(
                    ".mermaid", "els => els.map(e => e.getBoundingClientRect().height)"
                ),
                "images": page.eval_on_selector_all(
                    "article img", "imgs => imgs.map(i => [i.src, i.naturalWidth])"
                ),
                "heading": page.locator("article h1").first.inner_text(),
                "code": page.locator("article pre code").all_inner_texts(),
                "repository": page.locator("a.md-source").first.get_attribute("href"),
            }
            name = path.strip("/").replace("/", "-") or "home"
            page.screenshot(path=str(ARTIFACTS / f"docs-{name}.png"), full_page=True)
        finally:
            browser.close()
    seen["outside"] = [url for url in requested if not url.startswith(served)]
    seen["problems"] = problems
    return seen


def test_the_home_page_shows_the_install_line_and_the_sign_in_flow_offline(served: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    seen = _visit(served, "/", "[...document.images].every(image => image.complete)")

    (flow,) = [image for image in seen["images"] if image[0].endswith("/sign-in-flow.svg")]
    assert flow[1] > 0, "the sign-in picture did not load"
    assert any('pip install "kavach-fastapi[standard]"' in code for code in seen["code"])
    assert seen["repository"] == REPOSITORY
    assert seen["outside"] == []
    assert seen["problems"] == []


def test_diagrams_render_from_the_local_mermaid_without_a_cdn(served: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # Material draws each diagram into a closed shadow root: its size is what shows it was drawn.
    drawn = "[...document.querySelectorAll('.mermaid')].every(e => e.offsetHeight > 100)"
    seen = _visit(served, "/tokens/", drawn)

    assert len(seen["diagrams"]) == 2
    assert seen["outside"] == []
    assert seen["problems"] == []


def test_the_api_reference_has_a_page_per_area(site: Path) -> None:
    for area in REFERENCE_AREAS:
        page = site / "reference" / area / "index.html"
        assert page.is_file(), area
        assert 'class="doc doc-heading"' in page.read_text(), area
