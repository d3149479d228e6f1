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
* a lease expires (:data:`LEASE_DURATION`), so a worker that dies mid-refresh blocks others only
  until then; its successor refreshes with the same refresh token, which Atlassian still accepts
  within its reuse interval.

A dead grant (``invalid_grant``) marks the account as needing consent again and is never
retried; transient failures (timeouts, 5xx, 429) are retried a few times with backoff that
honours ``Retry-After``, then surface as 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import httpx2

from .atlassian.sites import parse_accessible_resources
from .crypto import DecryptionError, Keyring, new_token
from .errors import ProviderUnavailableError, ReauthRequiredError
from .models import AccountRow, AtlassianSite, utcnow
from .oauth import GrantRevoked, OAuthClient, TokenSet, TransientFailure, transient_answer
from .providers.atlassian import AtlassianProvider
from .store import Store
from .vault import TOKEN_COLUMNS, seal_tokens, token_context

logger = logging.getLogger("kavach_fastapi")

LEASE_DURATION = timedelta(seconds=30)
"""How long a refresher may hold an account before others may take over."""

REFRESH_ATTEMPTS = 3
"""Tries of one refresh before a transient failure is reported (503)."""

MAX_RETRY_WAIT = 5.0
"""Longest pause between tries, in seconds; a longer ``Retry-After`` is passed to the client."""

REFUSAL_GRACE = timedelta(minutes=1)
"""After a refusal (401) refreshed an account's tokens, further refusals are answered this long."""

MAX_REMEMBERED_REFUSALS = 10_000
"""Accounts whose last refusal a process remembers before it forgets the expired ones."""

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods that may be sent again when their first try's fate is unknown (RFC 9110)."""

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient provider failures are retried.

    Attributes:
        attempts: tries in all.
        base_delay: first pause in seconds, doubled on each retry.
        max_delay: the longest pause; a longer ``Retry-After`` ends the retries.
    """

    attempts: int = REFRESH_ATTEMPTS
    base_delay: float = 0.2
    max_delay: float = MAX_RETRY_WAIT

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before try ``attempt + 1``; ``None`` when giving up is better."""
        if attempt + 1 >= self.attempts:
            return None
        wait = retry_after if retry_after is not None else self.base_delay * 2**attempt
        return None if wait > self.max_delay else wait


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_token(6)}"


