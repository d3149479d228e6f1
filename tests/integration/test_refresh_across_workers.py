"""Four uvicorn worker processes on one database refresh an expired token exactly once.

On SQLite the workers share one file (the lease is taken under ``BEGIN IMMEDIATE``); on
PostgreSQL, the run's database. The emulator is served on a loopback socket in the test
process, so every worker talks to the same Atlassian and the test reads one refresh counter.
The app is ``tests.support.apps:create_app`` under ``uvicorn --workers 4``.
"""

from __future__ import annotations

from pathlib import Path

from kavach_fastapi.emulator import AtlassianEmulator, Fault

from ..databases import TestDatabase
from .token_harness import expire_access_token, the_account
from .worker_server import signed_in_workers, storm

WORKERS = 4
REQUESTS = 50
ROUNDS = 3
"""Expiries in a row; the kernel spreads at least one storm over several workers."""


async def test_fifty_concurrent_requests_across_four_workers_refresh_exactly_once(
    db: TestDatabase, tmp_path: Path
) -> None:
    emu = AtlassianEmulator(auto_consent=True)
    log = tmp_path / "uvicorn.log"
    async with signed_in_workers(emu, db.url, workers=WORKERS, log=log) as (app_url, pids, session):
        rounds = []
        for _ in range(ROUNDS):
            expire_access_token(db)
            version = the_account(db)["token_version"]
            refreshes = emu.calls["refresh"]
            # A slow answer keeps the refresh in flight while the other workers ask.
            emu.faults.add("refresh", Fault("latency", seconds=0.3, times=1))
            answers = await storm(app_url, session, REQUESTS)
            rounds.append((version, answers, emu.calls["refresh"] - refreshes))

    for _version, answers, refreshes in rounds:
        assert [answer.status_code for answer in answers] == [200] * REQUESTS
        assert len({answer.json()["token"] for answer in answers}) == 1
        assert refreshes == 1  # exactly one refresh per expiry
        assert {answer.json()["pid"] for answer in answers} <= pids
    # The requests reached several processes, so the database lease did the deciding.
    assert max(len({answer.json()["pid"] for answer in answers}) for _, answers, _ in rounds) >= 2
    versions = [version for version, _, _ in rounds]
    assert versions == list(range(versions[0], versions[0] + ROUNDS))  # one write per expiry
    assert the_account(db)["token_version"] == versions[0] + ROUNDS
