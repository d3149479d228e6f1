"""Sessions: the hot-path lookup, activity, and their end.

Every way a session ends before its time goes through `SessionStore.end_session`,
`SessionStore.end_user_sessions` or `SessionStore.end_sessions_where`, which append the ended
sessions to the change feed (`kavach_fastapi.store.feed`) in the same transaction: every
process that remembers one of them forgets it within a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlmodel import col

from ..database import Database
from ..models import User
from ..tables import SessionRow, UserRow, utcnow
from ._rows import rowcount
from .feed import append_changes


@dataclass(frozen=True)
class SessionLookup:
    """What a session check needs: the session's times and its user."""

    expires_at: datetime
    last_active_at: datetime
    user: User


TOUCH_CHUNK = 500
"""Sessions whose activity one statement records (SQLite limits a statement's parameters)."""

_USER_FIELDS = tuple(User.model_fields)
"""What a session check needs of its user: the public model's fields, and no more."""

_FIND_SESSION = (
    select(
        col(SessionRow.expires_at),
        col(SessionRow.last_active_at),
        *(col(getattr(UserRow, name)) for name in _USER_FIELDS),
    )
    .join(UserRow, col(UserRow.id) == col(SessionRow.user_id))
    .where(col(SessionRow.token_hash) == bindparam("token_hash"))
)


class SessionStore:
    """The ``kavach_sessions`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def find_session(self, token_hash: str) -> SessionLookup | None:
        """The session with this token hash and its user, in one indexed lookup.

        This runs on every request that the process does not answer from memory, so it goes
        straight to the driver (`Database.direct_read`): one compiled Core statement.
        """
        rows = await self._db.direct_read(_FIND_SESSION, {"token_hash": token_hash})
        if not rows:
            return None
        expires_at, last_active_at, *user = rows[0]
        return SessionLookup(
            expires_at=expires_at,
            last_active_at=last_active_at,
            user=User(**dict(zip(_USER_FIELDS, user, strict=True))),
        )

    async def touch_sessions(self, token_hashes: Sequence[str], at: datetime) -> None:
        """Record activity on sessions (for the idle timeout), in one transaction."""
        async with self._db.transaction() as session:
            for start in range(0, len(token_hashes), TOUCH_CHUNK):
                await session.execute(
                    update(SessionRow)
                    .where(
                        col(SessionRow.token_hash).in_(token_hashes[start : start + TOUCH_CHUNK])
                    )
                    .values(last_active_at=at)
                )

    async def end_session(self, token_hash: str) -> bool:
        """End one session (sign-out); ``True`` if it existed."""
        return bool(await self.end_sessions_where(col(SessionRow.token_hash) == token_hash))

    async def end_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of a user, but the one whose hash is ``keep``; returns how many."""
        conditions: list[Any] = [col(SessionRow.user_id) == user_id]
        if keep is not None:
            conditions.append(col(SessionRow.token_hash) != keep)
        return len(await self.end_sessions_where(*conditions))

    async def end_sessions_where(self, *conditions: Any) -> list[str]:
        """End the sessions matching ``conditions`` (ANDed), in one transaction.

        The one primitive behind every early end of a session: it deletes the rows and appends
        their hashes to the change feed together, so no caller can forget the feed.

        Returns:
            The hashes of the sessions that ended.
        """
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(SessionRow).where(*conditions).returning(col(SessionRow.token_hash))
            )
            ended = list(result.scalars().all())
            await append_changes(session, now=utcnow(), token_hashes=ended)
        return ended

    async def purge_sessions(self, *, now: datetime, idle_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` sessions that expired or sat idle; returns how many.

        No feed entry: a process that remembers such a session checks its expiry and idle
        time itself.
        """
        async with self._db.transaction() as session:
            doomed = (
                select(col(SessionRow.token_hash))
                .where(
                    (col(SessionRow.expires_at) <= now)
                    | (col(SessionRow.last_active_at) <= idle_before)
                )
                .limit(limit)
            )
            hashes = (await session.execute(doomed)).scalars().all()
            if not hashes:
                return 0
            result = await session.execute(
                delete(SessionRow).where(col(SessionRow.token_hash).in_(hashes))
            )
            return rowcount(result)
