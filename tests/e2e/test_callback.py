"""A callback URL works once, and only in the browser that started the sign-in.

Another browser that opens it first gets nothing and uses nothing up.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import NewContext
from .flow import ADA, CALLBACK_PATH, hold_callback, land, open_consent

pytestmark = pytest.mark.e2e


def held_callback(page: Page) -> str:
    """Go through the consent page and return the callback URL the browser did not open."""
    open_consent(page)
    callback = hold_callback(page)
    parts = urlsplit(callback)
    assert parts.path == CALLBACK_PATH
    assert {"code", "state"} <= parse_qs(parts.query).keys()
    return callback


def assert_not_signed_in(page: Page, context: BrowserContext, error_code: str) -> None:
    expect(page.locator(f'#error[data-code="{error_code}"]')).to_be_visible()
    expect(page.locator("#sign-in")).to_be_visible()
    assert "kavach_session" not in {c["name"] for c in context.cookies()}
    assert context.request.get("/api/me").status == 401


def test_callback_opened_in_another_browser_does_not_sign_it_in(
    page: Page, new_context: NewContext
) -> None:
    callback = held_callback(page)
    other = new_context()
    other_page = other.new_page()

    response = other_page.goto(callback)
    land(other_page)

    assert response is not None
    assert parse_qs(urlsplit(response.url).query) == {"error": ["browser_mismatch"]}
    assert_not_signed_in(other_page, other, "browser_mismatch")


def test_callback_opened_first_in_another_browser_still_signs_in_the_browser_that_started(
    page: Page, context: BrowserContext, new_context: NewContext
) -> None:
    callback = held_callback(page)
    new_context().new_page().goto(callback)

    response = page.goto(callback)
    land(page)

    assert response is not None
    assert "error" not in parse_qs(urlsplit(response.url).query)
    expect(page.locator("#signed-in")).to_be_visible()
    expect(page.locator("#name")).to_have_text(ADA.name)
    assert context.request.get("/api/me").status == 200


def test_a_callback_opened_again_after_signing_in_is_refused(
    page: Page, context: BrowserContext
) -> None:
    callback = held_callback(page)
    page.goto(callback)
    land(page)

    response = page.goto(callback)
    land(page)

    assert response is not None
    assert parse_qs(urlsplit(response.url).query) == {"error": ["invalid_state"]}
    assert context.request.get("/api/me").status == 200, "a replay does not sign out"
