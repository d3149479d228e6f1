"""Grant health across all accounts: counts by state, and keeping idle grants alive.

`grant_status` only reads the account table (no key, no provider needed). `IdleGrants`
refreshes the grants nobody used for a while through `TokenService.refresh_if_idle`, so it
shares the single flight and the database lease with the web app: a refresh the app makes at
the same moment, or a second maintenance run, makes it one refresh. Grants are refreshed one at
a time, which keeps a large run far below Atlassian's rate limits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import (
    DatabaseUnavailableError,
    ProviderUnavailableError,
    ReauthRequiredError,
    RefreshRefusedError,
)
from .grant_health import DEFAULT_EXPIRING_WITHIN, DEFAULT_IDLE_AFTER, GrantFacts, health_of
from .store.accounts import AccountStore
from .tokens import TokenService

logger = logging.getLogger("kavach_fastapi")

Progress = Callable[[int, int], None]
"""Told ``(done, total)`` after each grant."""


@dataclass(frozen=True)
class GrantCounts:
    """How many grants are in each state. A grant can be both ``idle`` and ``expiring``.

    Attributes:
        total: every linked account.
        healthy: usable, refreshed recently and not near its end.
        needs_consent: the person must sign in again (see `GrantHealth.needs_consent`).
        idle: usable, not refreshed for ``idle_after``.
        expiring: usable, reaching the 365-day limit within ``expiring_within``.
        idle_after: the idle threshold used.
        expiring_within: the warning window used.
    """

    total: int
    healthy: int
    needs_consent: int
    idle: int
    expiring: int
    idle_after: timedelta
    expiring_within: timedelta


async def grant_status(
    accounts: AccountStore,
    *,
    now: datetime,
    idle_after: timedelta = DEFAULT_IDLE_AFTER,
    expiring_within: timedelta = DEFAULT_EXPIRING_WITHIN,
) -> GrantCounts:
    """Count the grants of every account by state at ``now``."""
    healths = [
        health_of(facts, now=now, idle_after=idle_after, expiring_within=expiring_within)
        for facts in await accounts.grant_facts()
    ]
    return GrantCounts(
        total=len(healths),
        healthy=sum(health.healthy for health in healths),
        needs_consent=sum(health.needs_consent for health in healths),
        idle=sum(health.idle for health in healths),
        expiring=sum(health.expiring for health in healths),
        idle_after=idle_after,
        expiring_within=expiring_within,
    )


@dataclass(frozen=True)
class IdleRefresh:
    """What a run of `IdleGrants.refresh` did.

    Attributes:
        idle: grants that were idle when the run looked.
        refreshed: refreshed by this run.
        already_fresh: refreshed meanwhile by someone else (the app, another run).
        needs_consent: found dead; the person must sign in again.
        failed: the provider failed even after retries, refused the refresh (the app's
            credentials), or the database was out of reach; the next run tries again.
    """

    idle: int
    refreshed: int
    already_fresh: int
    needs_consent: int
    failed: int


class IdleGrants:
    """Refreshes grants before Atlassian's 90-day inactivity limit ends them.

    Args:
        accounts: the accounts table.
        tokens: the token service the web app uses too.
        providers: the provider ids with a configured client; other accounts are left alone.
    """

    def __init__(
        self, accounts: AccountStore, tokens: TokenService, providers: Collection[str]
    ) -> None:
        self._accounts = accounts
        self._tokens = tokens
        self._providers = frozenset(providers)

    async def find(self, *, now: datetime, older_than: timedelta) -> list[GrantFacts]:
        """The grants with a refresh token whose tokens were issued at least ``older_than`` ago.

        Those already past one of Atlassian's limits are included: trying costs one call and
        marks them as needing consent for sure.
        """
        return [
            facts
            for facts in await self._accounts.grant_facts()
            if facts.provider in self._providers
            and not facts.needs_reauth
            and facts.has_access_token
            and facts.has_refresh_token
            and now - facts.tokens_issued_at >= older_than
        ]

    async def refresh(
        self, *, now: datetime, older_than: timedelta, progress: Progress | None = None
    ) -> IdleRefresh:
        """Refresh every grant idle for ``older_than``, one at a time.

        Safe to run again, or at the same time as another run: a grant refreshed since this
        run looked is skipped, and one refreshed at the same moment is refreshed once.
        """
        found = await self.find(now=now, older_than=older_than)
        refreshed = already_fresh = needs_consent = failed = 0
        idle_before = now - older_than
        for done, facts in enumerate(found, start=1):
            try:
                if await self._tokens.refresh_if_idle(
                    facts.account_id, facts.provider, idle_before=idle_before
                ):
                    refreshed += 1
                else:
                    already_fresh += 1
            except ReauthRequiredError:
                needs_consent += 1
            except (ProviderUnavailableError, RefreshRefusedError, DatabaseUnavailableError):
                logger.warning(
                    "refresh of idle account %s failed; try again later", facts.account_id
                )
                failed += 1
            if progress is not None:
                progress(done, len(found))
        return IdleRefresh(len(found), refreshed, already_fresh, needs_consent, failed)
