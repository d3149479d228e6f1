"""Several processes on one PostgreSQL database: workers of one server, and separate instances.

Three servers run for the whole module, all on the run's PostgreSQL database and all signing in
against one emulator served on a loopback socket in the test process (with ``auto_consent``):
``uvicorn --workers 4``, and two single-process instances A and B on ports of their own, as two
machines behind a load balancer would be. Each test empties the database first. The app is
``tests.support.apps:create_app``; every answer names the process that served it. The refresh
across four workers is in ``test_refresh_across_workers.py``, on both databases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import NamedTuple

import httpx2
import pytest

from ..databases import TestDatabase
from .conftest import PREFIX, Emulated, app_environment, register_callback
from .worker_app import PID_HEADER
from .worker_server import (
    app_client,
    finish_sign_in_over_http,
    sign_in_over_http,
    start_sign_in_over_http,
    uvicorn_workers,
    wait_for_workers,
)

# The run's PostgreSQL database, emptied for each test (the ``db`` fixture, PostgreSQL only).
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("db", ["postgresql"], indirect=True)]

FACTORY = "tests.support.apps:create_app"  # as the two_instances fixture serves
WORKERS = 4
REQUESTS = 50
SIGN_OUT = f"{PREFIX}/auth/sign-out"
SIGN_OUT_BOUND = 2.0
"""The contract: a sign-out is honoured by every process within 2 seconds."""
SIGN_OUT_PATIENCE = 5.0
"""How long to keep asking before concluding that a sign-out is not honoured at all."""


class Workers(NamedTuple):
    """A ``uvicorn --workers N`` server, and the pids of its worker processes."""

    url: str
    pids: frozenset[int]


@pytest.fixture(scope="module")
def four_workers(
    postgres_url: str, atlassian: Emulated, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    log = tmp_path_factory.mktemp("four-workers") / "uvicorn.log"
    env = app_environment(postgres_url, atlassian)
    with uvicorn_workers(FACTORY, workers=WORKERS, env=env, log=log) as url:
        register_callback(atlassian, url)
        pids = asyncio.run(wait_for_workers(url, WORKERS))
        assert len(pids) == WORKERS, f"only {len(pids)} workers answered"
        yield Workers(url, frozenset(pids))


async def served_by(browser: httpx2.AsyncClient) -> int:
    """The pid of the process at the other end of the browser's connection."""
    answer = await browser.get("/pid")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["pid"])


async def connections_to_two_workers(
    app_url: str, stack: AsyncExitStack
) -> tuple[httpx2.AsyncClient, httpx2.AsyncClient]:
    """Two single-connection browsers whose connections two different workers accepted."""
    first = await stack.enter_async_context(app_client(app_url))
    first_pid = await served_by(first)
    for _ in range(50):
        other = app_client(app_url)
        if await served_by(other) != first_pid:
            stack.push_async_callback(other.aclose)
            return first, other
        await other.aclose()
    pytest.fail(f"50 new connections were all accepted by worker {first_pid}")


async def sign_in_across(
    first: httpx2.AsyncClient, second: httpx2.AsyncClient
) -> tuple[httpx2.Response, httpx2.Response, httpx2.Response, httpx2.Response]:
    """One browser on two connections: authorize on ``first``, the callback on ``second``.

    Returns:
        The authorize answer, the callback's, and ``GET /me`` on each connection afterwards.
    """
    started, callback = await start_sign_in_over_http(first)
    second.cookies = first.cookies  # one browser: the binding cookie goes along
    finished, _ = await finish_sign_in_over_http(second, callback)
    first.cookies = second.cookies
    return started, finished, await first.get("/me"), await second.get("/me")


def pid_of(answer: httpx2.Response) -> int:
    return int(answer.headers[PID_HEADER])


def assert_one_person_signed_in_on_both(
    me_first: httpx2.Response, me_second: httpx2.Response, db: TestDatabase
) -> None:
    """Both ``/me`` answers are the same one person, and the sign-in left no attempt behind."""
    assert me_first.status_code == me_second.status_code == 200, (me_first.text, me_second.text)
    assert me_first.json()["id"] == me_second.json()["id"]
    assert db.count("kavach_users") == 1
    assert db.count("kavach_sign_in_attempts") == 0


async def test_a_sign_in_started_on_one_worker_finishes_on_another(
    four_workers: Workers, db: TestDatabase
) -> None:
    # The workers share a listening socket, so which one serves a request is not ours to pick:
    # keep one connection per browser, on two workers, and try again until the two steps of a
    # sign-in really ran in different processes.
    for _ in range(5):
        async with AsyncExitStack() as stack:
            first, second = await connections_to_two_workers(four_workers.url, stack)
            started, finished, on_first, on_second = await sign_in_across(first, second)
        if pid_of(started) != pid_of(finished):
            break
    else:
        pytest.fail("five sign-ins each started and finished in the same worker")

    assert {pid_of(started), pid_of(finished)} <= four_workers.pids
    assert_one_person_signed_in_on_both(on_first, on_second, db)
    assert {pid_of(started), pid_of(finished)} == {pid_of(on_first), pid_of(on_second)}
    assert finished.cookies.get("kavach_session")


async def test_a_sign_in_started_on_one_instance_finishes_on_another_and_counts_on_both(
    two_instances: tuple[str, str], db: TestDatabase
) -> None:
    a, b = two_instances
    async with app_client(a) as on_a, app_client(b) as on_b:
        # The load balancer sends the browser's callback to B.
        started, finished, me_a, me_b = await sign_in_across(on_a, on_b)

    assert pid_of(started) != pid_of(finished)
    assert_one_person_signed_in_on_both(me_a, me_b, db)
    assert pid_of(me_a) == pid_of(started)
    assert pid_of(me_b) == pid_of(finished)
    assert db.count("kavach_sessions") == 1


async def test_a_sign_out_on_one_instance_is_honoured_by_the_other_within_two_seconds(
    two_instances: tuple[str, str], db: TestDatabase
) -> None:
    a, b = two_instances
    session = await sign_in_over_http(a)
    bearer = {"Authorization": f"Bearer {session}"}
    async with app_client(a) as on_a, app_client(b) as on_b:
        on_a.headers.update(bearer)
        on_b.headers.update(bearer)
        # B has just checked the session, so it may trust it for its cache's lifetime.
        assert (await on_b.get("/me")).status_code == 200
        signing_out = time.monotonic()
        signed_out = await on_a.post(SIGN_OUT)
        on_a_after = await on_a.get("/me")
        seen_on_b = []
        while True:
            answer = await on_b.get("/me")
            delay = time.monotonic() - signing_out
            seen_on_b.append(answer.status_code)
            if answer.status_code != 200 or delay > SIGN_OUT_PATIENCE:
                break
            await asyncio.sleep(0.05)

    assert signed_out.status_code == 200, signed_out.text
    assert signed_out.json() == {"signed_out": True}
    assert on_a_after.status_code == 401  # at once in the process that signed out
    assert db.count("kavach_sessions") == 0
    assert seen_on_b[-1] == 401, f"B answered {seen_on_b} in the {delay:.2f} s after sign-out"
    assert delay < SIGN_OUT_BOUND, (
        f"B refused the session {delay:.2f} s after the sign-out on A began; "
        f"the contract is {SIGN_OUT_BOUND} s"
    )
