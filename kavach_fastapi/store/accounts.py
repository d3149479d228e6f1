"""Provider accounts: the refresh lease, compare-and-swap token writes and the sites cache.

Every write of new tokens bumps ``token_version``; a refresh (its new tokens, or its finding
that the grant is dead) and a key rotation each write only if the row is still at the version
they read, so none overwrites another, nor the tokens of a sign-in made meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from ..crypto import SealedTokens
from ..database import Database
from ..grant_health import GrantFacts
from ..models import ProviderProfile
from ..tables import AccountRow, UserRow
from ._rows import rowcount
from .feed import append_changes
from .signins import apply_profile

_FORGOTTEN_ON_DISCONNECT = (
    "access_token",
    "refresh_token",
    "access_token_expires_at",
    "sites_json",
    "sites_fetched_at",
)
"""The columns a disconnect empties; the identity link (user, account id) stays."""


class AccountStore:
    """The ``kavach_accounts`` table, outside sign-in."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def accounts_of(self, user_id: str) -> Sequence[AccountRow]:
        """The provider accounts linked to a user."""
        async with self._db.reader() as session:
            statement = select(AccountRow).where(col(AccountRow.user_id) == user_id)
            return (await session.execute(statement)).scalars().all()

    async def account_of(self, user_id: str, provider: str) -> AccountRow | None:
        """The user's one account with a provider, if linked.

        ``(user_id, provider)`` is unique (``uq_kavach_accounts_user_provider``), so this names
        exactly one grant; were it ever not, this raises rather than pick one.
        """
        async with self._db.reader() as session:
            statement = select(AccountRow).where(
                col(AccountRow.user_id) == user_id, col(AccountRow.provider) == provider
            )
            return (await session.execute(statement)).scalar_one_or_none()

    async def get_account(self, account_id: str) -> AccountRow | None:
        """An account row as it is now."""
        async with self._db.reader() as session:
            return await session.get(AccountRow, account_id)

    async def try_lease(
        self, account_id: str, *, version: int, owner: str, now: datetime, until: datetime
    ) -> bool:
        """Take the right to refresh this account's tokens, if nobody holds it.

        Succeeds only if the tokens are still at ``version`` (nobody refreshed since we looked)
        and no live lease exists; an expired lease (its holder died) is taken over.
        """
        return await self._update(
            account_id,
            col(AccountRow.token_version) == version,
            col(AccountRow.needs_reauth).is_(False),
            (col(AccountRow.refresh_lease_until).is_(None))
            | (col(AccountRow.refresh_lease_until) < now),
            refresh_lease_owner=owner,
            refresh_lease_until=until,
        )

    async def save_refreshed(
        self, account_id: str, *, owner: str, version: int, sealed: SealedTokens, now: datetime
    ) -> bool:
        """Store a refreshed token set in one write, if we still hold the lease on the tokens
        at ``version`` (those the refresh started from).

        A new sign-in since then wrote newer tokens (and dropped the lease): they are kept,
        nothing is written (``False``). A ``None`` refresh token in ``sealed`` keeps the
        stored one. Writing it again after a write whose answer was lost is harmless: the
        first one dropped the lease, so the second writes nothing.
        """
        values: dict[str, Any] = {
            "access_token": sealed.access_token,
            "access_token_expires_at": sealed.expires_at,
            "token_version": col(AccountRow.token_version) + 1,
            "refresh_lease_owner": None,
            "refresh_lease_until": None,
            "updated_at": now,
        }
        if sealed.refresh_token is not None:
            values["refresh_token"] = sealed.refresh_token
        if sealed.scopes:
            values["scopes"] = sealed.scopes
        return await self._update(
            account_id,
            col(AccountRow.refresh_lease_owner) == owner,
            col(AccountRow.token_version) == version,
            **values,
        )

    async def release_lease(self, account_id: str, *, owner: str) -> None:
        """Give the lease back without new tokens (the refresh failed for now)."""
        await self._update(
            account_id,
            col(AccountRow.refresh_lease_owner) == owner,
            refresh_lease_owner=None,
            refresh_lease_until=None,
        )

    async def mark_needs_reauth(self, account_id: str, *, version: int, now: datetime) -> bool:
        """The grant of the tokens at ``version`` is dead: keep the link, drop the lease, and
        ask for consent again.

        Only if the row still holds those tokens: a sign-in since the caller read them stored
        a new consent's tokens, which must not be marked dead for the old grant's sake.

        Returns:
            Whether the account was marked (``False``: its tokens changed meanwhile).
        """
        return await self._retire_grant(
            account_id, col(AccountRow.token_version) == version, now=now
        )

    async def _retire_grant(
        self, account_id: str, *conditions: Any, now: datetime, **also: Any
    ) -> bool:
        return await self._update(
            account_id,
            *conditions,
            needs_reauth=True,
            refresh_lease_owner=None,
            refresh_lease_until=None,
            token_version=col(AccountRow.token_version) + 1,
            updated_at=now,
            **also,
        )

    async def save_sites(self, account_id: str, sites_json: str, *, now: datetime) -> None:
        """Cache an account's list of sites."""
        await self._update(account_id, sites_json=sites_json, sites_fetched_at=now)

    async def forget_tokens(self, account_id: str, *, now: datetime) -> None:
        """Disconnect: drop the tokens and cached sites, keep the identity link."""
        await self._retire_grant(account_id, now=now, **dict.fromkeys(_FORGOTTEN_ON_DISCONNECT))

    async def save_profile(
        self, row_id: str, user_id: str, profile: ProviderProfile, *, now: datetime
    ) -> None:
        """Store a profile read again, and that it is fresh, in one transaction."""
        async with self._db.transaction() as session:
            user = await session.get(UserRow, user_id)
            if user is None:
                return
            apply_profile(user, profile, now=now)
            await session.execute(
                update(AccountRow)
                .where(col(AccountRow.id) == row_id)
                .values(profile_fetched_at=now, profile_stale=False)
            )
            # Processes that remember this user's sessions show the profile read again.
            await append_changes(session, now=now, user_ids=[user_id])

    async def grant_facts(self) -> list[GrantFacts]:
        """What every account says about its grant, without reading a token."""
        statement = select(
            col(AccountRow.id),
            col(AccountRow.provider),
            col(AccountRow.needs_reauth),
            col(AccountRow.access_token).is_not(None),
            col(AccountRow.refresh_token).is_not(None),
            col(AccountRow.granted_at),
            col(AccountRow.updated_at),
        ).order_by(col(AccountRow.updated_at), col(AccountRow.id))
        async with self._db.reader() as session:
            rows = (await session.execute(statement)).all()
        return [
            GrantFacts(
                account_id=row[0],
                provider=row[1],
                needs_reauth=bool(row[2]),
                has_access_token=bool(row[3]),
                has_refresh_token=bool(row[4]),
                granted_at=row[5],
                tokens_issued_at=row[6],
            )
            for row in rows
        ]

    async def account_ids(self) -> Sequence[str]:
        """Every account id, for maintenance such as key rotation."""
        async with self._db.reader() as session:
            return (await session.execute(select(col(AccountRow.id)))).scalars().all()

    async def reseal_account(
        self,
        account_id: str,
        *,
        version: int,
        access_token: str | None = None,
        refresh_token: str | None = None,
    ) -> bool:
        """Replace an account's tokens with re-encrypted ones, if they are still at ``version``.

        A compare-and-swap: a refresh (or a disconnect) since the caller read the row moved
        ``token_version``, and then nothing is written (``False``); the caller reads the row
        again. ``updated_at`` is left alone, as it says when the tokens were issued.

        Args:
            account_id: the account row.
            version: the ``token_version`` the caller read.
            access_token: the new ciphertext of the access token; ``None`` keeps the column.
            refresh_token: the same for the refresh token.
        """
        values = {
            column: value
            for column, value in (("access_token", access_token), ("refresh_token", refresh_token))
            if value is not None
        }
        if not values:
            return False
        return await self._update(account_id, col(AccountRow.token_version) == version, **values)

    async def _update(self, account_id: str, *conditions: Any, **values: Any) -> bool:
        """Set ``values`` on the account if ``conditions`` hold, in one statement.

        Returns:
            Whether the row was written (``False``: the conditions no longer held).
        """
        statement = (
            update(AccountRow).where(col(AccountRow.id) == account_id, *conditions).values(**values)
        )
        async with self._db.transaction() as session:
            return rowcount(await session.execute(statement)) == 1
