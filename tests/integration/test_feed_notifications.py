"""On PostgreSQL the change feed is heard at once: ``NOTIFY`` makes every process read it now.

Instances A and B run with a bound of a minute (``KAVACH_SESSION_CACHE_SECONDS=60``), so that
only a notification can explain a sign-out on A refused by B within a second. The bound itself
does not rest on the notifications (tests/integration/test_session_feed.py); these prove that
they arrive, that the listening connection is opened again when it is lost, and, in-process,
what the listener does when its connection goes away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from kavach_fastapi.database_urls import async_database_url
from kavach_fastapi.store.feed import FEED_CHANNEL
from kavach_fastapi.store.feed_listener import RETRY_FIRST, FeedListener

from ..databases import TestDatabase, postgres_database
from .test_session_feed import (
    SIGN_OUT,
    Instances,
    seconds_until_refused,
    served_instances,
    signed_in_on_both,
)
from .worker_server import app_client

pytestmark = pytest.mark.postgres

HEARD_WITHIN = 1.0
"""A notified process reads the feed at once: a sign-out is refused elsewhere well within this
(the bound these instances run with is 60 s)."""
LISTEN = f'LISTEN "{FEED_CHANNEL}"'
"""What a listening connection last ran, as ``pg_stat_activity`` shows it."""
LISTENING = "SELECT count(*) FROM pg_stat_activity WHERE query = :listen"
CUT_THE_LISTENERS = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = :listen"


@pytest.fixture(scope="module")
def listening(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    logs = tmp_path_factory.mktemp("feed-notify")
    with served_instances(postgres_url, logs, KAVACH_SESSION_CACHE_SECONDS="60") as served:
        yield served


@pytest.fixture
def database(postgres_url: str) -> Iterator[TestDatabase]:
    with postgres_database(postgres_url) as found:
        yield found


async def seconds_until_b_refuses_a_sign_out_on_a(instances: Instances) -> tuple[float, int]:
    session = await signed_in_on_both(instances, settled=True)  # past its first feed read
    async with app_client(instances.a) as on_a:
        on_a.headers["Authorization"] = f"Bearer {session}"
        began = time.monotonic()
        assert (await on_a.post(SIGN_OUT)).status_code == 200
    return await seconds_until_refused(instances.b, session, began)


async def until(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether ``condition`` holds within ``seconds`` (asked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_sign_out_is_heard_by_the_other_instance_long_before_its_bound(
    listening: Instances, database: TestDatabase
) -> None:
    delay, status = await seconds_until_b_refuses_a_sign_out_on_a(listening)

    assert status == 401, f"B still accepted the session {delay:.2f} s after the sign-out"
    assert delay < HEARD_WITHIN, f"B refused it only after {delay:.2f} s"


async def test_a_lost_listening_connection_is_opened_again_and_heard_again(
    listening: Instances, database: TestDatabase
) -> None:
    assert database.scalar(LISTENING, listen=LISTEN) >= 2  # A and B
    database.execute(CUT_THE_LISTENERS, listen=LISTEN)

    assert await until(lambda: database.scalar(LISTENING, listen=LISTEN) >= 2, 5 * RETRY_FIRST)
    delay, status = await seconds_until_b_refuses_a_sign_out_on_a(listening)
    assert status == 401
    assert delay < HEARD_WITHIN, f"B refused it only after {delay:.2f} s"


async def test_the_listener_reads_on_news_and_when_it_listens_again_after_a_lost_connection(
    postgres_url: str, database: TestDatabase
) -> None:
    engine = create_async_engine(async_database_url(postgres_url))
    calls: list[float] = []
    listener = FeedListener(engine, lambda: calls.append(time.monotonic()))
    listener.start()
    try:
        assert await until(lambda: listener.listening, 5.0)
        database.execute(f"NOTIFY {FEED_CHANNEL}")
        assert await until(lambda: len(calls) == 1, 2.0), "the notification was not heard"

        database.execute(CUT_THE_LISTENERS, listen=LISTEN)
        assert await until(lambda: not listener.listening, 2.0), "the loss went unnoticed"
        assert await until(lambda: listener.listening, 5 * RETRY_FIRST)
        assert await until(lambda: len(calls) == 2, 2.0), "no read when it listened again"

        database.execute(f"NOTIFY {FEED_CHANNEL}")
        assert await until(lambda: len(calls) == 3, 2.0), "not heard after listening again"
    finally:
        await listener.aclose()
        await engine.dispose()
    assert not listener.listening
