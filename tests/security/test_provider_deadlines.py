"""A provider that trickles its answers cannot hold a request open: timeouts are deadlines.

``KAVACH_HTTP_TIMEOUT`` bounds each call to Atlassian as a whole: connecting, sending and every
read. Atlassian is played by :class:`~tests.security.slow_atlassian.TricklingAtlassian`, the
emulator on a loopback socket that sends the status line and headers at once and then the body a
byte every 0.2 s, so that no single read waits as long as the timeout (a trickled answer would
take over 200 s). Each request must end with the timeout error well within ten deadlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from kavach_fastapi.emulator import AtlassianEmulator
from tests.databases import TestDatabase
from tests.integration.token_harness import expire_access_token

from .conftest import approve, browser, build_app, error_code, running, sign_in, start_sign_in
from .jira_calls import jira_site
from .slow_atlassian import TricklingAtlassian

DEADLINE = 0.5
"""``KAVACH_HTTP_TIMEOUT`` of the app under attack, in seconds."""

ENOUGH = 10 * DEADLINE * 3
"""How long a request may take: three tries of one deadline each, with room to spare."""

TOKEN = "/oauth/token"
ME = "/me"
RESOURCES = "/oauth/token/accessible-resources"


@pytest.fixture
async def atlassian(emulator: AtlassianEmulator) -> AsyncIterator[TricklingAtlassian]:
    async with TricklingAtlassian(emulator) as served:
        yield served


@pytest.fixture
async def slow_app(
    database: Path, emulator: AtlassianEmulator, atlassian: TricklingAtlassian
) -> AsyncIterator[FastAPI]:
    app = build_app(
        database, emulator, atlassian_url=atlassian.url, http_timeout=DEADLINE, sites_cache_ttl=0
    )
    async with running(app):
        yield app


@pytest.mark.parametrize("path", [TOKEN, ME], ids=["token-exchange", "profile"])
async def test_a_trickled_answer_during_sign_in_ends_the_callback_within_the_deadline(
    slow_app: FastAPI, emulator: AtlassianEmulator, atlassian: TricklingAtlassian, path: str
) -> None:
    async with browser(slow_app) as client:
        callback = await approve(emulator, await start_sign_in(client))
        atlassian.trickled.add(path)

        finished = await asyncio.wait_for(client.get(callback), timeout=ENOUGH)

        assert finished.status_code == 303
        assert finished.headers["location"].endswith("?error=provider_unavailable")
        assert (await client.get("/me")).status_code == 401  # nobody was signed in


async def test_a_trickled_refresh_answers_503_within_the_deadlines(
    slow_app: FastAPI,
    emulator: AtlassianEmulator,
    atlassian: TricklingAtlassian,
    side_door: TestDatabase,
) -> None:
    async with browser(slow_app) as client:
        await sign_in(client, emulator)
        atlassian.trickled.add(TOKEN)
        expire_access_token(side_door)

        answer = await asyncio.wait_for(client.get("/sites"), timeout=ENOUGH)

    assert answer.status_code == 503, answer.text
    assert error_code(answer) == "provider_unavailable"
    assert emulator.calls["refresh"] == 3  # each try ended by the deadline, then retried


@pytest.mark.parametrize(
    "path", [RESOURCES, "/ex/jira/{site}/rest/api/3/myself"], ids=["sites", "product-api"]
)
async def test_a_trickled_api_answer_ends_the_request_within_the_deadlines(
    slow_app: FastAPI, emulator: AtlassianEmulator, atlassian: TricklingAtlassian, path: str
) -> None:
    site = jira_site(emulator)
    async with browser(slow_app) as client:
        await sign_in(client, emulator)
        if path != RESOURCES:
            assert (await client.get("/sites")).status_code == 200  # the cached list decides
        atlassian.trickled.add(path.format(site=site))

        answer = await asyncio.wait_for(client.get(f"/jira/{site}/myself"), timeout=ENOUGH)

    assert answer.status_code == 503, answer.text
    assert error_code(answer) == "provider_unavailable"
