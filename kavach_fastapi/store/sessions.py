"""Sessions: the hot-path lookup, activity, and their end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
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

    async def end_sessions_of(self, user_id: str, *, within: AsyncSession | None = None) -> int:
        """End every session of a user; returns how many ended.

        Args:
            user_id: whose sessions end.
            within: a write transaction already open, to end them as part of it (erasing a
                person does, `kavach_fastapi.store.privacy`); a transaction of its own if ``None``.
        """
        statement = delete(SessionRow).where(col(SessionRow.user_id) == user_id)
        if within is not None:
            return rowcount(await within.execute(statement))
        async with self._db.transaction() as session:
            return rowcount(await session.execute(statement))

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
