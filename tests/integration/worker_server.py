"""Run an app under ``uvicorn --workers N`` in a subprocess, always stop it, and sign in over HTTP.

The server runs in its own session (process group), so that stopping it can reach the worker
processes even if the uvicorn supervisor does not shut them down in time. Only the ``env`` the
caller gives configures the app: ``KAVACH_*`` and ``ATLASSIAN_*`` variables of the test run's
own environment are not passed on.

The sign-in helpers drive ``tests.integration.worker_app`` against an emulator served on a
loopback socket with ``auto_consent``, as a browser would: authorize, the emulator's redirect
back, the callback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx2

from .worker_app import PREFIX

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the subprocess runs here so ``tests.integration...`` imports."""

STOP_TIMEOUT = 15.0
AUTHORIZE = f"{PREFIX}/auth/oauth/authorize/atlassian"
CALLBACK = f"{PREFIX}/auth/oauth/callback/atlassian"


def free_port() -> int:
    """A TCP port on the loopback interface that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_workers(
    factory: str,
    *,
    workers: int,
    env: Mapping[str, str],
    log: Path,
    startup_timeout: float = 60.0,
) -> Iterator[str]:
    """Serve ``factory`` (``module:function``) with ``workers`` processes for the block.

    Yields:
        The base URL, once the server answers ``GET /pid``.

    Raises:
        RuntimeError: the server exited or did not answer within ``startup_timeout``.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=ROOT,
            env={**inherited_environment(), **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_ready(url, process, log, startup_timeout)
            yield url
        finally:
            _stop(process)


def inherited_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("KAVACH_", "ATLASSIAN_"))
    }


def _wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    with httpx2.Client(base_url=url, timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{log.read_text()}")
            try:
                if client.get("/pid").status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer in {timeout} s:\n{log.read_text()}")
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # the supervisor stops its workers, then itself
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        # Not reaped yet, so the process group is still ours: end all of it.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


async def wait_for_workers(url: str, workers: int, timeout: float = 30.0) -> set[int]:
    """Ask ``GET /pid`` over new connections until every worker answered; their pids.

    Returns early with fewer pids only when ``timeout`` passes.
    """
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    async with httpx2.AsyncClient(base_url=url, timeout=5.0, trust_env=False) as client:
        while len(seen) < workers and time.monotonic() < deadline:
            answers = await asyncio.gather(
                *(client.get("/pid", headers={"Connection": "close"}) for _ in range(4 * workers)),
                return_exceptions=True,
            )
            seen.update(
                int(answer.json()["pid"])
                for answer in answers
                if isinstance(answer, httpx2.Response) and answer.status_code == 200
            )
            if len(seen) < workers:
                await asyncio.sleep(0.2)
    return seen


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
    started = await browser.get(AUTHORIZE)
    assert started.status_code == 302, started.text
    # A client of its own for Atlassian: the browser's one connection stays on the app.
    async with httpx2.AsyncClient(timeout=browser.timeout, trust_env=False) as atlassian:
        consent = await atlassian.get(started.headers["location"])  # auto_consent: no page
    assert consent.status_code == 302, consent.text
    callback = urlsplit(consent.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}" == str(browser.base_url).rstrip("/")
    assert callback.path == CALLBACK, consent.headers["location"]
    return started, f"{callback.path}?{callback.query}"


async def finish_sign_in_over_http(
    browser: httpx2.AsyncClient, callback: str
) -> tuple[httpx2.Response, str]:
    """Open the callback; the answer and the new session token."""
    finished = await browser.get(callback)
    assert finished.status_code == 303, finished.text
    assert "error=" not in finished.headers["location"], finished.headers["location"]
    return finished, str(finished.cookies["kavach_session"])


async def sign_in_over_http(app_url: str) -> str:
    """A whole sign-in through the served app and the emulator's socket; the session token."""
    async with app_client(app_url) as browser:
        _, callback = await start_sign_in_over_http(browser)
        _, session = await finish_sign_in_over_http(browser, callback)
    return session


async def storm(app_url: str, session: str, requests: int) -> list[httpx2.Response]:
    """``requests`` requests for a token at once, each on its own connection."""
    limits = httpx2.Limits(max_connections=requests, max_keepalive_connections=0)
    async with httpx2.AsyncClient(
        base_url=app_url,
        headers={"Authorization": f"Bearer {session}"},
        limits=limits,
        timeout=30.0,
        trust_env=False,
    ) as client:
        return list(await asyncio.gather(*(client.get("/token") for _ in range(requests))))
