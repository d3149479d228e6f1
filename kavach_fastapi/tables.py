"""The package's database tables, in their own SQLAlchemy registry and metadata.

`metadata` is separate from ``SQLModel.metadata``, so an app that uses SQLModel for its own
tables never has ours created in its database, nor theirs in ours. Provider tokens are only ever
on `AccountRow`, encrypted, and never in a public model (`kavach_fastapi.models`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from .redirects import MAX_REDIRECT_LENGTH

metadata = MetaData()
"""The metadata of every kavach table, separate from ``SQLModel.metadata``."""

# The longest URL a table keeps (a sign-in's ``redirect_uri`` and ``redirect_to``, a picture):
# the longest ``redirect_to`` that redirects.py lets through.
MAX_URL_LENGTH = MAX_REDIRECT_LENGTH

MAX_EMAIL_LENGTH = 320
"""The longest email a user row keeps (RFC 5321's limit); a longer one is not kept."""

MAX_NAME_LENGTH = 500
"""The longest display name a user row keeps; a longer one is cut to it."""

MAX_ACCOUNT_ID_LENGTH = 255
"""The longest provider account id an account row keeps."""

_registry = registry(metadata=metadata)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def new_id() -> str:
    """A new random row id (32 hex characters)."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC and returns aware UTC, the same on SQLite and PostgreSQL."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("kavach stores aware datetimes only")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def _timestamp(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class _Table(SQLModel, registry=_registry):
    pass


class UserRow(_Table, table=True):
    """A person known to the app. Keyed by our own id, never by email."""

    __tablename__: ClassVar[str] = "kavach_users"

    id: str = Field(primary_key=True, max_length=32)
    email: str | None = Field(default=None, max_length=MAX_EMAIL_LENGTH)
    email_normalized: str | None = Field(default=None, max_length=MAX_EMAIL_LENGTH, index=True)
    email_verified: bool = False
    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    image: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


PERSONAL_DATA_COLUMNS = ("email", "email_normalized", "email_verified", "name", "image")
"""The `UserRow` columns that hold what the provider told about the person: erasing them
(`PrivacyStore.erase`) puts each back to its default, which leaves only the id and times."""


class AccountRow(_Table, table=True):
    """A provider account linked to a user, with its tokens encrypted and bound to the account.

    One provider account is one identity: it belongs to one user, and a user has at most one
    account per provider, so "the user's Atlassian tokens" always names exactly one grant.
    """

    __tablename__: ClassVar[str] = "kavach_accounts"
    __table_args__ = (
        UniqueConstraint("provider", "provider_account_id", name="uq_kavach_accounts_identity"),
        UniqueConstraint("user_id", "provider", name="uq_kavach_accounts_user_provider"),
    )

    id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="kavach_users.id", index=True, ondelete="CASCADE")
    provider: str = Field(max_length=64)
    provider_account_id: str = Field(max_length=MAX_ACCOUNT_ID_LENGTH)
    scopes: str = Field(default="", max_length=4000)
    access_token: str | None = Field(default=None, max_length=20000)
    refresh_token: str | None = Field(default=None, max_length=20000)
    access_token_expires_at: datetime | None = _timestamp(default=None, nullable=True)
    needs_reauth: bool = False
    token_version: int = 0
    """Bumped by every write of new tokens: the compare-and-swap guard of refreshes."""
    refresh_lease_owner: str | None = Field(default=None, max_length=128)
    refresh_lease_until: datetime | None = _timestamp(default=None, nullable=True)
    sites_json: str | None = Field(default=None, max_length=200000)
    sites_fetched_at: datetime | None = _timestamp(default=None, nullable=True)
    profile_fetched_at: datetime | None = _timestamp(default=None, nullable=True)
    """When the person's profile (name, email, picture) was last read from the provider."""
    profile_stale: bool = False
    """Atlassian said the profile changed: read it again at the next chance (`kavach_fastapi.privacy`)."""
    privacy_reported_at: datetime | None = _timestamp(default=None, nullable=True, index=True)
    """When the account was last reported to Atlassian: the start of the run that reported it.

    ``None``: due at the next run. Due-ness is this time, the current cycle
    (`PrivacyCycleRow`) and the run's start (`kavach_fastapi.privacy.schedule`)."""
    privacy_claimed_by: str | None = Field(default=None, max_length=32)
    """The reporting run that is sending this account now (so no other run sends it too)."""
    privacy_claim_until: datetime | None = _timestamp(default=None, nullable=True)
    """When that claim lapses (the run crashed): other runs may take the account after it."""
    granted_at: datetime = _timestamp()
    """The first consent of the grant the tokens belong to (Atlassian ends it a year later)."""
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    """When the tokens were last issued (sign-in or refresh), or the row last changed."""


class SessionRow(_Table, table=True):
    """A signed-in browser or API client. Only the hash of the session token is stored.

    ``public_id`` is what the person sees and names a session by (``GET /auth/sessions``): random,
    unrelated to the token, so knowing it gives nothing to sign in with.
    """

    __tablename__: ClassVar[str] = "kavach_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    public_id: str = Field(default_factory=new_id, unique=True, index=True, max_length=32)
    user_id: str = Field(foreign_key="kavach_users.id", index=True, ondelete="CASCADE")
    created_at: datetime = _timestamp()
    expires_at: datetime = _timestamp(index=True)
    last_active_at: datetime = _timestamp()
    user_agent: str | None = Field(default=None, max_length=200)
    """The trimmed ``User-Agent`` of the sign-in (`kavach_fastapi.devices`)."""
    network: str | None = Field(default=None, max_length=64)
    """The signing-in client's network: its IPv4 ``/24`` or IPv6 ``/48``, never its address."""


class SignInAttemptRow(_Table, table=True):
    """A sign-in that was started and not yet finished; single use, short-lived."""

    __tablename__: ClassVar[str] = "kavach_sign_in_attempts"

    state_hash: str = Field(primary_key=True, max_length=64)
    browser_hash: str = Field(max_length=64, index=True)
    provider: str = Field(max_length=64)
    code_verifier: str | None = Field(default=None, max_length=500)
    redirect_uri: str = Field(max_length=MAX_URL_LENGTH)
    redirect_to: str = Field(max_length=MAX_URL_LENGTH)
    created_at: datetime = _timestamp()
    expires_at: datetime = _timestamp(index=True)


class RateLimitRow(_Table, table=True):
    """How many rate-limited requests one client address made in one time window."""

    __tablename__: ClassVar[str] = "kavach_rate_limits"

    key: str = Field(primary_key=True, max_length=200)
    window: int = Field(primary_key=True)
    count: int = 0


class QuotaBlockRow(_Table, table=True):
    """A site (or, with ``site = "*"``, every site) the provider refuses until ``blocked_until``.

    Written when a ``429`` asks for a longer wait than the retries make; read by every worker
    (`kavach_fastapi.quota`), so none calls the provider for that site until the time passes.
    """

    __tablename__: ClassVar[str] = "kavach_quota_blocks"

    provider: str = Field(primary_key=True, max_length=64)
    site: str = Field(primary_key=True, max_length=200)
    """The cloud id, or ``"*"`` for every site of the provider (a global quota)."""
    blocked_until: datetime = _timestamp(index=True)
    reason: str = Field(max_length=100)
    """``RateLimit-Reason`` as the provider sent it, or ``"unknown"``."""
    recorded_at: datetime = _timestamp()


class PrivacyCycleRow(_Table, table=True):
    """The reporting cycle Atlassian last gave a provider's personal-data reports.

    Its ``Cycle-Period`` header, as sent; every account's due-ness follows the latest one at
    once, so a shortened cycle applies from the next run (`kavach_fastapi.privacy`).
    """

    __tablename__: ClassVar[str] = "kavach_privacy_cycles"

    provider: str = Field(primary_key=True, max_length=64)
    cycle_period: str = Field(max_length=64)
    """The ``Cycle-Period`` header, e.g. ``P7D``."""
    seen_at: datetime = _timestamp()


class SessionChangeRow(_Table, table=True):
    """One entry of the session change feed: a session ended, or a user changed or was erased.

    Every process remembers the sessions it checked and reads the entries after the last id it
    saw, about once a second, to forget what ended elsewhere (`kavach_fastapi.session_feed`).
    Ids only grow (``AUTOINCREMENT`` on SQLite, so a purge never lets one be used again).
    """

    __tablename__: ClassVar[str] = "kavach_session_changes"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str | None = Field(default=None, max_length=64)
    """The session that ended; ``None`` when the entry names a user."""
    user_id: str | None = Field(default=None, max_length=32)
    """The user whose profile changed or who was erased: all their sessions are re-checked."""
    changed_at: datetime = _timestamp(index=True)
