"""The person's Atlassian sites, calls to Atlassian's product APIs, and disconnecting.

Against the emulator: ``AtlassianSites`` and the router's sites endpoint, the cache of sites in
the database, ``AtlassianAPI`` (``AtlassianClient``) calling Jira's ``myself``, and
``DELETE /auth/oauth/accounts/atlassian``. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx2
import pytest

from kavach_fastapi import (
    AtlassianClient,
    AtlassianSite,
    find_site,
    sites_for_product,
    sites_with_scope,
)
from kavach_fastapi.atlassian.dependencies import atlassian_of
from kavach_fastapi.emulator import AtlassianEmulator, Fault

from ..databases import TestDatabase
from ..support.transports import UndecodableAnswers
from .conftest import PREFIX
from .token_harness import (
    EMULATOR,
    REAUTH_URL,
    SESSION,
    Harness,
    another_client,
    build_harness,
    from_now,
    running,
    sign_in,
    signed_in,
    the_account,
    token_of,
    update_account,
)

SITES_ENDPOINT = f"{PREFIX}/auth/oauth/atlassian/sites"
DISCONNECT = f"{PREFIX}/auth/oauth/accounts/atlassian"
REVOKE_URL = "https://id.atlassian.com/manage-profile/apps"


@pytest.fixture
def emu() -> AtlassianEmulator:
    """The emulator the test's app signs in with."""
    return AtlassianEmulator()


def jira(emu: AtlassianEmulator) -> str:
    return emu.sites[0].id


def wiki(emu: AtlassianEmulator) -> str:
    return emu.sites[1].id


def expected_sites(emu: AtlassianEmulator, jira_scopes: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": site.id,
            "name": site.name,
            "url": site.url,
            "scopes": jira_scopes if "jira" in site.products else [],
            "products": ["jira"] if "jira" in site.products and jira_scopes else [],
            "avatar_url": f"{EMULATOR}/avatars/sites/{site.id}.svg",
        }
        for site in emu.sites
    ]


