"""The :class:`AtlassianEmulator`: configuration, state and the app, in one object."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from html import unescape
from urllib.parse import urlencode, urlsplit

import httpx2
from starlette.applications import Starlette

from kavach_fastapi.emulator.app import build_app
from kavach_fastapi.emulator.authorize import AuthorizeError
from kavach_fastapi.emulator.clock import EmulatorClock
from kavach_fastapi.emulator.config import (
    EmulatedClient,
    EmulatedSite,
    EmulatedUser,
    Lifetimes,
    default_client,
    default_sites,
    default_users,
)
from kavach_fastapi.emulator.faults import Faults
from kavach_fastapi.emulator.grants import GrantService
from kavach_fastapi.emulator.server import serve_in_thread
from kavach_fastapi.emulator.state import CallCounter, EmulatorState, RecordedRequest

__all__ = ["AtlassianEmulator"]

_CONSENT_ID = re.compile(r'name="consent_id" value="([^"]+)"')
_ERROR_MESSAGE = re.compile(r'id="error-message">(.*?)</p>', re.DOTALL)


class AtlassianEmulator:
    """A faithful stand-in for Atlassian's OAuth 2.0 (3LO) service.

    One ASGI app, :attr:`app`, plays both auth.atlassian.com (consent page, token
    endpoint) and api.atlassian.com (``/me``, accessible resources, Jira's ``myself``),
    so one base URL serves as both ``ATLASSIAN_AUTH_URL`` and ``ATLASSIAN_API_URL``.
    Every instance has its own state; nothing is shared between instances.

    Args:
        users: The people who can sign in; defaults to Ada Lovelace and Grace Hopper.
        sites: The sites they can grant; defaults to a Jira and a Confluence site.
        clients: The registered apps; defaults to the "Kavach demo" app. The first one is
            :attr:`default_client`.
        access_token_lifetime: Lifetime of access tokens (``expires_in``).
        code_lifetime: Lifetime of authorization codes.
        refresh_reuse_interval: How long a retired refresh token is still accepted.
        refresh_token_inactivity: How long a refresh token lives unused.
        grant_lifetime: How long a grant lives after the first consent.
        revoke_old_access_token_on_refresh: Whether a refresh kills the previous access
            token before its expiry.
        auto_consent: Skip the consent page: ``/authorize`` redirects straight back with
            a code, as if the first user pressed Accept with every site checked.
        clock: The clock every expiry is measured with.

    Example:
        >>> emu = AtlassianEmulator()
        >>> emu.default_client.client_id
        'kavach-demo-client'
    """

    def __init__(
        self,
        *,
        users: Iterable[EmulatedUser] | None = None,
        sites: Iterable[EmulatedSite] | None = None,
        clients: Iterable[EmulatedClient] | None = None,
        access_token_lifetime: timedelta = timedelta(hours=1),
        code_lifetime: timedelta = timedelta(minutes=10),
        refresh_reuse_interval: timedelta = timedelta(minutes=10),
        refresh_token_inactivity: timedelta = timedelta(days=90),
        grant_lifetime: timedelta = timedelta(days=365),
        revoke_old_access_token_on_refresh: bool = True,
        auto_consent: bool = False,
        clock: EmulatorClock | None = None,
    ) -> None:
        self.users: list[EmulatedUser] = list(users) if users is not None else default_users()
        """The people who can sign in; the first is the default on the consent page."""
        self.sites: list[EmulatedSite] = list(sites) if sites is not None else default_sites()
        """The sites people can grant."""
        registered = list(clients) if clients is not None else [default_client()]
        if not registered:
            raise ValueError("the emulator needs at least one registered client")
        self.clients: dict[str, EmulatedClient] = {}
        """The registered apps by client id."""
        for client in registered:
            self.register_client(client)
        self.default_client: EmulatedClient = registered[0]
        """The app registered first (by default "Kavach demo", ``kavach-demo-client``)."""
        self.auto_consent = auto_consent
        """When ``True``, ``/authorize`` skips the consent page."""
        self.clock = clock if clock is not None else EmulatorClock()
        """The clock every expiry is measured with; tests move it with ``advance``."""
        self.lifetimes = Lifetimes(
            access_token=access_token_lifetime,
            authorization_code=code_lifetime,
            refresh_reuse_interval=refresh_reuse_interval,
            refresh_token_inactivity=refresh_token_inactivity,
            grant=grant_lifetime,
        )
        """How long codes, tokens and grants live; may be changed between requests."""
        self.faults = Faults()
        """The armed faults; see :class:`~kavach_fastapi.emulator.Fault`."""
        self.state = EmulatorState()
        """Grants, codes, tokens and call records (guarded by ``state.lock``)."""
        self.grants = GrantService(
            self.state,
            self.clock,
            self.lifetimes,
            revoke_old_access_token_on_refresh=revoke_old_access_token_on_refresh,
        )
        """The OAuth rules, applied to :attr:`state`."""
        self.app: Starlette = build_app(self)
        """The ASGI app."""

    @property
    def calls(self) -> CallCounter:
        """Per-endpoint call counts, such as ``calls["refresh"]``.

        Names: ``authorize``, ``decision``, ``token`` (every token call),
        ``authorization_code`` and ``refresh`` (token calls by grant type), ``me``,
        ``accessible_resources`` and ``jira_myself``.
        """
        return self.state.calls

    @property
    def last_request(self) -> Mapping[str, RecordedRequest]:
        """The last request each endpoint saw, by the names of :attr:`calls`."""
        return self.state.last_request

    @property
    def revoke_old_access_token_on_refresh(self) -> bool:
        """Whether a refresh kills the previous access token before its expiry."""
        return self.grants.revoke_old_access_token_on_refresh

    @revoke_old_access_token_on_refresh.setter
    def revoke_old_access_token_on_refresh(self, value: bool) -> None:
        self.grants.revoke_old_access_token_on_refresh = value

    def register_client(self, client: EmulatedClient) -> None:
        """Register an app (or replace the one with the same client id)."""
        self.clients[client.client_id] = client

    def user(self, account_id: str) -> EmulatedUser:
        """Return the configured person with this account id.

        Raises:
            KeyError: If there is none.
        """
        for user in self.users:
            if user.account_id == account_id:
                return user
        raise KeyError(account_id)

    def revoke_grant(self, account_id: str) -> int:
        """Revoke every grant of a person, as removing the app from their account would.

        Every access and refresh token of those grants stops working; refreshing answers
        ``invalid_grant``.

        Returns:
            How many live grants were revoked.
        """
        return self.grants.revoke_account(account_id)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve the emulator on a real socket for the ``with`` block.

        Args:
            host: The address to bind.
            port: The port; ``0`` picks a free one.

        Yields:
            The base URL, such as ``http://127.0.0.1:54321``.
        """
        with serve_in_thread(self.app, host, port) as url:
            yield url

    async def approve(
        self,
        authorize_url: str,
        *,
        user: EmulatedUser | None = None,
        site_ids: list[str] | None = None,
    ) -> str:
        """Open an authorize URL and press Accept, in-process, without a network.

        Args:
            authorize_url: The URL an app sent the browser to (its host is ignored).
            user: Who signs in; defaults to the first user.
            site_ids: The sites to grant; defaults to every site.

        With :attr:`auto_consent` on, the page is skipped and ``user`` and ``site_ids``
        are ignored (the first user grants every site).

        Returns:
            The URL the browser would be redirected to: the app's callback with ``code``
            and ``state``.

        Raises:
            AuthorizeError: If the emulator shows its error page instead.
        """
        account = user if user is not None else self.users[0]
        sites = site_ids if site_ids is not None else [site.id for site in self.sites]
        fields = [("decision", "accept"), ("account_id", account.account_id)]
        fields += [("site_id", site_id) for site_id in sites]
        return await self._decide(authorize_url, fields)

    async def decline(self, authorize_url: str) -> str:
        """Open an authorize URL and press Decline, in-process.

        Returns:
            The app's callback URL with ``error=access_denied`` and ``state``.

        Raises:
            AuthorizeError: If the emulator shows its error page instead.
        """
        return await self._decide(authorize_url, [("decision", "decline")])

    async def _decide(self, authorize_url: str, fields: list[tuple[str, str]]) -> str:
        parts = urlsplit(authorize_url)
        target = f"{parts.path or '/authorize'}?{parts.query}"
        transport = httpx2.ASGITransport(app=self.app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://emulator") as client:
            page = await client.get(target)
            if page.status_code == 302:
                return str(page.headers["location"])
            match = _CONSENT_ID.search(page.text)
            if page.status_code != 200 or match is None:
                error = _ERROR_MESSAGE.search(page.text)
                message = unescape(error.group(1)) if error else f"HTTP {page.status_code}"
                raise AuthorizeError(message)
            answer = await client.post(
                "/authorize/decision",
                content=urlencode([("consent_id", match.group(1)), *fields]),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            if answer.status_code != 302:
                error = _ERROR_MESSAGE.search(answer.text)
                message = unescape(error.group(1)) if error else f"HTTP {answer.status_code}"
                raise AuthorizeError(message)
            return str(answer.headers["location"])
