"""At shutdown, work left running in the background ends before the database closes.

A session lookup runs in a task that requests share, and a request that gives up leaves it
running; the change feed is read in a task of its own. Each holds a connection while it runs.
`SessionManager.aclose` gives such work `background.SETTLE_SECONDS` to finish, then cancels it,
and no feed read starts afterwards. Fakes stand in for the database (one that never answers,
for a hung server); real shutdowns run in every integration test's app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

import pytest

from kavach_fastapi import background
from kavach_fastapi.session_memory import SessionMemory
from kavach_fastapi.sessions import SessionManager
from kavach_fastapi.store.feed import FeedStore, SessionChange
from kavach_fastapi.store.sessions import SessionLookup, SessionStore

from .test_session_activity import FakeSessions
from .test_session_memory import BOUND, Clock, HeldFeed

TOKEN = "a-session-token"


class SlowSessions(FakeSessions):
    """A sessions table that answers after ``delay`` seconds, or never (``None``)."""

    def __init__(self, delay: float | None) -> None:
        super().__init__()
        self.delay = delay
        self.lookups: list[asyncio.Task[object]] = []
        self.looking = asyncio.Event()

    async def find_session(self, token_hash: str) -> SessionLookup | None:
        task = asyncio.current_task()
        assert task is not None
        self.lookups.append(task)
        self.looking.set()
        if self.delay is None:
            await asyncio.Event().wait()  # a server that never answers
        await asyncio.sleep(self.delay or 0)
        return await super().find_session(token_hash)


@pytest.fixture(autouse=True)
def short_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "SETTLE_SECONDS", 0.2)


async def lookup_left_running(store: SlowSessions) -> tuple[SessionManager, asyncio.Task[object]]:
    """A manager whose only request gave up while its session was being looked up."""
    manager = SessionManager(
        cast(SessionStore, store), lifetime=timedelta(days=1), idle_timeout=timedelta(hours=1)
    )
    request = asyncio.ensure_future(manager.authenticate(TOKEN))
    await store.looking.wait()
    request.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await request
    (lookup,) = store.lookups
    assert not lookup.done()  # shielded: the lookup outlives the request that started it
    return manager, lookup


async def test_a_lookup_nobody_waits_for_that_never_ends_is_cancelled_at_shutdown() -> None:
    manager, lookup = await lookup_left_running(SlowSessions(delay=None))

    await asyncio.wait_for(manager.aclose(), timeout=5)

    assert lookup.cancelled()


async def test_a_lookup_that_is_about_to_end_is_let_finish_at_shutdown() -> None:
    manager, lookup = await lookup_left_running(SlowSessions(delay=0.05))

    await manager.aclose()

    assert lookup.done()
    assert not lookup.cancelled()


class RecordedFeed(HeldFeed):
    """A held feed that keeps the task of each read."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[asyncio.Task[object]] = []
        self.reading = asyncio.Event()

    async def changes_after(self, after: int) -> Sequence[SessionChange]:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        self.reading.set()
        return await super().changes_after(after)


async def test_a_feed_read_under_way_at_shutdown_is_ended_and_none_starts_after() -> None:
    feed, clock = RecordedFeed(), Clock()
    memory = SessionMemory(cast(FeedStore, feed), bound=BOUND, clock=clock)
    await memory.follow_feed()  # the first read (`latest_id`) does not wait
    clock.now += BOUND
    memory.start_reading(clock())
    await feed.reading.wait()

    await asyncio.wait_for(memory.aclose(), timeout=5)
    memory.read_now()  # news heard as the app stops
    clock.now += BOUND
    memory.start_reading(clock())
    for _ in range(10):
        await asyncio.sleep(0)

    assert [task.cancelled() for task in feed.tasks] == [True]  # and no read after it
