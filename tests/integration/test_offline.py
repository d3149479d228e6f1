"""``open_kavach()`` outside a request: the web app's settings, tokens, refresh and errors.

Each test signs a person in through the app (the emulator's consent page), then opens kavach as
a background job would, on the same database and keys, with the emulator as its Atlassian. The
emulator counts the refreshes. Every test runs on SQLite and on PostgreSQL. A job in another
process beside a served app is in ``test_offline_across_processes.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest

from kavach_fastapi import (
    ConfigurationError,
    OfflineKavach,
    ReauthRequiredError,
    UnknownSiteError,
    open_kavach,
)
from kavach_fastapi.emulator import Fault

from ..databases import TestDatabase
from .conftest import SECRET
from .token_harness import (
    SESSION,
    Harness,
    build_harness,
    expire_access_token,
    signed_in,
    the_account,
    token_of,
)


@asynccontextmanager
async def job_of(harness: Harness, **options: Any) -> AsyncIterator[OfflineKavach]:
    """kavach opened as a job beside ``harness``'s app: same providers, database and key."""
    async with open_kavach(
        providers=list(harness.router.kavach.providers.values()),
        http_transport=harness.transport,
        **{"database_url": harness.database.url, "secret": SECRET, **options},
    ) as kavach:
        yield kavach


@asynccontextmanager
async def a_person_signed_in(
    db: TestDatabase,
) -> AsyncIterator[tuple[Harness, httpx2.AsyncClient, str]]:
    """The app running, a person signed in through it and the emulator's consent, and their id."""
    async with signed_in(db) as (harness, client):
        response = await client.get(SESSION)
        assert response.status_code == 200, response.text
        yield harness, client, str(response.json()["user"]["id"])


async def a_person_who_revoked_the_grant(db: TestDatabase) -> tuple[Harness, str]:
    """A person signed in through the app (stopped since), then revoked the grant at Atlassian;
    the stored access token has expired. The harness and the person's user id."""
    async with a_person_signed_in(db) as (harness, _, user_id):
        pass
    harness.emu.revoke_grant(harness.emu.users[0].account_id)
    expire_access_token(db)
    return harness, user_id


async def test_a_job_gets_the_same_token_the_app_uses_without_a_refresh(db: TestDatabase) -> None:
    async with a_person_signed_in(db) as (harness, client, user_id):
        in_app = await token_of(client)

        async with job_of(harness) as kavach:
            offline = await kavach.atlassian_token(user_id)

    assert offline == in_app
    assert harness.emu.calls["refresh"] == 0


async def test_a_job_refreshes_an_expired_token_once_and_the_app_then_uses_it(
    db: TestDatabase,
) -> None:
    async with a_person_signed_in(db) as (harness, client, user_id):
        old = await token_of(client)
        expire_access_token(db)

        async with job_of(harness) as kavach:
            offline = await kavach.atlassian_token(user_id)
        in_app = await token_of(client)

    assert offline != old
    assert in_app == offline
    assert harness.emu.calls["refresh"] == 1


async def test_a_job_and_the_app_refreshing_at_once_make_one_refresh(db: TestDatabase) -> None:
    async with a_person_signed_in(db) as (harness, client, user_id):
        expire_access_token(db)
        version = the_account(db)["token_version"]
        # A slow Atlassian keeps the first refresh in flight while the other side asks.
        harness.emu.faults.add("refresh", Fault("latency", seconds=0.3, times=1))

        # Its own runtime, as in another process: only the database lease is shared.
        async with job_of(harness) as kavach:
            answers = await asyncio.gather(
                *(kavach.atlassian_token(user_id) for _ in range(5)),
                *(token_of(client) for _ in range(10)),
            )

    assert len(set(answers)) == 1
    assert harness.emu.calls["refresh"] == 1
    assert the_account(db)["token_version"] == version + 1


async def test_a_job_meeting_a_revoked_grant_raises_reauth_required_and_marks_it(
    db: TestDatabase,
) -> None:
    harness, user_id = await a_person_who_revoked_the_grant(db)

    async with job_of(harness) as kavach:
        with pytest.raises(ReauthRequiredError):
            await kavach.atlassian_token(user_id)
        with pytest.raises(ReauthRequiredError):
            await kavach.atlassian_sites(user_id)

    assert the_account(db)["needs_reauth"]
    assert harness.emu.calls["refresh"] == 1, "a dead grant is asked about once"


async def test_a_user_who_never_linked_atlassian_raises_reauth_required(db: TestDatabase) -> None:
    harness = build_harness(db)

    async with job_of(harness) as kavach:
        with pytest.raises(ReauthRequiredError):
            await kavach.atlassian_token("0" * 32)

    assert harness.emu.calls["refresh"] == 0


