"""Short-lived tokens do not cause storms: one refresh per expiry, however short the lifetime.

With a token that lives less than ``KAVACH_TOKEN_REFRESH_LEEWAY`` (60 s by default), every token
would be "about to expire" the moment it is issued: each waiter that saw another worker refresh
would refresh again, and every later request too. The leeway never exceeds half of the token's
lifetime, and a waiter that sees the version move uses the new token unless it has really expired.

Atlassian is the emulator with a 3-second access-token lifetime.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from kavach_fastapi.emulator import AtlassianEmulator, Fault
from kavach_fastapi.tables import utcnow
from tests.databases import TestDatabase
from tests.integration.token_harness import (
    build_harness,
    from_now,
    running,
    sign_in,
    the_account,
    token_of,
    update_account,
)
from tests.integration.worker_server import served_workers, sign_in_over_http, storm

LIFETIME = timedelta(seconds=3)


def short_lived() -> AtlassianEmulator:
    return AtlassianEmulator(access_token_lifetime=LIFETIME, auto_consent=True)


async def test_a_short_lived_token_is_used_until_half_its_life_then_refreshed(
    db: TestDatabase,
) -> None:
    harness = build_harness(db, short_lived())
    async with running(harness.app) as client:
        await sign_in(client, harness.emu)
        # Issued a second ago, two seconds left: past the 60 s leeway, not past half its life.
        update_account(
            db, updated_at=from_now(seconds=-1), access_token_expires_at=from_now(seconds=2)
        )
        issued = await token_of(client)
        again = await token_of(client)
        assert harness.emu.calls["refresh"] == 0
        # Half a second left of three: inside half its life, so it is refreshed.
        update_account(
            db, updated_at=from_now(seconds=-2.5), access_token_expires_at=from_now(seconds=0.5)
        )
        refreshed = await token_of(client)

    assert issued == again
    assert refreshed != issued
    assert harness.emu.calls["refresh"] == 1


# Waiters in another instance using the new short-lived token without refreshing: see
# test_two_app_instances_on_one_database_refresh_once_and_share_the_result in
# tests/integration/test_tokens.py (parametrized with a three-second token).


WORKERS = 3
REQUESTS = 60
ROUNDS = 3


async def sleep_until_expired(db: TestDatabase) -> None:
    """Wait (really) until the stored access token has expired."""
    expires = the_account(db)["access_token_expires_at"]
    await asyncio.sleep(max(0.0, (expires - utcnow()).total_seconds()) + 0.1)


# SQLite only: the workers share one file, where the lease is taken under BEGIN IMMEDIATE.
async def test_sixty_requests_across_three_workers_refresh_a_three_second_token_once_per_expiry(
    side_door: TestDatabase, tmp_path: Path
) -> None:
    emu = short_lived()
    log = tmp_path / "uvicorn.log"
    with served_workers(emu, side_door.url, workers=WORKERS, log=log) as (app_url, _):
        session = await sign_in_over_http(app_url)
        rounds = []
        for _ in range(ROUNDS):
            await sleep_until_expired(side_door)
            # A slow answer keeps the refresh in flight while the other workers ask.
            emu.faults.add("refresh", Fault("latency", seconds=1.0, times=1))
            answers = await storm(app_url, session, REQUESTS)
            rounds.append((answers, emu.calls["refresh"]))

    for number, (answers, refreshes) in enumerate(rounds, start=1):
        assert [answer.status_code for answer in answers] == [200] * REQUESTS
        assert len({answer.json()["token"] for answer in answers}) == 1
        assert refreshes == number  # exactly one refresh per expiry
    # Some storm reached several processes, so the database lease did the deciding.
    assert max(len({answer.json()["pid"] for answer in answers}) for answers, _ in rounds) >= 2
