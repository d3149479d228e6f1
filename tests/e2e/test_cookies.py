"""The cookies as Chromium stores them, over plain http on loopback."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import BrowserContext, Page
from playwright.sync_api import Cookie as BrowserCookie

from .flow import open_consent, sign_in

pytestmark = pytest.mark.e2e

SIGN_IN_COOKIE_LIFETIME = 10 * 60


def cookies_by_name(context: BrowserContext) -> dict[str, BrowserCookie]:
    return {str(cookie.get("name")): cookie for cookie in context.cookies()}


def test_session_cookie_is_http_only_lax_and_not_secure_over_http(
    page: Page, context: BrowserContext
) -> None:
    sign_in(page)

    cookies = cookies_by_name(context)
    session = cookies["kavach_session"]
    assert session.get("httpOnly") is True
    assert session.get("sameSite") == "Lax"
    assert session.get("path") == "/"
    assert session.get("secure") is False
    assert session.get("domain") == "127.0.0.1"
    assert "__Host-kavach_session" not in cookies
    # HttpOnly: the page's scripts cannot read it.
    assert "kavach_session" not in page.evaluate("document.cookie")


def test_sign_in_cookie_is_http_only_and_lives_ten_minutes(
    page: Page, context: BrowserContext
) -> None:
    started = time.time()
    open_consent(page)
    shown = time.time()

    binding = cookies_by_name(context)["kavach_signin"]
    assert binding.get("httpOnly") is True
    assert binding.get("sameSite") == "Lax"
    assert binding.get("path") == "/"
    assert binding.get("secure") is False
    expires = float(binding.get("expires", -1))
    # Max-Age counts from when Chromium received the redirect; allow a second of rounding.
    assert started + SIGN_IN_COOKIE_LIFETIME - 1 <= expires <= shown + SIGN_IN_COOKIE_LIFETIME + 1
    assert "kavach_signin" not in page.evaluate("document.cookie")