async def test_a_job_lists_the_sites_and_calls_jira_as_the_person(db: TestDatabase) -> None:
    async with a_person_signed_in(db) as (harness, client, user_id):
        in_app = (await client.get("/sites")).json()

    async with job_of(harness) as kavach:
        sites = await kavach.atlassian_sites(user_id)
        atlassian = kavach.atlassian_client(user_id)
        myself = await atlassian.get("jira", sites[0].id, "/rest/api/3/myself")
        with pytest.raises(UnknownSiteError):
            await atlassian.get("jira", "not-a-site-of-theirs", "/rest/api/3/myself")

    assert [site.model_dump(mode="json") for site in sites] == in_app
    assert myself.status_code == 200
    assert myself.json()["accountId"] == harness.emu.users[0].account_id


async def test_open_kavach_reads_the_same_environment_settings_as_the_router(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with a_person_signed_in(db) as (harness, client, user_id):
        in_app = await token_of(client)
    monkeypatch.setenv("KAVACH_DATABASE_URL", db.url)
    monkeypatch.setenv("KAVACH_SECRET", SECRET)

    async with open_kavach(
        providers=list(harness.router.kavach.providers.values()),
        http_transport=harness.transport,
    ) as kavach:
        assert kavach.settings.database_url == db.url
        offline = await kavach.atlassian_token(user_id)

    assert offline == in_app


async def test_leaving_the_block_closes_the_database_and_the_http_pool(db: TestDatabase) -> None:
    harness = build_harness(db)

    async with job_of(harness) as kavach:
        runtime = kavach.runtime
        assert runtime.started
    assert not runtime.started
    assert runtime.store.database.engine.pool.checkedout() == 0


async def test_open_kavach_without_atlassian_credentials_names_the_missing_setting(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATLASSIAN_CLIENT_ID", raising=False)
    monkeypatch.delenv("ATLASSIAN_CLIENT_SECRET", raising=False)

    with pytest.raises(ConfigurationError, match="ATLASSIAN_CLIENT_ID"):
        async with open_kavach(database_url=db.url, secret=SECRET):
            pass


async def test_open_kavach_with_an_invalid_option_names_it(db: TestDatabase) -> None:
    harness = build_harness(db)

    with pytest.raises(ConfigurationError, match="rate_limit"):
        async with job_of(harness, rate_limit=-1):
            pass


async def test_reauth_required_offline_carries_the_sign_in_url_when_the_base_url_is_set(
    db: TestDatabase,
) -> None:
    harness, user_id = await a_person_who_revoked_the_grant(db)
    base_url = "https://jira-tools.example.com/api/kavach"

    async with job_of(harness, base_url=base_url) as kavach:
        with pytest.raises(ReauthRequiredError) as from_token:
            await kavach.atlassian_token(user_id)
        with pytest.raises(ReauthRequiredError) as from_client:
            await kavach.atlassian_client(user_id).get("jira", "any", "/rest/api/3/myself")
    async with job_of(harness) as kavach:
        with pytest.raises(ReauthRequiredError) as without_base_url:
            await kavach.atlassian_sites(user_id)

    expected = f"{base_url}/auth/oauth/authorize/atlassian"
    assert from_token.value.reauth_url == from_client.value.reauth_url == expected
    assert without_base_url.value.reauth_url is None


async def test_a_job_signs_a_person_out_everywhere_and_the_app_refuses_their_session_at_once(
    db: TestDatabase,
) -> None:
    async with a_person_signed_in(db) as (harness, client, user_id):
        assert (await client.get(SESSION)).status_code == 200

        async with job_of(harness) as kavach:
            ended = await kavach.end_user_sessions(user_id)

        assert ended == 1
        assert db.count("kavach_sessions") == 0
        # The app's process never saw the job's delete; the sign-out bound still holds.
        await asyncio.sleep(harness.router.kavach.settings.session_cache_seconds + 0.2)
        assert (await client.get(SESSION)).status_code == 401


async def test_a_job_reports_personal_data_and_erases_a_closed_account(db: TestDatabase) -> None:
    async with a_person_signed_in(db) as (harness, _, user_id):
        account_id = str(the_account(db)["provider_account_id"])
        harness.emu.privacy.close(account_id)

        async with job_of(harness) as kavach:
            report = await kavach.report_personal_data()

    assert (report.reported, report.closed) == (1, (account_id,))
    assert harness.emu.calls["report_accounts"] == 1
    assert db.count("kavach_accounts") == 0
    assert db.scalar("SELECT email FROM kavach_users WHERE id = :id", id=user_id) is None
