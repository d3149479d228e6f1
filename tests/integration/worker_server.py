"""Sign in over HTTP to an app served under ``uvicorn --workers N``, and storm it with requests.

The server itself is run by ``tests.support.servers`` (``uvicorn_workers`` and ``free_port`` are
re-exported here for the tests that import them from this module).

The sign-in helpers drive ``tests.integration.worker_app`` against an emulator served on a
loopback socket with ``auto_consent``, as a browser would: authorize, the emulator's redirect
back, the callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator

from ..support import servers
from ..support.apps import PID_HEADER, app_environment, register_callback
from ..support.browser import AUTHORIZE, CALLBACK, consent, finish_sign_in, start_sign_in
from ..support.servers import ROOT, free_port, uvicorn_workers

FACTORY = "tests.support.apps:create_app"
SECRET = "workers-secret-0123456789-abcdefghijklmnopqrstuv"

__all__ = [
    "AUTHORIZE",
    "CALLBACK",
    "ROOT",
    "app_client",
    "finish_sign_in_over_http",
    "free_port",
    "served_workers",
    "sign_in_over_http",
    "signed_in_workers",
    "start_sign_in_over_http",
    "storm",
    "storm_across_workers",
    "uvicorn_workers",
    "wait_for_workers",
]


async def wait_for_workers(url: str, workers: int, timeout: float = 30.0) -> set[int]:
    """Ask ``GET /pid`` over new connections until every worker answered; their pids.

    Returns early with fewer pids only when ``timeout`` passes.
    """
    return await asyncio.to_thread(servers.wait_for_workers, url, workers, timeout=timeout)


@contextmanager
def served_workers(
    emu: AtlassianEmulator,
    database_url: str,
    *,
    workers: int,
    log: Path,
    settings: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, set[int]]]:
    """The served app under ``uvicorn --workers N`` on ``database_url``, signing in at ``emu``.

    The emulator is served on a loopback socket in this process for the block, so every worker
    talks to the same Atlassian and the test reads one set of counters. ``settings`` (``KAVACH_*``
    variables) are added to the app's environment.

    Yields:
        The app's base URL and the pids of its workers, once every one of them answered.
    """
    with emu.serve() as emulator_url:
        env = app_environment(database_url, emu, emulator_url, secret=SECRET) | dict(settings or {})
        with uvicorn_workers(FACTORY, workers=workers, env=env, log=log) as app_url:
            register_callback(emu, app_url)
            pids = servers.wait_for_workers(app_url, workers)
            assert len(pids) == workers, f"only {len(pids)} workers answered"
            yield app_url, pids


@asynccontextmanager
async def signed_in_workers(
    emu: AtlassianEmulator,
    database_url: str,
    *,
    workers: int,
    log: Path,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[str, set[int], str]]:
    """:func:`served_workers`, and a person signed in there: its URL, worker pids, the session."""
    with served_workers(emu, database_url, workers=workers, log=log, settings=settings) as (
        app_url,
        pids,
    ):
        yield app_url, pids, await sign_in_over_http(app_url)


# Signing in over HTTP


def app_client(app_url: str, *, timeout: float = 10.0) -> httpx2.AsyncClient:
    """A browser for the served app that keeps ONE connection, so one worker serves it.

    uvicorn's workers share the listening socket and a connection stays with the worker that
    accepted it; with a single kept-alive connection, every request of this client reaches
    the same process (the ``X-Worker-Pid`` header of each answer says which).
    """
    return httpx2.AsyncClient(
        base_url=app_url,
        limits=httpx2.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=timeout,
        trust_env=False,
    )


async def start_sign_in_over_http(browser: httpx2.AsyncClient) -> tuple[httpx2.Response, str]:
    """Call authorize and let the emulator consent; the authorize answer and the callback.

    The callback is the path and query the emulator sent the browser back to, so that it can
    be opened on any worker or instance. The binding cookie is in ``browser``'s jar.
    """
    started = await start_sign_in(browser)
    callback = urlsplit(await consent(started, timeout=browser.timeout.read or 10.0))
    assert f"{callback.scheme}://{callback.netloc}" == str(browser.base_url).rstrip("/")
    assert callback.path == CALLBACK, callback.geturl()
    return started.response, f"{callback.path}?{callback.query}"


async def finish_sign_in_over_http(
    browser: httpx2.AsyncClient, callback: str
) -> tuple[httpx2.Response, str]:
    """Open the callback; the answer and the new session token."""
    finished = await finish_sign_in(browser, callback)
    return finished, str(finished.cookies["kavach_session"])


async def sign_in_over_http(app_url: str) -> str:
    """A whole sign-in through the served app and the emulator's socket; the session token."""
    async with app_client(app_url) as browser:
        _, callback = await start_sign_in_over_http(browser)
        _, session = await finish_sign_in_over_http(browser, callback)
    return session


async def storm(
    app_url: str, session: str, requests: int, path: str = "/token"
) -> list[httpx2.Response]:
    """``requests`` requests for ``path`` at once, each on its own connection (so, on several
    workers), signed in with ``session``."""
    limits = httpx2.Limits(max_connections=requests, max_keepalive_connections=0)
    async with httpx2.AsyncClient(
        base_url=app_url,
        headers={"Authorization": f"Bearer {session}"},
        limits=limits,
        timeout=30.0,
        trust_env=False,
    ) as client:
        return list(await asyncio.gather(*(client.get(path) for _ in range(requests))))


async def storm_across_workers(
    app_url: str, session: str, requests: int, path: str, *, tries: int = 3
) -> list[httpx2.Response]:
    """:func:`storm` again (up to ``tries`` times) until two or more workers have answered.

    Which worker accepts a connection is the kernel's choice; on a loaded machine one worker
    can take a whole storm. Every answer of every try is returned, so a test checks them all.
    """
    answers: list[httpx2.Response] = []
    for _ in range(tries):
        answers += await storm(app_url, session, requests, path)
        if len({answer.headers.get(PID_HEADER) for answer in answers}) >= 2:
            break
        await asyncio.sleep(0.05)  # let the other workers' accept loops run
    return answers