class TokenService:
    """Valid access tokens and the sites they reach, for signed-in users.

    Args:
        store: the database.
        keyring: decrypts and encrypts stored tokens.
        clients: an OAuth client per provider id.
        leeway: refresh this long before expiry.
        sites_ttl: how long the cached list of sites is fresh.
        retry: how transient failures are retried.
    """

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        clients: dict[str, OAuthClient],
        *,
        leeway: timedelta,
        sites_ttl: timedelta,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._clients = clients
        self._leeway = leeway
        self._sites_ttl = sites_ttl
        self.retry = retry or RetryPolicy()
        self._owner = _owner_id()
        self._inflight: dict[str, asyncio.Future[str]] = {}
        self._refused_at: dict[str, float] = {}
        """When (monotonic) a refusal last refreshed each account's tokens in this process."""

    # Access tokens

    async def account(self, user_id: str, provider_id: str) -> AccountRow:
        """The user's linked account with usable tokens.

        Raises:
            ReauthRequiredError: not linked, disconnected, or the grant is dead.
        """
        row = await self._store.account_of(user_id, provider_id)
        if row is None or row.needs_reauth or row.access_token is None:
            raise ReauthRequiredError
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
        token = self._open(row, "access_token")
        if self._fresh(row):
            return token
        return await self._refreshed(row, provider_id)

    async def _after_refusal(self, user_id: str, provider_id: str, refused: str) -> str | None:
        """The token to try after the provider refused ``refused`` (401); ``None``: answer it.

        A refusal refreshes at most once, so that calls the provider keeps refusing cannot
        rotate the grant over and over: a token already replaced (by another request, worker
        or a new sign-in) is not refreshed, the replacement is used; a refresh already in
        flight is joined; and after one refresh caused by a refusal, this process refreshes
        that account for refusals again only when :data:`REFUSAL_GRACE` has passed (a token
        refused as soon as it was refreshed would be refused again: the app called something
        this grant cannot reach).
        """
        row = await self.account(user_id, provider_id)
        token = self._open(row, "access_token")
        if token != refused:
            return token if self._fresh(row) else await self._refreshed(row, provider_id)
        if row.id not in self._inflight:
            now = time.monotonic()
            last = self._refused_at.get(row.id)
            if last is not None and now - last < REFUSAL_GRACE.total_seconds():
                return None
            self._remember_refusal(row.id, now)
        return await self._refreshed(row, provider_id)

    def _remember_refusal(self, account_id: str, now: float) -> None:
        if len(self._refused_at) >= MAX_REMEMBERED_REFUSALS:
            horizon = now - REFUSAL_GRACE.total_seconds()
            self._refused_at = {key: at for key, at in self._refused_at.items() if at > horizon}
        self._refused_at[account_id] = now

    async def _refreshed(self, row: AccountRow, provider_id: str) -> str:
        """The token after the refresh of ``row``'s tokens, joining one already in flight."""
        flight = self._inflight.get(row.id)
        if flight is None:
            flight = asyncio.ensure_future(self._refresh(row.id, provider_id, row.token_version))
            self._inflight[row.id] = flight
            flight.add_done_callback(lambda done: self._landed(row.id, done))
        # Shielded: a caller that goes away does not cancel the refresh others wait for.
        return await asyncio.shield(flight)

    def _landed(self, account_id: str, flight: asyncio.Future[str]) -> None:
        if self._inflight.get(account_id) is flight:
            del self._inflight[account_id]
        if not flight.cancelled():
            flight.exception()  # retrieved here so an unawaited failure is never reported twice

    def _fresh(self, row: AccountRow) -> bool:
        """Whether the stored token is good for longer than the leeway (see :meth:`_leeway_of`)."""
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
            return self._keyring.decrypt(value, context=token_context(row.id, column))
        except DecryptionError:
            logger.error(
                "stored %s of account %s cannot be decrypted: was KAVACH_SECRET changed "
                "without keeping the old key?",
                column,
                row.id,
            )
            raise ReauthRequiredError from None

    async def _refresh(self, account_id: str, provider_id: str, version: int) -> str:
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
                    return self._open(row, "access_token")
                version = row.token_version
                continue
            if time.monotonic() > deadline:
                raise ProviderUnavailableError(retry_after=5)
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    async def _refresh_with_lease(self, account_id: str, provider_id: str) -> str:
        """Refresh while holding the lease; the lease is always settled before returning.

        Settled means: new tokens saved, the grant marked dead, or (on any other way out,
        cancellation included) handed back so that another request can try at once.
        """
        settled = False
        try:
            refresh_token = await self._refresh_token_of(account_id)
            tokens = await self._refresh_with_retries(
                account_id, self._clients[provider_id], refresh_token
            )
            settled = True  # whatever save_refreshed finds, the lease is no longer ours
            stored = await self._store.save_refreshed(
                account_id,
                owner=self._owner,
                sealed=seal_tokens(self._keyring, tokens, account_id),
                now=utcnow(),
            )
            if not stored:
                logger.warning(
                    "refresh of account %s outlived its lease; another took over", account_id
                )
            return tokens.access_token
        except ReauthRequiredError:
            settled = True  # _give_up marked the grant dead and dropped the lease
            raise
        finally:
            if not settled:
                await asyncio.shield(self._store.release_lease(account_id, owner=self._owner))

    async def _refresh_token_of(self, account_id: str) -> str:
        row = await self._store.get_account(account_id)
        if row is None or row.refresh_token is None:
            await self._give_up(account_id, "no refresh token (was offline_access granted?)")
            raise ReauthRequiredError
        try:
            return self._open(row, "refresh_token")
        except ReauthRequiredError:
            await self._give_up(account_id, "the stored refresh token cannot be decrypted")
            raise

    async def _refresh_with_retries(
        self, account_id: str, client: OAuthClient, refresh_token: str
    ) -> TokenSet:
        try:
            # A refresh is a POST, yet repeating it is safe: a retired refresh token is still
            # accepted within Atlassian's reuse interval, so a lost answer costs nothing.
            return await self._with_retries(
                lambda: client.refresh(refresh_token),
                what=f"token refresh of account {account_id}",
                repeatable=True,
            )
        except GrantRevoked:
            await self._give_up(account_id, "the provider answered invalid_grant")
            raise ReauthRequiredError from None

    async def _with_retries(
        self, send: Callable[[], Awaitable[T]], *, what: str, repeatable: bool
    ) -> T:
        """Run ``send`` until it succeeds, retrying transient failures within :attr:`retry`.

        Args:
            send: one try.
            what: names the call in log lines.
            repeatable: the call may be repeated whatever happened to it (it is idempotent);
                otherwise only failures the provider cannot have acted on are retried.

        Raises:
            ProviderUnavailableError: out of tries, or a failure that must not be retried.
        """
        attempt = 0
        while True:
            try:
                return await send()
            except TransientFailure as exc:
                retry = repeatable or exc.unapplied
                wait = self.retry.delay(attempt, exc.retry_after) if retry else None
                logger.warning(
                    "%s failed (%s) on try %d; %s",
                    what,
                    exc,
                    attempt + 1,
                    "giving up" if wait is None else f"trying again in {wait:.1f} s",
                )
                if wait is None:
                    raise _unavailable(exc, maybe_applied=not retry) from None
                await asyncio.sleep(wait)
                attempt += 1

    async def _give_up(self, account_id: str, why: str) -> None:
        logger.warning("account %s needs consent again: %s", account_id, why)
        await self._store.mark_needs_reauth(account_id, now=utcnow())

    # Sites

    async def sites(self, user_id: str, provider: AtlassianProvider) -> list[AtlassianSite]:
        """The person's Atlassian sites, from the cache while fresh.

        When Atlassian fails and a cached list exists, the stale list is served (and logged).

        Raises:
            ReauthRequiredError: the person must consent again.
            ProviderUnavailableError: Atlassian failed and nothing is cached.
        """
        row = await self.account(user_id, provider.id)
        cached = _parse_sites(row.sites_json) if row.sites_json else None
        fetched_at = row.sites_fetched_at
        if cached is not None and fetched_at and fetched_at + self._sites_ttl > utcnow():
            return cached
        try:
            response = await self.call(
                user_id, provider.id, "GET", provider.accessible_resources_url
            )
            if response.status_code != 200:
                raise TransientFailure(f"HTTP {response.status_code}")
            sites = parse_accessible_resources(response.json())
        except (TransientFailure, ProviderUnavailableError, ValueError, TypeError, KeyError) as exc:
            if cached is None:
                if isinstance(exc, ProviderUnavailableError):
                    raise
                raise ProviderUnavailableError(retry_after=5) from None
            logger.warning("serving a stale list of sites for account %s: %s", row.id, exc)
            return cached
        await self._store.save_sites(
            row.id, json.dumps([site.model_dump() for site in sites]), now=utcnow()
        )
        return sites

    async def call(
        self,
        user_id: str,
        provider_id: str,
        method: str,
        url: str,
        **kwargs: Any,
    ) -> httpx2.Response:
        """Call a provider API as the user: refresh once on 401, retry what is safe to retry.

        Idempotent methods (``GET``, ``HEAD``, ``OPTIONS``, ``PUT``, ``DELETE``) are retried
        after timeouts, connection failures and ``429``; others (``POST``, ``PATCH``) only
        when the provider cannot have acted on them: the connection failed, or it answered
        ``429`` with ``Retry-After``. A ``401`` refreshes the token at most once per token
        (one refused soon after a refusal refreshed it is not refreshed again: the answer is
        returned).

        Returns the ``httpx2.Response`` whatever its final status.

        Raises:
            ReauthRequiredError: the person must consent again.
            ProviderUnavailableError: unreachable or rate-limited beyond the retry budget,
                or a request that is not idempotent got no answer.
        """
        client = self._clients[provider_id]
        verb = method.upper()

        async def send(token: str) -> httpx2.Response:
            async def once() -> httpx2.Response:
                response = await client.api_request(verb, url, access_token=token, **kwargs)
                if response.status_code == 429:
                    raise transient_answer(response)
                return response

            return await self._with_retries(
                once, what=f"{verb} {httpx2.URL(url).path}", repeatable=verb in IDEMPOTENT
            )

        token = await self.access_token(user_id, provider_id)
        response = await send(token)
        if response.status_code == 401 and not _scope_mismatch(response):
            replacement = await self._after_refusal(user_id, provider_id, token)
            if replacement is not None:
                response = await send(replacement)
        return response

    # Disconnect and keys

    async def disconnect(self, user_id: str, provider_id: str) -> bool:
        """Forget the user's tokens and cached sites for a provider; ``True`` if linked."""
        row = await self._store.account_of(user_id, provider_id)
        if row is None:
            return False
        await self._store.forget_tokens(row.id, now=utcnow())
        return True

    async def rotate_keys(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-encrypt every stored token with the newest key; returns how many rows changed.

        Each row is rewritten only if its tokens are still the ones that were read (a
        compare-and-swap on ``token_version``): a refresh that lands in between is read
        again and re-encrypted, never overwritten with the retired refresh token.

        Args:
            progress: called with (accounts done, accounts in all) after each account.
        """
        changed = 0
        account_ids = await self._store.account_ids()
        for done, account_id in enumerate(account_ids, start=1):
            if await self._reseal(account_id):
                changed += 1
            if progress is not None:
                progress(done, len(account_ids))
        return changed

    async def _reseal(self, account_id: str) -> bool:
        """Re-encrypt one account's tokens; ``False`` when none needed it (or the row is gone)."""
        while True:
            row = await self._store.get_account(account_id)
            if row is None:
                return False
            resealed = {
                column: self._reencrypted(row, column)
                for column in TOKEN_COLUMNS
                if getattr(row, column) is not None
                and not self._keyring.is_current(getattr(row, column))
            }
            if not resealed:
                return False
            if await self._store.reseal_account(account_id, version=row.token_version, **resealed):
                return True
            # The tokens moved on (a refresh, say) since they were read: read them again.

    def _reencrypted(self, row: AccountRow, column: str) -> str:
        context = token_context(row.id, column)
        value = self._keyring.decrypt(getattr(row, column), context=context)
        return self._keyring.encrypt(value, context=context)


def _unexpired(row: AccountRow) -> bool:
    expires = row.access_token_expires_at
    return expires is None or expires > utcnow()


def _unavailable(exc: TransientFailure, *, maybe_applied: bool) -> ProviderUnavailableError:
    """What the client hears when a transient failure is not (or no more) retried."""
    retry_after = max(1, round(exc.retry_after or 5))
    if exc.rate_limited:
        message = "Atlassian is rate-limiting requests. Please try again shortly."
    elif maybe_applied:
        message = (
            "Atlassian did not answer in time, and the change may have been made: "
            "check before trying again."
        )
    else:
        message = None
    return ProviderUnavailableError(message, retry_after=retry_after)


def _scope_mismatch(response: httpx2.Response) -> bool:
    """Atlassian's 401 for a missing scope: a new token would not have it either."""
    return b"scope does not match" in response.content


def _parse_sites(raw: str) -> list[AtlassianSite] | None:
    try:
        return [AtlassianSite.model_validate(item) for item in json.loads(raw)]
    except ValueError:
        return None
