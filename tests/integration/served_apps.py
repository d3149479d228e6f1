"""Apps served for real in a process of their own, and a person signing in over plain HTTP.

``serve_with_uvicorn`` runs a ``uvicorn`` command line on a listening socket that it binds
first (``--fd``), so the port is known at once and nobody takes it in between.
``sign_in_over_http`` does what a browser without JavaScript does: it follows the redirects
by hand, submits the emulator's consent form as it is filled in by default, and lands back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx2

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 15.0


@dataclass
class ServedApp:
    """An app served by a process of its own.

    Attributes:
        url: Its base URL, such as ``http://127.0.0.1:41234``.
        log_path: The file its output goes to.
    """

    url: str
    log_path: Path

    def log(self) -> str:
        """Everything the process has printed so far."""
        return self.log_path.read_text(errors="replace")


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any ``ATLASSIAN_*`` or ``KAVACH_*``, plus ``settings``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ATLASSIAN_", "KAVACH_"))
    }
    env.update(settings)
    return env


def free_listener(avoid: Sequence[int] = (8000,)) -> socket.socket:
    """A listening loopback socket on a free port, never one of ``avoid``."""
    while True:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        if listener.getsockname()[1] not in avoid:
            listener.listen(128)
            return listener
        listener.close()


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
    log_path = cwd / "uvicorn.log"
    with listener or free_listener() as bound, log_path.open("wb") as output:
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        process = subprocess.Popen(  # noqa: S603 - the test's own command line
            [*command, "--fd", str(bound.fileno())],
            cwd=cwd,
            env=dict(env),
            pass_fds=[bound.fileno()],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        served = ServedApp(url=url, log_path=log_path)
        _wait_until_serving(f"{url}{ready_path}", process, served)
        yield served
    finally:
        _stop(process)


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


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], served: ServedApp) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx2.Client(trust_env=False, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited:\n{served.log()}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{served.log()}")
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
