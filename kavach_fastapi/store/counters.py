"""Rate-limit counters: one atomic conditional upsert per counted request."""

from __future__ import annotations

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from ..database import Database
from ..tables import RateLimitRow
from ._rows import rowcount


class CounterStore:
    """The ``kavach_rate_limits`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def count_hit(self, key: str, window: int, *, limit: int) -> int | None:
        """Count one request for ``key`` in time window ``window``, if it is under ``limit``.

        One statement: the upsert increments only while the count is below ``limit``, and its
        ``RETURNING`` says whether it did, so a refused request changes nothing and two workers
        cannot both take the last place.

        Returns:
            The window's new count, or ``None`` when the limit was already reached.
        """
        insert = sqlite_insert if self._db.engine.dialect.name == "sqlite" else postgresql_insert
        statement = (
            insert(RateLimitRow)
            .values(key=key, window=window, count=1)
            .on_conflict_do_update(
                index_elements=["key", "window"],
                set_={"count": col(RateLimitRow.count) + 1},
                where=col(RateLimitRow.count) < limit,
            )
            .returning(col(RateLimitRow.count))
        )
        async with self._db.transaction() as session:
            count = (await session.execute(statement)).scalar_one_or_none()
        return None if count is None else int(count)

    async def forget_windows_before(self, window: int, *, limit: int | None = None) -> int:
        """Delete rate-limit counters of windows before ``window`` (at most ``limit``)."""
        doomed = col(RateLimitRow.window) < window
        if limit is not None:
            oldest = (
                select(col(RateLimitRow.key), col(RateLimitRow.window)).where(doomed).limit(limit)
            )
            doomed = tuple_(col(RateLimitRow.key), col(RateLimitRow.window)).in_(oldest)
        async with self._db.transaction() as session:
            return rowcount(await session.execute(delete(RateLimitRow).where(doomed)))
