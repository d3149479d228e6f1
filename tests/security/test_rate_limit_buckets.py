"""Who shares a rate-limit bucket, who is exempt, and what a refused request leaves behind.

The limit must slow a flooding client without locking anyone else out:

* a request without a client address (``uvicorn --uds``, or a server that reports none) is not
  counted at all, rather than in one bucket that every such visitor would share, and the
  operator is told once how to make the server report addresses;
* a request to an unknown provider is refused (404) before it is counted;
* a callback that carries a pending sign-in of the browser that started it is never refused, so
  a person coming back from the consent page gets in even when their address is over the limit;
* an IPv6 address counts for its ``/64`` (what one subscriber holds), an IPv4-mapped IPv6
  address as its IPv4 address;
* a refused request writes nothing: no counter moves, no attempt is stored.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.runtime import Kavach
from kavach_fastapi.signin import ATTEMPT_LIFETIME
from kavach_fastapi.tables import utcnow
from tests.integration.conftest import count_rows
from tests.support.browser import AUTHORIZE, CALLBACK, PREFIX, session_cookie, start_sign_in

from .conftest import (
    BROWSER_ADDRESS,
    SESSION,
    TABLES,
    approve,
    browser,
    build_app,
    error_code,
    running,
    snapshot,
)
from .test_rate_limits import ATTEMPTS, COUNTERS, assert_limited, in_one_window

EVERY_TABLE = (*TABLES, ATTEMPTS, COUNTERS)
FORGED_STATE = {"state": "F" * 43, "code": "forged"}


def without_client_address(app: FastAPI) -> ASGIApp:
    """The app as a server that reports no client address serves it (``uvicorn --uds``)."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "client": None}, receive, send)

    return served


def counter_keys(database: Path) -> dict[str, int]:
    """Each rate-limit key with its count (summed over windows)."""
    rows = snapshot(database, (COUNTERS,))[COUNTERS]
    keys: dict[str, int] = {}
    for key, _window, count in rows:
        keys[key] = keys.get(key, 0) + count
    return keys


async def test_a_client_with_no_address_cannot_lock_others_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "kavach.db"
    app = build_app(database, AtlassianEmulator(), rate_limit=2)
    served = without_client_address(app)
    caplog.set_level(logging.WARNING, logger="kavach_fastapi")
    async with running(app), browser(served) as flooding, browser(served) as visitor:
        flood = []
        for _ in range(10):
            flooding.cookies.clear()
            flood.append((await flooding.get(AUTHORIZE)).status_code)
            flood.append((await flooding.get(CALLBACK, params=FORGED_STATE)).status_code)

        started = await visitor.get(AUTHORIZE)
        forged = await visitor.get(CALLBACK, params=FORGED_STATE)

    assert set(flood) == {302, 303}, "nothing was refused as rate-limited"
    assert started.status_code == 302
    assert forged.headers["location"] == "/?error=invalid_state"
    assert count_rows(database, COUNTERS) == 0, "no shared bucket was made"
    warnings = [r for r in caplog.records if "--forwarded-allow-ips" in r.getMessage()]
    assert len(warnings) == 1, "the operator is told once, not once per request"
    assert warnings[0].levelno == logging.WARNING


async def test_a_request_to_an_unknown_provider_is_refused_before_it_is_counted(
    tmp_path: Path,
) -> None:
    async def scenario(database: Path) -> None:
        app = build_app(database, AtlassianEmulator(), rate_limit=2)
        async with running(app), browser(app) as client:
            unknown = [
                await client.get(f"{PREFIX}/auth/oauth/{endpoint}/nope", params=params)
                for endpoint, params in [("authorize", {}), ("callback", FORGED_STATE)] * 5
            ]
            counted = count_rows(database, COUNTERS)
            statuses = [(await client.get(AUTHORIZE)).status_code for _ in range(3)]

        assert {response.status_code for response in unknown} == {404}
        assert {error_code(response) for response in unknown} == {"unknown_provider"}
        assert counted == 0
        assert statuses == [302, 302, 429]

    await in_one_window(tmp_path, scenario)


