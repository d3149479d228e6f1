"""``kavach sessions purge``: expired sessions, sign-in attempts, rate-limit counters, old feed."""

from __future__ import annotations

import argparse
from typing import TextIO

from ..database_urls import describe_database
from ..ratelimit import WINDOW_SECONDS
from ..session_memory import FEED_RETENTION
from ..store import Store
from ..tables import utcnow
from ._common import require_schema, settings_of


async def run_purge(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_of(args)
    store = Store.from_settings(settings)
    now = utcnow()
    total = 0
    try:
        await require_schema(store.database)
        print(f"Purging {describe_database(settings.database_url)} ...", file=out)
        while True:
            removed = await store.sessions.purge_sessions(
                now=now, idle_before=now - settings.session_idle_timeout, limit=args.batch
            )
            if removed == 0:
                break
            total += removed
            print(f"  deleted {total} expired sessions so far ...", file=out, flush=True)
        attempts = await store.attempts.purge_attempts(now=now)
        changes = 0
        while removed := await store.feed.purge_changes(
            before=now - FEED_RETENTION, limit=args.batch
        ):
            changes += removed
        windows = await store.counters.forget_windows_before(
            int(now.timestamp() // WINDOW_SECONDS) - 1
        )
    finally:
        await store.dispose()
    print(
        f"Deleted {total} expired sessions, {attempts} expired sign-in attempts, "
        f"{windows} old rate-limit counters and {changes} old session change feed entries.",
        file=out,
    )
    return 0
