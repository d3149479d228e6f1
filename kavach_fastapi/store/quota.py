"""Quota blocks: sites the provider refuses until a time, shared by every worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from ..database import Database
from ..tables import QuotaBlockRow
from ._rows import rowcount


@dataclass(frozen=True)
class QuotaBlock:
    """One block as the guard keeps it: who, until when, and why."""

    provider: str
    site: str
    blocked_until: datetime
    reason: str


class QuotaStore:
    """The ``kavach_quota_blocks`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def block(self, block: QuotaBlock, *, now: datetime) -> None:
        """Record a block, or lengthen the one recorded; a shorter one never shortens it.

        One upsert, so two workers that met the same ``429`` at once leave one row with the
        later of their two times.
        """
        insert = sqlite_insert if self._db.engine.dialect.name == "sqlite" else postgresql_insert
        statement = insert(QuotaBlockRow).values(
            provider=block.provider,
            site=block.site,
            blocked_until=block.blocked_until,
            reason=block.reason[:100],
            recorded_at=now,
        )
        later = col(QuotaBlockRow.blocked_until) < statement.excluded.blocked_until
        statement = statement.on_conflict_do_update(
            index_elements=["provider", "site"],
            set_={
                "blocked_until": statement.excluded.blocked_until,
                "reason": statement.excluded.reason,
                "recorded_at": statement.excluded.recorded_at,
            },
            where=later,
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def active_blocks(self, *, now: datetime) -> list[QuotaBlock]:
        """Every block that has not passed yet (a handful of rows at most)."""
        columns = (
            col(QuotaBlockRow.provider),
            col(QuotaBlockRow.site),
            col(QuotaBlockRow.blocked_until),
            col(QuotaBlockRow.reason),
        )
        statement = select(*columns).where(col(QuotaBlockRow.blocked_until) > now)
        async with self._db.autocommit() as connection:
            rows = (await connection.execute(statement)).all()
        return [QuotaBlock(*row) for row in rows]

    async def purge_blocks(self, *, now: datetime, limit: int | None = None) -> int:
        """Delete blocks that have passed (at most ``limit``); returns how many."""
        doomed = col(QuotaBlockRow.blocked_until) <= now
        if limit is not None:
            oldest = (
                select(col(QuotaBlockRow.provider), col(QuotaBlockRow.site))
                .where(doomed)
                .limit(limit)
            )
            doomed = tuple_(col(QuotaBlockRow.provider), col(QuotaBlockRow.site)).in_(oldest)
        async with self._db.transaction() as session:
            return rowcount(await session.execute(delete(QuotaBlockRow).where(doomed)))
