"""Acting on a report's answer: a closed account erased, an updated profile marked stale.

A ``closed`` account's personal data is erased (`PrivacyStore.erase`) only after the app's
``on_account_closed`` hook has run without raising; when it raises, nothing is erased and the
account is due again at the next run. An ``updated`` profile is marked stale, and can be read
again at once with the person's own grant (`Erasure.reread`).
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field

import httpx2

from ..errors import KavachError
from ..hooks import describe_failure
from ..store.privacy import DueAccount, PrivacyStore
from ..tables import utcnow
from ..tokens import TokenService
from .results import AccountClosedHook, ClosedAccount

logger = logging.getLogger("kavach_fastapi")


@dataclass
class Acted:
    """What one answer did, by Atlassian account id (row ids for ``kept``)."""

    kept: list[str] = field(default_factory=list)
    """Row ids of the accounts still stored: record them as reported."""
    closed: list[str] = field(default_factory=list)
    """Accounts erased."""
    updated: list[str] = field(default_factory=list)
    """Accounts whose profile is now marked stale."""
    hook_failures: list[str] = field(default_factory=list)
    """Closed accounts kept because ``on_account_closed`` raised."""
    gone_users: list[str] = field(default_factory=list)
    """User ids of the closed accounts handled (their grant authorises nothing any more)."""


class Erasure:
    """Erases the closed accounts of an answer and marks its updated profiles.

    Args:
        privacy: the reporting columns of the accounts table, and erasure.
        tokens: valid access tokens, to read an updated profile with the person's grant.
        provider_id: the provider whose accounts are reported.
    """

    def __init__(self, privacy: PrivacyStore, tokens: TokenService, provider_id: str) -> None:
        self._privacy = privacy
        self._tokens = tokens
        self._provider = provider_id

    async def act(
        self,
        batch: list[DueAccount],
        answer: dict[str, str],
        on_account_closed: AccountClosedHook | None,
    ) -> Acted:
        """Erase the closed, mark the updated, of one answered batch."""
        acted = Acted()
        for account in batch:
            status = answer.get(account.account_id)
            if status == "closed":
                closed = ClosedAccount(account.user_id, account.account_id, self._provider)
                if not await _call_hook(on_account_closed, closed):
                    acted.hook_failures.append(account.account_id)
                    continue  # not erased; due again at the next run
                if await self._privacy.erase(self._provider, account.account_id, now=utcnow()):
                    acted.closed.append(account.account_id)
                    logger.info(
                        "personal data of closed account of user %s erased", account.user_id
                    )
                acted.gone_users.append(account.user_id)
                continue
            if status == "updated":
                acted.updated.append(account.account_id)
            acted.kept.append(account.row_id)
        await self._privacy.mark_stale(self._provider, acted.updated)
        return acted

    async def reread(self, batch: list[DueAccount], updated: list[str]) -> int:
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


def statuses_of(response: httpx2.Response) -> dict[str, str]:
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


async def _call_hook(hook: AccountClosedHook | None, closed: ClosedAccount) -> bool:
    if hook is None:
        return True
    try:
        result = hook(closed)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:  # the app's code: any failure keeps the person's data for the next run
        logger.error(
            "kavach hook on_account_closed failed for user %s; nothing erased: %s",
            closed.user_id,
            describe_failure(exc),
        )
        return False
    return True
