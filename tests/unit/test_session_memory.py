"""What a process remembers of sessions, and when it may trust it: the change feed decides.

A fake feed and a fake clock stand in for the database and time; the cross-process behaviour
is proven in tests/integration/test_session_feed.py.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from kavach_fastapi.models import User
from kavach_fastapi.session_memory import ActiveSession, Remembered, SessionMemory
from kavach_fastapi.store.feed import FeedStore, SessionChange
from kavach_fastapi.tables import utcnow

BOUND = 1.0


class FakeFeed:
    """The feed's read side, in memory; ``broken`` makes every read fail."""

    def __init__(self) -> None:
        self.changes: list[SessionChange] = []
        self.broken = False

    async def latest_id(self) -> int:
        if self.broken:
            raise RuntimeError("feed unreadable")
        return self.changes[-1].id if self.changes else 0

    async def changes_after(self, after: int) -> Sequence[SessionChange]:
        if self.broken:
            raise RuntimeError("feed unreadable")
        return [change for change in self.changes if change.id > after]

    def append(self, *, token_hash: str | None = None, user_id: str | None = None) -> None:
        self.changes.append(SessionChange(len(self.changes) + 1, token_hash, user_id))


class HeldFeed(FakeFeed):
    """A feed whose reads, once they have their answer, wait for ``answer`` to be set: news
    appended meanwhile is not in it."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()
        self.reads = 0

    async def changes_after(self, after: int) -> Sequence[SessionChange]:
        found = await super().changes_after(after)
        self.reads += 1
        await self.answer.wait()
        return found


async def background_reads_done() -> None:
    """Let the reads started in the background run to their end (the fake feed never waits)."""
    for _ in range(10):
        await asyncio.sleep(0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(token_hash: str, user_id: str, checked_at: float) -> Remembered:
    now = utcnow()
    user = User(id=user_id, email=None, email_verified=False, name="P", image=None, created_at=now)
    active = ActiveSession(user=user, token_hash=token_hash, expires_at=now + timedelta(days=1))
    return Remembered(
        active, checked_at=checked_at, valid_until=math.inf, record_activity_at=math.inf
    )


async def started(feed: FakeFeed, clock: Clock) -> SessionMemory:
    """A memory that has made its first read of the feed."""
    memory = SessionMemory(cast(FeedStore, feed), bound=BOUND, clock=clock)
    await memory.follow_feed()
    return memory


def remember(memory: SessionMemory, token_hash: str, user_id: str = "u1") -> Remembered:
    found = entry(token_hash, user_id, memory.clock())
    memory.remember(token_hash, found, epoch=memory.epoch)
    return found


async def test_a_remembered_session_is_trusted_past_the_bound_while_the_feed_is_read() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = await started(feed, clock)
    found = remember(memory, "s1")

    clock.now += 10 * BOUND
    await memory.follow_feed()

    assert memory.get("s1") is found
    assert memory.trusted(found, clock())


async def test_a_session_the_feed_names_is_forgotten_and_others_are_kept() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = await started(feed, clock)
    remember(memory, "s1")
    remember(memory, "s2")

    feed.append(token_hash="s1")
    clock.now += BOUND
    await memory.follow_feed()

    assert memory.get("s1") is None
    assert memory.get("s2") is not None


async def test_a_user_the_feed_names_loses_every_remembered_session() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = await started(feed, clock)
    remember(memory, "s1", "erased")
    remember(memory, "s2", "erased")
    remember(memory, "s3", "other")

    feed.append(user_id="erased")
    clock.now += BOUND
    await memory.follow_feed()

    assert [memory.get(h) is None for h in ("s1", "s2", "s3")] == [True, True, False]


async def test_when_the_feed_cannot_be_read_a_session_is_trusted_only_for_the_bound() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = await started(feed, clock)
    clock.now += BOUND / 4
    found = remember(memory, "s1")

    feed.broken = True
    clock.now += BOUND  # the last good read and the lookup are both a bound old or more
    await memory.follow_feed()

    assert memory.get("s1") is found
    assert not memory.trusted(found, clock())  # so the caller looks it up again


async def test_the_first_read_of_the_feed_forgets_what_was_remembered_before_it() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = SessionMemory(cast(FeedStore, feed), bound=BOUND, clock=clock)
    remember(memory, "s1")  # a change before the first read would never be seen

    await memory.follow_feed()

    assert memory.get("s1") is None


async def test_a_lookup_that_spans_a_change_remembers_nothing() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = await started(feed, clock)
    epoch = memory.epoch  # a lookup starts

    memory.forget(["s1"])  # a sign-out here, or a feed entry, while it runs
    memory.remember("s1", entry("s1", "u1", clock()), epoch=epoch)

    assert memory.get("s1") is None


async def test_no_more_sessions_are_remembered_than_the_cap() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = SessionMemory(cast(FeedStore, feed), bound=BOUND, capacity=2, clock=clock)
    await memory.follow_feed()
    for token_hash in ("s1", "s2", "s3"):
        remember(memory, token_hash)

    assert len(memory) == 2
    assert memory.get("s1") is None  # the least recently used went first


async def test_news_from_the_feed_is_read_at_once_not_at_its_next_turn() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = await started(feed, clock)
    remember(memory, "s1")

    feed.append(token_hash="s1")
    assert not memory.feed_due(clock())  # its turn is half a bound away
    memory.read_now()  # what a NOTIFY does
    await background_reads_done()

    assert memory.get("s1") is None


async def test_news_that_comes_during_a_read_is_read_again_after_it() -> None:
    feed, clock = HeldFeed(), Clock()
    memory = await started(feed, clock)
    remember(memory, "s1")
    memory.read_now()
    await background_reads_done()
    assert feed.reads == 1  # the read has its (empty) answer and is held

    feed.append(token_hash="s1")
    memory.read_now()  # the news came after that read asked
    feed.answer.set()
    await background_reads_done()

    assert feed.reads == 2
    assert memory.get("s1") is None


async def test_news_is_ignored_when_remembering_is_off() -> None:
    feed, clock = FakeFeed(), Clock()
    memory = SessionMemory(cast(FeedStore, feed), bound=0, clock=clock)

    memory.read_now()
    await background_reads_done()

    assert memory.feed_due(clock()) is False
