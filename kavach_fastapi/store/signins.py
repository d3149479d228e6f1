"""The sign-in's write: the user, the linked account and a new session, in one transaction.

A plain unit of work: it takes values the sign-in service prepared before the transaction (the
profile, the sealed tokens, the new session's hash and expiry) and decides only who the person
is, which needs the rows as they are inside the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..crypto import SealedTokens
from ..database import Database
from ..models import ProviderProfile
from ..tables import AccountRow, SessionRow, UserRow, new_id
from .feed import append_changes


def _profile(user: UserRow) -> tuple[object, ...]:
    """What a remembered session shows of its user."""
    return (user.name, user.image, user.email, user.email_verified)


def normalize_email(email: str | None) -> str | None:
    """The form in which emails are compared: trimmed and case-folded."""
    return email.strip().casefold() if email else None


@dataclass(frozen=True)
class NewSession:
    """The session a sign-in starts, before its user is known: only its token's hash is kept."""

    token_hash: str
    expires_at: datetime


class SignInStore:
    """Records finished sign-ins."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_sign_in(
        self,
        *,
        provider: str,
        profile: ProviderProfile,
        tokens: SealedTokens,
        session: NewSession,
        now: datetime,
    ) -> UserRow:
        """Create or update the user and linked account, and add a session, in ONE transaction.

        Who the person is: the account already linked for ``(provider, account_id)``; else an
        existing user with the same email, only when the provider says the email is verified,
        that user's email is verified too, and that user has no account of this provider yet
        (an account of another provider); else a new user. So two users may share an email.
        Name, email and picture are refreshed from the profile every time.

        Args:
            provider: the provider id.
            profile: the person as the provider describes them.
            tokens: the provider's tokens, sealed for ``(provider, profile.account_id)``.
            session: the session to start for whoever the person turns out to be.
            now: the time of the sign-in.
        """
        for attempt in range(3):
            try:
                async with self._db.transaction() as transaction:
                    return await self._record_sign_in(
                        transaction, provider, profile, tokens, session, now
                    )
            except IntegrityError:
                # Two first sign-ins raced (of one account, or of two accounts joining one
                # user); the retry finds the winner's row and decides again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _record_sign_in(
        self,
        session: AsyncSession,
        provider: str,
        profile: ProviderProfile,
        sealed: SealedTokens,
        new_session: NewSession,
        now: datetime,
    ) -> UserRow:
        account = (
            await session.execute(
                select(AccountRow).where(
                    col(AccountRow.provider) == provider,
                    col(AccountRow.provider_account_id) == profile.account_id,
                )
            )
        ).scalar_one_or_none()
        user = None if account is None else await session.get(UserRow, account.user_id)
        if user is None and profile.email and profile.email_verified:
            user = await self._user_to_join(session, provider, profile.email)
        before = None if user is None else _profile(user)
        if user is None:
            user = UserRow(id=new_id(), created_at=now, updated_at=now)
            session.add(user)
        user.name = profile.name
        user.image = profile.image
        if profile.email:
            user.email = profile.email
            user.email_normalized = normalize_email(profile.email)
            user.email_verified = profile.email_verified
        user.updated_at = now
        # No ORM relationships tie these rows together, so flush in foreign-key order by hand.
        await session.flush()
        if account is None:
            account = AccountRow(
                id=new_id(),
                user_id=user.id,
                provider=provider,
                provider_account_id=profile.account_id,
                created_at=now,
            )
            session.add(account)
        account.access_token = sealed.access_token
        account.refresh_token = sealed.refresh_token or account.refresh_token
        account.access_token_expires_at = sealed.expires_at
        account.scopes = sealed.scopes
        account.needs_reauth = False
        # New tokens: a refresh or a key rotation that read the old ones must not write over them.
        account.token_version = (account.token_version or 0) + 1
        # A new consent may grant other sites: the cached list describes the old grant.
        account.sites_json = None
        account.sites_fetched_at = None
        account.updated_at = now
        await session.flush()
        session.add(
            SessionRow(
                token_hash=new_session.token_hash,
                user_id=user.id,
                created_at=now,
                expires_at=new_session.expires_at,
                last_active_at=now,
            )
        )
        if before is not None and before != _profile(user):
            # Processes that remember this user's other sessions show the new profile soon.
            await append_changes(session, now=now, user_ids=[user.id])
        return user

    @staticmethod
    async def _user_to_join(session: AsyncSession, provider: str, email: str) -> UserRow | None:
        """The user a provider account seen for the first time joins by its verified email.

        Only a user with that verified email and NO account of this provider yet: an email
        address can move to another account of the same provider (a recycled mailbox, a
        lapsed domain), and its new owner must never get the old owner's user and grant.
        """
        has_this_provider = (
            select(col(AccountRow.id))
            .where(col(AccountRow.user_id) == col(UserRow.id), col(AccountRow.provider) == provider)
            .exists()
        )
        return (
            await session.execute(
                select(UserRow)
                .where(
                    col(UserRow.email_normalized) == normalize_email(email),
                    col(UserRow.email_verified).is_(True),
                    ~has_this_provider,
                )
                .order_by(col(UserRow.created_at), col(UserRow.id))
                .limit(1)
            )
        ).scalar_one_or_none()
