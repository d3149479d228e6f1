"""Personal-data reporting's queries: accounts due, their reports, re-reads and erasure.

Erasing a person is one transaction: their sessions end (through `SessionStore.end_user_sessions`),
their linked account goes (tokens, cached sites and the Atlassian account id with it), and
their user row keeps only its id and times. On SQLite every connection zeroes what it deletes
(``PRAGMA secure_delete``, set in `kavach_fastapi.database`), and `PrivacyStore.checkpoint`
then moves the write-ahead log into the database file and truncates it, so the erased bytes
are in neither file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, case, func, select, text, update
from sqlmodel import col

from ..database import Database
from ..tables import PERSONAL_DATA_COLUMNS, AccountRow, UserRow
from ._rows import rowcount
from .feed import append_changes
from .sessions import SessionStore

_ERASED_USER: dict[str, object] = {
    column: UserRow.model_fields[column].default for column in PERSONAL_DATA_COLUMNS
}
"""The personal data of an erased user: each column's default (no email, name or picture)."""


@dataclass(frozen=True)
class DueAccount:
    """An account to report: our row, the provider's account id and when its data was read."""

    row_id: str
    user_id: str
    account_id: str
    updated_at: datetime


@dataclass(frozen=True)
class Erased:
    """What erasing one account removed."""

    user_id: str
    sessions: int


def _is_due(now: datetime) -> ColumnElement[bool]:
    return col(AccountRow.privacy_next_report_at).is_(None) | (
        col(AccountRow.privacy_next_report_at) <= now
    )


class PrivacyStore:
    """The ``kavach_accounts`` columns of personal-data reporting, and erasure."""

    def __init__(self, database: Database, sessions: SessionStore) -> None:
        self._db = database
        self._sessions = sessions

    async def count_due(self, provider: str, *, now: datetime) -> int:
        """How many of the provider's accounts are due for a report at ``now``."""
        statement = select(func.count()).where(col(AccountRow.provider) == provider, _is_due(now))
        async with self._db.reader() as session:
            return int((await session.execute(statement)).scalar_one())

    async def due_accounts(self, provider: str, *, now: datetime, limit: int) -> list[DueAccount]:
        """Up to ``limit`` accounts due at ``now``, by row id.

        An account reported since is no longer due, so calling this again after marking a
        batch reported gives the next batch: an interrupted run resumes where it stopped.
        """
        statement = (
            select(
                col(AccountRow.id),
                col(AccountRow.user_id),
                col(AccountRow.provider_account_id),
                func.coalesce(col(AccountRow.profile_fetched_at), col(AccountRow.created_at)),
            )
            .where(col(AccountRow.provider) == provider, _is_due(now))
            .order_by(col(AccountRow.id))
            .limit(limit)
        )
        async with self._db.reader() as session:
            rows = (await session.execute(statement)).all()
        return [DueAccount(row[0], row[1], row[2], _aware(row[3])) for row in rows]

    async def bearer_candidates(self, provider: str, *, prefer_scope: str, limit: int) -> list[str]:
        """Users whose grant may authorise a call the app makes as itself.

        Grants that need no consent again and hold an access token: first those whose scopes
        include ``prefer_scope``, then the most recently written tokens.
        """
        has_scope = col(AccountRow.scopes).contains(prefer_scope)
        statement = (
            select(col(AccountRow.user_id))
            .where(
                col(AccountRow.provider) == provider,
                col(AccountRow.needs_reauth).is_(False),
                col(AccountRow.access_token).is_not(None),
            )
            .order_by(case((has_scope, 0), else_=1), col(AccountRow.updated_at).desc())
            .limit(limit)
        )
        async with self._db.reader() as session:
            return list((await session.execute(statement)).scalars().all())

    async def mark_reported(
        self, row_ids: Sequence[str], *, now: datetime, next_report_at: datetime
    ) -> None:
        """Record a report of these accounts, and when they are next due."""
        if not row_ids:
            return
        statement = (
            update(AccountRow)
            .where(col(AccountRow.id).in_(list(row_ids)))
            .values(privacy_reported_at=now, privacy_next_report_at=next_report_at)
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def mark_stale(self, provider: str, account_ids: Sequence[str]) -> int:
        """Atlassian answered ``updated``: read these profiles again at the next chance."""
        if not account_ids:
            return 0
        statement = (
            update(AccountRow)
            .where(
                col(AccountRow.provider) == provider,
                col(AccountRow.provider_account_id).in_(list(account_ids)),
            )
            .values(profile_stale=True)
        )
        async with self._db.transaction() as session:
            return rowcount(await session.execute(statement))

    async def erase(self, provider: str, account_id: str, *, now: datetime) -> Erased | None:
        """Erase the person behind a provider account, in one transaction.

        Their sessions end, the linked account row goes (tokens, cached sites, the provider's
        account id), and the user row keeps only its id and times: name, email and picture
        are cleared. ``None`` when no such account is stored.
        """
        async with self._db.transaction() as session:
            if self._db.engine.dialect.name == "sqlite":
                # Already on for every connection; said again here, where it matters.
                await session.execute(text("PRAGMA secure_delete=ON"))
            account = (
                await session.execute(
                    select(AccountRow).where(
                        col(AccountRow.provider) == provider,
                        col(AccountRow.provider_account_id) == account_id,
                    )
                )
            ).scalar_one_or_none()
            if account is None:
                return None
            user_id = account.user_id
            ended = await self._sessions.end_user_sessions(user_id, within=session, feed=False)
            await session.delete(account)
            await session.execute(
                update(UserRow)
                .where(col(UserRow.id) == user_id)
                .values(**_ERASED_USER, updated_at=now)
            )
            # Last, as the feed asks: on PostgreSQL appending takes the feed's lock to commit.
            await session.flush()
            await append_changes(session, now=now, token_hashes=ended)
        return Erased(user_id=user_id, sessions=len(ended))

    async def checkpoint(self) -> bool | None:
        """On SQLite, copy the write-ahead log into the database file and truncate it.

        Returns:
            ``True`` when the log is empty now; ``False`` when a reader kept it busy past the
            busy timeout (the next checkpoint completes it); ``None`` on other databases.
        """
        if self._db.engine.dialect.name != "sqlite":
            return None
        async with self._db.autocommit() as connection:
            row = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
        return row is not None and int(row[0]) == 0


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
