"""Sessions: issue, read, refresh activity, list a person's, and end them.

A session token is 256 random bits handed to the browser (cookie) or API client (bearer). The
database keeps only its SHA-256, so a stolen copy of the table cannot be replayed. A session ends
at its absolute expiry, after an idle period, or when it is revoked; each sign-in makes a new one,
so a session id planted before sign-in is never adopted.

Each process remembers the sessions it checked (`kavach_fastapi.session_memory`) and learns
from the change feed which of them ended elsewhere, so a request is answered without the
database while a session ended anywhere is refused everywhere within a second.

While the database cannot be reached, a session this process checked within
`OUTAGE_GRACE` (and never past its expiry or idle timeout) keeps working; any other
request that needs a session answers 503 ``database_unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TypeGuard

from .background import settle
from .crypto import hash_token, new_token
from .devices import UNKNOWN_DEVICE, Device
from .errors import DatabaseUnavailableError, UnknownSessionError
from .models import SignedInSession
from .session_activity import ACTIVITY_GATHERING, ActivityRecorder
from .session_memory import CACHE_ENTRIES, ActiveSession, Remembered, SessionMemory
from .store.feed import FeedStore
from .store.sessions import SessionRecord, SessionStore
from .store.signins import NewSession
from .tables import utcnow

__all__ = ["CACHE_ENTRIES", "OUTAGE_GRACE", "ActiveSession", "SessionManager"]

MAX_TOKEN_LENGTH = 128
"""Anything longer is not one of our tokens; refused before hashing."""

OUTAGE_GRACE = timedelta(minutes=5)
"""How long after its last check a remembered session keeps working while the database is down.

