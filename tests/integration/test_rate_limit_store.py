"""The rate limiter's two queries, on SQLite and on PostgreSQL.

The counter increments only while under the limit, in one conditional upsert, so concurrent
requests cannot push it past the limit and a refused one changes nothing. The pending-attempt
read finds only a live attempt of the same state, browser and provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from kavach_fastapi.migrate import upgrade
from kavach_fastapi.store import Store
from kavach_fastapi.tables import SignInAttemptRow, utcnow

from ..databases import TestDatabase

WINDOW = 29_000_000
"""A window number like today's (minutes since the epoch); the queries never read the clock."""


@pytest.fixture
async def store(db: TestDatabase) -> AsyncIterator[Store]:
    opened = Store(db.url)
    await upgrade(opened.database.writer)
    try:
        yield opened
    finally:
        await opened.dispose()


async def test_the_counter_stops_at_the_limit_and_a_refused_hit_changes_nothing(
    store: Store, db: TestDatabase
) -> None:
    counts = [await store.counters.count_hit("198.51.100.7", WINDOW, limit=3) for _ in range(5)]

    assert counts == [1, 2, 3, None, None]
    assert db.rows('SELECT key, "window", count FROM kavach_rate_limits') == [
        ("198.51.100.7", WINDOW, 3)
    ]


async def test_concurrent_hits_never_pass_the_limit(store: Store, db: TestDatabase) -> None:
    counts = await asyncio.gather(
        *(store.counters.count_hit("k", WINDOW, limit=5) for _ in range(20))
    )

    assert sorted(count for count in counts if count is not None) == [1, 2, 3, 4, 5]
    assert db.scalar("SELECT count FROM kavach_rate_limits") == 5


async def test_each_key_and_window_counts_on_its_own(store: Store) -> None:
    assert await store.counters.count_hit("a", WINDOW, limit=1) == 1
    assert await store.counters.count_hit("a", WINDOW, limit=1) is None
    assert await store.counters.count_hit("b", WINDOW, limit=1) == 1
    assert await store.counters.count_hit("a", WINDOW + 1, limit=1) == 1


async def test_a_pending_attempt_is_found_only_while_live_and_for_its_browser(
    store: Store,
) -> None:
    now = utcnow()
    await store.attempts.add_attempt(
        SignInAttemptRow(
            state_hash="s" * 64,
            browser_hash="b" * 64,
            provider="atlassian",
            redirect_uri="https://app.example/api/kavach/auth/oauth/callback/atlassian",
            redirect_to="/",
            created_at=now,
            expires_at=now + timedelta(minutes=10),
        ),
        keep_per_browser=5,
        max_pending=100,
    )

    assert await store.attempts.has_pending_attempt(
        "s" * 64, "b" * 64, provider="atlassian", now=now
    )
    assert not await store.attempts.has_pending_attempt(
        "s" * 64, "c" * 64, provider="atlassian", now=now
    )
    assert not await store.attempts.has_pending_attempt(
        "t" * 64, "b" * 64, provider="atlassian", now=now
    )
    assert not await store.attempts.has_pending_attempt(
        "s" * 64, "b" * 64, provider="other", now=now
    )
    later = now + timedelta(minutes=10, seconds=1)
    assert not await store.attempts.has_pending_attempt(
        "s" * 64, "b" * 64, provider="atlassian", now=later
    )
