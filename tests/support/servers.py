"""Apps served for real: a command in a process group of its own, waited for, always stopped.

``run_server`` is the one runner: it starts a command (in a new session, so that stopping it
reaches every worker even when the uvicorn supervisor does not stop them in time), waits until
a path answers ``200``, and stops it with SIGTERM, then SIGKILL of the whole group.
``uvicorn_workers`` runs ``uvicorn --workers N`` on a free port with it; the benchmarks in
``bench/`` use the same two.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from .environment import clean_environment

__all__ = [
    "ROOT",
    "ServedApp",
    "free_listener",
    "free_port",
    "run_server",
    "stop_process",
    "uvicorn_server",
    "uvicorn_workers",
    "wait_for_workers",
]

ROOT = Path(__file__).resolve().parents[2]
"""The repository: servers run here by default, so ``tests...`` and ``bench...`` import."""

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class ServedApp:
    """A server running in a process of its own.

    Attributes:
        url: Its base URL, such as ``http://127.0.0.1:41234``.
        log_path: The file its output goes to.
        process: The process (the leader of its process group).
    """

    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The server's process id, which is also its session and group id."""
        return self.process.pid

    def log(self) -> str:
        """Everything the server has printed so far."""
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    """A TCP port on the loopback interface that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_listener(avoid: Sequence[int] = (8000,)) -> socket.socket:
    """A listening loopback socket on a free port, never one of ``avoid``.

    Handed to a server (``uvicorn --fd``), it makes the port known at once and nobody can take
    it in between.
    """
    while True:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        if listener.getsockname()[1] not in avoid:
            listener.listen(128)
            return listener
        listener.close()


@contextmanager
def run_server(
    command: Sequence[str],
    *,
    url: str,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path = ROOT,
    ready_path: str = "/pid",
    listener: socket.socket | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> Iterator[ServedApp]:
    """Run ``command`` serving ``url`` for the block; it is stopped however the block ends.

    Args:
        command: The whole command line.
        url: The base URL it serves.
        log_path: Where its output goes (appended).
        env: Its whole environment.
        cwd: Its working directory.
        ready_path: A path that answers ``200`` once it has started.
        listener: A listening socket it inherits (named in ``command``, as ``--fd`` says);
            closed here once the server has it.
        startup_timeout: Seconds to wait for ``ready_path``.

    Raises:
        RuntimeError: it exited, or did not answer within ``startup_timeout``.
    """
    with log_path.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - the caller's own command line
            list(command),
            cwd=cwd,
            env=dict(env),
            pass_fds=[] if listener is None else [listener.fileno()],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if listener is not None:
        listener.close()
    served = ServedApp(url=url, log_path=log_path, process=process)
    try:
        _wait_until_ready(served, f"{url}{ready_path}", startup_timeout)
        yield served
    finally:
        stop_process(process)


def _wait_until_ready(served: ServedApp, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx2.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if served.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited ({served.process.returncode}):\n{served.log()}"
                )
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in {timeout} s:\n{served.log()}")
            time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop a server started in its own session: SIGTERM, then SIGKILL of its group."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # uvicorn's supervisor stops its workers, then itself
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Not reaped yet, so the process group is still ours: end all of it.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


@contextmanager
def uvicorn_server(
    factory: str,
    *,
    workers: int,
    env: Mapping[str, str],
    log: Path,
    port: int | None = None,
    options: Sequence[str] = (),
    ready_path: str = "/pid",
    startup_timeout: float = STARTUP_TIMEOUT,
) -> Iterator[ServedApp]:
    """Serve ``factory`` (``module:function``) with ``workers`` uvicorn processes for the block.

    Only ``env`` configures the app: the ``KAVACH_*``/``ATLASSIAN_*`` variables of this process
    are not passed on.

    Args:
        factory: The app factory, imported by every worker.
        workers: How many worker processes.
        env: Settings added to this process's cleaned environment.
        log: Where the server's output goes.
        port: The port, a free one when not given.
        options: More uvicorn options (``--app-dir``, ``--backlog`` ...).
        ready_path: A path that answers ``200`` once a worker serves.
        startup_timeout: Seconds to wait for it.

    Yields:
        The server, once ``ready_path`` answers (not necessarily from every worker: see
        :func:`wait_for_workers`).
    """
    port = port or free_port()
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
        *options,
    ]
    with run_server(
        command,
        url=f"http://127.0.0.1:{port}",
        log_path=log,
        env=clean_environment(**env),
        ready_path=ready_path,
        startup_timeout=startup_timeout,
    ) as served:
        yield served


@contextmanager
def uvicorn_workers(factory: str, **settings: Any) -> Iterator[str]:
    """:func:`uvicorn_server` (the same arguments), yielding only the base URL."""
    with uvicorn_server(factory, **settings) as served:
        yield served.url


def wait_for_workers(
    url: str, workers: int, *, path: str = "/pid", timeout: float = 30.0
) -> set[int]:
    """Ask ``path`` over new connections, several at once, until ``workers`` processes answered.

    Every answer must be JSON with a ``pid``. Returns the pids seen, fewer only when ``timeout``
    passes. Blocking (threads): from async code, call it through ``asyncio.to_thread``.
    """
    seen: set[int] = set()
    deadline = time.monotonic() + timeout

    def ask(client: httpx2.Client) -> int | None:
        try:
            answer = client.get(path, headers={"Connection": "close"})
        except httpx2.TransportError:
            return None
        return int(answer.json()["pid"]) if answer.status_code == 200 else None

    with (
        httpx2.Client(base_url=url, timeout=5.0, trust_env=False) as client,
        ThreadPoolExecutor(max_workers=4 * workers) as pool,
    ):
        while len(seen) < workers and time.monotonic() < deadline:
            seen.update(pid for pid in pool.map(ask, [client] * 4 * workers) if pid is not None)
            if len(seen) < workers:
                time.sleep(0.2)
    return seen
