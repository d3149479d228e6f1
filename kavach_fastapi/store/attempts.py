"""Sign-in attempts: stored bounded, consumed once, by the browser that started them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from ..database import Database
from ..tables import SignInAttemptRow
from ._rows import rowcount

_ATTEMPT_COLUMNS = tuple(
    col(getattr(SignInAttemptRow, name)) for name in SignInAttemptRow.model_fields
)


class AttemptStore:
    """The ``kavach_sign_in_attempts`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_attempt(
        self, attempt: SignInAttemptRow, *, keep_per_browser: int, max_pending: int
    ) -> datetime | None:
        """Store a new sign-in attempt, unless ``max_pending`` live attempts exist already.

        The browser keeps at most ``keep_per_browser`` attempts: its oldest beyond that are
        deleted. When the table is full, expired attempts are deleted first; if it is still full,
        nothing is stored and nobody's live attempt is dropped. On SQLite the bound is exact; on
        PostgreSQL starts that run at the same instant may pass it by their number.

        Returns:
            ``None`` when stored; otherwise when the first pending attempt expires.
        """
        async with self._db.transaction() as session:
            pending = await self._count(session, SignInAttemptRow)
            if pending >= max_pending:
                expired = await session.execute(
                    delete(SignInAttemptRow).where(
                        col(SignInAttemptRow.expires_at) <= attempt.created_at
                    )
                )
                pending -= rowcount(expired)
            own = (
                (
                    await session.execute(
                        select(col(SignInAttemptRow.state_hash))
                        .where(col(SignInAttemptRow.browser_hash) == attempt.browser_hash)
                        .order_by(col(SignInAttemptRow.created_at).desc())
                    )
                )
                .scalars()
                .all()
            )
            surplus = own[max(keep_per_browser - 1, 0) :]
            if pending - len(surplus) >= max_pending:
                first_expiry = select(func.min(col(SignInAttemptRow.expires_at)))
                return (await session.execute(first_expiry)).scalar_one()
            if surplus:
                await session.execute(
                    delete(SignInAttemptRow).where(col(SignInAttemptRow.state_hash).in_(surplus))
                )
            session.add(attempt)
            return None

    @staticmethod
    async def _count(session: AsyncSession, table: type[SQLModel]) -> int:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())

    async def has_pending_attempt(
        self, state_hash: str, browser_hash: str, *, provider: str, now: datetime
    ) -> bool:
        """Whether a live attempt of ``provider`` has this state and was started by this browser.

        A read only (one primary-key lookup, in autocommit mode): the rate limiter asks it so
        that a person coming back from the consent page is never refused.
        """
        statement = select(literal(1)).where(
            col(SignInAttemptRow.state_hash) == state_hash,
            col(SignInAttemptRow.browser_hash) == browser_hash,
            col(SignInAttemptRow.provider) == provider,
            col(SignInAttemptRow.expires_at) > now,
        )
        async with self._db.autocommit() as connection:
            return (await connection.execute(statement)).first() is not None

    async def take_attempt(
        self, state_hash: str, *, browser_hash: str, provider: str
    ) -> SignInAttemptRow | None:
        """Remove and return the attempt with this state, browser and provider; else ``None``.

        One conditional ``DELETE ... RETURNING`` decides: only the browser that started the
        attempt can consume it (a callback opened anywhere else leaves it usable), and only
        one caller ever receives it, so a replayed callback finds nothing.
        """
        statement = (
            delete(SignInAttemptRow)
            .where(
                col(SignInAttemptRow.state_hash) == state_hash,
                col(SignInAttemptRow.browser_hash) == browser_hash,
                col(SignInAttemptRow.provider) == provider,
            )
            .returning(*_ATTEMPT_COLUMNS)
        )
        async with self._db.transaction() as session:
            row = (await session.execute(statement)).first()
        return None if row is None else SignInAttemptRow(**row._asdict())

    async def attempt_exists(self, state_hash: str, *, provider: str) -> bool:
        """Whether this provider has an attempt with this state pending.

        Tells a callback opened in the wrong browser from a replayed or unknown ``state``.
        """
        async with self._db.reader() as session:
            found = await session.execute(
                select(col(SignInAttemptRow.state_hash)).where(
                    col(SignInAttemptRow.state_hash) == state_hash,
                    col(SignInAttemptRow.provider) == provider,
                )
            )
            return found.first() is not None

    async def purge_attempts(self, *, now: datetime, limit: int | None = None) -> int:
        """Delete expired sign-in attempts (at most ``limit``); returns how many."""
        doomed = col(SignInAttemptRow.expires_at) <= now
        if limit is not None:
            oldest = select(col(SignInAttemptRow.state_hash)).where(doomed).limit(limit)
            doomed = col(SignInAttemptRow.state_hash).in_(oldest)
        async with self._db.transaction() as session:
            return rowcount(await session.execute(delete(SignInAttemptRow).where(doomed)))
