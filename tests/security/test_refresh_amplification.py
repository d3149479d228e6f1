"""No refresh amplification: requests that Jira keeps refusing rotate the grant at most once.

A product API can answer a plain ``401`` for reasons a new token does not fix (an endpoint 3LO
cannot reach, a site listed but never authorised). If each such answer forced a refresh, anyone
who can make the app call that endpoint could rotate the person's refresh token as often as they
like. A refusal refreshes once; requests refused with a token that was already replaced use the
replacement; a token refused again right after such a refresh is the app's problem, and its
``401`` is answered as it is.
"""

from __future__ import annotations

import asyncio

import httpx2
from fastapi import FastAPI

from kavach_fastapi.emulator import AtlassianEmulator, Fault

from .conftest import browser, error_code, sign_in
from .jira_calls import jira_site

REQUESTS = 25


async def signed_in_and_refused(client: httpx2.AsyncClient, emulator: AtlassianEmulator) -> str:
    """Sign in, cache the sites, and make Jira refuse every call with a plain 401."""
    await sign_in(client, emulator)
    assert (await client.get("/sites")).status_code == 200
    emulator.faults.add("jira_myself", Fault("status", status=401))
    return f"/jira/{jira_site(emulator)}/myself"


async def test_requests_that_jira_keeps_refusing_refresh_the_grant_only_once(
    live_app: FastAPI, emulator: AtlassianEmulator
) -> None:
    async with browser(live_app) as client:
        path = await signed_in_and_refused(client, emulator)

        answers = [await client.get(path) for _ in range(REQUESTS)]

        assert (await client.get("/sites")).status_code == 200  # the grant is alive

    assert [answer.status_code for answer in answers] == [401] * REQUESTS
    assert emulator.calls["refresh"] == 1
    assert emulator.calls["jira_myself"] == REQUESTS + 1  # one retry, with the new token


async def test_concurrent_requests_refused_with_one_token_make_one_refresh(
    live_app: FastAPI, emulator: AtlassianEmulator
) -> None:
    async with browser(live_app) as client:
        path = await signed_in_and_refused(client, emulator)

        answers = await asyncio.gather(*(client.get(path) for _ in range(REQUESTS)))

    assert [answer.status_code for answer in answers] == [401] * REQUESTS
    assert emulator.calls["refresh"] <= 1


async def test_the_refused_answer_reaches_the_app_as_jira_gave_it(
    live_app: FastAPI, emulator: AtlassianEmulator
) -> None:
    async with browser(live_app) as client:
        path = await signed_in_and_refused(client, emulator)
        await client.get(path)

        again = await client.get(path)

    assert again.status_code == 401
    assert again.json() == {"code": 401, "message": "Unauthorized"}  # Jira's, not reauth_required


async def test_a_grant_revoked_at_atlassian_is_still_found_by_the_first_refusal(
    live_app: FastAPI, emulator: AtlassianEmulator
) -> None:
    async with browser(live_app) as client:
        await sign_in(client, emulator)
        assert (await client.get("/sites")).status_code == 200
        emulator.revoke_grant(emulator.users[0].account_id)

        answer = await client.get(f"/jira/{jira_site(emulator)}/myself")

    assert answer.status_code == 401
    assert error_code(answer) == "reauth_required"
    assert emulator.calls["refresh"] == 1
