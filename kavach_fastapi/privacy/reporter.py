"""The run of personal-data reporting: batches, the bearer grant, ``429`` and the answers.

See `kavach_fastapi.privacy` for the rules.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx2

from .. import metrics
from ..codes import ErrorCode
from ..errors import ConfigurationError, KavachError, NoUsableGrantError, ReauthRequiredError
from ..oauth import OAuthClient
from ..providers.atlassian import AtlassianProvider
from ..retry import RetryPolicy, retry_after_seconds, transient_answer, with_retries
from ..store.privacy import DueAccount, PrivacyStore
from ..tables import utcnow
from ..tokens import TokenService
from .results import (
    BEARER_CANDIDATES,
    DEFAULT_CYCLE,
    HOOK_RETRY,
    MAX_ACCOUNTS_PER_CALL,
    MAX_WAIT,
    MAX_WAITS_PER_CALL,
    REPORT_PATH,
    REPORT_SCOPE,
    AccountClosedHook,
    ClosedAccount,
    PersonalDataReport,
    ReportProgress,
    parse_cycle_period,
)

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

    def progress(self, waiting: float | None = None) -> ReportProgress:
        return ReportProgress(self.due, self.reported, len(self.closed), len(self.updated), waiting)


class PersonalDataReporter:
    """Runs personal-data reporting for one app's database (see the module's docstring).

    Args:
        privacy: the reporting columns of the accounts table, and erasure.
        tokens: valid access tokens of stored grants (the bearer, and re-reads).
        client: the Atlassian provider's OAuth client (its ``api_url`` is the base).
        retry: how connection failures and ``5xx`` answers are retried.
    """

    def __init__(
        self,
        privacy: PrivacyStore,
        tokens: TokenService,
        client: OAuthClient,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(client.provider, AtlassianProvider):
            raise ConfigurationError(
                "Personal-data reporting is Atlassian's: use atlassian_provider()."
            )
        self._privacy = privacy
        self._tokens = tokens
        self._client = client
        self._url = f"{client.provider.api_url}{REPORT_PATH}"
        self._provider = client.provider.id
        self._retry = retry or tokens.retry
        self._bearer_user: str | None = None

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
            ProviderUnavailableError: Atlassian cannot be reached even after retries.
            DatabaseUnavailableError: the database cannot be reached.
        """
        started = utcnow()
        run = _Run(due=await self._privacy.count_due(self._provider, now=started))
        erased_any = False
        retry_after: float | None = None
        limited_in_a_row = 0
        while batch := await self._privacy.due_accounts(
            self._provider, now=started, limit=MAX_ACCOUNTS_PER_CALL
        ):
            response = await self._send(batch, as_user)
            if response.status_code == 429:
                run.rate_limited += 1
                limited_in_a_row += 1
                wait = retry_after_seconds(response)
                wait = 1.0 if wait is None else wait
                if wait > max_wait or limited_in_a_row > MAX_WAITS_PER_CALL:
                    retry_after = wait
                    break
                if on_progress is not None:
                    on_progress(run.progress(waiting=wait))
                await asyncio.sleep(wait)
                continue
            run.calls += 1
            limited_in_a_row = 0
            run.cycle_period = response.headers.get("cycle-period", run.cycle_period)
            kept, erased = await self._act(batch, _answer(response), run, on_account_closed)
            erased_any = erased_any or erased
            cycle = parse_cycle_period(run.cycle_period) or DEFAULT_CYCLE
            now = utcnow()
            await self._privacy.mark_reported(kept, now=now, next_report_at=now + cycle)
            # A closed account whose hook failed is due again at the next run, not in this one.
            retry = [a.row_id for a in batch if a.account_id in run.hook_failures]
            await self._privacy.mark_reported(retry, now=now, next_report_at=now + HOOK_RETRY)
            run.reported += len(batch)
            if reread_now:
                run.reread += await self._reread(batch, run.updated)
            if on_progress is not None:
                on_progress(run.progress())
        checkpointed = await self._privacy.checkpoint() if erased_any else None
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

    async def _act(
        self,
        batch: list[DueAccount],
        answer: dict[str, str],
        run: _Run,
        on_account_closed: AccountClosedHook | None,
    ) -> tuple[list[str], bool]:
        """Erase the closed, mark the updated; the row ids to record as reported, and if any
        account was erased."""
        kept: list[str] = []
        erased = False
        stale: list[str] = []
        for account in batch:
            status = answer.get(account.account_id)
            if status == "closed":
                closed = ClosedAccount(account.user_id, account.account_id, self._provider)
                if not await _call_hook(on_account_closed, closed):
                    run.hook_failures.append(account.account_id)
                    continue  # not erased; due again at the next run
                if await self._privacy.erase(self._provider, account.account_id, now=utcnow()):
                    erased = True
                    run.closed.append(account.account_id)
                    logger.info(
                        "personal data of closed account of user %s erased", account.user_id
                    )
                if account.user_id == self._bearer_user:
                    self._bearer_user = None
                continue
            if status == "updated":
                stale.append(account.account_id)
            kept.append(account.row_id)
        await self._privacy.mark_stale(self._provider, stale)
        run.updated.extend(stale)
        return kept, erased

    async def _reread(self, batch: list[DueAccount], updated: list[str]) -> int:
        """Read the batch's ``updated`` profiles now, each with the person's own grant."""
        wanted = set(updated)
        count = 0
        for account in batch:
            if account.account_id not in wanted:
                continue
            try:
                if await self._tokens.reread_profile(account.user_id, self._provider):
                    count += 1
            except KavachError:
                continue  # read at the next token use or sign-in instead
        return count

    async def _send(self, batch: list[DueAccount], as_user: str | None) -> httpx2.Response:
        """One report call; a refused token is refreshed once, then another grant is tried."""
        body = {
            "accounts": [
                {"accountId": account.account_id, "updatedAt": _rfc3339(account.updated_at)}
                for account in batch
            ]
        }
        refused: set[str] = set()
        while True:
            user_id, token = await self._bearer(as_user, refused)
            response = await self._post(token, body)
            if response.status_code not in (401, 403):
                self._bearer_user = user_id
                return response
            try:
                replacement = await self._tokens.after_refusal(user_id, self._provider, token)
            except ReauthRequiredError:
                replacement = None
            if replacement is not None:
                response = await self._post(replacement, body)
                if response.status_code not in (401, 403):
                    self._bearer_user = user_id
                    return response
            logger.warning("personal-data reporting refused the grant of user %s", user_id)
            refused.add(user_id)
            self._bearer_user = None

    async def _post(self, token: str, body: dict[str, Any]) -> httpx2.Response:
        async def once() -> httpx2.Response:
            response = await self._client.api_request(
                "POST", self._url, access_token=token, json=body
            )
            if response.status_code >= 500:
                raise transient_answer(response)
            return response

        # Reporting again is harmless (nothing is changed by a report), so any failure may be
        # retried; a 429 is answered to the caller, which waits as long as Atlassian asks.
        response = await with_retries(
            once,
            policy=self._retry,
            what=f"POST {REPORT_PATH}",
            provider=self._client.provider.name,
            repeatable=True,
        )
        if response.status_code not in (200, 204, 401, 403, 429):
            logger.error("personal-data reporting answered %d", response.status_code)
            raise KavachError(
                f"Atlassian refused the personal-data report with HTTP {response.status_code}; "
                "nothing of this call was recorded. Check the app's permissions in Atlassian's "
                "developer console (the personal-data reporting API).",
                code=ErrorCode.PROVIDER_ERROR,
            )
        return response

    async def _bearer(self, as_user: str | None, refused: set[str]) -> tuple[str, str]:
        """A user and a valid access token of theirs to authorise the report with.

        Raises:
            NoUsableGrantError: none of the candidates has a usable grant.
        """
        if as_user is not None:
            candidates = [as_user]
        else:
            stored = await self._privacy.bearer_candidates(
                self._provider, prefer_scope=REPORT_SCOPE, limit=BEARER_CANDIDATES
            )
            first = [self._bearer_user] if self._bearer_user in stored else []
            candidates = first + [user for user in stored if user not in first]
        for user_id in candidates:
            if user_id in refused:
                continue
            try:
                return user_id, await self._tokens.access_token(user_id, self._provider)
            except ReauthRequiredError:
                continue
        if as_user is not None:
            raise NoUsableGrantError(
                f"The Atlassian grant of user {as_user} cannot call the personal-data reporting "
                "API (not linked, refused, or it needs consent again). Have that person sign in "
                "again, or leave --as-user out to use any stored grant."
            )
        raise NoUsableGrantError(
            "No stored Atlassian grant can call the personal-data reporting API: nobody has "
            "signed in yet, or every grant needs consent again. Sign in once (with "
            "offline_access), or name a user with --as-user."
        )


async def _call_hook(hook: AccountClosedHook | None, closed: ClosedAccount) -> bool:
    if hook is None:
        return True
    try:
        result = hook(closed)
        if inspect.isawaitable(result):
            await result
    except Exception:  # the app's code: any failure keeps the person's data for the next run
        logger.exception("on_account_closed failed for user %s; nothing erased", closed.user_id)
        return False
    return True


def _answer(response: httpx2.Response) -> dict[str, str]:
    """``{accountId: status}`` of a ``200`` answer; empty for ``204`` or an unreadable body."""
    if response.status_code != 200:
        return {}
    try:
        accounts = response.json().get("accounts", [])
    except (ValueError, AttributeError):
        logger.warning("personal-data reporting answered 200 without a readable body")
        return {}
    answer: dict[str, str] = {}
    for item in accounts if isinstance(accounts, list) else []:
        if isinstance(item, dict) and isinstance(item.get("accountId"), str):
            answer[item["accountId"]] = str(item.get("status", ""))
    return answer


def _rfc3339(value: datetime) -> str:
    """``2026-12-02T03:04:05.678Z``: UTC with milliseconds, as Atlassian's examples write it."""
    utc = value.astimezone(timezone.utc)
    millis = utc.microsecond // 1000
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