def by_id(sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(sites, key=lambda site: str(site["id"]))


async def user_id(client: httpx2.AsyncClient) -> str:
    response = await client.get(SESSION)
    assert response.status_code == 200
    return str(response.json()["user"]["id"])


def client_for(harness: Harness, user: str) -> AtlassianClient:
    kavach = harness.router.kavach
    return AtlassianClient(kavach.calls, kavach.sites, atlassian_of(kavach), user)


# Sites


async def test_atlassian_sites_are_the_sites_the_person_granted_as_models(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        response = await client.get("/sites")

    assert response.status_code == 200
    assert by_id(response.json()) == by_id(expected_sites(harness.emu, ["read:jira-user"]))
    assert harness.emu.calls["accessible_resources"] == 1
    assert "token" not in response.text


async def test_the_router_lists_the_same_sites_at_its_sites_endpoint(db: TestDatabase) -> None:
    async with signed_in(db) as (harness, client):
        response = await client.get(SITES_ENDPOINT)
        again = await client.get(SITES_ENDPOINT)
        async with another_client(harness.app) as stranger:
            anonymous = await stranger.get(SITES_ENDPOINT)

    assert response.status_code == 200
    assert by_id(response.json()) == by_id(expected_sites(harness.emu, ["read:jira-user"]))
    assert again.json() == response.json()
    assert harness.emu.calls["accessible_resources"] == 1
    assert anonymous.status_code == 401


async def test_sites_are_cached_per_account_so_repeated_requests_do_not_call_atlassian(
    db: TestDatabase,
) -> None:
    harness = build_harness(db)
    emu = harness.emu
    async with running(harness.app) as ada, another_client(harness.app) as grace:
        await sign_in(ada, emu, user=emu.users[0])
        await sign_in(grace, emu, user=emu.users[1], site_ids=[wiki(emu)])

        ada_sites = [(await ada.get("/sites")).json() for _ in range(3)]
        grace_sites = [(await grace.get("/sites")).json() for _ in range(3)]

    assert emu.calls["accessible_resources"] == 2  # once per account
    assert {site["id"] for site in ada_sites[0]} == {jira(emu), wiki(emu)}
    assert [site["id"] for site in grace_sites[0]] == [wiki(emu)]
    assert all(sites == ada_sites[0] for sites in ada_sites)
    assert all(sites == grace_sites[0] for sites in grace_sites)


@pytest.mark.parametrize(
    ("env", "option", "fresh_age", "stale_age"),
    [(None, None, 240, 360), ("60", None, 30, 90), (None, timedelta(seconds=60), 30, 90)],
    ids=["default-5-minutes", "KAVACH_SITES_CACHE_TTL=60", "sites_cache_ttl=60s"],
)
async def test_cached_sites_are_fresh_until_the_ttl_then_fetched_again(
    db: TestDatabase,
    monkeypatch: pytest.MonkeyPatch,
    env: str | None,
    option: timedelta | None,
    fresh_age: int,
    stale_age: int,
) -> None:
    if env is not None:
        monkeypatch.setenv("KAVACH_SITES_CACHE_TTL", env)
    options: dict[str, Any] = {} if option is None else {"sites_cache_ttl": option}
    harness = build_harness(db, **options)
    calls = harness.emu.calls
    async with running(harness.app) as client:
        await sign_in(client, harness.emu)
        assert (await client.get("/sites")).status_code == 200

        update_account(db, sites_fetched_at=from_now(seconds=-fresh_age))
        assert (await client.get("/sites")).status_code == 200
        assert calls["accessible_resources"] == 1

        update_account(db, sites_fetched_at=from_now(seconds=-stale_age))
        assert (await client.get("/sites")).status_code == 200
        assert calls["accessible_resources"] == 2
        assert (await client.get("/sites")).status_code == 200

    assert calls["accessible_resources"] == 2


async def test_a_stale_list_is_served_and_logged_when_atlassian_fails(
    db: TestDatabase, caplog: pytest.LogCaptureFixture, emu: AtlassianEmulator
) -> None:
    async with signed_in(db, emu) as (_, client):
        cached = (await client.get("/sites")).json()
        update_account(db, sites_fetched_at=from_now(minutes=-10))
        aged = the_account(db)
        emu.faults.add("accessible_resources", Fault("status", status=503))

        with caplog.at_level(logging.WARNING, logger="kavach_fastapi"):
            stale = await client.get("/sites")

        after_failure = the_account(db)
        emu.faults.clear()
        assert (await client.get("/sites")).status_code == 200

    assert stale.status_code == 200
    assert stale.json() == cached
    assert any("stale" in record.getMessage() for record in caplog.records)
    # The failure was not cached as if it were fresh: the next request asked again.
    assert after_failure["sites_fetched_at"] == aged["sites_fetched_at"]
    assert after_failure["sites_json"] == aged["sites_json"]
    assert emu.calls["accessible_resources"] == 3
    assert the_account(db)["sites_fetched_at"] != aged["sites_fetched_at"]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=503, retry_after=7),
        Fault("rate_limit", retry_after=0),
        Fault("malformed_json"),
    ],
    ids=["503", "429", "malformed"],
)
async def test_with_nothing_cached_and_atlassian_down_sites_answer_503(
    db: TestDatabase, fault: Fault
) -> None:
    async with signed_in(db) as (harness, client):
        harness.emu.faults.add("accessible_resources", fault)

        response = await client.get("/sites")

    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    row = the_account(db)
    assert row["sites_json"] is None
    assert row["sites_fetched_at"] is None
    assert not row["needs_reauth"]


