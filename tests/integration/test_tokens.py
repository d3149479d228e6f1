"""Provider tokens against the emulator: refreshed once, rotated safely, never lost or leaked.

Every test signs in through the emulator's consent page, then ages the stored access token in
the database (or moves the emulator's clock) and asks a route that depends on
``AtlassianToken`` for a token. The emulator counts the refreshes it saw. Every test runs on
SQLite and on PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx2
import pytest

from kavach_fastapi.crypto import Keyring
from kavach_fastapi.emulator import AtlassianEmulator, Fault
from kavach_fastapi.retry import SHORT_WRITE

from ..databases import TestDatabase
from ..emulator.flow import flow_for
from ..support.transports import UndecodableAnswers
from .conftest import SECRET
from .token_harness import (
    OTHER_SECRET,
    REAUTH_URL,
    SESSION,
    Harness,
    RecordingTransport,
    accepted_by_atlassian,
    accounts,
    ada_and_grace_signed_in,
    another_client,
    build_harness,
    emulator_tokens,
    expire_access_token,
    from_now,
    leave_a_dead_workers_lease,
    live_refresh_tokens,
    refreshed_tokens_fail_to_save,
    revoke_the_grant_that_worked,
    running,
    sign_in,
    signed_in,
    the_account,
    token_of,
    two_instances_ask_at_once,
    update_account,
)

TOKEN_PATH = "/oauth/token"


def refreshes_meet(emu: AtlassianEmulator, db: TestDatabase, fault: Fault) -> None:
    """Atlassian answers refreshes with ``fault``, and the stored access token has expired."""
    emu.faults.add("refresh", fault)
    expire_access_token(db)


def refresh_answers(transport: RecordingTransport) -> list[int]:
    """Statuses of the token calls after the sign-in's code exchange."""
    return [item.status for item in transport.seen if item.path == TOKEN_PATH][1:]


@asynccontextmanager
async def signed_in_with_a_refresh_token(
    db: TestDatabase,
) -> AsyncIterator[tuple[AtlassianEmulator, httpx2.AsyncClient, str]]:
    """A person signed in (``signed_in(db)``): the emulator, the browser, and the one live
    refresh token Atlassian issued them."""
    async with signed_in(db) as (harness, client):
        (refresh_token,) = live_refresh_tokens(harness.emu)
        yield harness.emu, client, refresh_token


async def a_lease_is_taken(db: TestDatabase) -> None:
    """Wait until a refresher holds the account's lease (its refresh is under way)."""
    for _ in range(500):
        if the_account(db)["refresh_lease_owner"] is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no refresh started")


def assert_reauth_required(response: httpx2.Response) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "reauth_required"
    assert error["reauth_url"] == REAUTH_URL


# Refreshing once


async def test_a_fresh_token_is_served_without_calling_atlassian(db: TestDatabase) -> None:
    async with signed_in(db) as (harness, client):
        before = the_account(db)

        first = await token_of(client)
        second = await token_of(client)

    assert first == second
    assert accepted_by_atlassian(harness.emu, first)
    assert harness.emu.calls["refresh"] == 0
    assert the_account(db) == before


