"""Valid access tokens for signed-in users: the stored one while it is fresh, else refreshed.

A token is refreshed a little before it expires (the leeway, at most half its lifetime), after
the provider refused it (at most once per `REFUSAL_GRACE`), or when the grant has gone unused
for long. The refresh itself, exactly once across workers, is `kavach_fastapi.token_refresh`.
A grant that lacks a scope the app is configured to request needs consent again.

This module does tokens only: the calls that use them are the provider's
(`kavach_fastapi.atlassian.client`), and key rotation is `kavach_fastapi.keys`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .profiles import ProfileRereads
from .providers.base import missing_scopes
from .tables import AccountRow, utcnow
from .throttle import OncePer
from .token_refresh import Refresher

REFUSAL_GRACE = timedelta(minutes=1)
"""After a refusal (401) refreshed an account's tokens, further refusals are answered this long."""

MAX_REMEMBERED_REFUSALS = 10_000
"""Accounts whose last refusal a process remembers before it forgets the expired ones."""


class TokenService:
    """Valid access tokens for signed-in users, refreshed exactly once across workers.

    Args:
        refresher: makes the refreshes; its accounts table, OAuth clients and retry policy
            are this service's too, so the two can never disagree about them.
        leeway: refresh this long before expiry.
    """

    def __init__(self, refresher: Refresher, *, leeway: timedelta) -> None:
        self._refresher = refresher
        self._store = refresher.accounts
        self._clients = refresher.clients
        self._leeway = leeway
        self.retry = refresher.retry
        self._profiles = ProfileRereads(refresher.accounts)
        self._refusals = OncePer(REFUSAL_GRACE.total_seconds(), capacity=MAX_REMEMBERED_REFUSALS)
        """Accounts whose tokens a refusal refreshed in this process, for `REFUSAL_GRACE`."""

    def sign_in_url(self, provider_id: str) -> str | None:
        """Where a person consents again to a provider, when known without a request."""
        return self._refresher.sign_in_url(provider_id)

    async def aclose(self) -> None:
        """The app's shutdown: the refreshes under way finish first (`Refresher.aclose`)."""
        await self._refresher.aclose()

    # Access tokens

    async def account(self, user_id: str, provider_id: str) -> AccountRow:
        """The user's linked account with usable tokens.

        Raises:
            ReauthRequiredError: not linked, disconnected, the grant is dead, or it lacks a
                scope the provider is configured to request (it is then marked so).
        """
        row = await self._store.account_of(user_id, provider_id)
        if row is None or row.needs_reauth or row.access_token is None:
            raise self._refresher.reauth_required(provider_id)
        client = self._clients.get(provider_id)
        lacking = missing_scopes(client.provider.scopes, row.scopes) if client else ()
        if lacking:
            await self._refresher.give_up(
                row.id,
                f"the grant lacks the configured scope(s) {' '.join(lacking)}",
                reason="missing_scopes",
                provider=provider_id,
                version=row.token_version,
                lacking=lacking,
            )
            raise self._refresher.reauth_required(
                provider_id,
                "This app now needs more permissions of your Atlassian account. Please "
                "connect again.",
            )
        return row

    async def access_token(self, user_id: str, provider_id: str) -> str:
        """A valid access token for the user's account with the provider.

        Args:
            user_id: the signed-in user.
            provider_id: e.g. ``"atlassian"``.

        Raises:
            ReauthRequiredError: the person must consent again.
            ProviderUnavailableError: the provider failed even after retries (503).
            RefreshRefusedError: the provider refused the refresh, not for a dead grant (502).
        """
        row = await self.account(user_id, provider_id)
        token = await self._valid_token(row, provider_id)
        if row.profile_stale:
            await self._profiles.reread(row, self._clients[provider_id], token)
        return token

    async def reread_profile(self, user_id: str, provider_id: str) -> bool:
        """Read the user's profile again now if it is marked stale; ``True`` once it is fresh.

        Raises:
            ReauthRequiredError: the grant cannot be used (the sign-in will read it instead).
        """
        row = await self.account(user_id, provider_id)
        if not row.profile_stale:
            return True
        token = await self._valid_token(row, provider_id)
        return await self._profiles.reread(row, self._clients[provider_id], token)

    async def _valid_token(self, row: AccountRow, provider_id: str) -> str:
        token = self._refresher.open(row, "access_token")
        return token if self._fresh(row) else await self._refreshed(row, provider_id)

    async def after_refusal(self, user_id: str, provider_id: str, refused: str) -> str | None:
        """The token to try after the provider refused ``refused`` (401); ``None``: answer it.

        A refusal refreshes at most once, so that calls the provider keeps refusing cannot
        rotate the grant over and over: a token already replaced (by another request, worker
        or a new sign-in) is not refreshed, the replacement is used; a refresh already in
        flight is joined; and after one refresh caused by a refusal, this process refreshes
        that account for refusals again only when `REFUSAL_GRACE` has passed (a token
        refused as soon as it was refreshed would be refused again: the app called something
        this grant cannot reach).
        """
        row = await self.account(user_id, provider_id)
        token = self._refresher.open(row, "access_token")
        if token != refused:
            return token if self._fresh(row) else await self._refreshed(row, provider_id)
        if not self._refresher.in_flight(row.id) and not self._refusals.allow(row.id):
            return None
        return await self._refreshed(row, provider_id)

    async def refresh_if_idle(
        self, account_id: str, provider_id: str, *, idle_before: datetime
    ) -> bool:
        """Refresh an account's tokens if they were last issued before ``idle_before``.

        Keeps an unused grant alive (Atlassian ends refresh tokens unused for 90 days) through
        the same single flight and lease as every other refresh, so a web app or another
        maintenance run refreshing the same grant at the same moment makes it one refresh.

        Returns:
            Whether this call refreshed; ``False`` when the tokens were issued since
            ``idle_before``, by anyone, or another process refreshed them meanwhile.

        Raises:
            ReauthRequiredError: the grant is gone (now marked as needing consent).
            ProviderUnavailableError: the provider failed even after retries.
            RefreshRefusedError: the provider refused the refresh, not for a dead grant.
        """
        row = await self._store.get_account(account_id)
        if row is None or row.needs_reauth or row.access_token is None:
            raise self._refresher.reauth_required(provider_id)
        if row.updated_at >= idle_before:
            return False
        return (await self._refresher.flight(row, provider_id)).by_us

    async def _refreshed(self, row: AccountRow, provider_id: str) -> str:
        """The token after the refresh of ``row``'s tokens, joining one already in flight."""
        return (await self._refresher.flight(row, provider_id)).access_token

    def _fresh(self, row: AccountRow) -> bool:
        """Whether the stored token is good for longer than the leeway (see `_leeway_of`)."""
        expires = row.access_token_expires_at
        return expires is None or expires - self._leeway_of(row) > utcnow()

    def _leeway_of(self, row: AccountRow) -> timedelta:
        """How early to refresh this row's token: the setting, at most half its lifetime.

        A token that lives less than twice the leeway would otherwise be "about to expire" the
        moment it is issued, and every request would refresh it again. The lifetime is what
        the row says: the tokens were written at ``updated_at`` and expire at
        ``access_token_expires_at``.
        """
        expires = row.access_token_expires_at
        if expires is None:
            return self._leeway
        half_life = (expires - row.updated_at) / 2
        return max(timedelta(0), min(self._leeway, half_life))

    # Disconnect

    async def disconnect(self, user_id: str, provider_id: str) -> bool:
        """Forget the user's tokens and cached sites for a provider; ``True`` if linked."""
        row = await self._store.account_of(user_id, provider_id)
        if row is None:
            return False
        await self._store.forget_tokens(row.id, now=utcnow())
        return True
