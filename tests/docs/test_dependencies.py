"""The examples of the Dependencies page, Tokens page and Errors page, driven through the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import choose_site
import httpx2
import jira_confluence
import landing_page
import own_http_client
import pytest
import reauth_handling
import signed_in_routes
from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedSite
from kavach_fastapi.testing import sign_in

from .conftest import JIRA_SITE, PREFIX, WIKI_SITE, app_with

PAGES = {"65537": "Runbook", "draft?v=2": "A page whose id needs encoding"}


class EmulatorWithConfluencePages(httpx2.AsyncBaseTransport):
    """The emulator, plus Confluence pages by id, which the emulator does not play."""

    def __init__(self, emulator: AtlassianEmulator) -> None:
        self.emulator = emulator
        self.inner = httpx2.ASGITransport(app=emulator.app)
        self.confluence_calls: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.startswith(f"/ex/confluence/{WIKI_SITE}/wiki/api/v2/pages/"):
            self.confluence_calls.append(request)
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if self.emulator.grants.authenticate(token) is None:
                return httpx2.Response(401, json={"code": 401, "message": "Unauthorized"})
            return self._confluence(request.url.raw_path.decode().split("?")[0])
        return await self.inner.handle_async_request(request)

    @staticmethod
    def _confluence(path: str) -> httpx2.Response:
        page_id = path.removeprefix(f"/ex/confluence/{WIKI_SITE}/wiki/api/v2/pages/")
        if unquote(page_id) in PAGES and "/" not in page_id:
            return httpx2.Response(200, json={"id": page_id, "title": PAGES[unquote(page_id)]})
        return httpx2.Response(404, json={"errors": [{"status": 404, "title": "Not Found"}]})


@pytest.fixture
def transport(atlassian_emulator: AtlassianEmulator) -> EmulatorWithConfluencePages:
    return EmulatorWithConfluencePages(atlassian_emulator)


@pytest.fixture
def client(
    atlassian_emulator: AtlassianEmulator,
    transport: EmulatorWithConfluencePages,
    tmp_path: Path,
) -> Iterator[TestClient]:
    """An app with every example router, started, nobody signed in yet."""
    routers = [
        signed_in_routes.router,
        signed_in_routes.team,
        jira_confluence.router,
        choose_site.router,
        reauth_handling.router,
        landing_page.router,
    ]
    app = app_with(routers, atlassian_emulator, transport, tmp_path / "kavach.db")
    with TestClient(app, follow_redirects=False) as started:
        yield started


# signed_in_routes.py


def test_profile_needs_a_signed_in_person(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    assert client.get("/profile").json()["error"]["code"] == "not_signed_in"
    sign_in(client, atlassian_emulator)
    assert client.get("/profile").json()["name"] == "Ada Lovelace"


def test_greeting_is_for_everybody(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    assert client.get("/greeting").json()["greeting"].startswith("Hello, guest.")
    sign_in(client, atlassian_emulator)
    assert client.get("/greeting").json() == {"greeting": "Hello, Ada Lovelace."}


def test_team_router_is_private_as_a_whole(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    assert client.get("/team/handbook").status_code == 401
    sign_in(client, atlassian_emulator)
    assert client.get("/team/handbook").status_code == 200


# jira_confluence.py


def test_jira_myself_as_the_signed_in_person(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)

    answer = client.get(f"/jira/{JIRA_SITE}/myself")

    assert answer.status_code == 200
    assert answer.json()["displayName"] == "Ada Lovelace"


def test_confluence_spaces_with_the_persons_token(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)

    answer = client.get(f"/confluence/{WIKI_SITE}/spaces")

    assert answer.json() == ["Engineering", "People"]
    seen = atlassian_emulator.last_request["confluence_spaces"]
    assert seen.query["limit"] == "25"
    assert seen.headers["authorization"].startswith("Bearer ")


def test_confluence_page_by_the_id_the_person_gave(
    client: TestClient,
    atlassian_emulator: AtlassianEmulator,
    transport: EmulatorWithConfluencePages,
) -> None:
    sign_in(client, atlassian_emulator)

    runbook = client.get(f"/confluence/{WIKI_SITE}/pages/65537")
    encoded = client.get(f"/confluence/{WIKI_SITE}/pages/draft%3Fv=2")
    climbing = client.get(f"/confluence/{WIKI_SITE}/pages/..")

    assert runbook.json() == {"title": "Runbook"}
    assert encoded.json() == {"title": "A page whose id needs encoding"}
    sent = [call.url.raw_path.decode() for call in transport.confluence_calls]
    assert sent == [
        f"/ex/confluence/{WIKI_SITE}/wiki/api/v2/pages/65537",
        f"/ex/confluence/{WIKI_SITE}/wiki/api/v2/pages/draft%3Fv%3D2",  # one segment, no query
    ]
    assert climbing.status_code in (400, 404)  # never sent: ".." is no page id


def test_a_site_the_person_did_not_share_is_refused(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator, site_ids=[WIKI_SITE])

    answer = client.get(f"/jira/{JIRA_SITE}/myself")

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_site"
    assert atlassian_emulator.calls["jira_myself"] == 0


# own_http_client.py


def test_own_http_client_with_the_token(
    atlassian_emulator: AtlassianEmulator,
    atlassian_emulator_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The example reads ATLASSIAN_API_URL and calls it over the network: here, a loopback socket.
    monkeypatch.setenv("ATLASSIAN_API_URL", atlassian_emulator_url)
    app = app_with(
        [own_http_client.router],
        atlassian_emulator,
        httpx2.AsyncHTTPTransport(),
        tmp_path / "kavach.db",
        base_url=atlassian_emulator_url,
    )
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, atlassian_emulator)
        mine = client.get(f"/jira/{JIRA_SITE}/myself-by-hand")
        unknown = client.get("/jira/not-a-site/myself-by-hand")

    assert mine.json()["displayName"] == "Ada Lovelace"
    assert unknown.status_code == 404


# choose_site.py


def test_jira_sites_are_the_ones_reaching_jira(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)

    assert [site["name"] for site in client.get("/sites/jira").json()] == ["Acme Engineering"]


def test_site_by_url(client: TestClient, atlassian_emulator: AtlassianEmulator) -> None:
    sign_in(client, atlassian_emulator)

    found = client.get("/sites/by-url", params={"url": "https://acme-wiki.atlassian.net/"})
    missing = client.get("/sites/by-url", params={"url": "https://elsewhere.atlassian.net"})

    assert found.json()["id"] == WIKI_SITE
    assert missing.status_code == 404


def test_site_for_issues_is_the_one_jira_site(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)

    assert client.get("/sites/for-issues").json()["id"] == JIRA_SITE


def test_site_for_issues_explains_when_none_was_shared(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator, site_ids=[WIKI_SITE])

    assert client.get("/sites/for-issues").status_code == 403


def test_site_for_issues_asks_to_choose_among_several(tmp_path: Path) -> None:
    emulator = AtlassianEmulator(
        sites=[
            EmulatedSite(id="site-a", name="A", url="https://a.atlassian.net"),
            EmulatedSite(id="site-b", name="B", url="https://b.atlassian.net"),
        ]
    )
    app = app_with(
        [choose_site.router],
        emulator,
        httpx2.ASGITransport(app=emulator.app),
        tmp_path / "kavach.db",
    )
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, emulator)
        assert client.get("/sites/for-issues").status_code == 409


# reauth_handling.py


def test_jira_page_while_the_grant_lives(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)

    assert "Jira knows you as Ada Lovelace." in client.get(f"/pages/jira/{JIRA_SITE}").text


def test_jira_page_sends_the_person_to_consent_again(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)
    atlassian_emulator.revoke_grant(atlassian_emulator.users[0].account_id)

    answer = client.get(f"/pages/jira/{JIRA_SITE}")

    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert target.path == f"{PREFIX}/auth/oauth/authorize/atlassian"
    assert parse_qs(target.query) == {"redirect_to": [f"/pages/jira/{JIRA_SITE}"]}
    # Following it signs in again, and the page works once more.
    sign_in(client, atlassian_emulator, redirect_to=f"/pages/jira/{JIRA_SITE}")
    assert client.get(f"/pages/jira/{JIRA_SITE}").status_code == 200


# landing_page.py


def test_landing_page_welcomes_and_offers_sign_in(client: TestClient) -> None:
    page = client.get("/").text

    assert "Welcome." in page
    href = page.split('href="', 1)[1].split('"', 1)[0]
    assert client.get(href).status_code == 302


def test_landing_page_explains_a_declined_consent(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    started = client.get(f"{PREFIX}/auth/oauth/authorize/atlassian", params={"redirect_to": "/"})
    callback = urlsplit(_run(atlassian_emulator.decline(started.headers["location"])))
    landed = client.get(f"{callback.path}?{callback.query}")

    assert landed.status_code == 303
    assert landed.headers["location"] == "/?error=access_denied"
    assert (
        "You declined to share your Atlassian account" in client.get("/?error=access_denied").text
    )


def test_landing_page_never_echoes_an_unknown_error(client: TestClient) -> None:
    page = client.get("/", params={"error": "<script>alert(1)</script>"}).text

    assert "Signing in did not work." in page
    assert "<script>" not in page


def test_landing_page_greets_the_signed_in_person(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)

    assert "Signed in as Ada Lovelace." in client.get("/").text


def _run(coroutine: Coroutine[Any, Any, str]) -> str:
    return asyncio.run(coroutine)
