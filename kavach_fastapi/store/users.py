"""Users: erasing one, with everything that hangs off them."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import col

from ..database import Database
from ..tables import AccountRow, SessionRow, UserRow, utcnow
from ._rows import rowcount
from .feed import append_changes


class UserStore:
    """The ``kavach_users`` table, outside sign-in."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def erase_user(self, user_id: str) -> bool:
        """Delete a user, their sessions and linked accounts, in one transaction.

        The change feed gets the user's id, so every process forgets their sessions within a
        second. Returns ``True`` if the user existed.
        """
        async with self._db.transaction() as session:
            await session.execute(delete(SessionRow).where(col(SessionRow.user_id) == user_id))
            await session.execute(delete(AccountRow).where(col(AccountRow.user_id) == user_id))
            result = await session.execute(delete(UserRow).where(col(UserRow.id) == user_id))
            erased = rowcount(result) > 0
            if erased:
                await append_changes(session, now=utcnow(), user_ids=[user_id])
        return erased
