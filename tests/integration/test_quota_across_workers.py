"""Three uvicorn worker processes share one quota guard through the database.

One ``429`` with a long ``Retry-After`` for a site, met by one worker, and then no call from any
worker reaches the emulator for that site until the time has passed, while the other site keeps
working. The emulator is served on a loopback socket in the test process, so its per-site call
counts see every worker. The app is ``tests.integration.worker_app`` under
``uvicorn --workers 3``, on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kavach_fastapi.emulator import Fault
from kavach_fastapi.tables import utcnow

from ..databases import TestDatabase
from .quota_harness import BUSY, blocks, quiet_site, two_jira_sites_emulator
from .worker_app import PID_HEADER
from .worker_server import signed_in_workers, storm, storm_across_workers

RETRY_AFTER = 7
"""Longer than the retries wait in place (5 s): a block, yet short enough to wait out."""
CHECK_INTERVAL = 1.0
"""``KAVACH_QUOTA_CHECK_INTERVAL``: how late another worker may notice a block."""
WORKERS = 3
REQUESTS = 30


async def test_one_long_429_stops_every_worker_calling_that_site_until_it_passes(
    db: TestDatabase, tmp_path: Path
) -> None:
    emu = two_jira_sites_emulator(auto_consent=True)
    quiet = quiet_site(emu)
    async with signed_in_workers(
        emu,
        db.url,
        workers=WORKERS,
        log=tmp_path / "uvicorn.log",
        settings={"KAVACH_QUOTA_CHECK_INTERVAL": str(CHECK_INTERVAL)},
    ) as (app_url, _, session):
        # Every worker has read the (empty) blocks and cached the person's sites.
        warm = await storm(app_url, session, REQUESTS, f"/jira/{quiet}/myself")
        assert [answer.status_code for answer in warm] == [200] * REQUESTS
        quiet_before = emu.site_calls(quiet)

        emu.faults.add(
            "jira_myself",
            Fault("rate_limit", retry_after=RETRY_AFTER, times=1, reason="jira-quota-tenant-based"),
        )
        (first,) = await storm(app_url, session, 1, f"/jira/{BUSY}/myself")
        calls_after_429 = emu.site_calls(BUSY)
        # The promise: other workers notice within the check interval.
        await asyncio.sleep(CHECK_INTERVAL + 0.2)
        # Refusals are fast, so one worker may drain a whole storm: ask until others answer too.
        refused = await storm_across_workers(
            app_url, session, REQUESTS, f"/jira/{BUSY}/myself", tries=8
        )
        others = await storm(app_url, session, REQUESTS, f"/jira/{quiet}/myself")
        calls_while_blocked = emu.site_calls(BUSY)
        quiet_while_blocked = emu.site_calls(quiet) - quiet_before
        (row,) = blocks(db)

        # Then the time passes, and the site is called again.
        left = (row["blocked_until"] - utcnow()).total_seconds()
        await asyncio.sleep(max(0.0, left) + CHECK_INTERVAL + 0.2)
        after = await storm(app_url, session, 3, f"/jira/{BUSY}/myself")
        calls_after = emu.site_calls(BUSY)

    assert first.status_code == 503, first.text
    assert first.json()["error"]["code"] == "quota_exhausted"
    assert calls_after_429 == 1
    assert [answer.status_code for answer in refused] == [503] * len(refused)
    assert {answer.json()["error"]["code"] for answer in refused} == {"quota_exhausted"}
    assert all(1 <= int(answer.headers["retry-after"]) <= RETRY_AFTER for answer in refused)
    # Several processes answered, and none of them called Atlassian for the blocked site.
    assert len({answer.headers[PID_HEADER] for answer in refused}) >= 2
    assert calls_while_blocked == 1
    # The other site kept working, through every worker.
    assert [answer.status_code for answer in others] == [200] * REQUESTS
    assert quiet_while_blocked == REQUESTS
    assert (row["site"], row["reason"]) == (BUSY, "jira-quota-tenant-based")
    assert [answer.status_code for answer in after] == [200] * 3
    assert calls_after == 1 + 3
