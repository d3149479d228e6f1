"""[`report_personal_data()`][kavach_fastapi.report_personal_data]: Atlassian's personal-data
reporting as one call, for a scheduled job (``kavach privacy report`` runs it).

It reads the same settings as the router (``KAVACH_DATABASE_URL``, ``KAVACH_SECRET``,
``ATLASSIAN_*``), so it finds the same accounts and can use and refresh the same grants. The
rules it follows, and what it erases, are `kavach_fastapi.privacy`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx2

from .offline import open_kavach
from .options import KavachOptions, Unpack
from .privacy import MAX_WAIT, AccountClosedHook, PersonalDataReport, ReportProgress
from .providers.base import OAuthProvider

__all__ = ["report_personal_data"]


async def report_personal_data(
    providers: Sequence[OAuthProvider] | None = None,
    *,
    as_user: str | None = None,
    on_account_closed: AccountClosedHook | None = None,
    on_progress: Callable[[ReportProgress], None] | None = None,
    max_wait: float = MAX_WAIT,
    reread_now: bool = True,
    http_transport: httpx2.AsyncBaseTransport | None = None,
    **options: Unpack[KavachOptions],
) -> PersonalDataReport:
    """Report every stored Atlassian account to Atlassian, and erase or re-read as it answers.

    Each account due (never reported, or last reported a whole ``Cycle-Period`` before this
    run's start, less an hour) is reported in calls of at most 90 to ``POST {ATLASSIAN_API_URL}/app/report-accounts/``. ``closed``
    accounts are erased (after ``on_account_closed``), ``updated`` profiles are read again.
    Run it daily from cron; a run that ends early (a long ``429``) is resumed by the next, and
    runs at once (two machines, an overlap) claim their batches, so none is reported twice.

        report = await report_personal_data(on_account_closed=erase_my_data_of)
        print(report.reported, report.closed)

    Args:
        providers: the app's providers, as given to ``kavach_router()``;
            ``[atlassian_provider()]`` (from ``ATLASSIAN_*``) by default.
        as_user: the kavach user id whose grant authorises the calls; by default any stored
            grant, those with the ``report:personal-data`` scope first.
        on_account_closed: called with a [`ClosedAccount`][kavach_fastapi.ClosedAccount]
            before kavach erases that person; if it raises, nothing is erased and the account
            is asked about again at the next run.
        on_progress: called after each call with a
            [`ReportProgress`][kavach_fastapi.ReportProgress].
        max_wait: the longest ``Retry-After`` (seconds) to wait out; a longer one ends the run
            with ``complete=False``.
        reread_now: read ``updated`` profiles during the run with each person's grant (else
            only at their next token use or sign-in).
        http_transport: the transport for calls to Atlassian (tests pass the emulator's).
        **options: any field of [`KavachSettings`][kavach_fastapi.KavachSettings], as for
            ``kavach_router()``.

    Raises:
        NoUsableGrantError: no stored grant can authorise the calls.
        ConfigurationError: settings missing, the schema needs ``kavach db upgrade``, or
            Atlassian answers ``403`` to a freshly refreshed token (the app lacks the
            ``report:personal-data`` permission).
        ProviderUnavailableError: Atlassian cannot be reached even after retries.
    """
    async with open_kavach(providers=providers, http_transport=http_transport, **options) as kavach:
        return await kavach.report_personal_data(
            as_user=as_user,
            on_account_closed=on_account_closed,
            on_progress=on_progress,
            max_wait=max_wait,
            reread_now=reread_now,
        )
