"""Recording session activity: gathered into one write, written at shutdown, logged safely.

A fake sessions table stands in for the database; the idle timeout that the activity keeps
is proven against real databases in tests/integration/test_sessions.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

import pytest

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.models import User
from kavach_fastapi.sessions import SessionManager
from kavach_fastapi.store.sessions import SessionLookup, SessionStore
from kavach_fastapi.tables import utcnow

IDLE_TIMEOUT = timedelta(hours=1)
LIFETIME = timedelta(days=7)


class FakeSessions:
    """Sessions last active long enough ago that a check finds their activity due."""

    def __init__(self) -> None:
        self.writes: list[tuple[list[str], datetime]] = []
        self.failure: Exception | None = None

    async def find_session(self, token_hash: str) -> SessionLookup | None:
        now = utcnow()
        user = User(
            id=f"user-{token_hash[:8]}",
            email=None,
            email_verified=False,
            name="P",
            image=None,
            created_at=now,
        )
        return SessionLookup(
            expires_at=now + LIFETIME, last_active_at=now - IDLE_TIMEOUT / 2, user=user
        )

    async def touch_sessions(self, token_hashes: Sequence[str], at: datetime) -> None:
        if self.failure is not None:
            raise self.failure
        self.writes.append((list(token_hashes), at))


def manager_of(store: FakeSessions, *, gathering: float) -> SessionManager:
    return SessionManager(
        cast(SessionStore, store),
        lifetime=LIFETIME,
        idle_timeout=IDLE_TIMEOUT,
        cache_seconds=60.0,
        activity_gathering=gathering,
    )


async def check_all(manager: SessionManager, tokens: Sequence[str]) -> None:
    for token in tokens:
        assert await manager.authenticate(token) is not None


TOKENS = [f"token-{n:03d}" for n in range(50)]


async def test_activity_coming_due_in_many_sessions_is_written_in_one_write_after_gathering() -> (
    None
):
    store = FakeSessions()
    manager = manager_of(store, gathering=0.05)

    await check_all(manager, TOKENS)
    assert store.writes == []  # gathering: nothing written while sessions come due
    await asyncio.sleep(0.2)

    assert len(store.writes) == 1
    written, at = store.writes[0]
    assert sorted(written) == sorted(hash_token(token) for token in TOKENS)
    assert utcnow() - at < timedelta(seconds=5)


async def test_activity_that_comes_due_during_a_write_is_written_by_the_next_one() -> None:
    store = FakeSessions()
    manager = manager_of(store, gathering=0.05)

    await check_all(manager, TOKENS[:10])
    await asyncio.sleep(0.2)
    await check_all(manager, TOKENS[10:20])
    await asyncio.sleep(0.2)

    assert [sorted(written) for written, _ in store.writes] == [
        sorted(hash_token(token) for token in TOKENS[:10]),
        sorted(hash_token(token) for token in TOKENS[10:20]),
    ]


async def test_shutdown_writes_the_gathered_activity_without_waiting_for_the_gathering() -> None:
    store = FakeSessions()
    manager = manager_of(store, gathering=3600.0)
    await check_all(manager, TOKENS[:5])

    await asyncio.wait_for(manager.aclose(), timeout=5)

    assert [sorted(written) for written, _ in store.writes] == [
        sorted(hash_token(token) for token in TOKENS[:5])
    ]
    await manager.aclose()  # nothing left: no second write
    assert len(store.writes) == 1


async def test_a_failed_activity_write_is_logged_in_one_line_without_what_it_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeSessions()
    secret = hash_token(TOKENS[0])
    store.failure = RuntimeError(f"UPDATE kavach_sessions ... WHERE token_hash IN ('{secret}')")
    manager = manager_of(store, gathering=3600.0)
    await check_all(manager, TOKENS[:1])

    with caplog.at_level(logging.WARNING, logger="kavach_fastapi"):
        await manager.aclose()  # never raises

    (record,) = [r for r in caplog.records if "session activity" in r.getMessage()]
    assert record.getMessage() == "kavach could not record session activity: RuntimeError"
    assert secret not in caplog.text
