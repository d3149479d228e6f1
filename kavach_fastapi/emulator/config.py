"""What the emulator is configured with: people, sites, registered apps and lifetimes.

The defaults make a small, believable demo: two people at Acme, a site that runs Jira and Jira
Service Management, a Confluence site with two spaces, and one registered app whose callback URLs fit a kavach-fastapi app
running on port 8000 (or under a test client's ``http://testserver``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URIS",
    "EmulatedClient",
    "EmulatedSite",
    "EmulatedSpace",
    "EmulatedUser",
    "Lifetimes",
    "default_client",
    "default_sites",
    "default_users",
]

DEFAULT_CLIENT_ID = "kavach-demo-client"
"""The client id of the app the emulator registers when given no clients."""

DEFAULT_CLIENT_SECRET = "kavach-demo-secret"  # noqa: S105 - a published demo credential
"""The client secret of the app the emulator registers when given no clients."""

DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/api/kavach/auth/oauth/callback/atlassian",
    "http://localhost:8000/api/kavach/auth/oauth/callback/atlassian",
    "http://testserver/api/kavach/auth/oauth/callback/atlassian",
)
"""The callback URLs registered for the default app."""


@dataclass
class EmulatedUser:
    """A person with an Atlassian account.

    Attributes:
        account_id: The stable, opaque identity key Atlassian returns as ``account_id``.
        name: The display name.
        email: The email address, or ``None`` when the person's privacy settings hide it
            (``/me`` then omits ``email``).
        email_verified: Whether the email address is verified; ``None`` omits the field.
        account_type: ``"atlassian"``, ``"app"`` or ``"customer"``.
        account_status: ``"active"``, ``"inactive"`` or ``"closed"``.
        nickname: The public nickname; defaults to the first word of ``name``.
        zoneinfo: An IANA time zone name.
        locale: A BCP 47 language tag such as ``"en-GB"``.
        extended_profile: ``job_title``, ``organization``, ``department`` and ``location``.
        picture: An absolute avatar URL; ``None`` serves a generated SVG avatar from the
            emulator itself.
    """

    account_id: str
    name: str
    email: str | None
    email_verified: bool | None = True
    account_type: str = "atlassian"
    account_status: str = "active"
    nickname: str = ""
    zoneinfo: str = "Europe/London"
    locale: str = "en-GB"
    extended_profile: dict[str, str] = field(default_factory=dict)
    picture: str | None = None

    def __post_init__(self) -> None:
        if not self.nickname:
            self.nickname = self.name.split()[0] if self.name.split() else self.account_id


@dataclass(frozen=True)
class EmulatedSpace:
    """A Confluence space, as ``/wiki/api/v2/spaces`` lists it.

    Attributes:
        id: The space id (digits, as a string).
        key: The space key, such as ``ENG``.
        name: The space's name.
        type: ``"global"`` or ``"personal"``.
        status: ``"current"`` or ``"archived"``.
        homepage_id: The id of the space's home page.
        created_at: When the space was created (ISO 8601, as Confluence writes it).
    """

    id: str
    key: str
    name: str
    type: str = "global"
    status: str = "current"
    homepage_id: str = ""
    created_at: str = "2024-01-15T09:30:00.000Z"


@dataclass
class EmulatedSite:
    """An Atlassian cloud site a person can grant an app access to.

    Attributes:
        id: The cloud id, used in product-API URLs (``/ex/jira/{cloudid}/...``).
        name: The site's name.
        url: The site's own URL, such as ``https://acme-eng.atlassian.net``.
        products: The products the site runs: ``"jira"``, ``"jira-servicedesk"`` (Jira
            Service Management), ``"confluence"``. ``accessible-resources`` lists the site once
            per product the grant has scopes for.
        avatar_url: An absolute avatar URL; ``None`` serves a generated SVG from the emulator.
        spaces: The Confluence spaces of the site (used when it runs Confluence).
    """

    id: str
    name: str
    url: str
    products: tuple[str, ...] = ("jira",)
    avatar_url: str | None = None
    spaces: tuple[EmulatedSpace, ...] = ()


@dataclass
class EmulatedClient:
    """An app registered in the (emulated) Atlassian developer console.

    Attributes:
        client_id: The app's client id.
        client_secret: The app's client secret.
        redirect_uris: The registered callback URLs; ``/authorize`` requires an exact,
            byte-for-byte match. A list, so tests may append to it.
        name: The app's name, shown on the consent page.
        scopes: The scopes configured for the app; ``None`` accepts any scope.
    """

    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    name: str = "Atlassian app"
    scopes: list[str] | None = None


@dataclass
class Lifetimes:
    """How long things live, all measured with the emulator's clock.

    Attributes:
        access_token: Lifetime of an access token (its ``expires_in``).
        authorization_code: Lifetime of an authorization code.
        refresh_reuse_interval: How long a retired refresh token is still accepted.
        refresh_token_inactivity: How long a refresh token lives unused.
        grant: How long a grant lives after the first consent, however often refreshed.
        pending_consent: How long a consent page can wait for Accept or Decline.
        old_access_token_grace: How long the access token issued before a refresh keeps
            working after that refresh (never past its own expiry); ``timedelta(0)`` kills it
            at once.
    """

    access_token: timedelta = timedelta(hours=1)
    authorization_code: timedelta = timedelta(minutes=10)
    refresh_reuse_interval: timedelta = timedelta(minutes=10)
    refresh_token_inactivity: timedelta = timedelta(days=90)
    grant: timedelta = timedelta(days=365)
    pending_consent: timedelta = timedelta(minutes=30)
    old_access_token_grace: timedelta = timedelta(minutes=10)


def default_users() -> list[EmulatedUser]:
    """Return fresh copies of the default people: Ada Lovelace and Grace Hopper."""
    return [
        EmulatedUser(
            account_id="712020:2f6c1e0a-4b7d-4e8a-9c3f-5d1b2a7e6f01",
            name="Ada Lovelace",
            email="ada@example.com",
            nickname="ada",
            zoneinfo="Europe/London",
            locale="en-GB",
            extended_profile={
                "job_title": "Principal Engineer",
                "organization": "Acme",
                "department": "Analytical Engines",
                "location": "London",
            },
        ),
        EmulatedUser(
            account_id="712020:8a3d5b9e-1c2f-4d6a-b7e8-0f9c4a2d3e17",
            name="Grace Hopper",
            email="grace@example.com",
            nickname="grace",
            zoneinfo="America/New_York",
            locale="en-US",
            extended_profile={
                "job_title": "Rear Admiral of Compilers",
                "organization": "Acme",
                "department": "Languages",
                "location": "Arlington",
            },
        ),
    ]


def default_sites() -> list[EmulatedSite]:
    """Return fresh copies of the default sites.

    *Acme Engineering* runs Jira and Jira Service Management (so a grant with scopes of both
    lists it twice in ``accessible-resources``); *Acme Wiki* runs Confluence, with two spaces.
    """
    return [
        EmulatedSite(
            id="1f7c2a3e-9b4d-4c5a-8e6f-2d3b4c5a6e7f",
            name="Acme Engineering",
            url="https://acme-eng.atlassian.net",
            products=("jira", "jira-servicedesk"),
        ),
        EmulatedSite(
            id="6b8e4d2c-3a1f-4e9b-a7c6-5f0d1e2b3c4a",
            name="Acme Wiki",
            url="https://acme-wiki.atlassian.net",
            products=("confluence",),
            spaces=(
                EmulatedSpace(id="98306", key="ENG", name="Engineering", homepage_id="98310"),
                EmulatedSpace(id="131074", key="HR", name="People", homepage_id="131080"),
            ),
        ),
    ]


def default_client() -> EmulatedClient:
    """Return a fresh copy of the default app, "Kavach demo"."""
    return EmulatedClient(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        redirect_uris=list(DEFAULT_REDIRECT_URIS),
        name="Kavach demo",
    )
