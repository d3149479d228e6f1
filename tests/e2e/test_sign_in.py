"""Signing in and out of the demo through the emulator's consent page, in a real browser."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import DemoServer, NewContext
from .flow import ADA, GRACE, JIRA_SITE, SITES, WIKI_SITE, land, open_consent, sign_in

pytestmark = pytest.mark.e2e


def site_rows(page: Page) -> list[str]:
    """The cloud ids of the sites the page lists, in order."""
    rows = page.locator("#sites .site[data-cloud-id]")
    return [str(row.get_attribute("data-cloud-id")) for row in rows.all()]


def test_sign_in_through_consent_page_shows_profile_and_sites(page: Page) -> None:
    sign_in(page)

    expect(page.locator("#name")).to_have_text(ADA.name)
    expect(page.locator("#email")).to_have_text(str(ADA.email))
    expect(page.locator("#sign-in")).to_be_hidden()
    avatar = page.locator("#avatar")
    expect(avatar).to_be_visible()
    expect(avatar).to_have_attribute(
        "src", f"{page.url.rstrip('/')}/_emulator/avatars/{ADA.account_id}.svg"
    )
    assert avatar.evaluate("img => img.complete && img.naturalWidth > 0"), "the avatar did not load"
    expect(page.locator("#sites .site")).to_have_count(2)
    assert site_rows(page) == [site.id for site in SITES]
    for site in SITES:
        row = page.locator(f'.site[data-cloud-id="{site.id}"]')
        expect(row.locator(".name")).to_have_text(site.name)
        expect(row.locator(".url")).to_have_text(site.url)
        # One row per cloud id, even for a site Atlassian lists once per product.
        expect(row.locator(".products .chip")).to_have_text(list(site.products))


def test_reload_keeps_the_session(page: Page) -> None:
    sign_in(page)

    page.reload()
    land(page)

    expect(page.locator("#name")).to_have_text(ADA.name)
    expect(page.locator("#sign-in")).to_be_hidden()


def test_sign_out_ends_the_session(page: Page, context: BrowserContext) -> None:
    sign_in(page)
    session = next(c for c in context.cookies() if c["name"] == "kavach_session")

    page.locator("#sign-out").click()

    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#signed-in")).to_be_hidden()
    assert "kavach_session" not in {c["name"] for c in context.cookies()}
    assert context.request.get("/api/me").status == 401
    # Ended on the server too, not only forgotten by the browser.
    bearer = {"Authorization": f"Bearer {session['value']}"}
    assert context.request.get("/api/me", headers=bearer).status == 401


def test_decline_shows_access_denied_error(page: Page, context: BrowserContext) -> None:
    open_consent(page)

    page.locator("#decline").click()
    land(page)

    error = page.locator('#error[data-code="access_denied"]')
    expect(error).to_be_visible()
    expect(error).to_have_text(
        "You declined to share your Atlassian account, so you are not signed in."
    )
    expect(page.locator("#sign-in")).to_be_visible()
    assert urlsplit(page.url).query == "", "the page keeps ?error= in the address bar"
    assert context.request.get("/api/me").status == 401


def test_final_url_after_sign_in_carries_no_code_or_state(page: Page, demo: DemoServer) -> None:
    sign_in(page)

    assert page.url == f"{demo.url}/"
    query = parse_qs(urlsplit(page.url).query)
    assert "code" not in query
    assert "state" not in query
    # Nor does the referrer the landing page was opened with.
    assert page.evaluate("document.referrer") == ""


def test_jira_button_shows_the_jira_answer(page: Page) -> None:
    sign_in(page)
    row = page.locator(f'.site[data-cloud-id="{JIRA_SITE.id}"]')

    row.locator(".jira-myself").click()

    result = row.locator("pre.result")
    expect(result).to_be_visible()
    expect(result).to_contain_text(f"{ADA.name} <{ADA.email}>")
    expect(result).to_contain_text(f'"displayName": "{ADA.name}"')
    expect(result).to_contain_text(f'"accountId": "{ADA.account_id}"')
    # The Confluence site offers no Jira call.
    expect(page.locator(f'.site[data-cloud-id="{WIKI_SITE.id}"] .jira-myself')).to_have_count(0)


def test_choosing_the_second_person_signs_in_as_her(page: Page) -> None:
    open_consent(page)
    expect(page.locator(f'input[name="account_id"][value="{ADA.account_id}"]')).to_be_checked()

    page.locator(f'input[name="account_id"][value="{GRACE.account_id}"]').check()
    page.locator("#accept").click()
    land(page)

    expect(page.locator("#name")).to_have_text(GRACE.name)
    expect(page.locator("#email")).to_have_text(str(GRACE.email))
    expect(page.locator("#avatar")).to_have_attribute(
        "src", f"{page.url.rstrip('/')}/_emulator/avatars/{GRACE.account_id}.svg"
    )


def test_unchecked_site_is_not_listed(fresh_demo: DemoServer, new_context: NewContext) -> None:
    # A demo of its own: on the shared one, Ada's grant already holds sites from earlier tests.
    page = new_context(fresh_demo.url).new_page()

    sign_in(page, grant=[JIRA_SITE])

    expect(page.locator("#sites .site")).to_have_count(1)
    assert site_rows(page) == [JIRA_SITE.id]


def test_a_site_granted_at_a_later_sign_in_is_listed_at_once(
    fresh_demo: DemoServer, new_context: NewContext
) -> None:
    # Atlassian adds sites granted later to the same grant, so after the second consent both
    # are listed, and not the list cached from the first sign-in.
    before = new_context(fresh_demo.url).new_page()
    sign_in(before, grant=[JIRA_SITE])
    expect(before.locator("#sites .site")).to_have_count(1)

    after = new_context(fresh_demo.url).new_page()
    sign_in(after, grant=[WIKI_SITE])

    expect(after.locator("#sites .site")).to_have_count(2)
    assert sorted(site_rows(after)) == sorted(site.id for site in SITES)
