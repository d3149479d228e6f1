"""Provider tokens in production: refreshed exactly once across workers, never lost.

Atlassian rotates refresh tokens: each refresh retires the token it was given, and presenting
a retired token more than 10 minutes later revokes the whole grant. So two requests, tabs,
worker processes or machines that refresh the same grant at once would, sooner or later, lose
it. Here one refresh per grant is in flight, everywhere:

* in a process, concurrent requests share one refresh task (a single flight);
* across processes and machines, the database decides: a refresher first takes a *lease* on the
  account row with a conditional UPDATE that only succeeds if nobody refreshed since it looked
  (``token_version``) and no live lease exists. Everyone else polls the row until the version
  moves, then uses the new token. No transaction is held across the HTTP call.
* a lease expires (`LEASE_DURATION`), so a worker that dies mid-refresh blocks others only
  until then; its successor refreshes with the same refresh token, which Atlassian still accepts
  within its reuse interval.

A dead grant (``invalid_grant``) marks the account as needing consent again and is never
retried, and so does a grant that lacks a scope the app is configured to request (its
``scopes``, what the token answers said was granted, are compared with the provider's); the
app's ``reauth_needed`` hook hears of both; transient failures (timeouts, 5xx, 429) are retried by `with_retries`,
then surface as 503 with ``Retry-After``.

This module does tokens only: the calls that use them are the provider's
(`kavach_fastapi.atlassian.client`), and key rotation is `kavach_fastapi.keys`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import datetime, timedelta
from typing import NamedTuple

from . import metrics
from .crypto import DecryptionError, Keyring, TokenOwner, new_token, open_token, seal_tokens
from .errors import ProviderUnavailableError, ReauthRequiredError
from .hooks import NO_HOOKS, KavachHooks, ReauthEvent, notify
from .oauth import GrantRevoked, OAuthClient, TokenSet
from .profiles import ProfileRereads
from .providers.base import missing_scopes
from .retry import RetryPolicy, with_retries
from .store.accounts import AccountStore
from .tables import AccountRow, utcnow
from .throttle import OncePer

logger = logging.getLogger("kavach_fastapi")

LEASE_DURATION = timedelta(seconds=30)
"""How long a refresher may hold an account before others may take over."""

REFUSAL_GRACE = timedelta(minutes=1)
"""After a refusal (401) refreshed an account's tokens, further refusals are answered this long."""

MAX_REMEMBERED_REFUSALS = 10_000
"""Accounts whose last refusal a process remembers before it forgets the expired ones."""


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_token(6)}"


class Refreshed(NamedTuple):
    """How a refresh in flight ended: the access token, and whether this process got it."""

    access_token: str
    by_us: bool


def owner_of(row: AccountRow) -> TokenOwner:
    """What the tokens of an account row are bound to."""
    return TokenOwner(row.provider, row.provider_account_id, row.id)


