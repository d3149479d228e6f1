"""The Hooks and Sign-in policy pages' examples, unchanged, against the emulator.

``hooked_app.py`` and ``internal_tool.py`` read their Atlassian app from the environment, as a
user's app does, so they sign in against a served emulator; ``more_scopes.py`` is a router,
included in an app like the other pages' examples.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import more_scopes
import pytest
import sign_in_hooks
from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser
from kavach_fastapi.testing import sign_in

from .conftest import JIRA_SITE, PREFIX, WIKI_SITE, app_with, started_example

AUTHORIZE = f"{PREFIX}/auth/oauth/authorize/atlassian"


@pytest.fixture
def served_environment(quickstart_environment: None) -> None:
    """The emulator's URL and its demo app's credentials, as the quick start exports them, and
    the hooks example's audit emptied."""
    sign_in_hooks.audit.clear()


def _callback(
    client: TestClient,
    emulator: AtlassianEmulator,
    *,
    user: EmulatedUser | None = None,
    site_ids: list[str] | None = None,
) -> httpx2.Response:
    started = client.get(AUTHORIZE)
    consent = started.headers["location"]
    back = urlsplit(asyncio.run(emulator.approve(consent, user=user, site_ids=site_ids)))
    return client.get(f"{back.path}?{back.query}")


def _landing(answer: httpx2.Response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(answer.headers["location"]).query)


# sign_in_hooks.py and hooked_app.py


@pytest.mark.usefixtures("served_environment")
def test_the_hooks_record_a_newcomer_their_sign_ins_and_their_sign_out(
    atlassian_emulator: AtlassianEmulator,
) -> None:
    with started_example("hooked_app") as client:
        sign_in(client, atlassian_emulator)
        sign_in(client, atlassian_emulator)
        user_id = client.get(f"{PREFIX}/auth/session").json()["user"]["id"]
        client.post(f"{PREFIX}/auth/sign-out")

    assert sign_in_hooks.audit == [
        "welcome Ada Lovelace",
        "sign-in ada@example.com new=True",
        "sign-in ada@example.com new=False",
        f"sign-out {user_id}",
    ]


@pytest.mark.usefixtures("served_environment")
def test_the_hooks_refuse_an_outsider_and_an_unverified_address(
    atlassian_emulator: AtlassianEmulator,
) -> None:
    outsider = EmulatedUser(account_id="557058:outsider-1", name="Mallory", email="m@evil.test")
    unverified = EmulatedUser(
        account_id="557058:unverified-1", name="Una", email="una@example.com", email_verified=False
    )
    atlassian_emulator.users.extend([outsider, unverified])
    with started_example("hooked_app") as client:
        refused = _landing(_callback(client, atlassian_emulator, user=outsider))
        unverified_landing = _landing(_callback(client, atlassian_emulator, user=unverified))

    assert refused == {"error": ["sign_in_refused"], "reason": ["not_staff"]}
    assert unverified_landing == {"error": ["sign_in_refused"], "reason": ["no_verified_email"]}
    assert sign_in_hooks.audit == []


# internal_tool.py


@pytest.mark.usefixtures("served_environment")
def test_the_internal_tool_lets_in_only_people_of_its_site(
    atlassian_emulator: AtlassianEmulator,
) -> None:
    with started_example("internal_tool") as client:
        refused = _callback(client, atlassian_emulator, site_ids=[WIKI_SITE])
        assert _landing(refused) == {"error": ["site_not_allowed"]}
        assert client.get("/api/whoami").status_code == 401

        allowed = _callback(client, atlassian_emulator, site_ids=[JIRA_SITE])
        assert _landing(allowed) == {}
        whoami = client.get("/api/whoami").json()
    # The refused consent joined the same grant at Atlassian: the grant now reaches both sites.
    assert whoami["name"] == "Ada Lovelace"
    assert sorted(whoami["sites"]) == ["Acme Engineering", "Acme Wiki"]


# more_scopes.py


def test_a_route_needing_more_scopes_asks_for_them_and_then_runs(
    atlassian_emulator: AtlassianEmulator, tmp_path: Path
) -> None:
    app = app_with(
        [more_scopes.router],
        atlassian_emulator,
        httpx2.ASGITransport(app=atlassian_emulator.app),
        tmp_path / "kavach.db",
    )
    path = f"/jira/{JIRA_SITE}/issues"
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, atlassian_emulator)
        first = client.post(path)
        assert first.status_code == 401
        reauth = urlsplit(first.json()["error"]["reauth_url"])
        assert "extra_scopes" in parse_qs(reauth.query)

        consent = client.get(f"{reauth.path}?{reauth.query}").headers["location"]
        assert "write:jira-work" in parse_qs(urlsplit(consent).query)["scope"][0].split()
        back = urlsplit(asyncio.run(atlassian_emulator.approve(consent)))
        assert client.get(f"{back.path}?{back.query}").status_code == 303
        # Past the dependency: the emulator answers the call itself (it serves no issue API).
        assert client.post(path).status_code == 200
