"""Jobs in processes of their own, beside a served app, refresh a grant once with it.

The app runs as ``uvicorn tests.integration.worker_app:create_app --workers 2``; the emulator is
served on a loopback socket in the test process, so every process talks to the same Atlassian
and the test reads one refresh counter. The jobs are ``python -m tests.integration.offline_job``
(``open_kavach()`` configured by the environment alone) and ``kavach grants refresh-idle``.
On SQLite (one file) and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator, Fault

from ..databases import TestDatabase, ago
from ..support.environment import clean_environment
from .conftest import PREFIX, SECRET
from .token_harness import expire_access_token, the_account, update_account
from .worker_server import ROOT, sign_in_over_http, storm, uvicorn_workers

WORKERS = 2
REQUESTS = 20
JOB_TIMEOUT = 120.0


@dataclass(frozen=True)
class Served:
    """The emulator, the app's URL, the environment both share, and the person signed in."""

    emu: AtlassianEmulator
    app_url: str
    env: Mapping[str, str]
    session: str
    user_id: str


@contextmanager
def served_app(
    db: TestDatabase, log: Path
) -> Iterator[tuple[AtlassianEmulator, str, dict[str, str]]]:
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
            "tests.integration.worker_app:create_app", workers=WORKERS, env=env, log=log
        ) as app_url:
            emu.default_client.redirect_uris.append(
                f"{app_url}{PREFIX}/auth/oauth/callback/atlassian"
            )
            yield emu, app_url, env


@asynccontextmanager
async def signed_in(db: TestDatabase, log: Path) -> AsyncIterator[Served]:
    with served_app(db, log) as (emu, app_url, env):
        session = await sign_in_over_http(app_url)
        async with httpx2.AsyncClient(base_url=app_url, trust_env=False) as client:
            me = await client.get("/me", headers={"Authorization": f"Bearer {session}"})
        assert me.status_code == 200, me.text
        yield Served(emu, app_url, env, session, str(me.json()["id"]))


async def start(env: Mapping[str, str], *arguments: str) -> asyncio.subprocess.Process:
    """A Python process in the repository with only ``env`` of kavach's settings."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *arguments,
        cwd=ROOT,
        env=clean_environment(**env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finished(process: asyncio.subprocess.Process) -> str:
    out, err = await asyncio.wait_for(process.communicate(), JOB_TIMEOUT)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_job_in_another_process_and_the_web_app_refreshing_at_once_make_one_refresh(
    db: TestDatabase, tmp_path: Path
) -> None:
    async with signed_in(db, tmp_path / "uvicorn.log") as served:
        expire_access_token(db)
        version = the_account(db)["token_version"]
        job = await start(served.env, "-m", "tests.integration.offline_job", served.user_id)
        assert job.stdout is not None
        assert job.stdin is not None
        ready = await asyncio.wait_for(job.stdout.readline(), JOB_TIMEOUT)
        assert ready == b"ready\n"
        # A slow Atlassian keeps the first refresh in flight while the others ask.
        served.emu.faults.add("refresh", Fault("latency", seconds=0.5, times=1))

        job.stdin.write(b"go\n")
        await job.stdin.drain()
        answers = await storm(served.app_url, served.session, REQUESTS)
        offline = json.loads(await finished(job))
        refreshes = served.emu.calls["refresh"]

    assert [answer.status_code for answer in answers] == [200] * REQUESTS
    assert {answer.json()["token"] for answer in answers} == {offline["token"]}
    assert refreshes == 1
    assert the_account(db)["token_version"] == version + 1


async def test_a_job_in_another_process_is_told_the_person_must_consent_again(
    db: TestDatabase, tmp_path: Path
) -> None:
    async with signed_in(db, tmp_path / "uvicorn.log") as served:
        served.emu.revoke_grant(served.emu.users[0].account_id)
        expire_access_token(db)
        job = await start(served.env, "-m", "tests.integration.offline_job", served.user_id)
        assert job.stdin is not None
        job.stdin.write(b"go\n")
        offline = json.loads((await finished(job)).splitlines()[-1])

    assert offline == {"error": "reauth_required"}
    assert the_account(db)["needs_reauth"]


async def test_two_refresh_idle_runs_beside_the_web_app_refresh_an_idle_grant_once(
    db: TestDatabase, tmp_path: Path
) -> None:
    async with signed_in(db, tmp_path / "uvicorn.log") as served:
        # Idle for 40 days, and its access token expired: the app refreshes it too.
        update_account(db, updated_at=ago(days=40))
        expire_access_token(db)
        served.emu.faults.add("refresh", Fault("latency", seconds=0.5, times=1))
        command = ("-m", "kavach_fastapi.cli", "grants", "refresh-idle", "--older-than", "30d")
        runs = [await start(served.env, *command, "--json") for _ in range(2)]

        answers = await storm(served.app_url, served.session, REQUESTS)
        outcomes = [json.loads(await finished(run)) for run in runs]
        refreshes = served.emu.calls["refresh"]
        again = json.loads(await finished(await start(served.env, *command, "--json")))

    assert [answer.status_code for answer in answers] == [200] * REQUESTS
    assert refreshes == 1
    assert sum(outcome["refreshed"] for outcome in outcomes) <= 1
    assert all(outcome["failed"] == outcome["needs_consent"] == 0 for outcome in outcomes)
    assert again["idle"] == again["refreshed"] == 0, "a later run finds nothing idle"
