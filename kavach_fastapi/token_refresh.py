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
* a refresh's outcome applies only to the tokens it started from: a person who signs in again
  while it runs (new tokens, a new ``token_version``, the lease dropped) keeps the new tokens,
  whether the old refresh then succeeds or meets a dead grant.
* once Atlassian has rotated, the new pair is stored even if the database fails for a moment:
  the write is retried (`kavach_fastapi.retry.SHORT_WRITE`, within the lease) and finished even
  if shutdown cancels the refresh. Should it fail for good, the request still gets the new
  access token, the lease is handed back and the log says so; the stored refresh token, now
  retired, is still accepted within the reuse interval, so the next refresh recovers the grant.

A dead grant (``invalid_grant``) marks the account as needing consent again and is never
retried, and so does a grant that lacks a scope the app is configured to request (its
``scopes``, what the token answers said was granted, are compared with the provider's); the
app's ``reauth_needed`` hook hears of both; transient failures (timeouts, 5xx, 429) are retried by `with_retries`,
then surface as 503 with ``Retry-After``.

`kavach_fastapi.tokens` decides when a token needs refreshing and checks its scopes; this module
refreshes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import NamedTuple

from . import metrics
from .background import REFRESH_SETTLE_SECONDS, run_to_the_end, settle
from .crypto import (
    DecryptionError,
    Keyring,
    SealedTokens,
    TokenOwner,
    new_token,
    open_token,
    seal_tokens,
)
from .errors import DatabaseUnavailableError, ProviderUnavailableError, ReauthRequiredError
from .hooks import NO_HOOKS, KavachHooks, ReauthEvent, notify
from .oauth import GrantRevoked, OAuthClient, TokenSet
from .retry import SHORT_WRITE, RetryPolicy, retry_while_unavailable, with_retries
from .store.accounts import AccountStore
from .tables import AccountRow, utcnow

logger = logging.getLogger("kavach_fastapi")

LEASE_DURATION = timedelta(seconds=30)
"""How long a refresher may hold an account before others may take over."""


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_token(6)}"


class Refreshed(NamedTuple):
    """How a refresh in flight ended: the access token, and whether this process got and
    stored it."""

    access_token: str
    by_us: bool


def owner_of(row: AccountRow) -> TokenOwner:
    """What the tokens of an account row are bound to."""
    return TokenOwner(row.provider, row.provider_account_id, row.id)


class _TokensChanged(Exception):  # noqa: N818 - a signal, caught at once by _refresh
    """A sign-in stored other tokens while this refresh ran: its outcome is not theirs."""