class TokenService:
    """Valid access tokens for signed-in users, refreshed exactly once across workers.

    Args:
        accounts: the accounts table.
        keyring: decrypts and encrypts stored tokens.
        clients: an OAuth client per provider id.
        leeway: refresh this long before expiry.
        retry: how transient failures are retried.
        hooks: the app's hooks (``reauth_needed`` is run from here).
    """

    def __init__(
        self,
        accounts: AccountStore,
        keyring: Keyring,
        clients: dict[str, OAuthClient],
        *,
        leeway: timedelta,
        retry: RetryPolicy | None = None,
        hooks: KavachHooks = NO_HOOKS,
    ) -> None:
        self._hooks = hooks
        self._store = accounts
        self._keyring = keyring
        self._clients = clients
        self._leeway = leeway
        self.retry = retry or RetryPolicy()
        self._owner = _owner_id()
        self._inflight: dict[str, asyncio.Future[Refreshed]] = {}
        self._profiles = ProfileRereads(accounts)
        self._refusals = OncePer(REFUSAL_GRACE.total_seconds(), capacity=MAX_REMEMBERED_REFUSALS)
        """Accounts whose tokens a refusal refreshed in this process, for `REFUSAL_GRACE`."""

    # Access tokens

    async def account(self, user_id: str, provider_id: str) -> AccountRow:
        """The user's linked account with usable tokens.

        Raises:
            ReauthRequiredError: not linked, disconnected, the grant is dead, or it lacks a
                scope the provider is configured to request (it is then marked so).
        """
        row = await self._store.account_of(user_id, provider_id)
        if row is None or row.needs_reauth or row.access_token is None:
            raise ReauthRequiredError
        client = self._clients.get(provider_id)
        lacking = missing_scopes(client.provider.scopes, row.scopes) if client else ()
        if lacking:
            await self._give_up(
                row.id,
                f"the grant lacks the configured scope(s) {' '.join(lacking)}",
                reason="missing_scopes",
                provider=provider_id,
                lacking=lacking,
            )
            raise ReauthRequiredError(
                "This app now needs more permissions of your Atlassian account. Please "
                "connect again."
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
        token = self._open(row, "access_token")
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
        token = self._open(row, "access_token")
        if token != refused:
            return token if self._fresh(row) else await self._refreshed(row, provider_id)
        if row.id not in self._inflight and not self._refusals.allow(row.id):
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
        """
        row = await self._store.get_account(account_id)
        if row is None or row.needs_reauth or row.access_token is None:
            raise ReauthRequiredError
        if row.updated_at >= idle_before:
            return False
        return (await self._flight(row, provider_id)).by_us

    async def _refreshed(self, row: AccountRow, provider_id: str) -> str:
        """The token after the refresh of ``row``'s tokens, joining one already in flight."""
        return (await self._flight(row, provider_id)).access_token

    async def _flight(self, row: AccountRow, provider_id: str) -> Refreshed:
        """The refresh of ``row``'s tokens in this process, started or joined."""
        flight = self._inflight.get(row.id)
        if flight is None:
            flight = asyncio.ensure_future(self._refresh(row.id, provider_id, row.token_version))
            self._inflight[row.id] = flight
            flight.add_done_callback(lambda done: self._landed(row.id, done))
        # Shielded: a caller that goes away does not cancel the refresh others wait for.
        return await asyncio.shield(flight)

    def _landed(self, account_id: str, flight: asyncio.Future[Refreshed]) -> None:
        if self._inflight.get(account_id) is flight:
            del self._inflight[account_id]
        if not flight.cancelled():
            flight.exception()  # retrieved here so an unawaited failure is never reported twice

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

    def _open(self, row: AccountRow, column: str) -> str:
        value = getattr(row, column)
        if value is None:
            raise ReauthRequiredError
        try:
            return open_token(self._keyring, value, owner_of(row), column)
        except DecryptionError:
            logger.error(
                "stored %s of account %s cannot be decrypted: was KAVACH_SECRET changed "
                "without keeping the old key?",
                column,
                row.id,
            )
            raise ReauthRequiredError from None

    async def _refresh(self, account_id: str, provider_id: str, version: int) -> Refreshed:
        """Refresh once for everyone: take the lease, or wait for whoever holds it."""
        deadline = time.monotonic() + LEASE_DURATION.total_seconds() + 5
        pause = 0.02
        while True:
            now = utcnow()
            if await self._store.try_lease(
                account_id, version=version, owner=self._owner, now=now, until=now + LEASE_DURATION
            ):
                return await self._refresh_with_lease(account_id, provider_id)
            row = await self._store.get_account(account_id)
            if row is None or row.needs_reauth:
                raise ReauthRequiredError
            if row.token_version != version:
                # Someone else refreshed: their token serves unless it has really expired
                # (refreshing it again because it is "inside the leeway" starts a storm).
                if _unexpired(row):
                    return Refreshed(self._open(row, "access_token"), by_us=False)
                version = row.token_version
                continue
            if time.monotonic() > deadline:
                raise ProviderUnavailableError(retry_after=5)
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    async def _refresh_with_lease(self, account_id: str, provider_id: str) -> Refreshed:
        """Refresh while holding the lease; the lease is always settled before returning.

        Settled means: new tokens saved, the grant marked dead, or (on any other way out,
        cancellation included) handed back so that another request can try at once.
        """
        settled = False
        try:
            owner, refresh_token = await self._refresh_token_of(account_id)
            tokens = await self._refresh_with_retries(
                account_id, self._clients[provider_id], refresh_token
            )
            settled = True  # whatever save_refreshed finds, the lease is no longer ours
            stored = await self._store.save_refreshed(
                account_id,
                owner=self._owner,
                sealed=seal_tokens(self._keyring, tokens, owner),
                now=utcnow(),
            )
            if not stored:
                logger.warning(
                    "refresh of account %s outlived its lease; another took over", account_id
                )
            return Refreshed(tokens.access_token, by_us=stored)
        except ReauthRequiredError:
            settled = True  # _give_up marked the grant dead and dropped the lease
            raise
        finally:
            if not settled:
                await asyncio.shield(self._store.release_lease(account_id, owner=self._owner))

    async def _refresh_token_of(self, account_id: str) -> tuple[TokenOwner, str]:
        row = await self._store.get_account(account_id)
        if row is None or row.refresh_token is None:
            await self._give_up(
                account_id,
                "no refresh token (was offline_access granted?)",
                reason="no_refresh_token",
                provider=row.provider if row is not None else "other",
            )
            raise ReauthRequiredError
        try:
            return owner_of(row), self._open(row, "refresh_token")
        except ReauthRequiredError:
            await self._give_up(
                account_id,
                "the stored refresh token cannot be decrypted",
                reason="undecryptable",
                provider=row.provider,
            )
            raise

    async def _refresh_with_retries(
        self, account_id: str, client: OAuthClient, refresh_token: str
    ) -> TokenSet:
        provider = client.provider.id
        try:
            # A refresh is a POST, yet repeating it is safe: a retired refresh token is still
            # accepted within Atlassian's reuse interval, so a lost answer costs nothing.
            tokens = await with_retries(
                lambda: client.refresh(refresh_token),
                policy=self.retry,
                what=f"token refresh of account {account_id}",
                provider=client.provider.name,
                repeatable=True,
            )
        except GrantRevoked:
            metrics.record_refresh(provider, "reauth_required")
            await self._give_up(
                account_id,
                "the provider answered invalid_grant",
                reason="invalid_grant",
                provider=provider,
            )
            raise ReauthRequiredError from None
        except ProviderUnavailableError:
            metrics.record_refresh(provider, "unavailable")
            raise
        except Exception:
            metrics.record_refresh(provider, "failure")
            raise
        metrics.record_refresh(provider, "success")
        return tokens

    async def _give_up(
        self,
        account_id: str,
        why: str,
        *,
        reason: str,
        provider: str,
        lacking: tuple[str, ...] = (),
    ) -> None:
        logger.warning("account %s needs consent again: %s", account_id, why)
        metrics.record_reconsent_required(provider, reason)
        await self._store.mark_needs_reauth(account_id, now=utcnow())
        if self._hooks.reauth_needed is None:
            return
        row = await self._store.get_account(account_id)
        if row is not None:
            cause = "missing_scopes" if lacking else "grant_revoked"
            event = ReauthEvent(row.user_id, row.provider, cause, lacking)
            await notify(self._hooks.reauth_needed, event, "reauth_needed")

    # Disconnect

    async def disconnect(self, user_id: str, provider_id: str) -> bool:
        """Forget the user's tokens and cached sites for a provider; ``True`` if linked."""
        row = await self._store.account_of(user_id, provider_id)
        if row is None:
            return False
        await self._store.forget_tokens(row.id, now=utcnow())
        return True


def _unexpired(row: AccountRow) -> bool:
    expires = row.access_token_expires_at
    return expires is None or expires > utcnow()
