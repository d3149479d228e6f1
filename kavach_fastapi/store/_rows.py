"""Helpers shared by the store's modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Result, Select, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(getattr(result, "rowcount", 0))


async def delete_selected(
    session: AsyncSession, table: type[Any], key: Mapped[Any], doomed: Select[Any]
) -> int:
    """Delete the rows of ``table`` whose ``key`` the query ``doomed`` selects; how many.

    The keys are read first and the rows deleted by key, both in ``session``'s transaction.
    """
    keys = (await session.execute(doomed)).scalars().all()
    if not keys:
        return 0
    return rowcount(await session.execute(delete(table).where(key.in_(keys))))