class Refresher:
    """Refreshes accounts' tokens, one refresh per grant in flight everywhere.

    Args:
        accounts: the accounts table (the lease is a column of its rows).
        keyring: decrypts and encrypts stored tokens.
        clients: an OAuth client per provider id.
        retry: how transient failures are retried.
        hooks: the app's hooks (``reauth_needed`` is run from here).
        sign_in_urls: where a person consents again, per provider id, when it is known
            without a request (``KAVACH_BASE_URL`` is set); every ``ReauthRequiredError``
            made here carries it.
    """

    def __init__(
        self,
        accounts: AccountStore,
        keyring: Keyring,
        clients: Mapping[str, OAuthClient],
        *,
        retry: RetryPolicy | None = None,
        hooks: KavachHooks = NO_HOOKS,
        sign_in_urls: Mapping[str, str] | None = None,
    ) -> None:
        self.accounts = accounts
        self.clients = clients
        self.retry = retry or RetryPolicy()
        self._keyring = keyring
        self._hooks = hooks
        self._sign_in_urls = dict(sign_in_urls or {})
        self._owner = _owner_id()
        self._inflight: dict[str, asyncio.Future[Refreshed]] = {}

    def sign_in_url(self, provider_id: str) -> str | None:
        """Where a person consents again to a provider, when known without a request."""
        return self._sign_in_urls.get(provider_id)

    async def aclose(self) -> None:
        """The app's shutdown: let the refreshes under way finish and store what they got
        (`REFRESH_SETTLE_SECONDS` at most), before the database and the HTTP pool close."""
        await settle(list(self._inflight.values()), within=REFRESH_SETTLE_SECONDS)

    def reauth_required(self, provider_id: str, message: str | None = None) -> ReauthRequiredError:
        """The error saying the person must consent again, with the `sign_in_url` it knows."""
        return ReauthRequiredError(message, reauth_url=self.sign_in_url(provider_id))

    def open(self, row: AccountRow, column: str) -> str:
        """The decrypted token of ``column`` (``access_token`` or ``refresh_token``).

        Raises:
            ReauthRequiredError: there is none, or it cannot be decrypted with the keys.
        """
        value = getattr(row, column)
        if value is None:
            raise self.reauth_required(row.provider)
        try:
            return open_token(self._keyring, value, owner_of(row), column)
        except DecryptionError:
            logger.error(
                "stored %s of account %s cannot be decrypted: was KAVACH_SECRET changed "
                "without keeping the old key?",
                column,
                row.id,
            )
            raise self.reauth_required(row.provider) from None

    def in_flight(self, account_id: str) -> bool:
        """Whether this process is refreshing the account now."""
        return account_id in self._inflight

    async def flight(self, row: AccountRow, provider_id: str) -> Refreshed:
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

    async def _refresh(self, account_id: str, provider_id: str, version: int) -> Refreshed:
        """Refresh once for everyone: take the lease, or wait for whoever holds it."""
        deadline = time.monotonic() + LEASE_DURATION.total_seconds() + 5
        pause = 0.02
        while True:
            now = utcnow()
            if await self.accounts.try_lease(
                account_id, version=version, owner=self._owner, now=now, until=now + LEASE_DURATION
            ):
                lease_ends = time.monotonic() + LEASE_DURATION.total_seconds()
                try:
                    return await self._refresh_with_lease(
                        account_id, provider_id, version, lease_ends
                    )
                except _TokensChanged:
                    pass  # the next look finds the sign-in's tokens
            row = await self.accounts.get_account(account_id)
            if row is None or row.needs_reauth:
                raise self.reauth_required(provider_id)
            if row.token_version != version:
                # Someone else refreshed: their token serves unless it has really expired
                # (refreshing it again because it is "inside the leeway" starts a storm).
                if _unexpired(row):
                    return Refreshed(self.open(row, "access_token"), by_us=False)
                version = row.token_version
                continue
            if time.monotonic() > deadline:
                raise ProviderUnavailableError(retry_after=5)
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    async def _refresh_with_lease(
        self, account_id: str, provider_id: str, version: int, lease_ends: float
    ) -> Refreshed:
        """Refresh the tokens at ``version`` while holding the lease; the lease is always
        settled before returning.

        Settled means: new tokens saved, the grant marked dead, or (on any other way out,
        cancellation and a failed save included) handed back so that another request can try
        at once.

        Raises:
            _TokensChanged: a sign-in replaced the tokens (and dropped the lease) meanwhile.
        """
        settled = False
        try:
            owner, refresh_token = await self._refresh_token_of(account_id, provider_id, version)
            tokens = await self._refresh_with_retries(
                account_id, version, self.clients[provider_id], refresh_token
            )
            sealed = seal_tokens(self._keyring, tokens, owner)
            try:
                stored = await run_to_the_end(
                    self._save(account_id, version, sealed, lease_ends=lease_ends)
                )
            except DatabaseUnavailableError:
                logger.error(
                    "refreshed tokens of account %s could not be stored (the database is "
                    "unavailable); this request uses the new access token, and the next "
                    "refresh retries with the stored refresh token within Atlassian's reuse "
                    "interval",
                    account_id,
                )
                return Refreshed(tokens.access_token, by_us=False)
            settled = True  # whatever save_refreshed found, the lease is no longer ours
            if not stored:
                logger.warning(
                    "refresh of account %s outlived its lease or a new sign-in; the newer "
                    "tokens were kept",
                    account_id,
                )
            return Refreshed(tokens.access_token, by_us=stored)
        except (ReauthRequiredError, _TokensChanged):
            settled = True  # give_up marked the grant dead, or a sign-in dropped the lease
            raise
        finally:
            if not settled:
                # Not handed back (the database is out of reach): it expires by itself.
                with contextlib.suppress(DatabaseUnavailableError):
                    await asyncio.shield(self.accounts.release_lease(account_id, owner=self._owner))

    async def _save(
        self, account_id: str, version: int, sealed: SealedTokens, *, lease_ends: float
    ) -> bool:
        """Store a refreshed pair, trying again while the database is unavailable.

        Atlassian has already retired the stored refresh token, so one failed write must not
        lose the new one; the tries stop within `SHORT_WRITE`'s budget and before the lease ends.

        Raises:
            DatabaseUnavailableError: every try failed.
        """
        return await retry_while_unavailable(
            lambda: self.accounts.save_refreshed(
                account_id, owner=self._owner, version=version, sealed=sealed, now=utcnow()
            ),
            SHORT_WRITE,
            until=lease_ends,
        )

    async def _refresh_token_of(
        self, account_id: str, provider_id: str, version: int
    ) -> tuple[TokenOwner, str]:
        row = await self.accounts.get_account(account_id)
        if row is not None and row.token_version != version:
            raise _TokensChanged
        if row is None or row.refresh_token is None:
            await self._give_up_on(
                account_id,
                version,
                "no refresh token (was offline_access granted?)",
                reason="no_refresh_token",
                provider=row.provider if row is not None else "other",
            )
            raise self.reauth_required(provider_id)
        try:
            return owner_of(row), self.open(row, "refresh_token")
        except ReauthRequiredError:
            await self._give_up_on(
                account_id,
                version,
                "the stored refresh token cannot be decrypted",
                reason="undecryptable",
                provider=row.provider,
            )
            raise

    async def _refresh_with_retries(
        self, account_id: str, version: int, client: OAuthClient, refresh_token: str
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
            await self._give_up_on(
                account_id,
                version,
                "the provider answered invalid_grant",
                reason="invalid_grant",
                provider=provider,
            )
            raise self.reauth_required(provider) from None
        except ProviderUnavailableError:
            metrics.record_refresh(provider, "unavailable")
            raise
        except Exception:
            metrics.record_refresh(provider, "failure")
            raise
        metrics.record_refresh(provider, "success")
        return tokens

    async def _give_up_on(
        self, account_id: str, version: int, why: str, *, reason: str, provider: str
    ) -> None:
        """`give_up` on the tokens at ``version``.

        Raises:
            _TokensChanged: they were replaced meanwhile (by a sign-in), so nothing was marked.
        """
        if not await self.give_up(
            account_id, why, reason=reason, provider=provider, version=version
        ):
            raise _TokensChanged

    async def give_up(
        self,
        account_id: str,
        why: str,
        *,
        reason: str,
        provider: str,
        version: int,
        lacking: tuple[str, ...] = (),
    ) -> bool:
        """Mark the account as needing consent again (dropping any lease), and tell the app.

        Only if its tokens are still those at ``version`` (the ones found wanting): tokens a
        sign-in stored since are not touched.

        Returns:
            Whether the account was marked.
        """
        if not await self.accounts.mark_needs_reauth(account_id, version=version, now=utcnow()):
            logger.info(
                "account %s: %s, but newer tokens were stored meanwhile; they are kept",
                account_id,
                why,
            )
            return False
        logger.warning("account %s needs consent again: %s", account_id, why)
        metrics.record_reconsent_required(provider, reason)
        if self._hooks.reauth_needed is None:
            return True
        row = await self.accounts.get_account(account_id)
        if row is not None:
            cause = "missing_scopes" if lacking else "grant_revoked"
            event = ReauthEvent(row.user_id, row.provider, cause, lacking)
            await notify(self._hooks.reauth_needed, event, "reauth_needed")
        return True


def _unexpired(row: AccountRow) -> bool:
    expires = row.access_token_expires_at
    return expires is None or expires > utcnow()
