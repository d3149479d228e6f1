"""Sessions ended through session management are refused by every other process within the bound.

Two single-process instances A and B of ``tests.integration.worker_app`` on the run's PostgreSQL
database, as two machines behind a load balancer. A person has a laptop and a phone session; B
has just checked the phone's, so it may trust it for its cache's lifetime. The phone's session
then ends in one of three ways: the laptop ends it by id on A, the laptop signs out other devices
on A, or an admin's script (this test process) signs the person out everywhere. The process that
ended it refuses it at once; B within the bound that sign-out has.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI

from kavach_fastapi import atlassian_provider, kavach_router

from ..databases import TestDatabase
from .conftest import PREFIX, SECRET
from .test_multi_instance import SIGN_OUT_BOUND, SIGN_OUT_PATIENCE
from .worker_server import app_client, sign_in_over_http

# Both instances share the run's PostgreSQL database: ``db`` is that one, emptied, alone.
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("db", ["postgresql"], indirect=True)]

SESSIONS = f"{PREFIX}/auth/sessions"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def end_by_id(a: str, laptop: str, phone: str, postgres_url: str) -> None:
    async with app_client(a) as on_a:
        listed = (await on_a.get(SESSIONS, headers=bearer(phone))).json()
        (phone_id,) = [session["id"] for session in listed if session["current"]]
        ended = await on_a.delete(f"{SESSIONS}/{phone_id}", headers=bearer(laptop))
    assert ended.json() == {"ended": 1, "signed_out": False}, ended.text


async def end_others(a: str, laptop: str, phone: str, postgres_url: str) -> None:
    async with app_client(a) as on_a:
        ended = await on_a.delete(SESSIONS, headers=bearer(laptop))
    assert ended.json() == {"ended": 1, "signed_out": False}, ended.text


async def end_everywhere(a: str, laptop: str, phone: str, postgres_url: str) -> None:
    """An admin's script in another process: its own router on the same database."""
    async with app_client(a) as on_a:
        user_id = (await on_a.get("/me", headers=bearer(phone))).json()["id"]
    router = kavach_router(
        [atlassian_provider("admin-script", "not-used")],
        database_url=postgres_url,
        secret=SECRET,
    )
    async with router.kavach.lifespan(FastAPI()):
        assert await router.kavach.end_user_sessions(user_id) == 2


Ending = Callable[[str, str, str, str], Awaitable[None]]

ENDINGS: dict[str, Ending] = {
    "end-by-id": end_by_id,
    "end-others": end_others,
    "end-everywhere": end_everywhere,
}


@pytest.mark.parametrize("end", ENDINGS.values(), ids=ENDINGS.keys())
async def test_an_ended_session_is_refused_at_once_here_and_by_the_other_instance_within_the_bound(
    two_instances: tuple[str, str], db: TestDatabase, postgres_url: str, end: Ending
) -> None:
    a, b = two_instances
    laptop = await sign_in_over_http(a)
    phone = await sign_in_over_http(a)
    async with app_client(a) as on_a, app_client(b) as on_b:
        assert (await on_a.get("/me", headers=bearer(phone))).status_code == 200
        assert (await on_b.get("/me", headers=bearer(phone))).status_code == 200
        ending = time.monotonic()
        await end(a, laptop, phone, postgres_url)
        on_a_after = await on_a.get("/me", headers=bearer(phone))
        seen_on_b = []
        while True:
            answer = await on_b.get("/me", headers=bearer(phone))
            delay = time.monotonic() - ending
            seen_on_b.append(answer.status_code)
            if answer.status_code != 200 or delay > SIGN_OUT_PATIENCE:
                break
            await asyncio.sleep(0.05)

    if end is not end_everywhere:
        assert on_a_after.status_code == 401  # at once in the process that ended it
    assert seen_on_b[-1] == 401, f"B answered {seen_on_b} in the {delay:.2f} s after the end"
    assert delay < SIGN_OUT_BOUND, (
        f"B refused the session {delay:.2f} s after it ended; the bound is {SIGN_OUT_BOUND} s"
    )
    assert db.count("kavach_sessions") == (0 if end is end_everywhere else 1)
