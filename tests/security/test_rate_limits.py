"""Flooding the sign-in endpoints: the rate limit and the cap on pending attempts.

* ``KAVACH_RATE_LIMIT`` (30 by default) sign-in starts and callbacks per minute per client
  address, counted in the database so that every worker and app instance shares the count; over
  it, 429 with ``Retry-After``. The address is the one the ASGI server reports: a client cannot
  pick its own with ``X-Forwarded-For``, and behind a proxy the server's ``--forwarded-allow-ips``
  decides. ``0`` turns it off.
* A browser keeps at most 5 pending sign-ins; a sixth drops the oldest, so one browser cannot
  fill the attempts table, and a client that drops its cookie each time runs into the rate limit.

The limiter's windows are wall-clock minutes; ``in_one_window`` runs a scenario again, on a new
database, in the rare case that a minute ended half-way through it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from fastapi import FastAPI

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.ratelimit import WINDOW_SECONDS
from tests.integration.conftest import count_rows

from .conftest import (
    ATTACKER_ADDRESS,
    AUTHORIZE,
    BROWSER_ADDRESS,
    CALLBACK,
    approve,
    behind_proxy,
    browser,
    build_app,
    error_code,
    running,
    session_cookie,
    snapshot,
    start_sign_in,
)

ATTEMPTS = "kavach_sign_in_attempts"
COUNTERS = "kavach_rate_limits"


async def in_one_window(tmp_path: Path, scenario: Callable[[Path], Awaitable[None]]) -> None:
    """Run ``scenario`` on a fresh database; again once if a minute ended while it ran."""
    for attempt in range(2):
        window = int(time.time() // WINDOW_SECONDS)
        try:
            await scenario(tmp_path / f"window-{attempt}.db")
        except AssertionError:
            if attempt == 1 or int(time.time() // WINDOW_SECONDS) == window:
                raise
            continue
        return


def assert_limited(response: httpx2.Response) -> None:
    assert response.status_code == 429, response.text
    assert error_code(response) == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW_SECONDS + 1
    assert response.headers["cache-control"] == "no-store"


@asynccontextmanager
async def attacker_on_a_fresh_app(
    database: Path, *, rate_limit: int
) -> AsyncIterator[httpx2.AsyncClient]:
    """A running app on ``database`` with ``rate_limit``, and the attacker's browser at it."""
    app = build_app(database, AtlassianEmulator(), rate_limit=rate_limit)
    async with running(app), browser(app, address=ATTACKER_ADDRESS) as client:
        yield client


