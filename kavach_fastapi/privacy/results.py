"""What personal-data reporting takes and gives: the hook's argument, progress, the result.

Also Atlassian's numbers (90 accounts per call, the 7-day default cycle) and the reading of its
``Cycle-Period`` header.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, TypedDict

MAX_ACCOUNTS_PER_CALL = 90
"""Atlassian accepts at most this many accounts in one report."""

DEFAULT_CYCLE = timedelta(days=7)
"""The reporting cycle when Atlassian's answer carries no (readable) ``Cycle-Period``."""

REPORT_SCOPE = "report:personal-data"
"""The scope Atlassian names for the reporting API; grants that carry it are tried first."""

REPORT_PATH = "/app/report-accounts/"

MAX_WAIT = 900.0
"""Longest ``Retry-After`` (seconds) a run waits out; a longer one ends it, to resume later."""

MAX_WAITS_PER_CALL = 10
"""``429`` answers waited out in a row for one call before the run ends, to resume later."""

BEARER_CANDIDATES = 10
"""Stored grants tried, most recently used first, before saying no grant is usable."""

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_cycle_period(value: str | None) -> timedelta | None:
    """An ISO 8601 duration such as ``P7D`` or ``PT12H``; ``None`` if absent or unreadable."""
    match = _DURATION.match((value or "").strip().upper())
    if match is None or not any(match.groupdict().values()):
        return None
    parts = {name: float(amount) for name, amount in match.groupdict().items() if amount}
    period = timedelta(**parts)
    return period if period > timedelta(0) else None


@dataclass(frozen=True)
class ClosedAccount:
    """A person whose Atlassian account was closed, passed to ``on_account_closed``.

    Attributes:
        user_id: kavach's user id (``User.id``), which your own tables refer to.
        account_id: the Atlassian account id.
        provider: the provider id, ``"atlassian"``.
    """

    user_id: str
    account_id: str
    provider: str = "atlassian"


AccountClosedHook = Callable[[ClosedAccount], "Awaitable[None] | None"]
"""Called before kavach erases a closed account's data: erase your app's data of that person.

It may be a plain or an ``async`` function. If it raises, nothing of that person is erased and
the account stays due, so the next run asks Atlassian again and calls the hook again: make it
safe to repeat."""


@dataclass(frozen=True)
class ReportProgress:
    """How far a run is, after each answered call or while it waits out a ``429``."""

    due: int
    reported: int
    closed: int
    updated: int
    waiting: float | None = None
    """Seconds the run now waits because Atlassian answered ``429``; ``None`` otherwise."""


class ReportOptions(TypedDict, total=False):
    """The keywords of one reporting run, typed once for whatever only passes them on.

    Their defaults live in `PersonalDataReporter.report`, their user documentation in
    [`report_personal_data()`][kavach_fastapi.report_personal_data];
    [`OfflineKavach.report_personal_data`][kavach_fastapi.OfflineKavach.report_personal_data]
    takes them as ``**options: Unpack[ReportOptions]`` instead of restating each one.
    """

    as_user: str | None
    on_account_closed: AccountClosedHook | None
    on_progress: Callable[[ReportProgress], None] | None
    max_wait: float
    reread_now: bool


@dataclass(frozen=True)
class PersonalDataReport:
    """What one run of personal-data reporting did.

    Attributes:
        due: accounts due for a report when the run started.
        reported: accounts reported in this run.
        calls: answered calls to ``/app/report-accounts/``.
        closed: Atlassian account ids answered ``closed`` and erased.
        updated: Atlassian account ids answered ``updated`` (marked to be read again).
        reread: of those, profiles read again during the run with the person's own grant.
        hook_failures: closed accounts whose ``on_account_closed`` raised: kept, and due again.
        rate_limited: ``429`` answers met (each waited out, or the one that ended the run).
        cycle_period: the last ``Cycle-Period`` Atlassian sent.
        complete: every due account was reported.
        retry_after: when not complete because of a ``429``, the seconds Atlassian asked for.
        erased_from_disk: on SQLite after an erasure, whether the write-ahead log was emptied
            into the database file (``False``: a reader kept it busy; the next checkpoint
            finishes it); ``None`` when nothing was erased or on PostgreSQL.
    """

    due: int = 0
    reported: int = 0
    calls: int = 0
    closed: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    reread: int = 0
    hook_failures: tuple[str, ...] = ()
    rate_limited: int = 0
    cycle_period: str | None = None
    complete: bool = True
    retry_after: float | None = None
    erased_from_disk: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return asdict(self)
