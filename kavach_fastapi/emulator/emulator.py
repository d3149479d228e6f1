"""The [`AtlassianEmulator`][kavach_fastapi.emulator.emulator.AtlassianEmulator]: configuration, state and the app, in one object."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette

from kavach_fastapi.emulator.app import build_app
from kavach_fastapi.emulator.authorize import (
    callback_url,
    decide,
    grant_at_once,
    validate_authorize,
)
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
from kavach_fastapi.emulator.context import EmulatorContext
from kavach_fastapi.emulator.faults import Faults
from kavach_fastapi.emulator.grants import GrantService
from kavach_fastapi.emulator.privacy import PersonalData
from kavach_fastapi.emulator.server import serve_in_thread
from kavach_fastapi.emulator.state import CallCounter, EmulatorState, RecordedRequest

__all__ = ["AtlassianEmulator"]


class AtlassianEmulator:
    """A faithful stand-in for Atlassian's OAuth 2.0 (3LO) service.

    One ASGI app, `app`, plays both auth.atlassian.com (consent page, token
    endpoint) and api.atlassian.com (``/me``, accessible resources, Jira's ``myself``,
    Confluence's current user and spaces, personal-data reporting), so one base URL serves as
    both ``ATLASSIAN_AUTH_URL`` and ``ATLASSIAN_API_URL``. Every instance has its own state;
    nothing is shared between instances.

    Args:
        users: The people who can sign in; defaults to Ada Lovelace and Grace Hopper.
        sites: The sites they can grant; defaults to a Jira and Jira Service Management site
            and a Confluence site.
        clients: The registered apps; defaults to the "Kavach demo" app. The first one is
            `default_client`.
        access_token_lifetime: Lifetime of access tokens (``expires_in``).
        code_lifetime: Lifetime of authorization codes.
        refresh_reuse_interval: How long a retired refresh token is still accepted.
        refresh_token_inactivity: How long a refresh token lives unused.
        grant_lifetime: How long a grant lives after the first consent.
        old_access_token_grace: How long the access token a refresh replaces keeps working.
        revoke_old_access_token_on_refresh: Whether a refresh ends the previous access
            token (after ``old_access_token_grace``) before its own expiry.
        auto_consent: Skip the consent page: ``/authorize`` redirects straight back with
            a code, as if the first user pressed Accept with every site checked.
        personal_data_cycle_period: The ``Cycle-Period`` header of personal-data reporting.
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
        access_token_lifetime: timedelta = Lifetimes.access_token,
        code_lifetime: timedelta = Lifetimes.authorization_code,
        refresh_reuse_interval: timedelta = Lifetimes.refresh_reuse_interval,
        refresh_token_inactivity: timedelta = Lifetimes.refresh_token_inactivity,
        grant_lifetime: timedelta = Lifetimes.grant,
        old_access_token_grace: timedelta = Lifetimes.old_access_token_grace,
        revoke_old_access_token_on_refresh: bool = True,
        auto_consent: bool = False,
        personal_data_cycle_period: str = "P7D",
        clock: EmulatorClock | None = None,
    ) -> None:
        registered = list(clients) if clients is not None else [default_client()]
        if not registered:
            raise ValueError("the emulator needs at least one registered client")
        clock = clock if clock is not None else EmulatorClock()
        lifetimes = Lifetimes(
            access_token=access_token_lifetime,
            authorization_code=code_lifetime,
            refresh_reuse_interval=refresh_reuse_interval,
            refresh_token_inactivity=refresh_token_inactivity,
            grant=grant_lifetime,
            old_access_token_grace=old_access_token_grace,
        )
        state = EmulatorState()
        self.context = EmulatorContext(
            users=list(users) if users is not None else default_users(),
            sites=list(sites) if sites is not None else default_sites(),
            clients={},
            clock=clock,
            lifetimes=lifetimes,
            faults=Faults(),
            state=state,
            grants=GrantService(
                state,
                clock,
                lifetimes,
                revoke_old_access_token_on_refresh=revoke_old_access_token_on_refresh,
            ),
            privacy=PersonalData(clock.now, cycle_period=personal_data_cycle_period),
            auto_consent=auto_consent,
        )
        """What the routes work with: the configuration and the live state."""
        for client in registered:
            self.register_client(client)
        self.default_client: EmulatedClient = registered[0]
        """The app registered first (by default "Kavach demo", ``kavach-demo-client``)."""
        self.app: Starlette = build_app(self.context)
        """The ASGI app."""

    # The configuration and the parts, as attributes of the emulator itself.

    @property
    def users(self) -> list[EmulatedUser]:
        """The people who can sign in; the first is the default on the consent page."""
        return self.context.users

    @users.setter
    def users(self, value: list[EmulatedUser]) -> None:
        self.context.users = value

    @property
    def sites(self) -> list[EmulatedSite]:
        """The sites people can grant."""
        return self.context.sites

    @sites.setter
    def sites(self, value: list[EmulatedSite]) -> None:
        self.context.sites = value

    @property
    def clients(self) -> dict[str, EmulatedClient]:
        """The registered apps by client id."""
        return self.context.clients

    @property
    def auto_consent(self) -> bool:
        """When ``True``, ``/authorize`` skips the consent page."""
        return self.context.auto_consent

    @auto_consent.setter
    def auto_consent(self, value: bool) -> None:
        self.context.auto_consent = value

    @property
    def clock(self) -> EmulatorClock:
        """The clock every expiry is measured with; tests move it with ``advance``."""
        return self.context.clock

    @property
    def lifetimes(self) -> Lifetimes:
        """How long codes, tokens and grants live; may be changed between requests."""
        return self.context.lifetimes

    @property
    def faults(self) -> Faults:
        """The armed faults; see [`Fault`][kavach_fastapi.emulator.faults.Fault]."""
        return self.context.faults

    @property
    def state(self) -> EmulatorState:
        """Grants, codes, tokens and call records (guarded by ``state.lock``)."""
        return self.context.state

    @property
    def grants(self) -> GrantService:
        """The OAuth rules, applied to `state`."""
        return self.context.grants

    @property
    def privacy(self) -> PersonalData:
        """What personal-data reporting answers: ``privacy.close(account_id)`` and
        ``privacy.mark_updated(account_id, at=...)`` decide it; ``privacy.cycle_period`` is the
        ``Cycle-Period`` header."""
        return self.context.privacy

    @property
    def calls(self) -> CallCounter:
        """Per-endpoint call counts, such as ``calls["refresh"]``.

        Names: ``authorize``, ``decision``, ``token`` (every token call),
        ``authorization_code`` and ``refresh`` (token calls by grant type), and the
        api.atlassian.com endpoints: ``me``, ``accessible_resources``, ``jira_myself``,
        ``confluence_current_user``, ``confluence_spaces`` and ``report_accounts``.
        """
        return self.state.calls

    def site_calls(self, cloud_id: str) -> int:
        """How many product-API calls (``/ex/{product}/{cloudid}/...``) reached this site.

        Counted before faults apply, so a call answered ``429`` by a fault counts too.
        """
        with self.state.lock:
            return self.state.site_calls.get(cloud_id, 0)

    @property
    def last_request(self) -> Mapping[str, RecordedRequest]:
        """The last request each endpoint saw, by the names of `calls`."""
        return self.state.last_request

    @property
    def revoke_old_access_token_on_refresh(self) -> bool:
        """Whether a refresh ends the previous access token (after its grace period)."""
        return self.grants.revoke_old_access_token_on_refresh

    @revoke_old_access_token_on_refresh.setter
    def revoke_old_access_token_on_refresh(self, value: bool) -> None:
        self.grants.revoke_old_access_token_on_refresh = value

    def register_client(self, client: EmulatedClient) -> None:
        """Register an app (or replace the one with the same client id)."""
        self.context.clients[client.client_id] = client

    def user(self, account_id: str) -> EmulatedUser:
        """Return the configured person with this account id.

        Raises:
            KeyError: If there is none.
        """
        found = self.context.user(account_id)
        if found is None:
            raise KeyError(account_id)
        return found

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

        With `auto_consent` on, the page is skipped and ``user`` and ``site_ids``
        are ignored (the first user grants every site).

        Returns:
            The URL the browser would be redirected to: the app's callback with ``code``
            and ``state``.

        Raises:
            AuthorizeError: If the emulator shows its error page instead.
        """
        account = user if user is not None else self.users[0]
        sites = site_ids if site_ids is not None else [site.id for site in self.sites]
        return self._answer(authorize_url, "accept", account.account_id, sites)

    async def decline(self, authorize_url: str) -> str:
        """Open an authorize URL and press Decline, in-process.

        Returns:
            The app's callback URL with ``error=access_denied`` and ``state``.

        Raises:
            AuthorizeError: If the emulator shows its error page instead.
        """
        return self._answer(authorize_url, "decline", "", [])

    def _answer(self, authorize_url: str, choice: str, account_id: str, sites: list[str]) -> str:
        # The same rules as the consent page and its form, called directly, and recorded as
        # the two requests a browser would have made.
        parts = urlsplit(authorize_url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.state.record(
            "authorize", RecordedRequest("GET", parts.path or "/authorize", query, {}, {})
        )
        pending = validate_authorize(self.context, query)
        if self.auto_consent:
            return callback_url(pending, grant_at_once(self.context, pending))
        form = {"decision": choice, "account_id": account_id}
        self.state.record("decision", RecordedRequest("POST", "/authorize/decision", {}, {}, form))
        return callback_url(pending, decide(self.context, pending, choice, account_id, sites))