async def test_fifty_concurrent_requests_with_an_expired_token_refresh_exactly_once(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        old = await token_of(client)
        expire_access_token(db)
        version = the_account(db)["token_version"]

        responses = await asyncio.gather(*(client.get("/token") for _ in range(50)))

    assert [response.status_code for response in responses] == [200] * 50
    tokens = {response.json()["token"] for response in responses}
    assert len(tokens) == 1
    (new,) = tokens
    assert new != old
    assert harness.emu.calls["refresh"] == 1
    assert accepted_by_atlassian(harness.emu, new)
    # Atlassian lets the replaced token live for a ten-minute grace, then retires it.
    assert accepted_by_atlassian(harness.emu, old)
    harness.emu.clock.advance(timedelta(minutes=10))
    assert not accepted_by_atlassian(harness.emu, old)
    row = the_account(db)
    assert row["token_version"] == version + 1
    assert row["refresh_lease_owner"] is None
    assert row["refresh_lease_until"] is None
    assert not row["needs_reauth"]


# A token that lives less than the 60 s refresh leeway would otherwise look "about to expire"
# the moment it is issued, and every waiter would refresh again.
@pytest.mark.parametrize(
    "lifetime",
    [timedelta(hours=1), timedelta(seconds=3)],
    ids=["an-hour-token", "a-three-second-token"],
)
async def test_two_app_instances_on_one_database_refresh_once_and_share_the_result(
    db: TestDatabase, lifetime: timedelta
) -> None:
    emu = AtlassianEmulator(access_token_lifetime=lifetime, auto_consent=True)
    answers = await two_instances_ask_at_once(db, emu, requests_each=15)

    assert [answer.status_code for answer in answers] == [200] * 30
    assert len({answer.json()["token"] for answer in answers}) == 1
    assert emu.calls["refresh"] == 1


async def test_a_token_within_the_refresh_leeway_is_refreshed_before_it_expires(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        old = await token_of(client)
        # An hour-long token issued 59.5 minutes ago: 30 seconds left, inside the leeway.
        update_account(
            db, updated_at=from_now(minutes=-59.5), access_token_expires_at=from_now(seconds=30)
        )

        new = await token_of(client)

    assert new != old
    assert harness.emu.calls["refresh"] == 1


# Rotation and dead grants


async def test_a_rotated_answer_without_refresh_token_keeps_the_old_refresh_token(
    db: TestDatabase,
) -> None:
    async with signed_in_with_a_refresh_token(db) as (emu, client, original):
        before = the_account(db)
        refreshes_meet(emu, db, Fault("no_refresh_token", times=1))

        without = await token_of(client)

        after = the_account(db)
        assert after["refresh_token"] == before["refresh_token"]  # kept, not overwritten
        assert after["access_token"] != before["access_token"]
        assert emu.last_request["refresh"].form["refresh_token"] == original

        # The kept refresh token still works, and this time Atlassian rotates it.
        expire_access_token(db)
        rotated = await token_of(client)

    assert emu.calls["refresh"] == 2
    assert emu.last_request["refresh"].form["refresh_token"] == original
    assert rotated != without
    assert accepted_by_atlassian(emu, rotated)
    assert the_account(db)["refresh_token"] != before["refresh_token"]
    assert live_refresh_tokens(emu) != [original]


async def test_reusing_a_retired_refresh_token_after_the_interval_requires_consent_again(
    db: TestDatabase,
) -> None:
    async with signed_in_with_a_refresh_token(db) as (emu, client, retired):
        stale_column = the_account(db)["refresh_token"]
        expire_access_token(db)
        await token_of(client)  # rotates: the stored refresh token is now a new one
        # As if that write had been lost: the database holds the retired token again.
        update_account(db, refresh_token=stale_column)
        emu.clock.advance(timedelta(minutes=11))
        expire_access_token(db)
        before = the_account(db)

        first = await client.get("/token")
        second = await client.get("/token")
        session = await client.get(SESSION)
        sites = await client.get("/sites")

    assert_reauth_required(first)
    assert_reauth_required(second)
    assert_reauth_required(sites)
    assert emu.last_request["refresh"].form["refresh_token"] == retired
    assert emu.calls["refresh"] == 2  # the rotation, then the one reuse; never retried
    assert emu.calls["accessible_resources"] == 0
    assert session.status_code == 200  # still signed in to the app
    after = the_account(db)
    assert after["needs_reauth"]
    assert after["refresh_lease_owner"] is None
    # Nothing was thrown away: consenting again replaces the tokens.
    assert after["refresh_token"] == before["refresh_token"]
    assert after["access_token"] == before["access_token"]


async def test_a_grant_revoked_at_atlassian_requires_consent_and_signing_in_again_heals_it(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        emu = harness.emu
        await revoke_the_grant_that_worked(harness, client)

        refused = await client.get("/token")
        assert_reauth_required(refused)
        assert the_account(db)["needs_reauth"]

        await sign_in(client, emu)
        healed = await token_of(client)

    assert accepted_by_atlassian(emu, healed)
    assert not the_account(db)["needs_reauth"]
    assert emu.calls["refresh"] == 1


# Transient failures


async def test_a_rate_limited_refresh_is_retried_after_retry_after_then_succeeds(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        refreshes_meet(harness.emu, db, Fault("rate_limit", retry_after=1, times=1))

        token = await token_of(client)

    assert refresh_answers(harness.transport) == [429, 200]
    limited, succeeded = harness.transport.times(TOKEN_PATH)[1:]
    assert succeeded - limited >= 0.95  # Retry-After: 1 was honoured
    assert accepted_by_atlassian(harness.emu, token)


async def test_refresh_5xx_answers_are_retried_with_backoff_then_succeed(db: TestDatabase) -> None:
    async with signed_in(db) as (harness, client):
        refreshes_meet(harness.emu, db, Fault("status", status=502, times=2))

        token = await token_of(client)

    assert refresh_answers(harness.transport) == [502, 502, 200]
    first, second, third = harness.transport.times(TOKEN_PATH)[1:]
    # Atlassian gave no Retry-After: the pauses back off (0.2 s, then 0.4 s).
    assert second - first >= 0.15
    assert third - second >= 0.35
    assert harness.emu.calls["refresh"] == 3
    assert accepted_by_atlassian(harness.emu, token)


async def test_a_malformed_refresh_answer_is_retried_and_nothing_half_written(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        refreshes_meet(harness.emu, db, Fault("malformed_json", times=1))
        version = the_account(db)["token_version"]

        token = await token_of(client)

    assert harness.emu.calls["refresh"] == 2
    assert accepted_by_atlassian(harness.emu, token)
    assert the_account(db)["token_version"] == version + 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=503, retry_after=0),
        Fault("status", status=500),
        Fault("rate_limit", retry_after=0),
    ],
    ids=["503", "500-without-retry-after", "429"],
)
async def test_persistent_refresh_failure_answers_503_with_retry_after_and_keeps_the_tokens(
    db: TestDatabase, fault: Fault
) -> None:
    async with signed_in_with_a_refresh_token(db) as (emu, client, kept):
        refreshes_meet(emu, db, fault)
        before = the_account(db)

        failed = await client.get("/token")

        after = the_account(db)
        emu.faults.clear()
        recovered = await token_of(client)

    assert failed.status_code == 503, failed.text
    assert failed.json()["error"]["code"] == "provider_unavailable"
    assert int(failed.headers["retry-after"]) >= 1
    assert emu.calls["refresh"] == 3 + 1  # three tries, then the one after recovery
    assert after == before  # not a byte of the tokens changed, and the lease is free
    assert after["refresh_lease_owner"] is None
    assert emu.last_request["refresh"].form["refresh_token"] == kept
    assert accepted_by_atlassian(emu, recovered)


async def test_a_refresh_refused_for_the_apps_credentials_answers_502_and_keeps_the_grant(
    db: TestDatabase,
) -> None:
    async with signed_in_with_a_refresh_token(db) as (emu, client, kept):
        # The client secret was rotated in the developer console; the app still has the old one.
        (registered,) = emu.clients.values()
        the_apps_secret, registered.client_secret = registered.client_secret, "rotated-secret"
        expire_access_token(db)
        before = the_account(db)

        refused = await client.get("/token")

        after = the_account(db)
        registered.client_secret = the_apps_secret  # the settings are put right
        recovered = await token_of(client)

    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "refresh_refused"
    assert emu.calls["refresh"] == 1 + 1  # never retried: it would be refused the same way
    assert after == before  # the grant is not marked dead, the tokens are kept, no lease held
    assert not after["needs_reauth"]
    assert emu.last_request["refresh"].form["refresh_token"] == kept
    assert accepted_by_atlassian(emu, recovered)


async def test_an_undecodable_refresh_answer_answers_503_and_keeps_the_old_tokens_alive(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        (kept,) = live_refresh_tokens(harness.emu)
        # Atlassian rotates on every try, but no answer can be read: the new tokens are lost.
        garbled = UndecodableAnswers(harness.transport.inner, TOKEN_PATH)
        harness.transport.inner = garbled
        expire_access_token(db)
        before = the_account(db)

        failed = await client.get("/token")

        after = the_account(db)
        garbled.armed = False
        recovered = await token_of(client)

    assert failed.status_code == 503, failed.text
    assert failed.json()["error"]["code"] == "provider_unavailable"
    assert int(failed.headers["retry-after"]) >= 1
    assert harness.emu.calls["refresh"] == 3 + 1  # three tries, then the one after recovery
    assert after == before  # the old tokens are kept, the grant is not marked dead
    assert not after["needs_reauth"]
    # The retired refresh token still works within Atlassian's reuse interval.
    assert harness.emu.last_request["refresh"].form["refresh_token"] == kept
    assert accepted_by_atlassian(harness.emu, recovered)
    assert not the_account(db)["needs_reauth"]


async def test_a_retry_after_beyond_the_budget_is_passed_to_the_client_at_once(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        refreshes_meet(harness.emu, db, Fault("rate_limit", retry_after=120))

        failed = await client.get("/token")

    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "120"
    assert harness.emu.calls["refresh"] == 1


async def test_concurrent_requests_share_one_retry_budget_when_atlassian_stays_down(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        # Retry-After: 1 makes the three tries last two seconds, so every request arrives
        # while they run (one arriving after a failed refresh may start a refresh of its own:
        # Atlassian may be back, as test_persistent_refresh_failure... shows).
        refreshes_meet(harness.emu, db, Fault("status", status=503, retry_after=1))

        answers = await asyncio.gather(*(client.get("/token") for _ in range(20)))

    assert [answer.status_code for answer in answers] == [503] * 20
    assert harness.emu.calls["refresh"] == 3  # one refresh's tries, not twenty
    assert the_account(db)["refresh_lease_owner"] is None


async def test_concurrent_requests_meeting_a_dead_grant_ask_atlassian_once(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        await revoke_the_grant_that_worked(harness, client)

        answers = await asyncio.gather(*(client.get("/token") for _ in range(20)))

    for answer in answers:
        assert_reauth_required(answer)
    assert harness.emu.calls["refresh"] == 1


async def test_an_account_without_refresh_token_requires_consent_without_asking_atlassian(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        await token_of(client)  # a working token first (token_of checks the 200)
        update_account(db, refresh_token=None)
        expire_access_token(db)

        refused = await client.get("/token")

    assert_reauth_required(refused)
    assert harness.emu.calls["refresh"] == 0
    assert the_account(db)["needs_reauth"]


async def test_a_refresh_that_times_out_is_retried_and_the_lost_rotation_does_no_harm(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    with emu.serve() as url:
        async with httpx2.AsyncHTTPTransport(trust_env=False) as network:
            harness = build_harness(db, emu, served_at=(url, network), http_timeout=0.3)
            async with running(harness.app) as client:
                await sign_in(client, emu)
                (sent,) = live_refresh_tokens(emu)
                # Atlassian rotates, but its answer comes after the app stopped waiting.
                refreshes_meet(emu, db, Fault("latency", seconds=1.0, times=1))

                token = await token_of(client)
                assert emu.last_request["refresh"].form["refresh_token"] == sent
                expire_access_token(db)
                later = await token_of(client)

    assert accepted_by_atlassian(emu, later)
    assert token != later
    assert emu.calls["refresh"] == 3  # the lost one, its retry, and the later refresh
    assert not the_account(db)["needs_reauth"]


# A refresher that died


async def test_an_expired_lease_left_by_a_dead_worker_is_taken_over(db: TestDatabase) -> None:
    async with signed_in(db) as (harness, client):
        leave_a_dead_workers_lease(db)

        token = await token_of(client)

    assert harness.emu.calls["refresh"] == 1
    assert accepted_by_atlassian(harness.emu, token)
    row = the_account(db)
    assert row["refresh_lease_owner"] is None
    assert row["refresh_lease_until"] is None


async def test_a_worker_killed_after_atlassian_rotated_is_recovered_within_the_reuse_interval(
    db: TestDatabase,
) -> None:
    async with signed_in_with_a_refresh_token(db) as (emu, client, stored):
        # The dead worker's refresh reached Atlassian (which rotated the token), but it died
        # before writing the answer, and its lease has run out.
        async with flow_for(emu) as atlassian:
            lost = await atlassian.refresh(stored)
        assert lost.status_code == 200
        leave_a_dead_workers_lease(db)

        token = await token_of(client)

    assert emu.calls["refresh"] == 2
    assert emu.last_request["refresh"].form["refresh_token"] == stored
    assert accepted_by_atlassian(emu, token)
    assert not the_account(db)["needs_reauth"]


async def test_a_live_lease_makes_requests_wait_then_take_over_when_it_expires(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        update_account(
            db,
            refresh_lease_owner="stuck-host:4242:alive",
            # Long enough that a loaded machine's stall before the request (CI once took
            # longer than 2.5 s to get there) does not let it take over before it is looked at.
            refresh_lease_until=from_now(seconds=5),
        )
        expire_access_token(db)

        waiting = asyncio.create_task(client.get("/token"))
        await asyncio.sleep(0.8)
        assert not waiting.done()  # it waits for the holder instead of refreshing too
        assert harness.emu.calls["refresh"] == 0
        response = await asyncio.wait_for(waiting, timeout=15)

    assert response.status_code == 200
    assert harness.emu.calls["refresh"] == 1
    assert accepted_by_atlassian(harness.emu, response.json()["token"])
    assert the_account(db)["refresh_lease_owner"] is None


# A refresh overtaken by a new sign-in


async def a_slow_refresh_overtaken_by_a_sign_in(
    harness: Harness, client: httpx2.AsyncClient, db: TestDatabase
) -> tuple[httpx2.Response, str, dict[str, Any]]:
    """A refresh that takes 1.5 s is under way (its lease taken) when the person signs in again
    in another tab. The refresh's answer, the other tab's token, and the account as the
    sign-in left it."""
    harness.emu.faults.add("refresh", Fault("latency", seconds=1.5, times=1))
    old = asyncio.create_task(client.get("/token"))
    await a_lease_is_taken(db)
    async with another_client(harness.app) as tab:
        await sign_in(tab, harness.emu)
        signed = the_account(db)
        answered = await old
        token = await token_of(tab)
    return answered, token, signed


async def test_a_dead_grant_found_by_a_refresh_that_ends_after_a_new_sign_in_leaves_the_new_tokens_usable(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        emu = harness.emu
        await revoke_the_grant_that_worked(harness, client)
        # The refresh will meet invalid_grant, slowly; the person consents again meanwhile.
        answered, token, _ = await a_slow_refresh_overtaken_by_a_sign_in(harness, client, db)

    assert answered.status_code == 200, answered.text  # served the new consent's token
    assert accepted_by_atlassian(emu, answered.json()["token"])
    assert accepted_by_atlassian(emu, token)
    assert emu.calls["refresh"] == 1
    after = the_account(db)
    assert not after["needs_reauth"]
    assert after["refresh_lease_owner"] is None


async def test_a_refresh_that_ends_after_a_new_sign_in_leaves_the_new_tokens_usable(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        emu = harness.emu
        expire_access_token(db)
        answered, token, signed = await a_slow_refresh_overtaken_by_a_sign_in(harness, client, db)

    assert answered.status_code == 200, answered.text
    assert accepted_by_atlassian(emu, answered.json()["token"])
    after = the_account(db)
    # The sign-in's tokens were not overwritten by those of the refresh that read older ones.
    for column in ("access_token", "refresh_token", "token_version", "scopes"):
        assert after[column] == signed[column], column
    assert after["refresh_lease_owner"] is None
    assert not after["needs_reauth"]
    assert accepted_by_atlassian(emu, token)


# A refreshed pair the database does not take at once


async def test_a_refreshed_pair_is_stored_though_the_database_fails_the_first_write(
    db: TestDatabase,
) -> None:
    async with signed_in(db) as (harness, client):
        emu = harness.emu
        expire_access_token(db)
        with refreshed_tokens_fail_to_save(harness, times=1) as failed:
            token = await token_of(client)
        assert accepted_by_atlassian(emu, token)
        # Past the reuse interval only the new refresh token refreshes: it must be the one stored.
        emu.clock.advance(timedelta(minutes=11))
        expire_access_token(db)

        later = await token_of(client)

    assert len(failed) == 1
    assert emu.calls["refresh"] == 2
    assert accepted_by_atlassian(emu, later)
    assert not the_account(db)["needs_reauth"]


async def test_a_refreshed_pair_the_database_never_takes_still_answers_and_the_next_refresh_recovers(
    db: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    async with signed_in(db) as (harness, client):
        emu = harness.emu
        (stored,) = live_refresh_tokens(emu)
        expire_access_token(db)
        with (
            caplog.at_level(logging.INFO, logger="kavach_fastapi"),
            refreshed_tokens_fail_to_save(harness, times=SHORT_WRITE.attempts) as failed,
        ):
            answered = await client.get("/token")
        after_failure = the_account(db)
        # Within the reuse interval the stored (now retired) refresh token still refreshes.
        emu.clock.advance(timedelta(minutes=5))

        later = await token_of(client)

    assert answered.status_code == 200, answered.text  # the token in hand was used
    assert accepted_by_atlassian(emu, answered.json()["token"])
    assert len(failed) == SHORT_WRITE.attempts
    assert after_failure["refresh_lease_owner"] is None  # handed back: the next one may retry
    assert not after_failure["needs_reauth"]
    assert emu.calls["refresh"] == 2
    assert emu.last_request["refresh"].form["refresh_token"] == stored
    assert accepted_by_atlassian(emu, later)
    assert not the_account(db)["needs_reauth"]
    lines = [record.getMessage() for record in caplog.records]
    assert any("could not be stored" in line for line in lines), lines
    assert not any(token in line for token in emulator_tokens(emu) for line in lines)
    assert [record for record in caplog.records if record.exc_info] == []


# At rest


async def test_the_raw_database_holds_no_token_in_plaintext(db: TestDatabase) -> None:
    harness = build_harness(db)
    async with running(harness.app) as client:
        session = await sign_in(client, harness.emu)
        served = [await token_of(client)]
        expire_access_token(db)
        served.append(await token_of(client))
        assert (await client.get("/sites")).status_code == 200

    issued = emulator_tokens(harness.emu)
    assert len(issued) == 4  # two access and two refresh tokens
    raw = db.at_rest()
    assert b"v2." in raw  # the sealed values are there
    for token in [*issued, *served, session]:
        assert token.encode() not in raw


# Keys


async def test_rotating_keys_reencrypts_every_token_and_the_old_key_can_then_go(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    key_a, key_b = SECRET, OTHER_SECRET
    first = build_harness(db, emu, secret=key_a)
    async with running(first.app) as client:
        session = await sign_in(client, emu)
        token = await token_of(client)
    bearer = {"Authorization": f"Bearer {session}"}
    sealed_with_a = the_account(db)

    both = build_harness(db, emu, secret=f"{key_b},{key_a}")
    async with running(both.app) as client:
        client.headers.update(bearer)
        assert await token_of(client) == token  # still readable with the old key listed
        rotated = await both.router.kavach.rotate_keys()
        again = await both.router.kavach.rotate_keys()
    assert (rotated, again) == (1, 0)
    resealed = the_account(db)
    kid_b = Keyring([key_b]).primary_kid
    for column in ("access_token", "refresh_token"):
        assert resealed[column] != sealed_with_a[column]
        assert resealed[column].startswith(f"v2.{kid_b}.")

    only_b = build_harness(db, emu, secret=key_b)
    async with running(only_b.app) as client:
        client.headers.update(bearer)
        assert await token_of(client) == token
        expire_access_token(db)
        refreshed = await token_of(client)  # the refresh token reads with B alone too
    assert accepted_by_atlassian(emu, refreshed)

    only_a = build_harness(db, emu, secret=key_a)
    async with running(only_a.app) as client:
        client.headers.update(bearer)
        before = the_account(db)
        refused = await client.get("/token")
        assert (await client.get(SESSION)).status_code == 200
    assert_reauth_required(refused)
    assert refreshed not in refused.text
    assert the_account(db) == before
    assert emu.calls["refresh"] == 1


def copy_adas_column_into_graces_row(
    db: TestDatabase, column: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copy one sealed token of Ada's row into Grace's, as an attacker with the database would;
    the two rows as they were before."""
    ada_row, grace_row = accounts(db)
    update_account(db, grace_row["id"], **{column: ada_row[column]})
    return ada_row, grace_row


async def test_an_access_token_copied_into_another_account_row_does_not_decrypt(
    db: TestDatabase,
) -> None:
    async with ada_and_grace_signed_in(db) as (harness, ada, grace):
        emu = harness.emu
        ada_token = await token_of(ada)
        _ada_row, _grace_row = copy_adas_column_into_graces_row(db, "access_token")

        stolen = await grace.get("/token")
        still_ada = await token_of(ada)

    assert_reauth_required(stolen)
    assert ada_token not in stolen.text
    assert still_ada == ada_token
    assert emu.calls["refresh"] == 0


async def test_a_refresh_token_copied_into_another_row_is_refused_and_blocks_nobody(
    db: TestDatabase,
) -> None:
    async with ada_and_grace_signed_in(db) as (harness, ada, grace):
        emu = harness.emu
        await token_of(grace)  # a working token first (token_of checks the 200)
        ada_row, grace_row = copy_adas_column_into_graces_row(db, "refresh_token")
        expire_access_token(db, grace_row["id"])

        stolen = await grace.get("/token")
        again = await grace.get("/token")  # answered at once: no lease left behind
        ada_token = await token_of(ada)

    assert_reauth_required(stolen)
    assert_reauth_required(again)
    assert emu.calls["refresh"] == 0  # Ada's refresh token never reached Atlassian
    ada_after, grace_after = accounts(db)
    assert grace_after["needs_reauth"]
    assert grace_after["refresh_lease_owner"] is None
    assert grace_after["refresh_lease_until"] is None
    assert ada_token not in stolen.text
    assert ada_after == ada_row
