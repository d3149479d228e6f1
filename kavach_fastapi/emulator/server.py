"""Run an ASGI app with uvicorn on a real loopback socket, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

__all__ = ["UVICORN_MISSING", "bind_socket", "load_uvicorn", "serve_in_thread", "url_for_socket"]

UVICORN_MISSING = (
    "Serving the Atlassian emulator needs uvicorn, which is not installed: "
    'pip install "kavach-fastapi[emulator]"'
)
"""The one line said instead of a traceback when uvicorn is missing."""


def load_uvicorn() -> ModuleType:
    """Import uvicorn, which is needed only to serve, not to use the emulator in-process.

    Raises:
        ModuleNotFoundError: uvicorn is not installed; the message names the extra to install.
    """
    try:
        import uvicorn  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        # Only uvicorn itself missing is the user's to fix; a module missing inside an
        # installed uvicorn is a broken install and keeps its own message.
        if exc.name != "uvicorn":
            raise
        raise ModuleNotFoundError(UVICORN_MISSING, name="uvicorn") from None
    return uvicorn


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket; ``port=0`` lets the OS choose a free port.

    Binding before uvicorn starts is what lets the caller know the real port at once.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening at once queues early connections until uvicorn starts accepting them.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def url_for_socket(sock: socket.socket) -> str:
    """Return ``http://host:port`` for a bound socket."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def uvicorn_config(
    app: Any, *, log_level: str | None, access_log: bool, log_config: Any = None
) -> uvicorn.Config:
    """Return a uvicorn ``Config``; without ``log_config`` it leaves logging alone."""
    config: uvicorn.Config = load_uvicorn().Config(
        app,
        lifespan="off",
        loop="asyncio",
        http="h11",
        ws="none",
        log_config=log_config,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=5,
    )
    return config


@contextmanager
def serve_in_thread(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a background thread for the ``with`` block.

    Args:
        app: The ASGI app.
        host: The address to bind.
        port: The port to bind; ``0`` picks a free one.
        startup_timeout: Seconds to wait for the server to accept connections.

    Yields:
        The base URL, such as ``http://127.0.0.1:54321``.

    Raises:
        ModuleNotFoundError: uvicorn is not installed (the message names the extra).
        RuntimeError: If the server does not start in time.
    """
    server_class = load_uvicorn().Server
    sock = bind_socket(host, port)
    server = server_class(uvicorn_config(app, log_level=None, access_log=False))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="atlassian-emulator", daemon=True
    )
    try:
        thread.start()
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Atlassian emulator's server did not start")
            time.sleep(0.005)
        yield url_for_socket(sock)
    finally:
        server.should_exit = True
        if thread.is_alive():
            thread.join(timeout=startup_timeout)
        sock.close()
