"""The run of personal-data reporting: batches of due accounts, ``429`` waits, the result.

Each batch is sent by `kavach_fastapi.privacy.calls` and its answer acted on by
`kavach_fastapi.privacy.erasure`; see `kavach_fastapi.privacy` for the rules.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .. import metrics
from ..oauth import OAuthClient
from ..retry import RetryPolicy, retry_after_seconds
from ..store.privacy import DueAccount, PrivacyStore
from ..tables import utcnow
from ..tokens import TokenService
from .calls import ReportCalls
from .erasure import Acted, Erasure, statuses_of
from .results import (
    DEFAULT_CYCLE,
    MAX_ACCOUNTS_PER_CALL,
    MAX_WAIT,
    MAX_WAITS_PER_CALL,
    AccountClosedHook,
    PersonalDataReport,
    ReportProgress,
    parse_cycle_period,
)
from .schedule import CLAIM_LEASE, reported_before

logger = logging.getLogger("kavach_fastapi")


@dataclass
class _Run:
    due: int
    reported: int = 0
    calls: int = 0
    closed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    reread: int = 0
    hook_failures: list[str] = field(default_factory=list)
    rate_limited: int = 0
    cycle_period: str | None = None
    left_due: list[str] = field(default_factory=list)
    """Row ids handled in this run but left due for the next (a failed hook)."""

    def add(self, acted: Acted) -> None:
        self.closed.extend(acted.closed)
        self.updated.extend(acted.updated)
        self.hook_failures.extend(acted.hook_failures)

    def progress(self, waiting: float | None = None) -> ReportProgress:
        return ReportProgress(self.due, self.reported, len(self.closed), len(self.updated), waiting)


class PersonalDataReporter:
    """Runs personal-data reporting for one app's database (see the module's docstring).

    Args:
        privacy: the reporting columns of the accounts table, and erasure.
        tokens: valid access tokens of stored grants (the bearer, and re-reads).
        client: the Atlassian provider's OAuth client (its ``api_url`` is the base).
        retry: how connection failures and ``5xx`` answers are retried.

    Raises:
        ConfigurationError: the client is not Atlassian's.
    """

    def __init__(
        self,
        privacy: PrivacyStore,
        tokens: TokenService,
        client: OAuthClient,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._privacy = privacy
        self._provider = client.provider.id
        self._calls = ReportCalls(privacy, tokens, client, retry or tokens.retry)
        self._erasure = Erasure(privacy, tokens, self._provider)

    async def report(
        self,
        *,
        as_user: str | None = None,
        on_account_closed: AccountClosedHook | None = None,
        on_progress: Callable[[ReportProgress], None] | None = None,
        max_wait: float = MAX_WAIT,
        reread_now: bool = True,
    ) -> PersonalDataReport:
        """Report every account due, in calls of at most 90, and act on the answers.

        Args:
            as_user: the kavach user id whose grant authorises the calls; by default the
                stored grants are tried, those with ``report:personal-data`` first, then the
                most recently used.
            on_account_closed: see `AccountClosedHook`.
            on_progress: called after each answered call, and before each wait for a ``429``.
            max_wait: the longest ``Retry-After`` waited out; a longer one ends the run
                (``complete=False``), and the next run resumes where this one stopped.
            reread_now: read ``updated`` profiles again during the run, with each person's
                own grant, rather than only at their next token use or sign-in.

        Raises:
            NoUsableGrantError: no stored grant (or not ``as_user``'s) can authorise the calls.
            ConfigurationError: ``403`` even to a freshly refreshed token (the app lacks the
                ``report:personal-data`` permission).
            ProviderUnavailableError: Atlassian cannot be reached even after retries.
            DatabaseUnavailableError: the database cannot be reached.
        """
        started = utcnow()
        run_id = secrets.token_hex(16)
        cycle = await self._privacy.cycle_period(self._provider)
        due = await self._privacy.count_due(
            self._provider, reported_before=self._reported_before(started, cycle), now=started
        )
        run = _Run(due=due, cycle_period=cycle)
        try:
            retry_after = await self._run(
                run, run_id, started, as_user, on_account_closed, on_progress, max_wait, reread_now
            )
        finally:
            # Whatever is still held (a long 429, a failure) is due for the next run at once.
            await self._privacy.release(run_id)
        checkpointed = await self._privacy.checkpoint() if run.closed else None
        if checkpointed is False:
            logger.warning(
                "personal-data erasure: the SQLite write-ahead log is still in use; the erased "
                "data leaves the -wal file at the next checkpoint"
            )
        metrics.record_privacy_report(
            reported=run.reported,
            closed=len(run.closed),
            updated=len(run.updated),
            failed=retry_after is not None,
        )
        return PersonalDataReport(
            due=run.due,
            reported=run.reported,
            calls=run.calls,
            closed=tuple(run.closed),
            updated=tuple(run.updated),
            reread=run.reread,
            hook_failures=tuple(run.hook_failures),
            rate_limited=run.rate_limited,
            cycle_period=run.cycle_period,
            complete=retry_after is None,
            retry_after=retry_after,
            erased_from_disk=checkpointed,
        )

    def _reported_before(self, started: datetime, cycle_period: str | None) -> datetime:
        return reported_before(started, parse_cycle_period(cycle_period) or DEFAULT_CYCLE)

    async def _claim(self, run: _Run, run_id: str, started: datetime) -> list[DueAccount]:
        now = utcnow()
        return await self._privacy.claim_due(
            self._provider,
            run_id,
            reported_before=self._reported_before(started, run.cycle_period),
            now=now,
            until=now + CLAIM_LEASE,
            limit=MAX_ACCOUNTS_PER_CALL,
            skip=run.left_due,
        )

    async def _run(
        self,
        run: _Run,
        run_id: str,
        started: datetime,
        as_user: str | None,
        on_account_closed: AccountClosedHook | None,
        on_progress: Callable[[ReportProgress], None] | None,
        max_wait: float,
        reread_now: bool,
    ) -> float | None:
        """Claim, send and act on batches until none is due; the ``Retry-After`` that ended it."""
        limited_in_a_row = 0
        batch = await self._claim(run, run_id, started)
        while batch:
            response = await self._calls.send(batch, as_user)
            if response.status_code == 429:
                run.rate_limited += 1
                limited_in_a_row += 1
                wait = retry_after_seconds(response)
                wait = 1.0 if wait is None else wait
                if wait > max_wait or limited_in_a_row > MAX_WAITS_PER_CALL:
                    return wait
                await self._privacy.extend_claim(
                    run_id, until=utcnow() + timedelta(seconds=wait) + CLAIM_LEASE
                )
                if on_progress is not None:
                    on_progress(run.progress(waiting=wait))
                await asyncio.sleep(wait)
                continue
            run.calls += 1
            limited_in_a_row = 0
            period = response.headers.get("cycle-period")
            if period is not None and period != run.cycle_period:
                # The next batches, and every later run, follow the new cycle at once.
                await self._privacy.record_cycle_period(self._provider, period, now=utcnow())
                run.cycle_period = period
            acted = await self._erasure.act(batch, statuses_of(response), on_account_closed)
            run.add(acted)
            for user_id in acted.gone_users:
                self._calls.forget(user_id)
            await self._privacy.mark_reported(acted.kept, at=started)
            # A closed account whose hook failed is due again at the next run, not in this one.
            failed = [a.row_id for a in batch if a.account_id in acted.hook_failures]
            await self._privacy.mark_due(failed)
            run.left_due.extend(failed)
            run.reported += len(batch)
            if reread_now:
                run.reread += await self._erasure.reread(batch, run.updated)
            if on_progress is not None:
                on_progress(run.progress())
            batch = await self._claim(run, run_id, started)
        return None
