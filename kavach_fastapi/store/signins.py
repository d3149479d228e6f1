"""The sign-in's write: the user, the linked account and a new session, in one transaction.

A plain unit of work: it takes values the sign-in service prepared before the transaction (the
profile, the sealed tokens, the new session's hash and expiry) and decides only who the person
is, which needs the rows as they are inside the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..crypto import SealedTokens
from ..database import Database
from ..devices import UNKNOWN_DEVICE, Device
from ..grant_health import grant_start_after_consent
from ..models import AtlassianSite, ProviderProfile
from ..tables import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_URL_LENGTH,
    AccountRow,
    SessionRow,
    UserRow,
    new_id,
)
from .feed import append_changes


def _profile(user: UserRow) -> tuple[object, ...]:
    """What a remembered session shows of its user."""
    return (user.name, user.image, user.email, user.email_verified)


def normalize_email(email: str | None) -> str | None:
    """The form in which emails are compared: trimmed and case-folded."""
    return email.strip().casefold() if email else None


def apply_profile(user: UserRow, profile: ProviderProfile, *, now: datetime) -> None:
    """Copy what the provider says about the person onto their user row.

    An email the profile leaves out (hidden by the person's privacy settings) keeps the stored one.
    """
    user.name = profile.name
    user.image = profile.image
    if profile.email:
        user.email = profile.email
        user.email_normalized = normalize_email(profile.email)
        user.email_verified = profile.email_verified
    user.updated_at = now


@dataclass(frozen=True)
class NewSession:
    """The session a sign-in starts, before its user is known: only its token's hash is kept,
    with its public id and the device it was signed in from."""

    token_hash: str
    expires_at: datetime
    public_id: str = field(default_factory=new_id)
    device: Device = UNKNOWN_DEVICE


@dataclass(frozen=True)
class RecordedSignIn:
    """What a sign-in's write did: the user (created by it or not) and the session's hash."""

    user: UserRow
    user_created: bool
    session_hash: str


def fit_profile(profile: ProviderProfile) -> ProviderProfile:
    """The profile as the user row can keep it, whatever the provider sent.

    A name longer than the column is cut; an email or a picture URL too long to keep is not
    kept (a cut email or URL would be a wrong one), so the sign-in still finishes.
    """
    email = profile.email if profile.email and len(profile.email) <= MAX_EMAIL_LENGTH else None
    return ProviderProfile(
        account_id=profile.account_id,
        email=email,
        email_verified=profile.email_verified and email is not None,
        name=profile.name[:MAX_NAME_LENGTH] if profile.name else profile.name,
        image=profile.image if profile.image and len(profile.image) <= MAX_URL_LENGTH else None,
        active=profile.active,
    )


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
        sites: Sequence[AtlassianSite] | None = None,
    ) -> RecordedSignIn:
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
            sites: the sites the sign-in read, to start the sites cache with; ``None``
                leaves it empty.
        """
        profile = fit_profile(profile)
        sites_json = None if sites is None else json.dumps([site.model_dump() for site in sites])
        for attempt in range(3):
            try:
                async with self._db.transaction() as transaction:
                    user, created = await self._record_sign_in(
                        transaction, provider, profile, tokens, session, now, sites_json
                    )
                    return RecordedSignIn(user, created, session.token_hash)
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
        sites_json: str | None,
    ) -> tuple[UserRow, bool]:
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
        created = user is None
        before = None if user is None else _profile(user)
        if user is None:
            user = UserRow(id=new_id(), created_at=now, updated_at=now)
            session.add(user)
        apply_profile(user, profile, now=now)
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
        account.granted_at = grant_start_after_consent(
            granted_at=account.granted_at,
            tokens_issued_at=account.updated_at,
            found_dead=account.needs_reauth and account.refresh_token is not None,
            now=now,
        )
        account.access_token = sealed.access_token
        account.refresh_token = sealed.refresh_token or account.refresh_token
        account.access_token_expires_at = sealed.expires_at
        account.scopes = sealed.scopes
        account.needs_reauth = False
        # New tokens: a refresh or a key rotation that read the old ones must not write over them.
        account.token_version = (account.token_version or 0) + 1
        # A refresh under way read the old tokens: its lease is not for these. Dropped, so the
        # new tokens can be refreshed at once when they need it (the old refresh can no longer
        # write: it held the lease on the old version).
        account.refresh_lease_owner = None
        account.refresh_lease_until = None
        # A new consent may grant other sites: the cached list describes the old grant.
        account.sites_json = sites_json
        account.sites_fetched_at = now if sites_json is not None else None
        # The profile was just read: what personal-data reporting tells Atlassian (`updatedAt`).
        account.profile_fetched_at = now
        account.profile_stale = False
        account.updated_at = now
        await session.flush()
        session.add(
            SessionRow(
                token_hash=new_session.token_hash,
                public_id=new_session.public_id,
                user_id=user.id,
                created_at=now,
                expires_at=new_session.expires_at,
                last_active_at=now,
                user_agent=new_session.device.user_agent,
                network=new_session.device.network,
            )
        )
        if before is not None and before != _profile(user):
            # Processes that remember this user's other sessions show the new profile soon.
            await append_changes(session, now=now, user_ids=[user.id])
        return user, created

    async def undo_sign_in(self, recorded: RecordedSignIn) -> None:
        """Undo a recorded sign-in, in one transaction: its session, and the user it created.

        A user that existed before keeps their account and its new tokens (a new consent of
        the same grant); only the session goes. A user the sign-in created goes with their
        account and sessions, as if the sign-in never happened.
        """
        user_id = recorded.user.id
        async with self._db.transaction() as transaction:
            await transaction.execute(
                delete(SessionRow).where(col(SessionRow.token_hash) == recorded.session_hash)
            )
            if recorded.user_created:
                for table in (SessionRow, AccountRow):
                    await transaction.execute(delete(table).where(col(table.user_id) == user_id))
                await transaction.execute(delete(UserRow).where(col(UserRow.id) == user_id))

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
