"""Sessions: the hot-path lookup, activity, a person's list, and their end.

Every way a session ends is a method here (one, a person's one by public id, a person's all but
one, the expired and idle): services never delete session rows themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..database import Database
from ..tables import SessionRow, UserRow
from ._rows import rowcount


@dataclass(frozen=True)
class SessionLookup:
    """What a session check needs: the session's times and its user."""

    expires_at: datetime
    last_active_at: datetime
    user: UserRow


@dataclass(frozen=True)
class SessionRecord:
    """One of a person's sessions, as their list shows it (with the hash, to mark the current)."""

    public_id: str
    token_hash: str
    created_at: datetime
    last_active_at: datetime
    expires_at: datetime
    user_agent: str | None
    network: str | None


_USER_FIELDS = ("id", "email", "email_verified", "name", "image", "created_at", "updated_at")
"""What a session check needs of its user."""

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

        This runs on every request that is not answered from the process cache, so it skips
        the ORM: one Core statement on a connection in autocommit mode.
        """
        async with self._db.autocommit() as connection:
            row = (await connection.execute(_FIND_SESSION, {"token_hash": token_hash})).first()
        if row is None:
            return None
        return SessionLookup(
            expires_at=row.expires_at,
            last_active_at=row.last_active_at,
            user=UserRow(**{name: getattr(row, name) for name in _USER_FIELDS}),
        )

    async def touch_session(self, token_hash: str, at: datetime) -> None:
        """Record activity on a session (for the idle timeout)."""
        async with self._db.transaction() as session:
            await session.execute(
                update(SessionRow)
                .where(col(SessionRow.token_hash) == token_hash)
                .values(last_active_at=at)
            )

    async def delete_session(self, token_hash: str) -> bool:
        """End a session; ``True`` if it existed."""
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(SessionRow).where(col(SessionRow.token_hash) == token_hash)
            )
            return rowcount(result) > 0

    async def purge_sessions(self, *, now: datetime, idle_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` sessions that expired or sat idle; returns how many."""
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

    async def sessions_of(
        self, user_id: str, *, now: datetime, idle_before: datetime
    ) -> list[SessionRecord]:
        """A user's sessions that are still valid (not expired, not idle), last used first."""
        async with self._db.reader() as session:
            rows = (
                await session.execute(
                    select(SessionRow)
                    .where(
                        col(SessionRow.user_id) == user_id,
                        col(SessionRow.expires_at) > now,
                        col(SessionRow.last_active_at) > idle_before,
                    )
                    .order_by(
                        col(SessionRow.last_active_at).desc(), col(SessionRow.created_at).desc()
                    )
                )
            ).scalars()
            return [
                SessionRecord(
                    public_id=row.public_id,
                    token_hash=row.token_hash,
                    created_at=row.created_at,
                    last_active_at=row.last_active_at,
                    expires_at=row.expires_at,
                    user_agent=row.user_agent,
                    network=row.network,
                )
                for row in rows
            ]

    async def end_session_of(self, user_id: str, public_id: str) -> str | None:
        """End the user's session with this public id; the ended token hash, or ``None``.

        A session of another user is not touched, and answers ``None`` like an unknown id.
        """
        mine = (col(SessionRow.user_id) == user_id) & (col(SessionRow.public_id) == public_id)
        async with self._db.transaction() as session:
            ended = await _end_sessions(session, mine)
        return ended[0] if ended else None

    async def end_sessions_of(
        self, user_id: str, *, keep: str | None = None, within: AsyncSession | None = None
    ) -> list[str]:
        """End every session of a user but the one whose token hash is ``keep``.

        Args:
            user_id: whose sessions end.
            keep: the token hash of a session to leave alone (signing out other devices).
            within: a write transaction already open, to end them as part of it (erasing a
                person does, `kavach_fastapi.store.privacy`); a transaction of its own if ``None``.

        Returns:
            The ended sessions' token hashes (for the process cache to forget them).
        """
        theirs: ColumnElement[bool] = col(SessionRow.user_id) == user_id
        if keep is not None:
            theirs = theirs & (col(SessionRow.token_hash) != keep)
        if within is not None:
            return await _end_sessions(within, theirs)
        async with self._db.transaction() as session:
            return await _end_sessions(session, theirs)


async def _end_sessions(session: AsyncSession, where: ColumnElement[bool]) -> list[str]:
    """Delete the sessions that match, inside the caller's transaction; their token hashes."""
    hashes: Sequence[Any] = (
        (await session.execute(select(col(SessionRow.token_hash)).where(where))).scalars().all()
    )
    if not hashes:
        return []
    await session.execute(delete(SessionRow).where(col(SessionRow.token_hash).in_(hashes)))
    return [str(value) for value in hashes]
