"""Sessions: issue, read, refresh activity, list a person's, and end them.

A session token is 256 random bits handed to the browser (cookie) or API client (bearer). The
database keeps only its SHA-256, so a stolen copy of the table cannot be replayed. A session ends
at its absolute expiry, after an idle period, or when it is revoked; each sign-in makes a new one,
so a session id planted before sign-in is never adopted.

While the database cannot be reached, a session this process checked within
`OUTAGE_GRACE` (and never past its expiry or idle timeout) keeps working; any other
request that needs a session answers 503 ``database_unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .crypto import hash_token, new_token
from .devices import UNKNOWN_DEVICE, Device
from .errors import DatabaseUnavailableError, UnknownSessionError
from .models import SignedInSession, User
from .store.sessions import SessionRecord, SessionStore
from .store.signins import NewSession
from .tables import utcnow

MAX_TOKEN_LENGTH = 128
"""Anything longer is not one of our tokens; refused before hashing."""

CACHE_ENTRIES = 10_000
"""Sessions remembered per process (least recently used are dropped first)."""

OUTAGE_GRACE = timedelta(minutes=5)
"""How long after its last check a remembered session keeps working while the database is down.

It cannot be longer than the session's idle timeout, nor outlive its expiry. Signing out needs
the database too, so what it risks is a sign-out made in another process just before the
outage, honoured here only once the database is back (or this grace ends)."""


@dataclass(frozen=True)
class ActiveSession:
    """A session found valid for the current request."""

    user: User
    token_hash: str
    expires_at: datetime


class SessionManager:
    """Issues and checks sessions.

    Checking a session on every request is the hot path of an app, so each process remembers
    the sessions it has seen for ``cache_seconds``. Revocation stays correct: signing out here
    forgets the session here at once, and another process stops accepting it within
    ``cache_seconds``. While the database is unavailable, a remembered session is trusted for
    up to `OUTAGE_GRACE` after its last check instead.

    Args:
        store: the sessions table.
        lifetime: absolute lifetime of a session.
        idle_timeout: a session unused for this long ends.
        cache_seconds: how long a process may trust a session it checked; ``0`` turns the
            cache off.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        lifetime: timedelta,
        idle_timeout: timedelta,
        cache_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self.lifetime = lifetime
        self.idle_timeout = idle_timeout
        self._cache_seconds = cache_seconds
        self._cache: OrderedDict[str, tuple[float, ActiveSession]] = OrderedDict()
        self._lookups: dict[str, asyncio.Future[ActiveSession | None]] = {}
        self._revocations = 0  # a lookup that saw one happen must not fill the cache
        # Recording activity costs a write; doing it at most this often keeps the idle timeout
        # accurate to a few percent without writing on every request.
        self._touch_interval = min(idle_timeout / 20, timedelta(minutes=5))
        self._outage_grace = min(OUTAGE_GRACE, idle_timeout).total_seconds()

    def new_session(self, now: datetime, device: Device = UNKNOWN_DEVICE) -> tuple[str, NewSession]:
        """A fresh token, and what the store keeps of it (the sign-in's write adds it)."""
        token = new_token(32)
        new = NewSession(
            token_hash=hash_token(token), expires_at=now + self.lifetime, device=device
        )
        return token, new

    async def authenticate(self, token: str | None) -> ActiveSession | None:
        """The session a token stands for, if it is valid now; ``None`` otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        token_hash = hash_token(token)
        cached = self._cache.get(token_hash)
        if cached is not None:
            age = time.monotonic() - cached[0]
            if age < self._cache_seconds and cached[1].expires_at > utcnow():
                self._cache.move_to_end(token_hash)
                return cached[1]
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

    def _remembered_during_outage(self, token_hash: str) -> ActiveSession | None:
        """The remembered session, if its last check is recent enough to trust in an outage."""
        cached = self._cache.get(token_hash)
        if cached is None:
            return None
        checked_at, active = cached
        if time.monotonic() - checked_at < self._outage_grace and active.expires_at > utcnow():
            return active
        return None

    def _looked_up(self, token_hash: str, lookup: asyncio.Future[ActiveSession | None]) -> None:
        if self._lookups.get(token_hash) is lookup:
            del self._lookups[token_hash]
        if not lookup.cancelled():
            lookup.exception()  # retrieved here, so a failure nobody awaited is not reported

    async def _look_up(self, token_hash: str) -> ActiveSession | None:
        revocations = self._revocations
        found = await self._store.find_session(token_hash)
        now = utcnow()
        if (
            found is None
            or found.expires_at <= now
            or found.last_active_at + self.idle_timeout <= now
        ):
            self._cache.pop(token_hash, None)
            return None
        if now - found.last_active_at >= self._touch_interval:
            # The session was just read and is valid; recording the activity can wait for
            # the next check when writes fail (a locked SQLite file still serves reads).
            with contextlib.suppress(DatabaseUnavailableError):
                await self._store.touch_session(token_hash, now)
        active = ActiveSession(
            user=User.from_row(found.user), token_hash=token_hash, expires_at=found.expires_at
        )
        if revocations == self._revocations:
            self._remember(token_hash, active)
        return active

    def _remember(self, token_hash: str, active: ActiveSession) -> None:
        if self._cache_seconds <= 0:
            return
        self._cache[token_hash] = (time.monotonic(), active)
        if len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)

    async def revoke(self, token_hash: str) -> bool:
        """End a session on the server; ``True`` if it existed."""
        self._forget([token_hash])
        return await self._store.delete_session(token_hash)

    def _forget(self, token_hashes: Iterable[str]) -> None:
        """Stop trusting these sessions in this process at once (the revocation bound).

        Called before the rows are deleted and again after: a lookup that started in between
        must not put a session back into the cache.
        """
        self._revocations += 1
        for token_hash in token_hashes:
            self._cache.pop(token_hash, None)
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
        session end, it is refused at once by this process and by every other within the
        session cache's lifetime (``KAVACH_SESSION_CACHE_SECONDS``). The user and their linked
        accounts stay; their next visit needs a new sign-in.
        """
        return await self._end_sessions_of(user_id, keep=None)

    async def _end_sessions_of(self, user_id: str, *, keep: str | None) -> int:
        self._forget(())
        ended = await self._store.end_sessions_of(user_id, keep=keep)
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
