"""Screenshots of the consent page and of the signed-in demo, for people to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import ARTIFACTS
from .flow import ADA, JIRA_SITE, accept, open_consent

pytestmark = pytest.mark.e2e

EVERY_IMAGE_LOADED = "() => [...document.images].every((img) => img.complete && img.naturalWidth)"


def settle(page: Page) -> None:
    """Wait for every image, and take the pointer off the page so no button shows hover."""
    page.wait_for_function(EVERY_IMAGE_LOADED)
    page.mouse.move(0, 0)


def test_screenshots_of_consent_and_signed_in_pages(page: Page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    open_consent(page)
    settle(page)
    page.screenshot(path=ARTIFACTS / "e2e-consent.png", full_page=True)

    accept(page)
    row = page.locator(f'.site[data-cloud-id="{JIRA_SITE.id}"]')
    row.locator(".jira-myself").click()
    expect(row.locator("pre.result")).to_contain_text(ADA.name)
    settle(page)
    page.screenshot(path=ARTIFACTS / "e2e-signed-in.png", full_page=True)

    for name in ("e2e-consent.png", "e2e-signed-in.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
