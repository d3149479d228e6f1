"""Atlassian's personal-data reporting: report the stored account ids, act on the answers.

An app that stores personal data of Atlassian accounts (kavach stores each person's name, email
and picture) must report the account ids it stores, each with the time their data was last read
(``updatedAt``), to ``POST {ATLASSIAN_API_URL}/app/report-accounts/``, at most 90 per call and
once per reporting cycle (Atlassian's ``Cycle-Period`` header, 7 days by default), and act on
the answer:

* ``closed``: the person's personal data is erased (`PrivacyStore.erase`: sessions, linked
  account with its tokens and cached sites, name, email and picture), after the app's
  ``on_account_closed`` hook has run;
* ``updated``: the profile is marked stale and read again from ``/me`` at the next chance: at
  once when the person's own grant is usable, else at their next token use or sign-in.

Progress is kept per call: each account's report is recorded as soon as its call is answered
(as the run's start, `kavach_fastapi.privacy.schedule`), so a run stopped by a long ``429`` (or
anything else) resumes where it stopped. Each run claims the batch it sends, so runs at once
report, and erase, each account once.
"""

from __future__ import annotations

from .reporter import PersonalDataReporter
from .results import (
    DEFAULT_CYCLE,
    MAX_ACCOUNTS_PER_CALL,
    MAX_WAIT,
    REPORT_SCOPE,
    AccountClosedHook,
    ClosedAccount,
    PersonalDataReport,
    ReportOptions,
    ReportProgress,
    parse_cycle_period,
)

__all__ = [
    "DEFAULT_CYCLE",
    "MAX_ACCOUNTS_PER_CALL",
    "MAX_WAIT",
    "REPORT_SCOPE",
    "AccountClosedHook",
    "ClosedAccount",
    "PersonalDataReport",
    "PersonalDataReporter",
    "ReportOptions",
    "ReportProgress",
    "parse_cycle_period",
]
