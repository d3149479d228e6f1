"""At shutdown, work left running in the background ends before the database closes.

A session lookup and a token refresh run in tasks that requests share, and a request that gives
up leaves them running; the change feed and the quota blocks are read in tasks of their own.
Each holds a connection while it runs. At shutdown a read is given `background.SETTLE_SECONDS`
to finish and a refresh `background.REFRESH_SETTLE_SECONDS` (cut short, it could lose the
tokens Atlassian just rotated), then what is left is cancelled, and no feed read starts
afterwards. Fakes stand in for the database and Atlassian (one that never answers, for a hung
server); real shutdowns run in every integration test's app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

import pytest

from kavach_fastapi import background, token_refresh
from kavach_fastapi.crypto import Keyring
from kavach_fastapi.quota import QuotaGuard
from kavach_fastapi.session_memory import SessionMemory
from kavach_fastapi.sessions import SessionManager
from kavach_fastapi.store.accounts import AccountStore
from kavach_fastapi.store.feed import FeedStore, SessionChange
from kavach_fastapi.store.quota import QuotaBlock, QuotaStore
from kavach_fastapi.store.sessions import SessionLookup, SessionStore
from kavach_fastapi.tables import AccountRow
from kavach_fastapi.token_refresh import Refreshed, Refresher

from .test_session_activity import FakeSessions
from .test_session_memory import BOUND, Clock, HeldFeed

TOKEN = "a-session-token"
KEY = "a-test-key-not-for-production-0123456789abcdef"


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
    monkeypatch.setattr(token_refresh, "REFRESH_SETTLE_SECONDS", 0.4)


async def given_up(started: asyncio.Future[object], running: asyncio.Event) -> None:
    """A request that waited for background work, then went away (the client left)."""
    await running.wait()
    started.cancel()
    with pytest.raises(asyncio.CancelledError):
        await started


async def lookup_left_running(store: SlowSessions) -> tuple[SessionManager, asyncio.Task[object]]:
    """A manager whose only request gave up while its session was being looked up."""
    manager = SessionManager(
        cast(SessionStore, store), lifetime=timedelta(days=1), idle_timeout=timedelta(hours=1)
    )
    await given_up(asyncio.ensure_future(manager.authenticate(TOKEN)), store.looking)
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


class SlowRefresh:
    """A token refresh (the lease, Atlassian's token endpoint, the write) that takes ``delay``
    seconds, or never ends (``None``); it stands in for `Refresher._refresh`."""

    def __init__(self, delay: float | None) -> None:
        self.delay = delay
        self.flights: list[asyncio.Task[object]] = []
        self.running = asyncio.Event()
        self.stored = False

    async def __call__(self, account_id: str, provider_id: str, version: int) -> Refreshed:
        task = asyncio.current_task()
        assert task is not None
        self.flights.append(task)
        self.running.set()
        if self.delay is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay or 0)
        self.stored = True
        return Refreshed("a-new-access-token", by_us=True)


async def refresh_left_running(
    monkeypatch: pytest.MonkeyPatch, refresh: SlowRefresh
) -> tuple[Refresher, asyncio.Task[object]]:
    """A refresher whose only caller gave up while the refresh was under way."""
    refresher = Refresher(cast(AccountStore, None), Keyring([KEY]), {})
    monkeypatch.setattr(refresher, "_refresh", refresh)
    row = AccountRow(id="account-1", user_id="user-1", provider="atlassian", token_version=3)
    await given_up(asyncio.ensure_future(refresher.flight(row, "atlassian")), refresh.running)
    (flight,) = refresh.flights
    assert not flight.done()
    return refresher, flight


async def test_a_refresh_under_way_at_shutdown_is_let_finish_and_store_its_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refresh = SlowRefresh(delay=0.1)  # longer than a read is given, shorter than a refresh
    refresher, flight = await refresh_left_running(monkeypatch, refresh)

    await refresher.aclose()

    assert refresh.stored
    assert not flight.cancelled()


async def test_a_refresh_that_never_ends_is_cancelled_at_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refresher, flight = await refresh_left_running(monkeypatch, SlowRefresh(delay=None))

    await asyncio.wait_for(refresher.aclose(), timeout=5)

    assert flight.cancelled()


async def test_a_write_of_new_tokens_under_way_when_shutdown_cuts_a_refresh_short_is_finished() -> (
    None
):
    written = asyncio.Event()

    async def write_new_tokens() -> bool:
        await asyncio.sleep(0.3)  # longer than shutdown waits below
        written.set()
        return True

    async def refresh() -> bool:
        return await background.run_to_the_end(write_new_tokens())

    flight = asyncio.ensure_future(refresh())
    await asyncio.sleep(0.01)  # the write has started

    await asyncio.wait_for(background.settle([flight], within=0.05), timeout=5)

    assert written.is_set()  # not cut in two against a database about to close
    assert flight.cancelled()  # and the refresh still ended as shutdown asked


class HungQuotaBlocks:
    """The quota blocks table of a server that never answers."""

    def __init__(self) -> None:
        self.reads: list[asyncio.Task[object]] = []
        self.reading = asyncio.Event()

    async def active_blocks(self, *, now: datetime) -> list[QuotaBlock]:
        task = asyncio.current_task()
        assert task is not None
        self.reads.append(task)
        self.reading.set()
        await asyncio.Event().wait()
        return []


async def test_a_quota_read_nobody_waits_for_is_cancelled_at_shutdown() -> None:
    blocks = HungQuotaBlocks()
    guard = QuotaGuard(cast(QuotaStore, blocks))
    await given_up(asyncio.ensure_future(guard.check("atlassian", "site-1")), blocks.reading)

    await asyncio.wait_for(guard.aclose(), timeout=5)

    assert [read.cancelled() for read in blocks.reads] == [True]
