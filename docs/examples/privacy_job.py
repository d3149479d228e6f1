"""A scheduled job: Atlassian's personal-data reporting, with your own data erased too.

Run it daily (``python privacy_job.py``), with the app's environment; or run
``kavach privacy report`` and erase your own data some other way.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kavach_fastapi import ClosedAccount, report_personal_data

FORGOTTEN: list[str] = []
"""Stands in for your own tables in this example."""


async def forget(closed: ClosedAccount) -> None:
    """Erase what your app stores about a person whose Atlassian account was closed.

    Called before kavach erases its own rows of them; if it raises, nothing is erased and the
    next run asks again, so it must be safe to run twice.
    """
    # e.g. DELETE FROM notes WHERE owner_id = :user_id
    FORGOTTEN.append(closed.user_id)


async def main(**options: Any) -> int:
    """Report, erase, re-read; exit 0 when every account due was reported."""
    report = await report_personal_data(on_account_closed=forget, **options)
    print(f"reported {report.reported} accounts, erased {len(report.closed)}")
    return 0 if report.complete else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
