"""Serve the example app for the browser tests, on a listening socket the parent hands over.

Run by ``conftest.py`` as ``python -m tests.e2e.demo_server FD``: the parent binds a free
loopback port, passes the socket's file descriptor, and sets the demo's environment
(``KAVACH_DEMO_URL`` = the real address, a temporary ``KAVACH_DATABASE_URL``, no
``ATLASSIAN_CLIENT_ID``). A process of its own gives every run a fresh demo and emulator,
whatever else the test process has imported.
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from example_app import main as demo
from example_app.demo import DEMO_URL

CALLBACK_PATH = "/api/kavach/auth/oauth/callback/atlassian"


def register_callback() -> None:
    """Register this address's callback URL with the demo's emulator.

    The emulator's demo app only knows the callback URLs of port 8000, and like Atlassian it
    refuses any other; the tests add theirs as one adds a callback URL in the developer console.
    """
    if not demo.USES_EMULATOR:
        raise SystemExit("The browser tests need the demo's emulator: unset ATLASSIAN_CLIENT_ID.")
    callback = f"{DEMO_URL}{CALLBACK_PATH}"
    registered = demo.emulator.default_client.redirect_uris
    if callback not in registered:
        registered.append(callback)


def main(argv: list[str]) -> None:
    """Serve the demo on the inherited socket until SIGTERM."""
    listener = socket.socket(fileno=int(argv[1]))
    register_callback()
    config = uvicorn.Config(demo.app, lifespan="on", log_level="info", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main(sys.argv)