async def test_sign_in_starts_over_the_limit_answer_429_with_retry_after(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        app = build_app(database, emulator, rate_limit=5)
        async with running(app), browser(app) as client:
            for _ in range(5):
                client.cookies.clear()
                assert (await client.get(AUTHORIZE)).status_code == 302
            pending = count_rows(database, ATTEMPTS)

            client.cookies.clear()
            refused = await client.get(AUTHORIZE)

        assert_limited(refused)
        assert "set-cookie" not in refused.headers
        assert count_rows(database, ATTEMPTS) == pending == 5

    await in_one_window(tmp_path, scenario)


async def test_the_default_limit_is_30_a_minute(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        app = build_app(database, emulator, rate_limit=None)
        async with running(app), browser(app) as client:
            statuses = [(await client.get(AUTHORIZE)).status_code for _ in range(30)]
            refused = await client.get(AUTHORIZE)

        assert statuses == [302] * 30
        assert_limited(refused)

    await in_one_window(tmp_path, scenario)


async def test_callbacks_without_a_pending_attempt_of_the_browser_count_toward_the_limit(
    tmp_path: Path,
) -> None:
    """Forged callbacks, and a real one opened in another browser behind the same address, count.

    (The callback of the browser that started the sign-in is exempt: see
    ``test_rate_limit_buckets.py``.)
    """

    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        app = build_app(database, emulator, rate_limit=3)
        async with running(app), browser(app) as client, browser(app) as other_browser:
            consent = await start_sign_in(client)
            callback = await approve(emulator, consent)
            for _ in range(2):
                bogus = await client.get(CALLBACK, params={"state": "B" * 43, "code": "x"})
                assert bogus.headers["location"] == "/?error=invalid_state"
            before = snapshot(database)

            refused = await other_browser.get(callback)

            assert_limited(refused)
            assert session_cookie(other_browser) is None
            assert snapshot(database) == before
            assert count_rows(database, ATTEMPTS) == 1, "the refused callback consumed nothing"
            assert emulator.calls["token"] == 0

    await in_one_window(tmp_path, scenario)


async def test_the_limit_is_per_client_address(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        app = build_app(database, emulator, rate_limit=2)
        async with (
            running(app),
            browser(app, address=ATTACKER_ADDRESS) as flooding,
            browser(app, address=BROWSER_ADDRESS) as bystander,
        ):
            for _ in range(2):
                assert (await flooding.get(AUTHORIZE)).status_code == 302
            assert_limited(await flooding.get(AUTHORIZE))

            assert (await bystander.get(AUTHORIZE)).status_code == 302

    await in_one_window(tmp_path, scenario)


async def test_x_forwarded_for_cannot_dodge_the_limit(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        async with attacker_on_a_fresh_app(database, rate_limit=2) as client:
            statuses = []
            for n in range(4):
                spoofed = {
                    "X-Forwarded-For": f"192.0.2.{n}",
                    "X-Real-IP": f"192.0.2.{n}",
                    "Forwarded": f"for=192.0.2.{n}",
                    "True-Client-IP": f"192.0.2.{n}",
                }
                statuses.append((await client.get(AUTHORIZE, headers=spoofed)).status_code)

        assert statuses == [302, 302, 429, 429]
        with sqlite3.connect(database) as connection:
            keys = {key for (key,) in connection.execute(f"SELECT key FROM {COUNTERS}")}  # noqa: S608
        assert keys == {ATTACKER_ADDRESS[0]}

    await in_one_window(tmp_path, scenario)


async def test_behind_a_trusted_proxy_the_limit_counts_each_real_client(tmp_path: Path) -> None:
    """With uvicorn's ``--forwarded-allow-ips`` (its ProxyHeadersMiddleware), as SECURITY.md says."""

    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        app = build_app(database, emulator, rate_limit=2)
        served = behind_proxy(app, "10.0.0.1")
        async with running(app), browser(served, address=("10.0.0.1", 41000)) as proxy:
            first = [
                (await proxy.get(AUTHORIZE, headers={"X-Forwarded-For": "198.51.100.1"}))
                for _ in range(3)
            ]
            second = await proxy.get(AUTHORIZE, headers={"X-Forwarded-For": "198.51.100.2"})

        assert [response.status_code for response in first] == [302, 302, 429]
        assert second.status_code == 302

    await in_one_window(tmp_path, scenario)


async def test_the_limit_is_shared_by_two_app_instances_on_one_database(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        emulator = AtlassianEmulator()
        one = build_app(database, emulator, rate_limit=4)
        two = build_app(database, emulator, rate_limit=4)
        async with (
            running(one),
            running(two),
            browser(one) as on_one,
            browser(two) as on_two,
        ):
            statuses = []
            for client in (on_one, on_two, on_one, on_two, on_one, on_two):
                client.cookies.clear()
                statuses.append((await client.get(AUTHORIZE)).status_code)

        assert statuses == [302, 302, 302, 302, 429, 429]

    await in_one_window(tmp_path, scenario)


async def test_a_rate_limit_of_zero_turns_it_off(tmp_path: Path) -> None:
    database = tmp_path / "kavach.db"
    emulator = AtlassianEmulator()
    app = build_app(database, emulator, rate_limit=0)
    async with running(app), browser(app) as client:
        statuses = {(await client.get(AUTHORIZE)).status_code for _ in range(40)}
        statuses |= {
            (await client.get(CALLBACK, params={"state": "C" * 43})).status_code for _ in range(10)
        }

    assert statuses == {302, 303}
    assert count_rows(database, COUNTERS) == 0


def pending_states(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {state for (state,) in connection.execute(f"SELECT state_hash FROM {ATTEMPTS}")}  # noqa: S608


async def test_a_browser_keeps_at_most_five_pending_sign_ins(
    live_app: FastAPI, victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    consents = [await start_sign_in(victim, redirect_to=f"/tab/{n}") for n in range(6)]

    assert pending_states(database) == {hash_token(c.state) for c in consents[1:]}
    assert len({c.binding for c in consents}) == 1, "one browser, one binding"
    oldest = await victim.get(await approve(emulator, consents[0]))
    assert oldest.headers["location"] == "/?error=invalid_state", "the dropped attempt is gone"
    newest = await victim.get(await approve(emulator, consents[5]))
    assert newest.headers["location"] == "/tab/5"


async def test_the_attempts_table_cannot_be_flooded_by_one_browser(
    live_app: FastAPI, victim: httpx2.AsyncClient, database: Path
) -> None:
    for _ in range(50):
        await start_sign_in(victim)

    assert count_rows(database, ATTEMPTS) == 5


async def test_a_client_dropping_its_cookie_runs_into_the_rate_limit(tmp_path: Path) -> None:
    async def scenario(database: Path) -> None:
        async with attacker_on_a_fresh_app(database, rate_limit=10) as client:
            statuses = []
            for _ in range(25):
                client.cookies.clear()
                statuses.append((await client.get(AUTHORIZE)).status_code)

        assert statuses == [302] * 10 + [429] * 15
        assert count_rows(database, ATTEMPTS) == 10

    await in_one_window(tmp_path, scenario)
