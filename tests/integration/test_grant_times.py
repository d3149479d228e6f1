"""The account row dates its grant as Atlassian does: from the first consent of a live grant.

Signing in again while the grant lives joins it (its 365 days keep counting, at Atlassian as
here); signing in after Atlassian ended it starts a new one. Refreshes move ``updated_at``, the
start of the 90-day inactivity period, and never ``granted_at``. SQLite and PostgreSQL.
"""

from __future__ import annotations

from ..databases import TestDatabase, ago
from .token_harness import (
    expire_access_token,
    revoke_the_grant_that_worked,
    sign_in,
    signed_in,
    the_account,
    token_of,
    update_account,
)


async def test_a_first_sign_in_dates_the_grant_now(db: TestDatabase) -> None:
    async with signed_in(db):
        pass

    row = the_account(db)
    assert row["granted_at"] > ago(minutes=5)
    assert row["granted_at"] == row["created_at"]


async def test_signing_in_again_while_the_grant_lives_keeps_its_start(db: TestDatabase) -> None:
    async with signed_in(db) as (harness, client):
        started = ago(days=200)
        update_account(db, granted_at=started)

        await sign_in(client, harness.emu)

    assert the_account(db)["granted_at"] == started


async def test_a_refresh_moves_the_idle_clock_and_not_the_grant_start(db: TestDatabase) -> None:
    async with signed_in(db) as (harness, client):
        started = ago(days=200)
        update_account(db, granted_at=started, updated_at=ago(days=40))
        expire_access_token(db)

        await token_of(client)

    row = the_account(db)
    assert harness.emu.calls["refresh"] == 1
    assert row["granted_at"] == started
    assert row["updated_at"] > ago(minutes=5)


async def test_signing_in_after_atlassian_ended_the_grant_starts_a_new_one(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        update_account(db, granted_at=ago(days=200))
        await revoke_the_grant_that_worked(harness, client)
        assert (await client.get("/token")).status_code == 401

        await sign_in(client, harness.emu)

    assert the_account(db)["granted_at"] > ago(minutes=5)


async def test_disconnecting_keeps_the_grant_start_as_atlassian_keeps_the_grant(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        started = ago(days=100)
        update_account(db, granted_at=started)
        gone = await client.delete("/api/kavach/auth/oauth/accounts/atlassian")
        assert gone.status_code in (200, 204), gone.text

        await sign_in(client, harness.emu)

    assert the_account(db)["granted_at"] == started
