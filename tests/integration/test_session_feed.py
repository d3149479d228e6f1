"""Every way a session ends reaches every process within the bound, through the change feed.

Two single-process instances, A and B, serve ``tests.integration.worker_app`` on one database
(a SQLite file, then the run's PostgreSQL), as two machines behind a load balancer would; the
test process plays a third one (an admin command, a privacy job) through the package's store.
Each instance remembers the sessions it checked and learns from the feed which ended; when the
feed cannot be read it checks each session in the database again, never answering from a
memory it cannot vouch for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.store import Store

from ..databases import TestDatabase, postgres_database, sqlite_database
from .conftest import PREFIX, SECRET
from .worker_server import app_client, sign_in_over_http, uvicorn_workers

FACTORY = "tests.integration.worker_app:create_app"
SIGN_OUT = f"{PREFIX}/auth/sign-out"
BOUND = 2.0
"""The contract: a session ended anywhere is refused by every process within 2 seconds (the
feed is read every second; the rest is room for a loaded machine)."""
PATIENCE = 6.0
"""How long to keep asking before concluding that an end is not honoured at all."""
FEED = "kavach_session_changes"


@dataclass(frozen=True)
class Instances:
    """Instances A and B on one database, and the emulator they sign in with."""

    a: str
    b: str
    emu: AtlassianEmulator
    url: str
    """The database URL, for the test's own store."""


