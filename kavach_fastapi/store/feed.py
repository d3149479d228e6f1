"""The session change feed: appended by the writes that end sessions, read by every process.

Each entry names a session that ended or a user whose sessions must be checked again (their
profile changed, or they were erased). `append_changes` runs inside the transaction of the
write it reports, as its last statement, so the entry commits with the change or not at all.

Readers ask for the entries after the last id they saw, so ids must become visible in the
order they grow. On SQLite writers take turns anyway. On PostgreSQL a sequence hands out ids
at insert, not at commit: a reader could see id 8 committed before id 7 and never look back.
So appending takes the feed's table lock first (``EXCLUSIVE``, which blocks only other
appenders and purges, never readers) and holds it to its commit: ids commit in order. It also
sends ``NOTIFY`` on `FEED_CHANNEL`, delivered at that commit, so that listening processes read
the feed at once (`kavach_fastapi.store.feed_listener`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..database import Database
from ..tables import SessionChangeRow
from ._rows import delete_selected

FEED_PAGE = 1000
"""Entries read by one query; a reader that gets a full page asks again."""

FEED_CHANNEL = "kavach_session_changes"
"""The PostgreSQL notification channel of the feed: a notification says "read the feed"."""

_LOCK = text(f"LOCK TABLE {SessionChangeRow.__tablename__} IN EXCLUSIVE MODE")
_NOTIFY = text(f"NOTIFY {FEED_CHANNEL}")

_CHANGES_AFTER = (
    select(
        col(SessionChangeRow.id), col(SessionChangeRow.token_hash), col(SessionChangeRow.user_id)
    )
    .where(col(SessionChangeRow.id) > bindparam("after"))
    .order_by(col(SessionChangeRow.id))
    .limit(FEED_PAGE)
)
_LATEST = select(func.coalesce(func.max(col(SessionChangeRow.id)), 0))


@dataclass(frozen=True)
class SessionChange:
    """One entry of the feed."""

    id: int
    token_hash: str | None
    """A session that ended."""
    user_id: str | None
    """A user whose remembered sessions must be checked again."""


async def append_changes(
    session: AsyncSession,
    *,
    now: datetime,
    token_hashes: Collection[str] = (),
    user_ids: Collection[str] = (),
) -> None:
    """Append entries inside ``session``'s transaction; call it as the transaction's last step."""
    rows = [{"token_hash": h, "user_id": None, "changed_at": now} for h in token_hashes]
    rows += [{"token_hash": None, "user_id": u, "changed_at": now} for u in user_ids]
    if not rows:
        return
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        await session.execute(_LOCK)
    await session.execute(insert(SessionChangeRow), rows)
    if postgresql:
        await session.execute(_NOTIFY)


class FeedStore:
    """The ``kavach_session_changes`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def latest_id(self) -> int:
        """The id of the newest entry (0 when there is none): where a new reader starts."""
        rows = await self._db.direct_read(_LATEST, {})
        return int(rows[0][0])

    async def changes_after(self, after: int) -> Sequence[SessionChange]:
        """Up to `FEED_PAGE` entries after id ``after``, oldest first, in one query."""
        rows = await self._db.direct_read(_CHANGES_AFTER, {"after": after})
        return [SessionChange(id=row[0], token_hash=row[1], user_id=row[2]) for row in rows]

    async def purge_changes(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` entries older than ``before``, never the newest one.

        The newest stays so that ids keep growing even where the database would reuse them.
        """
        async with self._db.transaction() as session:
            newest = (await session.execute(_LATEST)).scalar_one()
            doomed = (
                select(col(SessionChangeRow.id))
                .where(col(SessionChangeRow.changed_at) < before, col(SessionChangeRow.id) < newest)
                .limit(limit)
            )
            return await delete_selected(
                session, SessionChangeRow, col(SessionChangeRow.id), doomed
            )
