"""The quota guard in one app: a long 429 blocks its site, a short one is retried in place.

Against the emulator with two Jira sites, on SQLite and on PostgreSQL. The same across three
uvicorn worker processes is in ``test_quota_across_workers.py``.
"""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest

from kavach_fastapi import AtlassianClient, ProviderUnavailableError, QuotaExhaustedError
from kavach_fastapi.atlassian.dependencies import atlassian_of
from kavach_fastapi.store.quota import QuotaBlock

from ..databases import TestDatabase
from .conftest import PREFIX
from .quota_harness import (
    BLOCKS,
    BUSY,
    blocks,
    both_sites_signed_in,
    next_jira_call_429s,
    quiet_site,
    two_jira_sites_emulator,
)
from .token_harness import build_harness, from_now, running

SESSION = f"{PREFIX}/auth/session"


def myself(cloud_id: str) -> str:
    return f"/jira/{cloud_id}/myself"


BLOCK_SECONDS = 5
"""How long the block of the test that waits for one to pass lasts."""


def block_row(db: TestDatabase, site: str, *, seconds: float, reason: str) -> None:
    db.execute(
        f"INSERT INTO {BLOCKS} (provider, site, blocked_until, reason, recorded_at) "  # noqa: S608
        "VALUES ('atlassian', :site, :until, :reason, :now)",
        site=site,
        until=from_now(seconds=seconds),
        reason=reason,
        now=from_now(),
    )


def assert_quota_exhausted(response: httpx2.Response, *, at_most: int) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "quota_exhausted"
    assert 1 <= int(response.headers["retry-after"]) <= at_most


async def test_a_long_retry_after_blocks_that_site_and_no_later_call_reaches_atlassian(
    db: TestDatabase,
) -> None:
    async with both_sites_signed_in(db) as (harness, client):
        emu = harness.emu
        next_jira_call_429s(emu, retry_after=600, reason="jira-quota-tenant-based")

        first = await client.get(myself(BUSY))
        later = [await client.get(myself(BUSY)) for _ in range(5)]
        other = await client.get(myself(quiet_site(emu)))

    assert_quota_exhausted(first, at_most=600)
    assert int(first.headers["retry-after"]) >= 590
    for answer in later:
        assert_quota_exhausted(answer, at_most=600)
    assert emu.site_calls(BUSY) == 1  # the 429 itself, then nothing
    assert other.status_code == 200, other.text  # other sites keep working
    assert emu.site_calls(quiet_site(emu)) == 1
    (row,) = blocks(db)
    assert (row["provider"], row["site"], row["reason"]) == (
        "atlassian",
        BUSY,
        "jira-quota-tenant-based",
    )
    assert from_now(seconds=590) < row["blocked_until"] <= from_now(seconds=600)


async def test_a_short_retry_after_is_retried_in_place_and_blocks_nothing(
    db: TestDatabase,
) -> None:
    async with both_sites_signed_in(db) as (harness, client):
        emu = harness.emu
        next_jira_call_429s(emu, retry_after=1)

        response = await client.get(myself(BUSY))
        again = await client.get(myself(BUSY))

    assert response.status_code == 200, response.text
    assert again.status_code == 200, again.text
    assert emu.site_calls(BUSY) == 3  # the 429, its retry, and the next call
    assert blocks(db) == []


async def test_the_global_quota_blocks_every_site_of_the_app(db: TestDatabase) -> None:
    async with both_sites_signed_in(db) as (harness, client):
        emu = harness.emu
        next_jira_call_429s(emu, retry_after=300, reason="jira-quota-global-based")

        first = await client.get(myself(BUSY))
        other = await client.get(myself(quiet_site(emu)))

    assert_quota_exhausted(first, at_most=300)
    assert_quota_exhausted(other, at_most=300)
    assert "this app" in other.json()["error"]["message"]
    assert emu.site_calls(quiet_site(emu)) == 0
    assert [(row["site"], row["reason"]) for row in blocks(db)] == [
        ("*", "jira-quota-global-based")
    ]


