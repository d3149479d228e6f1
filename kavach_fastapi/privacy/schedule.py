"""When an account is due for a report, and how long a run holds the accounts it sends.

An account is due when it was never reported, or when its last report is at least a cycle
before the run's start, less `REPORT_TOLERANCE`. The cycle is the last ``Cycle-Period``
Atlassian sent (7 days until it sends one), so a changed cycle applies to every account at
once. A report is recorded at the start of the run that sent it, so that runs are compared
with runs: a run at the same time of day as the one a cycle before finds the account due,
however long that earlier run took to reach it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

REPORT_TOLERANCE = timedelta(hours=1)
"""How much earlier than a whole cycle a run may start and still find the account due.

A run on day 7 starts a little earlier than the run it follows: cron's start, a busy host,
the clock of another machine that runs the same crontab, and a local-time crontab across a
daylight-saving change (one hour). An hour covers all of these, so a daily run reports every
7 days and never lapses to 8. The cost: runs more often than hourly report each account up to
an hour early (every 6 days 23 hours). For short cycles it is at most `TOLERANCE_SHARE` of one.
"""

TOLERANCE_SHARE = 1 / 24
"""The tolerance's cap as a share of the cycle (an hour of a day), for cycles under 24 hours."""

CLAIM_LEASE = timedelta(minutes=30)
"""How long a run holds the batch it is sending (renewed before each ``429`` wait).

Another run skips held accounts, so two runs at once report and erase each account once. A run
that crashes leaves its hold to lapse: the next run after this long reports those accounts.
"""


def tolerance(cycle: timedelta) -> timedelta:
    """`REPORT_TOLERANCE`, or a 24th of a cycle shorter than a day."""
    return min(REPORT_TOLERANCE, cycle * TOLERANCE_SHARE)


def reported_before(started: datetime, cycle: timedelta) -> datetime:
    """Accounts last reported at or before this time are due for a run started at ``started``."""
    return started - cycle + tolerance(cycle)
