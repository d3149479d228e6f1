"""The public models: what routes return and callers receive. None of them carries a token.

Built from the rows of `kavach_fastapi.tables` (``User.from_row``), or from what a provider
answered ([`ProviderProfile`][kavach_fastapi.ProviderProfile]).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from .tables import AccountRow, UserRow


@dataclass(frozen=True)
class ProviderProfile:
    """The person as a provider describes them, reduced to what the package needs.

    Attributes:
        account_id: the provider's stable identifier of the account: the identity key.
        email: may be missing (a privacy setting); never used as an identity.
        email_verified: whether the provider vouches for the email.
        name: display name.
        image: URL of the picture.
        active: ``False`` for closed or inactive accounts, which may not sign in.
    """

    account_id: str
    email: str | None
    email_verified: bool
    name: str | None
    image: str | None
    active: bool


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class User(_Public):
    """The signed-in person, as routes see them."""

    id: str
    """The app's own id for the person (32 hex characters); never the provider's id or email."""
    email: str | None
    """The email the provider shared, or ``None`` when the person's privacy settings hide it."""
    email_verified: bool
    """Whether the provider vouches for the email."""
    name: str | None
    """The display name, refreshed at every sign-in."""
    image: str | None
    """URL of the person's picture, refreshed at every sign-in."""
    created_at: datetime
    """When the person first signed in (UTC)."""

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        """Build the public view of a user row."""
        return cls.model_validate(row, from_attributes=True)


class SessionInfo(_Public):
    """What a client may know about its own session."""

    expires_at: datetime


class SessionView(_Public):
    """The answer of ``GET /auth/session``."""

    user: User
    session: SessionInfo


class SignedInSession(_Public):
    """One of the signed-in person's sessions (a browser or API client), as they may see it.

    Never carries the token: ``id`` is a random public id that cannot be turned into one.
    """

    id: str
    """The session's public id, for ``DELETE /auth/sessions/{session_id}``."""
    current: bool
    """``True`` for the session that made this request ("this device")."""
    created_at: datetime
    """When it was signed in (UTC)."""
    last_used_at: datetime
    """When it was last used (UTC), to within a few minutes: activity is written at most every
    twentieth of the idle timeout, and every five minutes at most."""
    expires_at: datetime
    """When it ends at the latest (UTC); unused for the idle timeout, it ends sooner."""
    user_agent: str | None
    """The browser's or client's ``User-Agent`` at sign-in, trimmed; ``None`` when none was sent."""
    network: str | None
    """Where it was signed in from: the client's IPv4 ``/24`` or IPv6 ``/48`` network, never the
    full address; ``None`` when unknown."""


class SessionsEnded(_Public):
    """The answer of ``DELETE /auth/sessions`` and ``DELETE /auth/sessions/{session_id}``."""

    ended: int
    """How many sessions ended."""
    signed_out: bool
    """``True`` when the current session was among them: the cookie is cleared too."""


class LinkedAccount(_Public):
    """A provider account linked to the user; never carries tokens."""

    provider: str
    """The provider id, e.g. ``atlassian``."""
    account_id: str
    """The provider's id of the account (Atlassian's ``account_id``)."""
    scopes: list[str]
    """The scopes the person granted."""
    needs_reauth: bool
    """``True`` when the grant is gone (revoked, expired or disconnected): consent again."""
    created_at: datetime
    """When the account was first linked (UTC)."""

    @classmethod
    def from_row(cls, row: AccountRow) -> LinkedAccount:
        """Build the public view of an account row."""
        return cls(
            provider=row.provider,
            account_id=row.provider_account_id,
            scopes=row.scopes.split(),
            needs_reauth=row.needs_reauth,
            created_at=row.created_at,
        )


class ProviderInfo(_Public):
    """A configured sign-in provider."""

    id: str
    name: str


class AtlassianSite(_Public):
    """An Atlassian site (cloud) that the person granted the app access to.

    One per cloud id: Atlassian lists a site once per product it runs, and those entries are
    merged into one site with every product and the union of their scopes.
    """

    id: str
    """The cloud id, used in product API URLs: ``/ex/jira/{id}/...``."""
    name: str
    """The site's name, e.g. ``Acme Engineering``."""
    url: str
    """The site's address, e.g. ``https://acme.atlassian.net`` (not for 3LO API calls)."""
    scopes: list[str]
    """The granted scopes that apply on this site, from every product's entry."""
    products: list[str]
    """The products the grant reaches on this site, e.g. ``["jira", "jira-servicedesk"]``
    (``confluence`` is the third), as the granted scopes tell them."""
    avatar_url: str | None = None
    """URL of the site's avatar."""


class SignedOut(_Public):
    """The answer of ``POST /auth/sign-out``."""

    signed_out: bool


class ErrorDetail(_Public):
    """The inner part of an error answer."""

    code: str
    message: str
    reauth_url: str | None = None
    """With ``reauth_required``: where to send the browser to consent again."""


class Disconnected(_Public):
    """The answer of ``DELETE /auth/oauth/accounts/{provider}``."""

    provider: str
    disconnected: bool
    revoked_at_provider: bool
    """Always false for Atlassian: it offers no token revocation endpoint."""
    revoke_url: str | None
    """Where the person can revoke the app's access themselves."""
    message: str


class ErrorBody(_Public):
    """Every error answer: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorDetail
