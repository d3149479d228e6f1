"""The quota guard's reading of Atlassian's rate-limit headers, without a server.

A guard over a migrated SQLite file; answers are ``httpx2.Response`` values with the headers
Atlassian sends (see ``shared/atlassian-3lo.md``, errors and limits).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest

from kavach_fastapi import QuotaExhaustedError
from kavach_fastapi.migrate import upgrade
from kavach_fastapi.quota import EVERY_SITE, QuotaGuard, rate_limit_reason
from kavach_fastapi.store import Store
from kavach_fastapi.tables import utcnow

SITE = "1f7c2a3e-9b4d-4c5a-8e6f-2d3b4c5a6e7f"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-access-token"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'quota.db'}")
    await upgrade(store.database.writer)
    try:
        yield store
    finally:
        await store.dispose()


def answer(status: int, **headers: str) -> httpx2.Response:
    request = httpx2.Request(
        "GET",
        f"https://api.test/ex/jira/{SITE}/rest/api/3/myself",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return httpx2.Response(status, headers=headers, request=request)


def test_the_reason_is_read_from_the_documented_header_or_the_beta_one() -> None:
    assert rate_limit_reason(answer(429, **{"RateLimit-Reason": "jira-burst-based"})) == (
        "jira-burst-based"
    )
    beta = answer(429, **{"X-Beta-RateLimit-Reason": "jira-quota-tenant-based"})
    assert rate_limit_reason(beta) == "jira-quota-tenant-based"
    assert rate_limit_reason(answer(429)) == "unknown"


async def test_a_quota_429_without_retry_after_blocks_until_the_reset(store: Store) -> None:
    guard = QuotaGuard(store.quota)
    reset = (utcnow() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ")
    limited = answer(
        429, **{"RateLimit-Reason": "jira-quota-tenant-based", "X-RateLimit-Reset": reset}
    )

    with pytest.raises(QuotaExhaustedError) as refused:
        await guard.after_rate_limit("atlassian", SITE, limited)

    assert 25 * 60 <= refused.value.retry_after <= 30 * 60
    (block,) = await store.quota.active_blocks(now=utcnow())
    assert (block.site, block.reason) == (SITE, "jira-quota-tenant-based")


async def test_a_quota_429_with_a_reset_in_the_past_blocks_for_a_minute(store: Store) -> None:
    # Real answers have carried a reset already passed; the block must still last a while.
    guard = QuotaGuard(store.quota)
    past = (utcnow() - timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%MZ")
    limited = answer(
        429, **{"RateLimit-Reason": "jira-quota-global-based", "X-RateLimit-Reset": past}
    )

    with pytest.raises(QuotaExhaustedError) as refused:
        await guard.after_rate_limit("atlassian", SITE, limited)

    assert 55 <= refused.value.retry_after <= 60
    (block,) = await store.quota.active_blocks(now=utcnow())
    assert block.site == EVERY_SITE


async def test_a_burst_429_without_retry_after_is_left_to_the_retries(store: Store) -> None:
    guard = QuotaGuard(store.quota)

    await guard.after_rate_limit(
        "atlassian", SITE, answer(429, **{"RateLimit-Reason": "jira-burst-based"})
    )
    await guard.after_rate_limit("atlassian", SITE, answer(429, **{"Retry-After": "5"}))

    assert await store.quota.active_blocks(now=utcnow()) == []
    await guard.check("atlassian", SITE)  # not blocked


async def test_a_retry_after_as_an_http_date_blocks_until_that_date(store: Store) -> None:
    guard = QuotaGuard(store.quota)
    when = utcnow() + timedelta(minutes=10)

    with pytest.raises(QuotaExhaustedError) as refused:
        await guard.after_rate_limit(
            "atlassian",
            SITE,
            answer(429, **{"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}),
        )

    assert 9 * 60 <= refused.value.retry_after <= 10 * 60


def test_an_answer_near_the_limit_is_logged_once_a_minute_per_site_without_the_token(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kavach_fastapi")
    guard = QuotaGuard(store.quota)
    near = answer(
        200,
        **{
            "X-RateLimit-NearLimit": "true",
            "X-RateLimit-Remaining": "3",
            "X-RateLimit-Limit": "350",
            "RateLimit-Reason": "jira-quota-tenant-based",
        },
    )

    guard.after_answer("atlassian", SITE, near)
    guard.after_answer("atlassian", SITE, near)
    guard.after_answer("atlassian", "another-site", answer(200, **{"X-RateLimit-Remaining": "0"}))
    guard.after_answer(
        "atlassian",
        "third-site",
        answer(200, **{"X-RateLimit-Remaining": "200", "X-RateLimit-Limit": "350"}),
    )

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert SITE in lines[0]
    assert "3 of 350" in lines[0]
    assert "jira-quota-tenant-based" in lines[0]
    assert "another-site" in lines[1]
    assert all(TOKEN not in line and "Bearer" not in line for line in lines)
