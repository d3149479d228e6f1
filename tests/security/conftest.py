"""The attack suite's harness: apps signed in against the emulator, browsers, raw requests.

Every test builds its own app on its own SQLite file, talks to it in-process through
``httpx2.ASGITransport`` (one client per browser, each with its own cookie jar), and has Atlassian
played by the emulator, so each attack runs against the real endpoints and the real protocol.
``raw_request`` sends what no well-behaved client would (invalid percent-encoding, non-UTF-8 bytes,
NUL) straight to the ASGI app. ``snapshot`` reads the database behind the app's back, so a test
can say "nothing changed" and mean every row.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urljoin, urlsplit

import httpx2
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser
from kavach_fastapi.testing import emulator_provider, emulator_transport
from tests.databases import TestDatabase, sqlite_database
from tests.support import apps
from tests.support.browser import (
    AUTHORIZE,
    CALLBACK,
    PREFIX,
    Consent,
    consent,
    session_cookie,
    sign_in,
    start_sign_in,
)

# The suite's tests import these from here; they live in tests.support.browser.
__all__ = [
    "AUTHORIZE",
    "CALLBACK",
    "PREFIX",
    "Consent",
    "session_cookie",
    "sign_in",
    "start_sign_in",
]

SESSION = f"{PREFIX}/auth/session"
SIGN_OUT = f"{PREFIX}/auth/sign-out"
PROVIDERS = f"{PREFIX}/auth/oauth/providers"
ACCOUNTS = f"{PREFIX}/auth/oauth/accounts"
DISCONNECT = f"{PREFIX}/auth/oauth/accounts/atlassian"
SITES = f"{PREFIX}/auth/oauth/atlassian/sites"

SITE = "http://testserver"
"""Where the app under attack is served (the ASGI transport's default host)."""

HTTPS_SITE = "https://app.example"
HTTPS_BASE_URL = f"{HTTPS_SITE}{PREFIX}"
"""``KAVACH_BASE_URL`` of the app when it is served over https (behind a proxy, say)."""

SECRET = "security-suite-secret-0123456789-abcdefghijk"
EVIL = "evil.example"

# Documentation addresses (RFC 5737): a victim's browser and an attacker's.
BROWSER_ADDRESS = ("198.51.100.7", 50000)
ATTACKER_ADDRESS = ("203.0.113.66", 50000)

TABLES = ("kavach_users", "kavach_accounts", "kavach_sessions")
"""What a successful attack would change: people, their linked accounts and tokens, sessions."""


# The app under attack


def build_app(
    database: Path,
    emulator: AtlassianEmulator,
    *,
    atlassian_url: str | None = None,
    **options: Any,
) -> FastAPI:
    """An app like a user's (``tests.support.apps``), on a SQLite file, signing in at ``emulator``.

    Atlassian is the emulator in-process (or whatever ``http_transport`` a test gives), or, with
    ``atlassian_url``, the emulator served on a loopback socket and reached through the
    package's own pooled HTTP transport. The rate limit is off unless ``rate_limit`` is given,
    so that tests of other attacks can make as many requests as they need from one address.
    """
    options.setdefault("secret", SECRET)
    options.setdefault("rate_limit", 0)
    if atlassian_url is None:
        provider = emulator_provider(emulator)
        options.setdefault("http_transport", emulator_transport(emulator))
    else:
        provider = emulator_provider(emulator, base_url=atlassian_url)
    return apps.build_app([provider], database_url=f"sqlite:///{database}", **options)


def register_callback(emulator: AtlassianEmulator, base_url: str) -> None:
    """Register the app's callback URL at ``base_url`` with the emulated Atlassian app."""
    emulator.default_client.redirect_uris.append(f"{base_url}/auth/oauth/callback/atlassian")


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan (as the ASGI server would) for the block."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def browser(
    app: ASGIApp, *, base_url: str = SITE, address: tuple[str, int] = BROWSER_ADDRESS
) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser (its own cookie jar) at a client address, for an app whose lifespan runs."""
    transport = httpx2.ASGITransport(app=app, client=address)
    async with httpx2.AsyncClient(
        transport=transport, base_url=base_url, follow_redirects=False
    ) as client:
        yield client


@asynccontextmanager
async def served_over_https(
    database: Path, emulator: AtlassianEmulator, **options: Any
) -> AsyncIterator[tuple[FastAPI, httpx2.AsyncClient]]:
    """The app with ``KAVACH_BASE_URL`` at `HTTPS_BASE_URL`, running, and a browser there."""
    register_callback(emulator, HTTPS_BASE_URL)
    app = build_app(database, emulator, base_url=HTTPS_BASE_URL, **options)
    async with running(app), browser(app, base_url=HTTPS_SITE) as client:
        yield app, client


def behind_proxy(app: FastAPI, proxy: str) -> ASGIApp:
    """The app as uvicorn serves it with ``--forwarded-allow-ips=proxy``: ``X-Forwarded-Proto``
    and ``X-Forwarded-For`` are believed from that address only."""
    served = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=[proxy])
    return cast(ASGIApp, served)


# Signing in through the emulator (``tests.support.browser``: sign_in, start_sign_in, Consent)


async def approve(
    emulator: AtlassianEmulator, started: Consent, *, user: EmulatedUser | None = None
) -> str:
    """Press Accept on the emulator's consent page; returns the callback URL with code and state."""
    return await consent(started, emulator, user=user)


