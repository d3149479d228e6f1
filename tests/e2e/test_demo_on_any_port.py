"""In a real browser, the demo served by plain ``uvicorn`` on another port signs in.

Unlike the shared demo of the other browser tests, this one is started as a newcomer starts it
(``uvicorn example_app.main:app --port N``): no ``KAVACH_DEMO_URL``, no callback URL registered
for it, and opened at ``localhost`` rather than the address it listens on.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..integration.served_apps import REPO, ServedApp, clean_environment, serve_with_uvicorn
from .conftest import NewContext
from .flow import ADA, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def plain_demo(chromium: Path, tmp_path: Path) -> Iterator[ServedApp]:
    env = clean_environment(
        KAVACH_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}",
        PYTHONPATH=str(REPO),
    )
    command = [sys.executable, "-m", "uvicorn", "example_app.main:app"]
    with serve_with_uvicorn(command, env=env, cwd=tmp_path, ready_path="/") as served:
        yield served
        assert "Traceback" not in served.log(), served.log()


def test_a_demo_opened_at_localhost_on_another_port_signs_in(
    plain_demo: ServedApp, new_context: NewContext
) -> None:
    origin = plain_demo.url.replace("127.0.0.1", "localhost")
    page = new_context(origin).new_page()

    sign_in(page)

    expect(page.locator("#name")).to_have_text(ADA.name)
    assert page.url == f"{origin}/"
    avatar = page.locator("#avatar")
    expect(avatar).to_have_attribute("src", f"{origin}/_emulator/avatars/{ADA.account_id}.svg")
    assert avatar.evaluate("img => img.complete && img.naturalWidth > 0"), "the avatar did not load"
