"""Atlassian's personal-data reporting, as the emulator plays it (no HTTP here).

An app that stores personal data of Atlassian accounts reports the account ids it stores to
``POST /app/report-accounts/``, each with the time it last refreshed that person's data
(``updatedAt``). Atlassian answers, per account, ``closed`` (erase the person's data) or
``updated`` (the profile changed since ``updatedAt``: read it again), or nothing at all (``204``).

The rules, as Atlassian's user-privacy guide states them:

* a request reports at most 90 accounts;
* an account id is 1 to 128 characters: letters, digits, ``-`` and ``:``;
* the ``Cycle-Period`` response header (an ISO 8601 duration, ``P7D`` by default) is how often
  each account should be reported;
* two documented test accounts: ``5be24ad8b1653240376955d2`` is active (never in an answer) and
  ``5be24ba3f91c106033269289`` is closed (always answered ``closed``).

Tests decide what else Atlassian knows with `PersonalData.close` and
`PersonalData.mark_updated`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

__all__ = [
    "MAX_ACCOUNTS_PER_REPORT",
    "TEST_ACTIVE_ACCOUNT",
    "TEST_CLOSED_ACCOUNT",
    "AccountStatus",
    "PersonalData",
    "ReportError",
    "ReportedAccount",
    "parse_report",
]

MAX_ACCOUNTS_PER_REPORT = 90
"""How many accounts one ``POST /app/report-accounts/`` may carry."""

TEST_ACTIVE_ACCOUNT = "5be24ad8b1653240376955d2"
"""Atlassian's documented test account that is active: never reported back."""

TEST_CLOSED_ACCOUNT = "5be24ba3f91c106033269289"
"""Atlassian's documented test account that is closed: always reported back as ``closed``."""

AccountStatus = Literal["closed", "updated"]
"""What Atlassian can answer about a reported account."""

_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9:-]{1,128}$")


class ReportError(Exception):
    """A report Atlassian refuses, answered as ``{"code": ..., "message": ...}``.

    Attributes:
        status: The HTTP status.
        message: What the answer says.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ReportedAccount:
    """One account of a report: its id and when the app last refreshed its data."""

    account_id: str
    updated_at: datetime


class PersonalData:
    """What the emulated Atlassian knows about accounts, for personal-data reporting.

    Args:
        now: The emulator's clock, used when `mark_updated` is given no time.
        cycle_period: The ``Cycle-Period`` header, an ISO 8601 duration.

    Example:
        >>> from datetime import datetime, timezone
        >>> data = PersonalData(lambda: datetime(2030, 1, 1, tzinfo=timezone.utc))
        >>> data.close("557058:0b9ab9f0-4c7e-4a3f-9a89-3d1e2f7c8b6a")
        >>> data.is_closed(TEST_CLOSED_ACCOUNT)
        True
    """

    def __init__(self, now: Callable[[], datetime], *, cycle_period: str = "P7D") -> None:
        self._now = now
        self._lock = threading.Lock()
        self._closed: set[str] = {TEST_CLOSED_ACCOUNT}
        self._updated: dict[str, datetime] = {}
        self.cycle_period = cycle_period
        """The ``Cycle-Period`` header of every answer; may be changed between requests."""

    def close(self, account_id: str) -> None:
        """Close an account: every report of it is answered ``closed`` from now on."""
        with self._lock:
            self._closed.add(account_id)

    def mark_updated(self, account_id: str, at: datetime | None = None) -> None:
        """Record that an account's profile changed at ``at`` (the emulator's now by default).

        A report of it whose ``updatedAt`` is older than ``at`` is answered ``updated``.
        """
        when = _as_utc(at) if at is not None else self._now()
        with self._lock:
            self._updated[account_id] = when

    def is_closed(self, account_id: str) -> bool:
        """Whether the account is closed."""
        with self._lock:
            return account_id in self._closed

    def report(self, body: object) -> list[tuple[str, AccountStatus]]:
        """Answer a report: the accounts the app must act on, in the order reported.

        Args:
            body: The request's JSON body, ``{"accounts": [{"accountId", "updatedAt"}]}``.

        Raises:
            ReportError: For a body Atlassian would refuse (``400``).
        """
        accounts = parse_report(body)
        answer: list[tuple[str, AccountStatus]] = []
        with self._lock:
            for account in accounts:
                if account.account_id in self._closed:
                    answer.append((account.account_id, "closed"))
                    continue
                changed = self._updated.get(account.account_id)
                if changed is not None and account.updated_at < changed:
                    answer.append((account.account_id, "updated"))
        return answer


def parse_report(body: object) -> list[ReportedAccount]:
    """Check a report's body and return its accounts.

    Raises:
        ReportError: For a body that is not ``{"accounts": [...]}`` of valid accounts, or that
            carries more than `MAX_ACCOUNTS_PER_REPORT` of them.
    """
    if not isinstance(body, dict) or not isinstance(body.get("accounts"), list):
        raise ReportError(400, 'The body must be {"accounts": [{"accountId", "updatedAt"}]}.')
    items: list[object] = body["accounts"]
    if len(items) > MAX_ACCOUNTS_PER_REPORT:
        raise ReportError(400, f"A request may report at most {MAX_ACCOUNTS_PER_REPORT} accounts.")
    return [_account(item) for item in items]


def _account(item: object) -> ReportedAccount:
    if not isinstance(item, dict):
        raise ReportError(400, "Each account must be an object with accountId and updatedAt.")
    account_id = item.get("accountId")
    if not isinstance(account_id, str) or not _ACCOUNT_ID.match(account_id):
        raise ReportError(400, "accountId must be 1 to 128 letters, digits, '-' or ':'.")
    updated_at = item.get("updatedAt")
    if not isinstance(updated_at, str):
        raise ReportError(400, "updatedAt must be an ISO 8601 date and time.")
    try:
        when = datetime.fromisoformat(updated_at.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(400, "updatedAt must be an ISO 8601 date and time.") from None
    return ReportedAccount(account_id, _as_utc(when))


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
