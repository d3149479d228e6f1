"""Four uvicorn worker processes on one SQLite file refresh an expired token exactly once.

The emulator is served on a loopback socket in the test process, so every worker talks to the
same Atlassian and the test reads one refresh counter. The app runs as
``uvicorn tests.integration.worker_app:create_app --factory --workers 4`` in a subprocess.
The same on PostgreSQL, with other processes sharing the database, is in
``test_multi_instance.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kavach_fastapi.emulator import AtlassianEmulator, Fault

from ..databases import TestDatabase
from .conftest import PREFIX, SECRET
from .token_harness import expire_access_token, the_account
from .worker_server import sign_in_over_http, storm, uvicorn_workers, wait_for_workers

WORKERS = 4
REQUESTS = 50


# SQLite only: the workers share one file, where the lease is taken under BEGIN IMMEDIATE.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_fifty_concurrent_requests_across_four_workers_refresh_exactly_once(
    db: TestDatabase, tmp_path: Path
) -> None:
    emu = AtlassianEmulator(auto_consent=True)
    with emu.serve() as emulator_url:
        env = {
            "KAVACH_DATABASE_URL": db.url,
            "KAVACH_SECRET": SECRET,
            "KAVACH_RATE_LIMIT": "0",
            "ATLASSIAN_CLIENT_ID": emu.default_client.client_id,
            "ATLASSIAN_CLIENT_SECRET": emu.default_client.client_secret,
            "ATLASSIAN_AUTH_URL": emulator_url,
            "ATLASSIAN_API_URL": emulator_url,
        }
        with uvicorn_workers(
            "tests.integration.worker_app:create_app",
            workers=WORKERS,
            env=env,
            log=tmp_path / "uvicorn.log",
        ) as app_url:
            emu.default_client.redirect_uris.append(
                f"{app_url}{PREFIX}/auth/oauth/callback/atlassian"
            )
            workers = await wait_for_workers(app_url, WORKERS)
            assert len(workers) == WORKERS, f"only {len(workers)} workers answered"
            session = await sign_in_over_http(app_url)

            rounds = []
            for _ in range(2):
                expire_access_token(db)
                version = the_account(db)["token_version"]
                # A slow answer keeps the refresh in flight while the other workers ask.
                emu.faults.add("refresh", Fault("latency", seconds=0.3, times=1))
                answers = await storm(app_url, session, REQUESTS)
                rounds.append((version, answers, emu.calls["refresh"]))

    for number, (_version, answers, refreshes) in enumerate(rounds, start=1):
        assert [answer.status_code for answer in answers] == [200] * REQUESTS
        assert len({answer.json()["token"] for answer in answers}) == 1
        assert refreshes == number  # exactly one refresh per expiry
        # The requests reached several processes, so the database lease did the deciding.
        assert len({answer.json()["pid"] for answer in answers}) >= 2
        assert {answer.json()["pid"] for answer in answers} <= workers
    (first, _, _), (second, _, _) = rounds
    assert second == first + 1  # one write of new tokens per expiry
    row = the_account(db)
    assert row["token_version"] == first + 2
    assert row["refresh_lease_owner"] is None
    assert not row["needs_reauth"]