@contextmanager
def served_instances(url: str, logs: Path, **settings: str) -> Iterator[Instances]:
    """Instances A and B on the database at ``url``, with these ``KAVACH_*`` settings too."""
    emu = AtlassianEmulator(auto_consent=True)
    with emu.serve() as atlassian, ExitStack() as stack:
        client = emu.default_client
        env = {
            "KAVACH_DATABASE_URL": url,
            "KAVACH_SECRET": SECRET,
            "KAVACH_RATE_LIMIT": "0",
            "ATLASSIAN_CLIENT_ID": client.client_id,
            "ATLASSIAN_CLIENT_SECRET": client.client_secret,
            "ATLASSIAN_AUTH_URL": atlassian,
            "ATLASSIAN_API_URL": atlassian,
            **settings,
        }
        # One after the other: the first start creates the SQLite schema.
        a = stack.enter_context(uvicorn_workers(FACTORY, workers=1, env=env, log=logs / "a.log"))
        b = stack.enter_context(uvicorn_workers(FACTORY, workers=1, env=env, log=logs / "b.log"))
        for app_url in (a, b):
            client.redirect_uris.append(f"{app_url}{PREFIX}/auth/oauth/callback/atlassian")
        yield Instances(a, b, emu, url)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def instances(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instances]:
    logs = tmp_path_factory.mktemp(f"feed-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{logs / 'kavach.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with served_instances(url, logs) as served:
        yield served


@pytest.fixture
def database(instances: Instances) -> Iterator[TestDatabase]:
    if instances.url.startswith("sqlite"):
        found = sqlite_database(Path(instances.url.removeprefix("sqlite:///")))
        found.clear()
    else:
        found = postgres_database(instances.url)
    with found:
        yield found


async def in_another_process(url: str, work: Callable[[Store], Awaitable[object]]) -> None:
    """Do ``work`` through the package's store, as an admin command or a job would."""
    store = Store(url)
    try:
        await work(store)
    finally:
        await store.dispose()


async def seconds_until_refused(instance: str, session: str, began: float) -> tuple[float, int]:
    """Seconds from ``began`` until ``instance`` answers /me with this session other than 200."""
    async with app_client(instance) as browser:
        browser.headers["Authorization"] = f"Bearer {session}"
        while True:
            answer = await browser.get("/me")
            delay = time.monotonic() - began
            if answer.status_code != 200 or delay > PATIENCE:
                return delay, answer.status_code
            await asyncio.sleep(0.05)


async def me(instance: str, session: str) -> httpx2.Response:
    async with app_client(instance) as browser:
        answer: httpx2.Response = await browser.get(
            "/me", headers={"Authorization": f"Bearer {session}"}
        )
    return answer


async def signed_in_on_both(instances: Instances, *, settled: bool = False) -> str:
    """A new session, checked (and so remembered) by A and by B.

    Args:
        settled: check it again once the feed entry of the sign-in itself (a profile that
            changed since an earlier test) has been read and made both forget it.
    """
    session = await sign_in_over_http(instances.a)
    for instance in (instances.a, instances.b):
        assert (await me(instance, session)).status_code == 200
    if settled:
        await asyncio.sleep(BOUND)
        for instance in (instances.a, instances.b):
            assert (await me(instance, session)).status_code == 200
    return session


async def assert_refused_everywhere_within_the_bound(
    instances: Instances, session: str, began: float
) -> None:
    for name, instance in (("A", instances.a), ("B", instances.b)):
        delay, status = await seconds_until_refused(instance, session, began)
        assert status == 401, f"{name} still accepted the session {delay:.2f} s after its end"
        assert delay < BOUND, f"{name} refused it only after {delay:.2f} s; the bound is {BOUND} s"


async def test_a_sign_out_is_refused_at_once_where_it_happened_and_within_the_bound_elsewhere(
    instances: Instances, database: TestDatabase
) -> None:
    session = await signed_in_on_both(instances)

    async with app_client(instances.a) as on_a:
        on_a.headers["Authorization"] = f"Bearer {session}"
        began = time.monotonic()
        signed_out = await on_a.post(SIGN_OUT)
        after = await on_a.get("/me")
    delay, status = await seconds_until_refused(instances.b, session, began)

    assert signed_out.status_code == 200, signed_out.text
    assert after.status_code == 401
    assert status == 401, f"B still accepted the session {delay:.2f} s after the sign-out"
    assert delay < BOUND
    assert database.count("kavach_sessions") == 0
    entries = f"SELECT count(*) FROM {FEED} WHERE token_hash = :h"  # noqa: S608 - our own name
    assert database.scalar(entries, h=hash_token(session)) == 1


async def test_a_session_ended_by_another_process_is_refused_by_every_instance_within_the_bound(
    instances: Instances, database: TestDatabase
) -> None:
    session = await signed_in_on_both(instances)

    began = time.monotonic()
    await in_another_process(
        instances.url, lambda store: store.sessions.end_session(hash_token(session))
    )

    await assert_refused_everywhere_within_the_bound(instances, session, began)


async def test_all_of_a_users_other_sessions_ended_elsewhere_are_refused_but_the_kept_one_works(
    instances: Instances, database: TestDatabase
) -> None:
    kept, ended = await signed_in_on_both(instances), await signed_in_on_both(instances)
    user_id = (await me(instances.a, kept)).json()["id"]
    assert (await me(instances.a, ended)).json()["id"] == user_id

    began = time.monotonic()
    await in_another_process(
        instances.url,
        lambda store: store.sessions.end_user_sessions(user_id, keep=hash_token(kept)),
    )

    await assert_refused_everywhere_within_the_bound(instances, ended, began)
    assert (await me(instances.a, kept)).status_code == 200
    assert (await me(instances.b, kept)).status_code == 200


async def test_an_erased_user_is_refused_by_every_instance_within_the_bound(
    instances: Instances, database: TestDatabase
) -> None:
    session = await signed_in_on_both(instances)
    user_id = (await me(instances.a, session)).json()["id"]

    began = time.monotonic()
    await in_another_process(instances.url, lambda store: store.users.erase_user(user_id))

    await assert_refused_everywhere_within_the_bound(instances, session, began)
    assert database.count("kavach_users") == 0
    assert database.count("kavach_accounts") == 0


async def test_a_profile_changed_at_a_sign_in_elsewhere_shows_everywhere_within_the_bound(
    instances: Instances, database: TestDatabase
) -> None:
    session = await signed_in_on_both(instances)
    person = instances.emu.users[0]
    old_name = person.name
    person.name = f"{old_name} (renamed)"
    try:
        began = time.monotonic()
        await sign_in_over_http(instances.a)  # the same person again, with the new name
        names: list[str] = []
        while time.monotonic() - began < PATIENCE:
            names.append((await me(instances.b, session)).json()["name"])
            if names[-1] == person.name:
                break
            await asyncio.sleep(0.05)
        delay = time.monotonic() - began
    finally:
        person.name = old_name

    assert names[-1] == f"{old_name} (renamed)", names
    assert delay < BOUND + 1.0  # the sign-in itself takes part of it


async def test_a_remembered_session_is_answered_from_memory_while_the_feed_is_read(
    instances: Instances, database: TestDatabase
) -> None:
    session = await signed_in_on_both(instances, settled=True)
    # With the sessions table out of reach, only memory can answer; the feed still reads.
    database.execute("ALTER TABLE kavach_sessions RENAME TO kavach_sessions_away")
    try:
        await asyncio.sleep(BOUND)
        answers = [
            (await me(instance, session)).status_code for instance in (instances.a, instances.b)
        ]
    finally:
        database.execute("ALTER TABLE kavach_sessions_away RENAME TO kavach_sessions")

    assert answers == [200, 200]


async def test_when_the_feed_cannot_be_read_sessions_are_checked_in_the_database_not_remembered(
    instances: Instances, database: TestDatabase
) -> None:
    session = await signed_in_on_both(instances)
    database.execute(f"ALTER TABLE {FEED} RENAME TO {FEED}_away")
    try:
        await asyncio.sleep(BOUND)  # long enough for both to have failed to read it
        still = [
            (await me(instance, session)).status_code for instance in (instances.a, instances.b)
        ]
        # Deleted behind the package's back: no feed entry could tell anyone.
        began = time.monotonic()
        database.execute("DELETE FROM kavach_sessions")
        await assert_refused_everywhere_within_the_bound(instances, session, began)
    finally:
        database.execute(f"ALTER TABLE {FEED}_away RENAME TO {FEED}")
    again = await signed_in_on_both(instances)  # and the feed is followed again

    assert still == [200, 200]  # lookups answer while the feed is away
    began = time.monotonic()
    await in_another_process(
        instances.url, lambda store: store.sessions.end_session(hash_token(again))
    )
    await assert_refused_everywhere_within_the_bound(instances, again, began)
