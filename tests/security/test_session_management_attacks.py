"""Attacks on session management: cross-site requests, other people's ids, hostile input.

Ending sessions changes state, so ``DELETE /auth/sessions`` and ``DELETE /auth/sessions/{id}``
judge where a request comes from exactly as ``POST /auth/sign-out`` does (one check), and a
refused request changes nothing. A session id names a session without being a credential: an
attacker who learns one can neither sign in with it nor end it, and cannot tell an existing
session of someone else's from an id that never existed.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator

from ..databases import TestDatabase
from .conftest import (
    ATTACKER_ADDRESS,
    BROWSER_ADDRESS,
    PREFIX,
    SESSION,
    SIGN_OUT,
    browser,
    error_code,
    session_cookie,
    sign_in,
    snapshot,
)
from .test_cross_site_requests import CROSS_SITE

SESSIONS = f"{PREFIX}/auth/sessions"

SAME_SITE = {
    "same-origin-page": {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    "origin-only": {"Origin": "http://testserver"},
    "typed-into-the-address-bar": {"Sec-Fetch-Site": "none"},
    # No Origin and no Sec-Fetch-Site, with the cookie: not a browser page (curl, a script
    # holding the cookie). Browsers send Origin with every DELETE a page makes.
    "no-origin-with-the-cookie": {},
}


async def signed_in_id(client: httpx2.AsyncClient, emulator: AtlassianEmulator) -> str:
    """Sign ``client`` in (as the first person); the public id of its new session."""
    await sign_in(client, emulator)
    response = await client.get(SESSIONS)
    assert response.status_code == 200, response.text
    (mine,) = [session for session in response.json() if session["current"]]
    return str(mine["id"])


@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
async def test_cross_site_requests_to_end_sessions_are_refused_and_change_nothing(
    live_app: FastAPI,
    victim: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
    headers: dict[str, str],
) -> None:
    async with browser(live_app) as other_device:
        other = await signed_in_id(other_device, emulator)
        mine = await signed_in_id(victim, emulator)
        before = snapshot(database)

        answers = [
            await victim.delete(SESSIONS, headers=headers),
            await victim.delete(f"{SESSIONS}/{other}", headers=headers),
            await victim.delete(f"{SESSIONS}/{mine}", headers=headers),
            await victim.delete(f"{SESSIONS}/{'0' * 32}", headers=headers),
        ]

        for response in answers:
            assert response.status_code == 403
            assert error_code(response) == "cross_site_request"
            assert "set-cookie" not in response.headers
        assert snapshot(database) == before
        assert (await other_device.get(SESSION)).status_code == 200
        assert (await victim.get(SESSION)).status_code == 200


@pytest.mark.parametrize(
    "headers", [*CROSS_SITE.values(), *SAME_SITE.values()], ids=[*CROSS_SITE, *SAME_SITE]
)
async def test_the_session_endpoints_judge_a_request_s_origin_exactly_as_sign_out_does(
    live_app: FastAPI, emulator: AtlassianEmulator, headers: dict[str, str]
) -> None:
    async with browser(live_app) as client:
        this = await signed_in_id(client, emulator)
        end_others = await client.delete(SESSIONS, headers=headers)
        end_this = await client.delete(f"{SESSIONS}/{this}", headers=headers)
        await sign_in(client, emulator)
        sign_out = await client.post(SIGN_OUT, headers=headers)

    assert end_others.status_code == end_this.status_code == sign_out.status_code
    assert sign_out.status_code in (200, 403)


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT"])
async def test_a_session_cannot_be_ended_by_another_method(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path, method: str
) -> None:
    """Not by GET above all: any ``<img>`` on any page could send one."""
    mine = await signed_in_id(victim, emulator)
    before = snapshot(database)

    response = await victim.request(method, f"{SESSIONS}/{mine}")

    assert response.status_code == 405
    assert snapshot(database) == before
    assert (await victim.get(SESSION)).status_code == 200


async def test_an_attacker_who_learns_a_session_id_can_neither_use_nor_end_it(
    live_app: FastAPI,
    victim: httpx2.AsyncClient,
    attacker: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
) -> None:
    victims = await signed_in_id(victim, emulator)
    await sign_in(attacker, emulator, user=emulator.users[1])
    before = snapshot(database)

    end_it = await attacker.delete(f"{SESSIONS}/{victims}")
    never_existed = await attacker.delete(f"{SESSIONS}/{'f' * 32}")
    end_all = await attacker.delete(SESSIONS)
    async with browser(live_app, address=ATTACKER_ADDRESS) as stranger:
        as_bearer = await stranger.get(SESSION, headers={"Authorization": f"Bearer {victims}"})

    assert end_it.status_code == never_existed.status_code == 404
    assert end_it.json() == never_existed.json()
    assert end_all.json() == {"ended": 0, "signed_out": False}
    assert as_bearer.status_code == 401
    assert snapshot(database) == before
    assert (await victim.get(SESSION)).status_code == 200


HOSTILE_IDS = [
    "0" * 31,
    "0" * 33,
    "A" * 32,
    "0" * 10_000,
    "%2e%2e",
    "..%2F..%2Fsign-out",
    "' OR '1'='1",
    "%00" * 32,
    "%C3%A9" * 16,
]


@pytest.mark.parametrize("session_id", HOSTILE_IDS)
async def test_a_hostile_session_id_is_404_not_500_and_ends_nothing(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path, session_id: str
) -> None:
    await sign_in(victim, emulator)
    before = snapshot(database)

    response = await victim.delete(f"{SESSIONS}/{session_id}")

    assert response.status_code in (404, 405), response.text
    assert snapshot(database) == before
    assert (await victim.get(SESSION)).status_code == 200


async def test_the_client_address_is_stored_only_as_its_network(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, side_door: TestDatabase
) -> None:
    await sign_in(victim, emulator)
    token = session_cookie(victim)
    assert token is not None

    at_rest = side_door.raw_bytes()

    (row,) = side_door.records("kavach_sessions")
    assert row["network"] == "198.51.100.0/24"
    assert BROWSER_ADDRESS[0].encode() not in at_rest
    assert token.encode() not in at_rest
    assert hash_token(token) != row["public_id"]


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 " + "A" * 10_000,
        "Evil\tAgent\x7f\x01 with\x1b[31m escapes",
        "Caf\xe9 \u2615 Browser",
        "\t  \x7f  ",
    ],
    ids=["huge", "control-characters", "not-ascii", "only-whitespace"],
)
async def test_a_hostile_user_agent_is_stored_trimmed_to_printable_text(
    live_app: FastAPI,
    emulator: AtlassianEmulator,
    side_door: TestDatabase,
    user_agent: str,
) -> None:
    async with browser(live_app) as client:
        client.headers["User-Agent"] = user_agent
        await sign_in(client, emulator)
        listed = (await client.get(SESSIONS)).json()

    (row,) = side_door.records("kavach_sessions")
    stored = row["user_agent"]
    assert listed[0]["user_agent"] == stored
    assert stored is None or (
        len(stored) <= 200
        and stored.isascii()
        and stored.isprintable()
        and stored.strip() == stored
    )
    assert stored != user_agent