async def test_a_person_returning_from_consent_is_let_in_even_when_their_address_is_over_the_limit(
    tmp_path: Path,
) -> None:
    """A neighbour behind the same NAT address floods the sign-in; the person still gets in."""

    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        app = build_app(database, emulator, rate_limit=2)
        async with running(app), browser(app) as person, browser(app) as neighbour:
            consent = await start_sign_in(person, redirect_to="/welcome")
            assert (await neighbour.get(AUTHORIZE)).status_code == 302
            assert_limited(await neighbour.get(AUTHORIZE))
            assert_limited(await neighbour.get(CALLBACK, params=FORGED_STATE))

            finished = await person.get(await approve(emulator, consent))

            assert finished.status_code == 303
            assert finished.headers["location"] == "/welcome"
            assert session_cookie(person) is not None
            assert (await person.get(SESSION)).status_code == 200
            assert_limited(await person.get(AUTHORIZE))

    await in_one_window(tmp_path, scenario)


async def test_only_a_live_attempt_of_the_same_browser_and_provider_counts_as_pending(
    live_app: FastAPI, victim: httpx2.AsyncClient
) -> None:
    kavach: Kavach = live_app.state.kavach
    consent = await start_sign_in(victim)
    state, binding, now = hash_token(consent.state), hash_token(consent.binding), utcnow()

    async def pending(state_hash: str, browser_hash: str, provider: str, at: datetime) -> bool:
        return await kavach.store.attempts.has_pending_attempt(
            state_hash, browser_hash, provider=provider, now=at
        )

    assert await pending(state, binding, "atlassian", now)
    assert not await pending(state, hash_token("another browser's binding"), "atlassian", now)
    assert not await pending(hash_token("another state"), binding, "atlassian", now)
    assert not await pending(state, binding, "another-provider", now)
    later = now + ATTEMPT_LIFETIME + timedelta(seconds=1)
    assert not await pending(state, binding, "atlassian", later)


async def test_ipv6_addresses_count_per_64(tmp_path: Path) -> None:
    """Two addresses in one /64 share a bucket; one in another /64 has a bucket of its own."""

    async def scenario(database: Path) -> None:
        app = build_app(database, AtlassianEmulator(), rate_limit=2)
        async with (
            running(app),
            browser(app, address=("2001:db8:1:2::1", 50000)) as first,
            browser(app, address=("2001:db8:1:2:ffff:ffff:ffff:fffe", 50000)) as same_64,
            browser(app, address=("2001:db8:1:3::1", 50000)) as next_64,
        ):
            statuses = [
                (await client.get(AUTHORIZE)).status_code
                for client in (first, same_64, same_64, first, next_64)
            ]

        assert statuses == [302, 302, 429, 429, 302]
        assert counter_keys(database) == {"2001:db8:1:2::/64": 2, "2001:db8:1:3::/64": 1}

    await in_one_window(tmp_path, scenario)


async def test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        app = build_app(database, AtlassianEmulator(), rate_limit=2)
        ipv4 = BROWSER_ADDRESS[0]
        async with (
            running(app),
            browser(app, address=(ipv4, 50000)) as plain,
            browser(app, address=(f"::ffff:{ipv4}", 50000)) as mapped,
        ):
            statuses = [
                (await client.get(AUTHORIZE)).status_code for client in (plain, mapped, mapped)
            ]

        assert statuses == [302, 302, 429]
        assert counter_keys(database) == {ipv4: 2}

    await in_one_window(tmp_path, scenario)


async def test_a_refused_request_leaves_the_database_unchanged(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        app = build_app(database, emulator, rate_limit=1)
        async with running(app), browser(app) as client, browser(app) as other_browser:
            callback = await approve(emulator, await start_sign_in(client))
            before = snapshot(database, EVERY_TABLE)

            refused = [
                await client.get(AUTHORIZE, params={"redirect_to": "/elsewhere"}),
                await other_browser.get(AUTHORIZE),
                await client.get(CALLBACK, params=FORGED_STATE),
                await other_browser.get(callback),
            ]

            for response in refused:
                assert_limited(response)
                assert "set-cookie" not in response.headers
            assert snapshot(database, EVERY_TABLE) == before
            assert emulator.calls["token"] == 0

    await in_one_window(tmp_path, scenario)
