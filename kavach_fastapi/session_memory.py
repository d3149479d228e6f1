"""What one process remembers of the sessions it checked, kept honest by the change feed.

A remembered session is answered without the database for as long as the process knows that
nothing ended it: its own expiry and idle timeout are checked in memory, and everything else
that ends a session early (a sign-out, a session ended from another device, a user erased or
whose profile changed) is an entry in the change feed (`kavach_fastapi.store.feed`). The
process reads the feed's new entries, in one query whatever the number of sessions, when its
last read is half the bound old, in the background; a request waits for it only when the last
read is a whole bound old. So at any moment an answer from memory rests on a feed read (or on
its own lookup) that started less than ``bound`` seconds ago: a session ended anywhere is
refused everywhere within ``bound`` (``KAVACH_SESSION_CACHE_SECONDS``, 1 s by default). On
PostgreSQL a notification of a new entry makes it read at once (`listen`), which usually makes
that milliseconds; the bound holds without it.

When the feed cannot be read (the database is away, the table is missing), nothing stale is
served: each remembered session is trusted only for ``bound`` after its own lookup, as if
there were no feed, until a read succeeds. A process that could not read the feed for
`GAP_LIMIT` forgets everything, since the entries it missed may have been purged.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from .background import settle
from .models import User
from .store.feed import FEED_PAGE, FeedStore, SessionChange
from .store.feed_listener import FeedListener

logger = logging.getLogger("kavach_fastapi")

CACHE_ENTRIES = 50_000
"""Sessions remembered per process (least recently used are dropped first); the benchmark
prints the bytes one costs (about 1.5 kB: 75 MB at the cap)."""

FEED_RETENTION = timedelta(hours=1)
"""Feed entries older than this are purged (housekeeping, ``kavach sessions purge``)."""

GAP_LIMIT = 600.0
"""Seconds without a successful feed read after which a process forgets what it remembers."""


@dataclass(frozen=True)
class ActiveSession:
    """A session found valid for the current request."""

    user: User
    token_hash: str
    expires_at: datetime


@dataclass(slots=True)
class Remembered:
    """A session as this process last saw it, with its deadlines as numbers.

    The times are POSIX seconds (``time.time()``), not datetimes: a remembered session is
    checked on every request, and comparing two floats is what that check can afford.
    """

    active: ActiveSession
    checked_at: float
    """Monotonic time at which the lookup that found it started."""
    valid_until: float
    """When it ends unless used again: its expiry or the end of its idle timeout, if sooner."""
    record_activity_at: float
    """When a request should next record its activity (`SessionManager` spaces the writes)."""


class SessionMemory:
    """The remembered sessions of one process, and its place in the change feed.

    Args:
        feed: the change feed; ``None`` to trust each session only ``bound`` after its lookup.
        bound: seconds within which a session ended elsewhere must be refused here.
        capacity: sessions remembered at most.
        clock: a monotonic clock, in seconds.
    """

    def __init__(
        self,
        feed: FeedStore | None,
        *,
        bound: float,
        capacity: int = CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._feed = feed
        self.bound = bound
        self.capacity = capacity
        self.clock = clock
        self._entries: OrderedDict[str, Remembered] = OrderedDict()
        self.epoch = 0
        """Grows whenever something may have ended: a lookup that spans a change keeps nothing."""
        self._last_id: int | None = None
        self._known_at = -math.inf  # start of the last successful feed read
        self._follows_feed = feed is not None and bound > 0
        """Whether this process reads the feed at all (remembering is off without it)."""
        self.next_read_at = -math.inf if self._follows_feed else math.inf
        """Monotonic time from which a read of the feed is due (`feed_due`)."""
        self._next_attempt = -math.inf
        self._reading: asyncio.Future[None] | None = None
        self._read_again = False
        self._listener: FeedListener | None = None
        self._unreadable = False

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token_hash: str) -> Remembered | None:
        """The remembered session, trusted or not (the caller checks `trusted`)."""
        entry = self._entries.get(token_hash)
        if entry is not None:
            self._entries.move_to_end(token_hash)
        return entry

    def checked_at(self, entry: Remembered) -> float:
        """When this session was last known valid: its lookup, or a later feed read."""
        return max(entry.checked_at, self._known_at)

    def trusted(self, entry: Remembered, now: float) -> bool:
        """Whether an answer from memory is still within the bound."""
        # Written out rather than through `checked_at`: every request asks this.
        bound = self.bound
        return now - self._known_at < bound or now - entry.checked_at < bound

    def remember(self, token_hash: str, entry: Remembered, *, epoch: int) -> None:
        """Keep a session a lookup found, unless something ended since the lookup began."""
        if self.bound <= 0 or epoch != self.epoch:
            return
        self._entries[token_hash] = entry
        self._entries.move_to_end(token_hash)
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def drop(self, token_hash: str) -> None:
        """Drop one session a lookup found ended (nothing else changes)."""
        self._entries.pop(token_hash, None)

    def forget(self, token_hashes: Sequence[str] = (), user_ids: Sequence[str] = ()) -> None:
        """Drop sessions that ended, and every session of the users named."""
        self.epoch += 1
        for token_hash in token_hashes:
            self._entries.pop(token_hash, None)
        if user_ids:
            users = set(user_ids)
            for token_hash in [h for h, e in self._entries.items() if e.active.user.id in users]:
                del self._entries[token_hash]

    def forget_all(self) -> None:
        """Drop every remembered session."""
        self.epoch += 1
        self._entries.clear()

    def feed_due(self, now: float) -> bool:
        """Whether `follow_feed` has anything to do at ``now`` (a read to start or wait for)."""
        return now >= self.next_read_at

    def start_reading(self, now: float) -> None:
        """Start a read of the feed in the background if one is due and none is running."""
        if (
            self._feed is not None
            and self._reading is None
            and now >= self._next_attempt
            and self.feed_due(now)
        ):
            self._reading = asyncio.ensure_future(self._read(self._feed))

    def listen(self, engine: AsyncEngine) -> None:
        """On PostgreSQL, read the feed as soon as an entry is appended (`FeedListener`), so
        that a session ended elsewhere is refused here within milliseconds. The bound does not
        rest on it. The app's lifespan calls it; `aclose` stops it."""
        if self._follows_feed and self._listener is None and engine.dialect.name == "postgresql":
            self._listener = FeedListener(engine, self.read_now)
            self._listener.start()

    async def aclose(self) -> None:
        """Stop listening and reading the feed (the app's shutdown): no read starts after it,
        and one under way is given a moment to finish, then cancelled."""
        self._feed = None  # `start_reading` starts nothing from now on
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.aclose()
        if self._reading is not None:
            await settle([self._reading])

    def read_now(self) -> None:
        """Read the feed now rather than at its next turn: it has news (`FeedListener`).

        A read already under way may have missed the news, so another follows it.
        """
        if not self._follows_feed:
            return
        if self._reading is not None:
            self._read_again = True
            return
        self.next_read_at = -math.inf
        self.start_reading(self.clock())

    async def follow_feed(self, *, wait: bool = True) -> None:
        """Read the feed if it is due; wait for it only if memory is otherwise untrusted.

        Args:
            wait: whether to wait for a read that is overdue (``False``: only start it).
        """
        now = self.clock()
        self.start_reading(now)
        if wait and self._reading is not None and now - self._known_at >= self.bound:
            await asyncio.shield(self._reading)

    async def _read(self, feed: FeedStore) -> None:
        started = self.clock()
        try:
            if self._last_id is None or started - self._known_at > GAP_LIMIT:
                # A first read, or one after a long gap: what happened before is unknown.
                self._last_id = await feed.latest_id()
                self.forget_all()
            else:
                await self._apply(feed)
        except Exception as exc:  # any failure: memory stops being trusted, never stale
            self._next_attempt = self.clock() + self.bound / 2
            if not self._unreadable:
                self._unreadable = True
                logger.warning(
                    "kavach cannot read the session change feed (%s): checking each session "
                    "in the database every %.3g s until it can.",
                    type(exc).__name__,
                    self.bound,
                )
        else:
            self._known_at = started
            self.next_read_at = started + self.bound / 2
            if self._unreadable:
                self._unreadable = False
                logger.info("kavach reads the session change feed again.")
        finally:
            self._reading = None
            if self._read_again:
                self._read_again = False
                self.read_now()

    async def _apply(self, feed: FeedStore) -> None:
        assert self._last_id is not None  # noqa: S101 - set by the first read
        while True:
            changes = await feed.changes_after(self._last_id)
            if changes:
                self._forget_changes(changes)
                self._last_id = changes[-1].id
            if len(changes) < FEED_PAGE:
                return

    def _forget_changes(self, changes: Sequence[SessionChange]) -> None:
        self.forget(
            [c.token_hash for c in changes if c.token_hash is not None],
            [c.user_id for c in changes if c.user_id is not None],
        )
