"""Apps served for real in a process of their own, and a person signing in over plain HTTP.

``serve_with_uvicorn`` runs a ``uvicorn`` command line on a listening socket that it binds
first (``--fd``), so the port is known at once and nobody takes it in between.
``sign_in_over_http`` does what a browser without JavaScript does: it follows the redirects
by hand, submits the emulator's consent form as it is filled in by default, and lands back.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx2

from ..support.environment import clean_environment
from ..support.servers import ROOT, ServedApp, free_listener, run_server

__all__ = [
    "REPO",
    "ServedApp",
    "accept_consent",
    "clean_environment",
    "free_listener",
    "run_emulator",
    "serve_with_uvicorn",
    "sign_in_over_http",
]

REPO = ROOT
SHUTDOWN_TIMEOUT = 15.0


@contextmanager
def serve_with_uvicorn(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    ready_path: str = "/docs",
    listener: socket.socket | None = None,
) -> Iterator[ServedApp]:
    """Run ``command`` (a uvicorn command line, without ``--fd``) on a free loopback port.

    Args:
        command: Such as ``["uvicorn", "main:app"]``.
        env: The process's whole environment.
        cwd: Its working directory; its output goes to ``uvicorn.log`` there.
        ready_path: A path that answers once the app has started.
        listener: The socket to serve on, when the caller needs to know the port before the
            app starts (from :func:`free_listener`); it is closed here.

    Yields:
        The served app.
    """
    bound = listener or free_listener()
    with run_server(
        [*command, "--fd", str(bound.fileno())],
        url=f"http://127.0.0.1:{bound.getsockname()[1]}",
        log_path=cwd / "uvicorn.log",
        env=env,
        cwd=cwd,
        ready_path=ready_path,
        listener=bound,
    ) as served:
        yield served


@contextmanager
def run_emulator(command: Sequence[str], *, env: Mapping[str, str]) -> Iterator[str]:
    """Run ``kavach emulator`` (``command``, given ``--port 0``) until the block ends.

    Yields:
        Its base URL, read from the ``ATLASSIAN_AUTH_URL=`` line it prints.
    """
    process = subprocess.Popen(  # noqa: S603 - the test's own command line
        list(command),
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        while not printed or not printed[-1].startswith("ATLASSIAN_AUTH_URL="):
            line = process.stdout.readline()
            assert line, "the emulator exited:\n" + "".join(printed)
            printed.append(line)
        yield printed[-1].strip().split("=", 1)[1]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


class ConsentForm(HTMLParser):
    """The emulator's consent form as a browser would submit it untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect the form's action and the values of its hidden and checked inputs."""
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action") or ""
        elif tag == "input" and values.get("name"):
            kind = values.get("type")
            if kind == "hidden" or (kind in ("radio", "checkbox") and "checked" in values):
                self.fields.setdefault(str(values["name"]), []).append(values.get("value") or "")


def accept_consent(client: httpx2.Client, consent_url: str) -> httpx2.Response:
    """Open the emulator's consent page and press Accept; returns its redirect."""
    page = client.get(consent_url)
    assert page.status_code == 200, page.text
    form = ConsentForm()
    form.feed(page.text)
    assert form.action, "the consent page has no form"
    decided = client.post(
        urljoin(str(page.url), form.action), data={**form.fields, "decision": ["accept"]}
    )
    assert decided.status_code in (302, 303), decided.text
    return decided


def sign_in_over_http(client: httpx2.Client, authorize_url: str) -> httpx2.Response:
    """Sign in from an app's authorize URL through the consent page; returns the landing page.

    ``client`` must not follow redirects: each step is checked on the way.
    """
    started = client.get(authorize_url)
    assert started.status_code == 302, started.text
    decided = accept_consent(client, urljoin(authorize_url, started.headers["location"]))
    callback = urljoin(str(decided.url), decided.headers["location"])
    finished = client.get(callback)
    landing = finished.headers.get("location", "")
    assert finished.status_code == 303, finished.text
    assert "error=" not in urlsplit(landing).query, landing
    return client.get(urljoin(callback, landing))
