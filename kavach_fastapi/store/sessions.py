"""Sessions: the hot-path lookup, activity, a person's list, and their end.

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
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..database import Database
from ..models import User
from ..tables import SessionRow, UserRow, utcnow
from ._rows import delete_selected
from .feed import append_changes


@dataclass(frozen=True)
class SessionLookup:
    """What a session check needs: the session's times and its user."""

    expires_at: datetime
    last_active_at: datetime
    user: User


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

    async def end_session_of(self, user_id: str, public_id: str) -> str | None:
        """End the user's session with this public id; the ended token hash, or ``None``.

        A session of another user is not touched, and answers ``None`` like an unknown id.
        """
        ended = await self.end_sessions_where(
            col(SessionRow.user_id) == user_id, col(SessionRow.public_id) == public_id
        )
        return ended[0] if ended else None

    async def end_user_sessions(
        self, user_id: str, *, keep: str | None = None, within: AsyncSession | None = None
    ) -> list[str]:
        """End every session of a user but the one whose token hash is ``keep``.

        Args:
            user_id: whose sessions end.
            keep: the token hash of a session to leave alone (signing out other devices).
            within: a write transaction already open, to delete them as part of it (erasing a
                person does, `kavach_fastapi.store.privacy`). The feed asks to be appended to
                as a transaction's last step, so the caller then appends the returned hashes
                itself (`append_changes`). ``None``: a transaction of its own, feed included.

        Returns:
            The ended sessions' token hashes (for the process's memory to forget them).
        """
        conditions: list[Any] = [col(SessionRow.user_id) == user_id]
        if keep is not None:
            conditions.append(col(SessionRow.token_hash) != keep)
        if within is not None:
            return await _delete_sessions(within, conditions)
        return await self.end_sessions_where(*conditions)

    async def end_sessions_where(self, *conditions: Any) -> list[str]:
        """End the sessions matching ``conditions`` (ANDed), in one transaction.

        The one primitive behind every early end of a session: it deletes the rows and appends
        their hashes to the change feed together, so no caller can forget the feed.

        Args:
            conditions: SQL conditions on ``kavach_sessions``.

        Returns:
            The hashes of the sessions that ended.
        """
        async with self._db.transaction() as session:
            ended = await _delete_sessions(session, conditions)
            await append_changes(session, now=utcnow(), token_hashes=ended)
            return ended

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
            return await delete_selected(session, SessionRow, col(SessionRow.token_hash), doomed)


async def _delete_sessions(session: AsyncSession, conditions: Sequence[Any]) -> list[str]:
    """Delete the sessions that match, in ``session``'s transaction; their token hashes."""
    result = await session.execute(
        delete(SessionRow).where(*conditions).returning(col(SessionRow.token_hash))
    )
    return [str(value) for value in result.scalars().all()]
