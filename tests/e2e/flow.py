"""What a person does in the browser: open the demo, go through the consent page, land back."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypedDict
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect
from typing_extensions import Unpack

from kavach_fastapi.emulator.config import EmulatedSite, EmulatedUser, default_sites, default_users

ADA, GRACE = default_users()
JIRA_SITE, WIKI_SITE = default_sites()
SITES: tuple[EmulatedSite, ...] = (JIRA_SITE, WIKI_SITE)

CALLBACK_PATH = "/api/kavach/auth/oauth/callback/atlassian"
CONSENT_PATH = "/_emulator/authorize"
DECISION_PATH = "/_emulator/authorize/decision"


def path_of(url: str) -> str:
    """The path of a URL."""
    return urlsplit(url).path


def open_consent(page: Page) -> None:
    """Open the demo signed out and press "Sign in with Atlassian"."""
    page.goto("/")
    page.locator("#sign-in").click()
    page.wait_for_url(lambda url: path_of(url) == CONSENT_PATH)
    expect(page.locator("#accept")).to_be_visible()


def land(page: Page) -> None:
    """Wait until the browser is back on the demo's home page and it has drawn itself."""
    page.wait_for_url(lambda url: path_of(url) == "/")
    expect(page.locator("#signed-in, #signed-out").locator("visible=true")).to_have_count(1)


class Choice(TypedDict, total=False):
    """What a person picks on the consent page; left out, the page's defaults (Ada, every site)."""

    account: EmulatedUser
    grant: Collection[EmulatedSite]


def accept(page: Page, **choice: Unpack[Choice]) -> None:
    """Pick ``choice`` on the consent page, press Accept and wait to be signed in on the demo."""
    if "account" in choice:
        page.locator(f'input[name="account_id"][value="{choice["account"].account_id}"]').check()
    if "grant" in choice:
        granted = {site.id for site in choice["grant"]}
        for site in SITES:
            checkbox = page.locator(f'input[name="site_id"][value="{site.id}"]')
            checkbox.set_checked(site.id in granted)
    page.locator("#accept").click()
    land(page)
    expect(page.locator("#signed-in")).to_be_visible()


def sign_in(page: Page, **choice: Unpack[Choice]) -> None:
    """Sign in through the consent page (by default as Ada, granting every site)."""
    open_consent(page)
    accept(page, **choice)


def hold_callback(page: Page) -> str:
    """Press Accept, but keep the browser from following the emulator back to the app.

    Returns:
        The callback URL, with its fresh ``code`` and ``state``, that the browser would have
        opened.
    """
    held: list[str] = []

    def capture(route: Route) -> None:
        answer = route.fetch(max_redirects=0)
        held.append(answer.headers["location"])
        answer.dispose()
        route.fulfill(status=200, content_type="text/html", body='<p id="held">held</p>')

    page.route(f"**{DECISION_PATH}", capture)
    page.locator("#accept").click()
    expect(page.locator("#held")).to_be_attached()
    page.unroute(f"**{DECISION_PATH}", capture)
    assert len(held) == 1
    return held[0]