It cannot be longer than the session's idle timeout, nor outlive its expiry. Signing out needs
the database too, so what it risks is a sign-out made in another process just before the
outage, honoured here only once the database is back (or this grace ends)."""


def _may_be_a_token(token: str | None) -> TypeGuard[str]:
    """Whether a string could be one of our tokens: anything else is refused before hashing."""
    return token is not None and 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii()


class SessionManager:
    """Issues and checks sessions.

    Checking a session on every request is the hot path of an app, so each process remembers
    the sessions it has checked, for as long as their own rules allow (expiry, idle timeout),
    and reads the change feed to forget those that ended elsewhere. Revocation stays correct:
    signing out here forgets the session here at once, and another process stops accepting it
    within ``cache_seconds``. While the database is unavailable, a remembered session is
    trusted for up to `OUTAGE_GRACE` after its last check instead.

    Args:
        store: the sessions table.
        lifetime: absolute lifetime of a session.
        idle_timeout: a session unused for this long ends.
        cache_seconds: the bound within which a session ended in another process is refused
            here; ``0`` turns remembering off (a lookup per request).
        feed: the change feed; ``None`` trusts a remembered session only ``cache_seconds``
            after its lookup.
        capacity: sessions remembered at most (least recently used are dropped first).
        activity_gathering: seconds due activity gathers before one write (`ACTIVITY_GATHERING`).
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        lifetime: timedelta,
        idle_timeout: timedelta,
        cache_seconds: float = 1.0,
        feed: FeedStore | None = None,
        capacity: int = CACHE_ENTRIES,
        activity_gathering: float = ACTIVITY_GATHERING,
    ) -> None:
        self._store = store
        self.activity = ActivityRecorder(store, gathering=activity_gathering)
        self.lifetime = lifetime
        self.idle_timeout = idle_timeout
        self.memory = SessionMemory(feed, bound=cache_seconds, capacity=capacity)
        self._lookups: dict[str, asyncio.Future[ActiveSession | None]] = {}
        # Recording activity costs a write; doing it at most this often keeps the idle timeout
        # accurate to a few percent without writing on every request.
        self._touch_interval = min(idle_timeout / 20, timedelta(minutes=5))
        self._outage_grace = min(OUTAGE_GRACE, idle_timeout).total_seconds()
        self._idle_seconds = idle_timeout.total_seconds()
        self._touch_seconds = self._touch_interval.total_seconds()

    def new_session(self, now: datetime, device: Device = UNKNOWN_DEVICE) -> tuple[str, NewSession]:
        """A fresh token, and what the store keeps of it (the sign-in's write adds it)."""
        token = new_token(32)
        new = NewSession(
            token_hash=hash_token(token), expires_at=now + self.lifetime, device=device
        )
        return token, new

    async def authenticate(self, token: str | None) -> ActiveSession | None:
        """The session a token stands for, if it is valid now; ``None`` otherwise."""
        token_hash = self.token_hash(token)
        if token_hash is None:
            return None
        return self.recall(token_hash) or await self.check(token_hash)

    @staticmethod
    def token_hash(token: str | None) -> str | None:
        """The hash a token's session is kept under; ``None`` for a string that cannot be one
        of our tokens (refused before hashing).

        The session dependency hashes once, asks `recall`, and awaits `check` only when
        memory cannot tell: `authenticate` in two steps, the first without an await.
        """
        return hash_token(token) if _may_be_a_token(token) else None

    def recall(self, token_hash: str) -> ActiveSession | None:
        """The session answered from memory alone, without waiting for anything.

        Most requests end here: the session is remembered, trusted (the feed or its own lookup
        was read less than the bound ago) and neither expired nor idle. ``None`` means only the
        feed or the database can tell, not that the session is invalid.
        """
        memory = self.memory
        entry = memory.get(token_hash)
        if entry is None:
            return None
        clock = memory.clock()
        if clock >= memory.next_read_at:
            memory.start_reading(clock)
        if not memory.trusted(entry, clock):
            return None  # the feed is overdue: `check` waits for it
        now = time.time()
        if now >= entry.valid_until:
            return None  # `check` looks it up, finds it ended and forgets it
        if now >= entry.record_activity_at:
            self._record_activity(entry, now)
        return entry.active

    async def check(self, token_hash: str) -> ActiveSession | None:
        """What `recall` could not answer: after the feed, or from the database."""
        memory = self.memory
        if memory.get(token_hash) is not None:
            await memory.follow_feed()
            remembered = self.recall(token_hash)
            if remembered is not None:
                return remembered
        else:
            memory.start_reading(memory.clock())  # a lookup needs none, but what it finds will
        # Requests that arrive together for one session share one lookup.
        lookup = self._lookups.get(token_hash)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(token_hash))
            self._lookups[token_hash] = lookup
            lookup.add_done_callback(lambda done: self._looked_up(token_hash, done))
        try:
            return await asyncio.shield(lookup)
        except DatabaseUnavailableError:
            remembered = self._remembered_during_outage(token_hash)
            if remembered is None:
                raise
            return remembered

    def _deadlines(self, expires_at: datetime, active_at: float) -> tuple[float, float]:
        """When a session last active at ``active_at`` ends unless used again (its expiry or
        idle end, if sooner), and when its activity is next recorded."""
        ends = min(expires_at.timestamp(), active_at + self._idle_seconds)
        return ends, active_at + self._touch_seconds

    def _set_activity(self, entry: Remembered, at: float) -> None:
        """Move a remembered session's idle end and next activity write to follow ``at``."""
        entry.valid_until, entry.record_activity_at = self._deadlines(entry.active.expires_at, at)

    def _record_activity(self, entry: Remembered, at: float) -> None:
        """Record a remembered session's activity later, in one write with the others due.

        A request never waits for it, and sessions that come due together (a busy minute)
        cost one transaction, not one each; SQLite serialises writers, and a write per session
        would queue requests behind the lock.
        """
        self._set_activity(entry, at)  # first, so that concurrent requests do not record it again
        self.activity.record(entry.active.token_hash, datetime.fromtimestamp(at, timezone.utc))

    async def _touch(self, entry: Remembered, now: datetime) -> None:
        """Record the activity a lookup found due: later with the others when remembering is
        on (`_record_activity`); at once when it is off, as each request is decided by the row.
        """
        if self.memory.bound > 0:
            self._record_activity(entry, now.timestamp())
            return
        self._set_activity(entry, now.timestamp())
        # The activity can wait for the next check when writes fail (a locked SQLite file
        # still serves reads).
        with contextlib.suppress(DatabaseUnavailableError):
            await self._store.touch_sessions([entry.active.token_hash], now)

    async def aclose(self) -> None:
        """The app's shutdown: stop following the feed, end the lookups nobody waits for any
        more (a request that gave up leaves its lookup running), and write the gathered
        activity, so that the database closes with no connection in use."""
        await self.memory.aclose()
        await settle(list(self._lookups.values()))
        await self.activity.aclose()

    def _remembered_during_outage(self, token_hash: str) -> ActiveSession | None:
        """The remembered session, if its last check is recent enough to trust in an outage."""
        entry = self.memory.get(token_hash)
        if entry is None:
            return None
        age = self.memory.clock() - self.memory.checked_at(entry)
        if age < self._outage_grace and time.time() < entry.valid_until:
            return entry.active
        return None

    def _looked_up(self, token_hash: str, lookup: asyncio.Future[ActiveSession | None]) -> None:
        if self._lookups.get(token_hash) is lookup:
            del self._lookups[token_hash]
        if not lookup.cancelled():
            lookup.exception()  # retrieved here, so a failure nobody awaited is not reported

    async def _look_up(self, token_hash: str) -> ActiveSession | None:
        memory = self.memory
        epoch, started = memory.epoch, memory.clock()
        found = await self._store.find_session(token_hash)
        now = utcnow()
        if (
            found is None
            or found.expires_at <= now
            or found.last_active_at + self.idle_timeout <= now
        ):
            memory.drop(token_hash)
            return None
        active = ActiveSession(user=found.user, token_hash=token_hash, expires_at=found.expires_at)
        valid_until, record_at = self._deadlines(found.expires_at, found.last_active_at.timestamp())
        entry = Remembered(
            active, checked_at=started, valid_until=valid_until, record_activity_at=record_at
        )
        if now - found.last_active_at >= self._touch_interval:
            await self._touch(entry, now)
        memory.remember(token_hash, entry, epoch=epoch)
        return active

    async def revoke(self, token_hash: str) -> bool:
        """End a session on the server; ``True`` if it existed.

        Forgotten here before and after the write, so that a lookup running meanwhile keeps
        nothing; other processes learn it from the change feed.
        """
        self._forget([token_hash])
        try:
            return await self._store.end_session(token_hash)
        finally:
            self._forget([token_hash])

    def _forget(self, token_hashes: Sequence[str]) -> None:
        """Stop trusting these sessions in this process at once (the revocation bound).

        Called before the rows are deleted and again after: a lookup that started in between
        keeps nothing (the memory's epoch moved), and other processes learn it from the feed.
        """
        self.memory.forget(token_hashes)
        for token_hash in token_hashes:
            self._lookups.pop(token_hash, None)

    # Session management: a person's own sessions, and an admin's "sign this user out".

    async def sessions_of(self, current: ActiveSession) -> list[SignedInSession]:
        """The signed-in person's valid sessions, the current one first and marked."""
        now = utcnow()
        records = await self._store.sessions_of(
            current.user.id, now=now, idle_before=now - self.idle_timeout
        )
        listed = [
            _public(record, current=record.token_hash == current.token_hash) for record in records
        ]
        return sorted(listed, key=lambda session: not session.current)

    async def end_own_session(self, current: ActiveSession, session_id: str) -> bool:
        """End one of the signed-in person's sessions by its public id.

        Returns:
            ``True`` when it was the current session (the person is now signed out).

        Raises:
            UnknownSessionError: no session of this person has that id: it never existed,
                already ended, or is someone else's, which answer alike.
        """
        if not PUBLIC_ID.fullmatch(session_id):
            raise UnknownSessionError
        self._forget(())
        ended = await self._store.end_session_of(current.user.id, session_id)
        if ended is None:
            raise UnknownSessionError
        self._forget([ended])
        return ended == current.token_hash

    async def end_other_sessions(self, current: ActiveSession) -> int:
        """End every session of the signed-in person but the current one; how many ended."""
        return await self._end_sessions_of(current.user.id, keep=current.token_hash)

    async def end_user_sessions(self, user_id: str) -> int:
        """Sign a user out everywhere: end all their sessions; how many ended.

        For admins (a person leaving, a device lost, an account compromised). Like every
        session end, it is refused at once by this process and, through the change feed, by
        every other within ``KAVACH_SESSION_CACHE_SECONDS``. The user and their linked
        accounts stay; their next visit needs a new sign-in.
        """
        return await self._end_sessions_of(user_id, keep=None)

    async def _end_sessions_of(self, user_id: str, *, keep: str | None) -> int:
        self._forget(())
        ended = await self._store.end_user_sessions(user_id, keep=keep)
        self._forget(ended)
        return len(ended)


PUBLIC_ID = re.compile(r"[0-9a-f]{32}")
"""What a session's public id looks like; anything else names no session."""


def _public(record: SessionRecord, *, current: bool) -> SignedInSession:
    return SignedInSession(
        id=record.public_id,
        current=current,
        created_at=record.created_at,
        last_used_at=record.last_active_at,
        expires_at=record.expires_at,
        user_agent=record.user_agent,
        network=record.network,
    )
