"""PostgreSQL stopped for a few seconds under steady traffic: 503s, not 500s; then recovery.

A server of the test's own is stopped (``pg_ctl stop -m fast``: every connection dropped) while
eight clients keep calling an app served by ``uvicorn --workers 2``, and started again. Every
answer must be 200 or 503 ``database_unavailable`` with ``Retry-After`` (never a 500, never a
dropped connection); the sessions the workers had just checked keep working; the server log has
no traceback and says once per worker that the outage started and once that it ended; and
every request sent after the restart succeeds, although each worker's pooled connections died.

A second test stops and starts the server again and again under concurrent reads on one
`Database`, both the hot-path reads straight on asyncpg and the ORM's: whatever moment a read
meets (a refused connect, a FATAL goodbye on an idle pooled connection before its socket
closes, a connection dropped mid-query), it fails as ``DatabaseUnavailableError`` or succeeds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import text

from kavach_fastapi.database import Database
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.errors import DatabaseUnavailableError
from kavach_fastapi.store.sessions import SessionStore

from ..databases import PrivateServer, private_postgres_server
from ..integration.worker_server import (
    CALLBACK,
    sign_in_over_http,
    uvicorn_workers,
    wait_for_workers,
)
from .conftest import ACCOUNTS, SECRET

pytestmark = pytest.mark.postgres

FACTORY = "tests.security.outage_app:create_app"
WORKERS = 2
CLIENTS = 8
PATHS = ("/me", ACCOUNTS, "/token")
"""A session check (served from memory during the outage), and two reads that need the database."""

OUTAGE, AFTER = 3.0, 2.0
"""Seconds of traffic while the server is stopped, and after it is back."""

WARM_UP_TIMEOUT = 30.0
"""How long the clients may take to be served once each (a busy machine starts slowly)."""

OUTAGE_STARTED = "database cannot be reached"
OUTAGE_ENDED = "database is reachable again"


@dataclass(frozen=True)
class Answer:
    """One request: in which phase it was sent, and what came back (``None``: no answer)."""

    phase: str
    path: str
    status: int | None
    retry_after: str | None = None
    code: str | None = None
    problem: str | None = None


async def ask(client: httpx2.AsyncClient, path: str, phase: str) -> Answer:
    try:
        response = await client.get(path)
    except httpx2.TransportError as exc:
        return Answer(phase, path, None, problem=repr(exc))
    code = None
    if response.status_code >= 400:
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
    return Answer(
        phase, path, response.status_code, response.headers.get("retry-after"), code, response.text
    )


async def steady_traffic(url: str, server: PrivateServer) -> list[Answer]:
    """Eight signed-in clients calling in a loop while the server is stopped and started.

    The server stops once every client has been served, so that each worker has checked the
    sessions of its clients: those are the sessions it remembers during the outage.
    """
    sessions = await asyncio.gather(*(sign_in_over_http(url) for _ in range(CLIENTS)))
    phase = "before"
    answers: list[Answer] = []
    done = asyncio.Event()
    served: set[int] = set()
    warm = asyncio.Event()

    async def client(session: str, offset: int) -> None:
        async with httpx2.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {session}"},
            timeout=10.0,
            trust_env=False,
        ) as http:
            sent = offset
            while not done.is_set():
                answer = await ask(http, PATHS[sent % len(PATHS)], phase)
                answers.append(answer)
                if answer.status == 200:
                    served.add(offset)
                    if len(served) == CLIENTS:
                        warm.set()
                sent += 1
                await asyncio.sleep(0.01)

    clients = [asyncio.ensure_future(client(s, i)) for i, s in enumerate(sessions)]
    await asyncio.wait_for(warm.wait(), WARM_UP_TIMEOUT)
    phase = "outage"
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(OUTAGE)
    await asyncio.to_thread(server.start)  # returns once the server accepts connections
    phase = "after"
    await asyncio.sleep(AFTER)
    done.set()
    await asyncio.gather(*clients)
    return answers


def test_a_postgres_outage_under_load_answers_503_then_recovers(tmp_path: Path) -> None:
    log = tmp_path / "uvicorn.log"
    emulator = AtlassianEmulator(auto_consent=True)
    with private_postgres_server() as server, emulator.serve() as atlassian_url:
        client = emulator.default_client
        env = {
            "KAVACH_DATABASE_URL": server.url,
            "KAVACH_SECRET": SECRET,
            "KAVACH_RATE_LIMIT": "0",
            "ATLASSIAN_CLIENT_ID": client.client_id,
            "ATLASSIAN_CLIENT_SECRET": client.client_secret,
            "ATLASSIAN_AUTH_URL": atlassian_url,
            "ATLASSIAN_API_URL": atlassian_url,
        }
        with uvicorn_workers(FACTORY, workers=WORKERS, env=env, log=log) as url:
            client.redirect_uris.append(f"{url}{CALLBACK}")
            assert len(asyncio.run(wait_for_workers(url, WORKERS))) == WORKERS
            answers = asyncio.run(steady_traffic(url, server))
    text = log.read_text()

    dropped = [answer for answer in answers if answer.status is None]
    wrong = [answer for answer in answers if answer.status not in (200, 503, None)]
    bad_503 = [
        answer
        for answer in answers
        if answer.status == 503
        and not (answer.code == "database_unavailable" and int(answer.retry_after or 0) > 0)
    ]
    # The server's log says why a request failed: shown with the answers.
    assert dropped == [], text
    assert wrong == [], text
    assert bad_503 == [], text
    during = [answer for answer in answers if answer.phase == "outage"]
    assert any(answer.status == 503 for answer in during), "the outage was never noticed"
    assert any(answer.status == 200 and answer.path == "/me" for answer in during), (
        "no remembered session was served during the outage"
    )
    after = [answer for answer in answers if answer.phase == "after"]
    assert after
    assert [answer for answer in after if answer.status != 200] == []
    assert "Traceback" not in text, text
    started, ended = text.count(OUTAGE_STARTED), text.count(OUTAGE_ENDED)
    assert 1 <= started <= WORKERS, text
    assert ended == started, text


RESTARTS = 8
"""Times the server is stopped and started under the reads (each showed a 500 in about one of
three before asyncpg's ``InternalClientError`` was known as an ended connection)."""


async def reads_through_restarts(server: PrivateServer) -> tuple[int, int, list[str]]:
    """Twelve readers in a loop while the server restarts: (served, refused 503, anything else)."""
    database = Database(server.url)
    sessions = SessionStore(database)
    served = refused = 0
    other: list[str] = []
    done = asyncio.Event()

    async def reader(number: int) -> None:
        nonlocal served, refused
        while not done.is_set():
            try:
                if number % 2:
                    await sessions.find_session("no-such-session")  # straight on asyncpg
                else:
                    async with database.reader() as session:
                        await session.execute(text("SELECT 1"))
                served += 1
            except DatabaseUnavailableError:
                refused += 1
            except Exception as exc:  # what the test is looking for
                other.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.002)

    readers = [asyncio.ensure_future(reader(number)) for number in range(12)]
    try:
        for _ in range(RESTARTS):
            await asyncio.sleep(0.4)
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.start)
        await asyncio.sleep(0.4)
    finally:
        done.set()
        await asyncio.gather(*readers)
        await database.dispose()
    return served, refused, other


def test_reads_through_repeated_restarts_fail_only_as_database_unavailable() -> None:
    with private_postgres_server() as server:
        served, refused, other = asyncio.run(reads_through_restarts(server))
    assert other == []
    assert served > 0
    assert refused > 0, "the restarts were never noticed"
