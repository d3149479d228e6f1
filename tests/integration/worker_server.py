"""Run an app under ``uvicorn --workers N`` in a subprocess, and always stop it.

The server runs in its own session (process group), so that stopping it can reach the worker
processes even if the uvicorn supervisor does not shut them down in time.
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

import httpx2

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the subprocess runs here so ``tests.integration...`` imports."""

STOP_TIMEOUT = 15.0


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
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_ready(url, process, log, startup_timeout)
            yield url
        finally:
            _stop(process)


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
