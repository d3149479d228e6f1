"""Four uvicorn worker processes on one SQLite file refresh an expired token exactly once.

The emulator is served on a loopback socket in the test process, so every worker talks to the
same Atlassian and the test reads one refresh counter. The app runs as
``uvicorn tests.integration.worker_app:create_app --factory --workers 4`` in a subprocess.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator, Fault

from .conftest import PREFIX, SECRET
from .token_harness import expire_access_token, the_account
from .worker_server import uvicorn_workers, wait_for_workers

WORKERS = 4
REQUESTS = 50


async def sign_in_over_http(app_url: str) -> str:
    """Sign in through the real server and the emulator's socket; the session token."""
    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as browser:
        started = await browser.get(f"{app_url}{PREFIX}/auth/oauth/authorize/atlassian")
        assert started.status_code == 302, started.text
        consent = await browser.get(started.headers["location"])  # auto_consent: no page
        assert consent.status_code == 302, consent.text
        callback = consent.headers["location"]
        assert callback.startswith(f"{app_url}{PREFIX}/auth/oauth/callback/atlassian?")
        finished = await browser.get(callback)
        assert finished.status_code == 303, finished.text
        assert "error=" not in finished.headers["location"]
        return str(finished.cookies["kavach_session"])


async def storm(app_url: str, session: str) -> list[httpx2.Response]:
    """``REQUESTS`` requests for a token at once, each on its own connection."""
    limits = httpx2.Limits(max_connections=REQUESTS, max_keepalive_connections=0)
    async with httpx2.AsyncClient(
        base_url=app_url,
        headers={"Authorization": f"Bearer {session}"},
        limits=limits,
        timeout=30.0,
        trust_env=False,
    ) as client:
        return list(await asyncio.gather(*(client.get("/token") for _ in range(REQUESTS))))


async def test_fifty_concurrent_requests_across_four_workers_refresh_exactly_once(
    tmp_path: Path,
) -> None:
    database = tmp_path / "kavach.db"
    emu = AtlassianEmulator(auto_consent=True)
    with emu.serve() as emulator_url:
        env = {
            "KAVACH_DATABASE_URL": f"sqlite:///{database}",
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
                expire_access_token(database)
                version = the_account(database)["token_version"]
                # A slow answer keeps the refresh in flight while the other workers ask.
                emu.faults.add("refresh", Fault("latency", seconds=0.3, times=1))
                answers = await storm(app_url, session)
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
    row = the_account(database)
    assert row["token_version"] == first + 2
    assert row["refresh_lease_owner"] is None
    assert not row["needs_reauth"]