def plant_cookie(client: httpx2.AsyncClient, name: str, value: str) -> None:
    """Put a cookie in a browser's jar as an attacker would, replacing any of that name."""
    for cookie in list(client.cookies.jar):
        if cookie.name == name:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    host = client.base_url.host
    client.cookies.set(name, value, domain=host if "." in host else f"{host}.local", path="/")


def error_code(response: httpx2.Response) -> str:
    """The ``error.code`` of a JSON error answer."""
    return str(response.json()["error"]["code"])


# The database, read behind the app's back


def snapshot(database: Path, tables: Iterable[str] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the given tables, sorted, so two snapshots compare equal iff nothing changed."""
    with sqlite3.connect(database) as connection:
        return {
            table: sorted(
                connection.execute(f"SELECT * FROM {table}").fetchall(),  # noqa: S608
                key=repr,
            )
            for table in tables
        }


# Requests no well-behaved client sends


@dataclass(frozen=True)
class RawResponse:
    """An ASGI answer: status, raw headers and body."""

    status_code: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header of that name, decoded as Latin-1 (as HTTP does)."""
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None


async def raw_request(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    address: tuple[str, int] = BROWSER_ADDRESS,
) -> RawResponse:
    """Send one request to the ASGI app with exactly these bytes in the query and headers.

    A server such as uvicorn hands the query string and header values to the app as the client
    sent them; an HTTP client library would have re-encoded them, so this goes below it.
    """
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), *headers],
        "client": address,
        "server": ("testserver", 80),
        "state": {},
    }
    done = asyncio.Event()
    request_sent = False
    status = 0
    response_headers: list[tuple[bytes, bytes]] = []
    body = bytearray()

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            response_headers.extend(message.get("headers", []))
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    done.set()
    return RawResponse(status, response_headers, bytes(body))


# Where a browser lands


def lands_on_this_site(location: str, *, site: str = SITE, page: str = CALLBACK) -> bool:
    """Whether a browser answered ``Location: location`` on ``page`` stays on ``site``.

    Conservative on purpose: browsers drop tabs and newlines, read a backslash as a slash, and
    some servers decode a path again, so anything holding those, or a path that decodes to
    ``//``, counts as leaving. What remains is resolved against the page, as browsers do.
    """
    if (
        not location
        or not location.isascii()
        or not location.isprintable()
        or any(char.isspace() for char in location)
        or "\\" in location
    ):
        return False
    decoded = location
    for _ in range(4):
        decoded = unquote(decoded)
        if decoded.startswith("//") or "\\" in decoded:
            return False
    target = urlsplit(urljoin(f"{site}{page}", location))
    home = urlsplit(site)
    return (
        _origin(target.scheme, target.hostname, target.port)
        == _origin(home.scheme, home.hostname, home.port)
        and target.username is None
        and target.password is None
    )


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str | None, int | None]:
    return scheme, host, port or {"http": 80, "https": 443}.get(scheme)


# Fixtures


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "kavach.db"


@pytest.fixture
def side_door(database: Path) -> Iterator[TestDatabase]:
    """The app's database file, to read and age rows behind the app's back."""
    with sqlite_database(database) as door:
        yield door


@pytest.fixture
def emulator() -> AtlassianEmulator:
    return AtlassianEmulator()


@pytest.fixture
def app(database: Path, emulator: AtlassianEmulator) -> FastAPI:
    return build_app(database, emulator)


@pytest.fixture
async def live_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with running(app):
        yield app


@pytest.fixture
async def victim(live_app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """The browser of the person being attacked."""
    async with browser(live_app) as client:
        yield client


@pytest.fixture
async def attacker(live_app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """The attacker's own browser, at another address."""
    async with browser(live_app, address=ATTACKER_ADDRESS) as client:
        yield client
