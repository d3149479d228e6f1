"""``kavach grants status`` and ``kavach grants refresh-idle``: the health of provider grants.

``status`` reads the account table only (no key and no Atlassian credentials needed);
``refresh-idle`` refreshes through [`open_kavach()`][kavach_fastapi.open_kavach], so it shares
the web app's settings and its exactly-once refresh. Both print JSON with ``--json``; progress
goes to standard error, so that standard output stays the result.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import timedelta
from typing import TextIO

from ..database_urls import describe_database
from ..grants import GrantCounts, IdleRefresh, grant_status
from ..offline import open_kavach
from ..store import Store
from ..tables import utcnow
from ._common import require_schema, settings_of
from ._durations import days
from ._progress import ProgressReport


def status_json(counts: GrantCounts) -> dict[str, object]:
    """The ``--json`` answer of ``kavach grants status``."""
    return {
        "total": counts.total,
        "healthy": counts.healthy,
        "needs_consent": counts.needs_consent,
        "idle": counts.idle,
        "expiring": counts.expiring,
        "idle_after_days": days(counts.idle_after),
        "expiring_within_days": days(counts.expiring_within),
    }


async def run_status(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_of(args)
    store = Store.from_settings(settings)
    try:
        await require_schema(store.database)
        counts = await grant_status(
            store.accounts,
            now=utcnow(),
            idle_after=args.older_than,
            expiring_within=args.expiring_within,
        )
    finally:
        await store.dispose()
    if args.json:
        print(json.dumps(status_json(counts)), file=out)
        return 0
    idle, expiring = days(counts.idle_after), days(counts.expiring_within)
    print(f"Grants in {describe_database(settings.database_url)}: {counts.total}", file=out)
    print(f"  healthy:        {counts.healthy}", file=out)
    print(f"  need consent:   {counts.needs_consent}  (the person must sign in again)", file=out)
    print(f"  idle:           {counts.idle}  (not refreshed for {idle} days)", file=out)
    print(
        f"  expiring:       {counts.expiring}  (reach Atlassian's 365-day limit within "
        f"{expiring} days)",
        file=out,
    )
    if counts.idle:
        print(
            f"Run `kavach grants refresh-idle --older-than {idle}d` to keep idle grants alive "
            "(Atlassian ends refresh tokens unused for 90 days).",
            file=out,
        )
    return 0


def refresh_json(result: IdleRefresh, older_than: timedelta) -> dict[str, object]:
    """The ``--json`` answer of ``kavach grants refresh-idle``."""
    return {**asdict(result), "older_than_days": days(older_than)}


async def run_refresh_idle(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_of(args)
    report = ProgressReport(sys.stderr, "Refreshing idle grants")
    async with open_kavach(database_url=settings.database_url) as kavach:
        result = await kavach.refresh_idle_grants(
            older_than=args.older_than, progress=report.update
        )
    report.finish()
    if args.json:
        print(json.dumps(refresh_json(result, args.older_than)), file=out)
    else:
        print(
            f"{result.idle} grants idle for {days(args.older_than)} days or more: "
            f"{result.refreshed} refreshed, {result.already_fresh} already refreshed by "
            f"another process, {result.needs_consent} need consent, {result.failed} failed.",
            file=out,
        )
    if result.failed:
        # On stderr: with --json, stdout is the JSON alone.
        print(
            "Some grants could not be refreshed (the log says why); run the command again later.",
            file=sys.stderr,
        )
        return 1
    return 0