async def test_with_nothing_cached_an_undecodable_list_of_sites_answers_503(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        harness.transport.inner = UndecodableAnswers(
            harness.transport.inner, "/oauth/token/accessible-resources"
        )

        response = await client.get("/sites")

    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    assert the_account(db)["sites_json"] is None
    assert not the_account(db)["needs_reauth"]


async def test_an_empty_list_of_sites_is_a_valid_answer_and_is_cached(db: TestDatabase) -> None:
    async with signed_in(db, site_ids=[]) as (harness, client):
        first = await client.get("/sites")
        second = await client.get("/sites")

    assert (first.status_code, first.json()) == (200, [])
    assert (second.status_code, second.json()) == (200, [])
    assert harness.emu.calls["accessible_resources"] == 1


async def test_site_helpers_pick_by_cloud_id_or_url_and_filter_by_scope_and_product(
    db: TestDatabase,
) -> None:
    harness = build_harness(db, scopes=("read:jira-user", "read:confluence-user"))
    emu = harness.emu
    async with running(harness.app) as client:
        await sign_in(client, emu)
        sites = [AtlassianSite.model_validate(item) for item in (await client.get("/sites")).json()]
        atlassian = client_for(harness, await user_id(client))
        by_url = await atlassian.site(url="HTTPS://Acme-Wiki.atlassian.net/")

    eng = find_site(sites, cloud_id=jira(emu))
    assert eng is not None
    assert eng.name == "Acme Engineering"
    assert find_site(sites, url="https://acme-eng.atlassian.net/") == eng
    assert find_site(sites, cloud_id="not-a-granted-site") is None
    assert by_url.id == wiki(emu)
    with pytest.raises(ValueError, match="exactly one"):
        find_site(sites)
    with pytest.raises(ValueError, match="exactly one"):
        find_site(sites, cloud_id=jira(emu), url="https://acme-eng.atlassian.net")
    assert [site.id for site in sites_with_scope(sites, "read:jira-user")] == [jira(emu)]
    assert [site.id for site in sites_with_scope(sites, "read:confluence-user")] == [wiki(emu)]
    assert sites_with_scope(sites, "write:jira-work") == []
    assert [site.id for site in sites_for_product(sites, "jira")] == [jira(emu)]
    assert [site.id for site in sites_for_product(sites, "Confluence")] == [wiki(emu)]


# Atlassian's product APIs


async def test_the_api_client_calls_jira_myself_as_the_person(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    async with signed_in(db, emu) as (_, client):
        token = await token_of(client)

        response = await client.get(f"/jira/{jira(emu)}/myself")

    assert response.status_code == 200, response.text
    assert response.json()["accountId"] == emu.users[0].account_id
    assert response.json()["displayName"] == "Ada Lovelace"
    seen = emu.last_request["jira_myself"]
    assert seen.path == f"/ex/jira/{jira(emu)}/rest/api/3/myself"
    assert seen.headers["authorization"] == f"Bearer {token}"
    assert emu.calls["jira_myself"] == 1
    assert emu.calls["refresh"] == 0


async def test_a_cloud_id_that_is_not_one_of_the_persons_sites_is_404_without_calling_it(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    # Grace grants only the wiki: the Jira site exists, but is not hers.
    async with signed_in(db, emu, user=emu.users[1], site_ids=[wiki(emu)]) as (_, client):
        unknown = await client.get("/jira/no-such-cloud/myself")
        not_hers = await client.get(f"/jira/{jira(emu)}/myself")

    for response in (unknown, not_hers):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unknown_site"
    assert emu.calls["jira_myself"] == 0
    assert emu.calls["accessible_resources"] == 1  # the cached list decided the second time


async def test_a_401_from_the_api_refreshes_once_and_retries_once(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    async with signed_in(db, emu) as (_, client):
        old = await token_of(client)
        assert (await client.get("/sites")).status_code == 200
        version = the_account(db)["token_version"]
        # Atlassian's clock runs ahead: it refuses a token the app still thinks fresh.
        emu.clock.advance(timedelta(minutes=61))

        response = await client.get(f"/jira/{jira(emu)}/myself")
        new = await token_of(client)

    assert response.status_code == 200, response.text
    assert emu.calls["jira_myself"] == 2
    assert emu.calls["refresh"] == 1
    assert new != old
    assert emu.last_request["jira_myself"].headers["authorization"] == f"Bearer {new}"
    assert the_account(db)["token_version"] == version + 1


async def jira_myself_under(
    fault: Fault, db: TestDatabase, emu: AtlassianEmulator
) -> tuple[Harness, httpx2.Response]:
    """Sign in, list the sites, then ask Jira's ``myself`` while the emulator plays ``fault``."""
    async with signed_in(db, emu) as (harness, client):
        assert (await client.get("/sites")).status_code == 200
        emu.faults.add("jira_myself", fault)
        return harness, await client.get(f"/jira/{jira(emu)}/myself")


async def test_a_second_401_after_the_refresh_is_returned_and_not_retried_again(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    _, response = await jira_myself_under(Fault("status", status=401), db, emu)

    assert response.status_code == 401
    assert emu.calls["jira_myself"] == 2
    assert emu.calls["refresh"] == 1


async def test_a_429_from_the_api_is_honoured_then_succeeds(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    limit_once = Fault("rate_limit", retry_after=1, times=1)
    harness, response = await jira_myself_under(limit_once, db, emu)

    assert response.status_code == 200
    assert emu.calls["jira_myself"] == 2
    limited, succeeded = harness.transport.times(f"/ex/jira/{jira(emu)}/rest/api/3/myself")
    assert succeeded - limited >= 0.95  # Retry-After: 1 was honoured
    assert emu.calls["refresh"] == 0


async def test_a_persistent_429_from_the_api_answers_503_with_retry_after(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    _, response = await jira_myself_under(Fault("rate_limit", retry_after=0), db, emu)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    assert emu.calls["jira_myself"] == 3


async def test_an_undecodable_answer_from_the_api_is_retried_then_answers_503(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    async with signed_in(db, emu) as (harness, client):
        harness.transport.inner = UndecodableAnswers(
            harness.transport.inner, f"/ex/jira/{jira(emu)}/rest/api/3/myself"
        )

        response = await client.get(f"/jira/{jira(emu)}/myself")

    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    assert emu.calls["jira_myself"] == 3  # a GET may be sent again
    assert emu.calls["refresh"] == 0


@pytest.mark.parametrize(
    ("product", "path"),
    [
        ("Jira", "/rest/api/3/myself"),
        ("jira/../admin", "/rest/api/3/myself"),
        ("", "/rest/api/3/myself"),
        ("jira", "rest/api/3/myself"),
        ("jira", "//evil.example/rest"),
        ("jira", "/rest/api/3/../../../../oauth/token"),
    ],
)
async def test_a_malformed_product_or_path_raises_value_error_before_any_call(
    db: TestDatabase, product: str, path: str, emu: AtlassianEmulator
) -> None:
    async with signed_in(db, emu) as (harness, client):
        atlassian = client_for(harness, await user_id(client))

        with pytest.raises(ValueError, match="not a"):
            await atlassian.get(product, jira(emu), path)

    assert emu.calls["accessible_resources"] == 0
    assert emu.calls["jira_myself"] == 0
    assert emu.calls["refresh"] == 0


# Disconnecting


async def test_disconnecting_forgets_tokens_and_sites_and_keeps_the_person_signed_in(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    async with signed_in(db, emu) as (_, client):
        assert (await client.get("/sites")).status_code == 200
        calls_before = dict(emu.calls)

        response = await client.delete(DISCONNECT)

        session = await client.get(SESSION)
        token = await client.get("/token")
        sites = await client.get("/sites")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "atlassian"
    assert body["disconnected"] is True
    assert body["revoked_at_provider"] is False
    assert body["revoke_url"] == REVOKE_URL
    row = the_account(db)  # the identity link stays
    for column in (
        "access_token",
        "refresh_token",
        "access_token_expires_at",
        "sites_json",
        "sites_fetched_at",
    ):
        assert row[column] is None, column
    assert session.status_code == 200
    assert db.count("kavach_sessions") == 1
    for refused in (token, sites):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "reauth_required"
        assert refused.json()["error"]["reauth_url"] == REAUTH_URL
    assert dict(emu.calls) == calls_before  # Atlassian has no revocation endpoint to call


async def test_disconnecting_from_another_site_is_refused_and_changes_nothing(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (_, client):
        before = the_account(db)

        response = await client.delete(DISCONNECT, headers={"Origin": "https://evil.example"})
        token = await client.get("/token")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cross_site_request"
    assert the_account(db) == before
    assert token.status_code == 200


async def test_disconnecting_needs_a_session(db: TestDatabase) -> None:
    async with signed_in(db) as (harness, _client):
        before = the_account(db)
        async with another_client(harness.app) as stranger:
            response = await stranger.delete(DISCONNECT)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_signed_in"
    assert the_account(db) == before


async def test_a_401_for_a_missing_scope_is_returned_without_a_pointless_refresh(
    db: TestDatabase,
) -> None:
    harness = build_harness(db, scopes=())
    emu = harness.emu
    async with running(harness.app) as client:
        await sign_in(client, emu)
        assert (await client.get("/sites")).status_code == 200

        response = await client.get(f"/jira/{jira(emu)}/myself")

    assert response.status_code == 401
    assert emu.calls["jira_myself"] == 1
    assert emu.calls["refresh"] == 0
