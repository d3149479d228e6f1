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
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from ..database import Database
from ..tables import PERSONAL_DATA_COLUMNS, AccountRow, PrivacyCycleRow, UserRow
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


def _is_due(reported_before: datetime) -> ColumnElement[bool]:
    reported = col(AccountRow.privacy_reported_at)
    return reported.is_(None) | (reported <= reported_before)


def _is_free(now: datetime) -> ColumnElement[bool]:
    until = col(AccountRow.privacy_claim_until)
    return until.is_(None) | (until <= now)


class PrivacyStore:
    """The ``kavach_accounts`` columns of personal-data reporting, its cycle, and erasure."""

    def __init__(self, database: Database, sessions: SessionStore) -> None:
        self._db = database
        self._sessions = sessions

    async def cycle_period(self, provider: str) -> str | None:
        """The ``Cycle-Period`` Atlassian last sent for the provider's reports, if any."""
        statement = select(col(PrivacyCycleRow.cycle_period)).where(
            col(PrivacyCycleRow.provider) == provider
        )
        async with self._db.reader() as session:
            return (await session.execute(statement)).scalar_one_or_none()

    async def record_cycle_period(self, provider: str, period: str, *, now: datetime) -> None:
        """Remember the ``Cycle-Period`` of an answer (one upsert, safe for runs at once)."""
        insert = sqlite_insert if self._db.engine.dialect.name == "sqlite" else postgresql_insert
        statement = insert(PrivacyCycleRow).values(
            provider=provider, cycle_period=period[:64], seen_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["provider"],
            set_={"cycle_period": statement.excluded.cycle_period, "seen_at": now},
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def count_due(self, provider: str, *, reported_before: datetime, now: datetime) -> int:
        """How many of the provider's accounts are due and held by no run at ``now``."""
        statement = select(func.count()).where(
            col(AccountRow.provider) == provider, _is_due(reported_before), _is_free(now)
        )
        async with self._db.reader() as session:
            return int((await session.execute(statement)).scalar_one())

    async def claim_due(
        self,
        provider: str,
        run: str,
        *,
        reported_before: datetime,
        now: datetime,
        until: datetime,
        limit: int,
        skip: Sequence[str] = (),
    ) -> list[DueAccount]:
        """Hold up to ``limit`` due accounts for the run ``run`` until ``until``; them, by row id.

        One conditional ``UPDATE`` takes only accounts still due and held by no run, so of
        two runs at once each account goes to one (on PostgreSQL the loser's ``UPDATE``
        re-reads a row the winner took and passes it over; on SQLite writers take turns).
        An account reported since is no longer due, so calling this again after marking a
        batch reported gives the next batch: an interrupted run resumes where it stopped.
        ``skip``: row ids this run has handled and left due (for the next run).
        """
        conditions = [col(AccountRow.provider) == provider, _is_due(reported_before), _is_free(now)]
        if skip:
            conditions.append(col(AccountRow.id).not_in(list(skip)))
        wanted = select(col(AccountRow.id)).where(*conditions).order_by(col(AccountRow.id))
        claim = (
            update(AccountRow)
            .where(col(AccountRow.id).in_(wanted.limit(limit).scalar_subquery()), *conditions)
            .values(privacy_claimed_by=run, privacy_claim_until=until)
            .execution_options(synchronize_session=False)
        )
        held = (
            select(
                col(AccountRow.id),
                col(AccountRow.user_id),
                col(AccountRow.provider_account_id),
                func.coalesce(col(AccountRow.profile_fetched_at), col(AccountRow.created_at)),
            )
            .where(col(AccountRow.privacy_claimed_by) == run)
            .order_by(col(AccountRow.id))
        )
        while True:
            async with self._db.transaction() as session:
                if rowcount(await session.execute(claim)):
                    rows = (await session.execute(held)).all()
                    return [DueAccount(row[0], row[1], row[2], _aware(row[3])) for row in rows]
                # None taken: nothing is due, or another run took these first; then look again.
                if (await session.execute(wanted.limit(1))).first() is None:
                    return []

    async def extend_claim(self, run: str, *, until: datetime) -> None:
        """Hold the run's accounts longer (it waits out a ``429``)."""
        await self._set_claimed(run, privacy_claim_until=until)

    async def release(self, run: str) -> None:
        """Let go of what the run still holds (it stopped): due for the next run at once."""
        await self._set_claimed(run, privacy_claimed_by=None, privacy_claim_until=None)

    async def mark_reported(self, row_ids: Sequence[str], *, at: datetime) -> None:
        """Record a report of these accounts by the run started ``at``, and let go of them."""
        await self._set_rows(
            row_ids, privacy_reported_at=at, privacy_claimed_by=None, privacy_claim_until=None
        )

    async def mark_due(self, row_ids: Sequence[str]) -> None:
        """These accounts are due again at the next run (a closed one whose hook failed)."""
        await self._set_rows(
            row_ids, privacy_reported_at=None, privacy_claimed_by=None, privacy_claim_until=None
        )

    async def _set_rows(self, row_ids: Sequence[str], **values: object) -> None:
        if not row_ids:
            return
        statement = update(AccountRow).where(col(AccountRow.id).in_(list(row_ids))).values(values)
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def _set_claimed(self, run: str, **values: object) -> None:
        statement = (
            update(AccountRow).where(col(AccountRow.privacy_claimed_by) == run).values(values)
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

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
            ended = await self._sessions.end_user_sessions(user_id, within=session)
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
