"""The demo lists the person's sessions and signs out their other devices, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import DemoServer, NewContext
from .flow import sign_in

pytestmark = pytest.mark.e2e


def test_the_demo_lists_the_sessions_and_signs_out_the_other_devices(
    fresh_demo: DemoServer, new_context: NewContext
) -> None:
    # A demo of its own: on the shared one, Ada has sessions from every earlier test.
    other_device = new_context(fresh_demo.url)
    sign_in(other_device.new_page())
    page = new_context(fresh_demo.url).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page)

    rows = page.locator("#sessions .session")
    expect(rows).to_have_count(2)
    this_device = page.locator("#sessions .session.current")
    expect(this_device).to_have_count(1)
    expect(this_device.locator(".this-device")).to_have_text("This device")
    expect(this_device.locator(".device")).to_contain_text("Chrome on Linux")
    expect(this_device.locator(".details")).to_contain_text("From 127.0.0.0/24")
    expect(this_device.locator(".details")).to_contain_text("last used")

    page.locator("#sign-out-others").click()

    expect(rows).to_have_count(1)
    expect(page.locator("#sessions .session.current")).to_have_count(1)
    expect(page.locator("#sign-out-others")).to_be_disabled()
    expect(page.locator(".notice.info").last).to_have_text("Signed out 1 other device.")
    assert other_device.request.get("/api/me").status == 401
    assert page.context.request.get("/api/me").status == 200
    assert errors == []