async def test_a_block_recorded_by_another_worker_stops_this_one_without_calling_atlassian(
    db: TestDatabase,
) -> None:
    # With the check interval at 0 a process reads the blocks before every call, so the row
    # another worker wrote a moment ago is honoured by the very next call.
    async with both_sites_signed_in(db, quota_check_interval=0) as (harness, client):
        emu = harness.emu
        block_row(db, BUSY, seconds=120, reason="jira-quota-tenant-based")

        refused = await client.get(myself(BUSY))
        other = await client.get(myself(quiet_site(emu)))

    assert_quota_exhausted(refused, at_most=120)
    assert emu.site_calls(BUSY) == 0
    assert other.status_code == 200


async def test_a_process_reads_the_blocks_at_most_once_per_check_interval(
    db: TestDatabase,
) -> None:
    # The price of a hot path without a query per call: another worker's block is seen once
    # the interval has passed, not before.
    async with both_sites_signed_in(db, quota_check_interval=3600) as (harness, client):
        emu = harness.emu
        assert (await client.get(myself(BUSY))).status_code == 200
        block_row(db, BUSY, seconds=120, reason="jira-quota-tenant-based")

        unseen = await client.get(myself(BUSY))

    assert unseen.status_code == 200
    assert emu.site_calls(BUSY) == 2


async def test_calls_reach_the_site_again_once_the_block_has_passed(db: TestDatabase) -> None:
    async with both_sites_signed_in(db, quota_check_interval=0) as (harness, client):
        emu = harness.emu
        # Long enough that a slow machine still asks within it (1.5 s was once too short in CI);
        # the guard keeps what it learnt of a block until its time has really passed.
        block_row(db, BUSY, seconds=BLOCK_SECONDS, reason="jira-quota-tenant-based")
        ends = time.monotonic() + BLOCK_SECONDS
        refused = await client.get(myself(BUSY))
        await asyncio.sleep(max(0.0, ends - time.monotonic()) + 0.5)

        passed = await client.get(myself(BUSY))

    assert_quota_exhausted(refused, at_most=BLOCK_SECONDS)
    assert passed.status_code == 200, passed.text
    assert emu.site_calls(BUSY) == 1


async def test_a_job_outside_a_request_fails_fast_with_quota_exhausted_error(
    db: TestDatabase,
) -> None:
    async with both_sites_signed_in(db) as (harness, client):
        emu = harness.emu
        user = (await client.get(SESSION)).json()["user"]["id"]
        kavach = harness.router.kavach
        atlassian = AtlassianClient(kavach.calls, kavach.sites, atlassian_of(kavach), user)
        next_jira_call_429s(emu, retry_after=900)

        with pytest.raises(QuotaExhaustedError) as first:
            await atlassian.get("jira", BUSY, "/rest/api/3/myself")
        with pytest.raises(ProviderUnavailableError) as second:  # the same, caught as before
            await atlassian.get("jira", BUSY, "/rest/api/3/myself")
        fine = await atlassian.get("jira", quiet_site(emu), "/rest/api/3/myself")

    assert 890 <= first.value.retry_after <= 900
    assert isinstance(second.value, QuotaExhaustedError)
    assert fine.status_code == 200
    assert emu.site_calls(BUSY) == 1


async def test_housekeeping_deletes_the_blocks_that_have_passed(db: TestDatabase) -> None:
    harness = build_harness(db, two_jira_sites_emulator())
    async with running(harness.app):
        block_row(db, BUSY, seconds=-60, reason="jira-quota-tenant-based")
        block_row(db, "*", seconds=300, reason="jira-quota-global-based")

        await harness.router.kavach.housekeeper.sweep()

    assert [row["site"] for row in blocks(db)] == ["*"]


async def test_a_later_block_lengthens_the_recorded_one_and_a_shorter_one_never_shortens_it(
    db: TestDatabase,
) -> None:
    async with both_sites_signed_in(db) as (harness, client):
        store = harness.router.kavach.store.quota
        block_row(db, BUSY, seconds=-1, reason="jira-burst-based")  # passed: calls go through
        next_jira_call_429s(harness.emu, retry_after=600)
        await client.get(myself(BUSY))
        lengthened = blocks(db)[0]["blocked_until"]
        shorter = QuotaBlock("atlassian", BUSY, from_now(seconds=60), "jira-burst-based")

        await store.block(shorter, now=from_now())

    (row,) = blocks(db)
    assert row["blocked_until"] == lengthened
    assert row["reason"] == "jira-burst-based"  # the 429's own reason, not the shorter one's
    assert lengthened > from_now(seconds=590)
