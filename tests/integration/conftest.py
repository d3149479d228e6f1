"""An app with the router at ``/api/kavach``, signing in at the Atlassian emulator, and helpers.

The app's database is the ``db`` fixture (a SQLite file, then the run's PostgreSQL database), so
every test that uses ``client`` runs on both. ``count_rows`` and ``execute`` also take a plain
``Path`` to a SQLite file, as the security suite uses them.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from kavach_fastapi import AtlassianProvider, OAuthProvider, atlassian_provider, kavach_router
from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser
from kavach_fastapi.testing import emulator_provider, emulator_transport
from kavach_fastapi.testing import sign_in as emulator_sign_in

from ..databases import TestDatabase
from ..support.apps import app_environment as served_app_environment
from ..support.apps import app_with
from ..support.apps import register_callback as served_register_callback
from ..support.browser import AUTHORIZE, CALLBACK, PREFIX
from ..support.servers import uvicorn_workers

# PREFIX, AUTHORIZE and CALLBACK live in tests.support.browser; the tests import them from here.
__all__ = ["AUTHORIZE", "CALLBACK", "PREFIX"]

SECRET = "test-secret-0123456789-0123456789-abcdef"


def database_url(database: Path | TestDatabase) -> str:
    """``KAVACH_DATABASE_URL`` of a test database, or of a SQLite file given as a path."""
    return database.url if isinstance(database, TestDatabase) else f"sqlite:///{database}"


def fake_provider() -> AtlassianProvider:
    """An Atlassian provider at hosts that do not exist, for tests that never sign in."""
    return atlassian_provider(
        "test-client-id",
        "test-client-secret",
        auth_url="https://auth.test",
        api_url="https://api.test",
    )


def emulated_app(
    database: Path | TestDatabase,
    emulator: AtlassianEmulator,
    *,
    providers: Sequence[OAuthProvider] | None = None,
    **options: Any,
) -> FastAPI:
    """An app like a user's (``tests.support.apps``), signing in against ``emulator`` in-process.

    ``providers`` defaults to the emulator's (`emulator_provider`). The emulator is kept on
    ``app.state.emulator`` for :func:`sign_in` and :func:`approve`.
    """
    options.setdefault("secret", SECRET)
    options.setdefault("http_transport", emulator_transport(emulator))
    app = app_with(
        kavach_router(
            providers or [emulator_provider(emulator)],
            database_url=database_url(database),
            **options,
        )
    )
    app.state.emulator = emulator
    return app


def emulator_of(client: TestClient) -> AtlassianEmulator:
    """The emulator an :func:`emulated_app` signs in against."""
    emulator: AtlassianEmulator = client.app.state.emulator  # type: ignore[attr-defined]
    return emulator


def sign_in(
    client: TestClient,
    redirect_to: str | None = None,
    *,
    user: EmulatedUser | None = None,
    provider: str = "atlassian",
) -> Response:
    """A whole successful sign-in through the emulator of an :func:`emulated_app`, as ``user``
    (the emulator's first person by default); the callback's answer."""
    emulator = emulator_of(client)
    return emulator_sign_in(client, emulator, user=user, redirect_to=redirect_to, provider=provider)


def sign_in_at_emulator(client: TestClient, redirect_to: str = "/") -> Response:
    """:func:`sign_in` with ``redirect_to`` (``/`` unless given)."""
    return sign_in(client, redirect_to)


def start_sign_in(client: TestClient, redirect_to: str | None = None) -> str:
    """Call the authorize endpoint; return the consent URL it sends the browser to."""
    params = {"redirect_to": redirect_to} if redirect_to is not None else {}
    response = client.get(AUTHORIZE, params=params)
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def consent_params(response: Response) -> dict[str, str]:
    """The query of the consent URL an authorize answer points at."""
    return query_of(response.headers["location"])


def query_of(url: str) -> dict[str, str]:
    """The query of a URL, one value a name."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def approve(client: TestClient, consent_url: str) -> dict[str, str]:
    """Press Accept on the emulator's consent page; the query (code and state) it sends back."""
    return query_of(asyncio.run(emulator_of(client).approve(consent_url)))


def decline(client: TestClient, consent_url: str) -> Response:
    """Press Decline on the emulator's consent page and come back; the callback's answer."""
    declined = asyncio.run(emulator_of(client).decline(consent_url))
    return client.get(CALLBACK, params=query_of(declined))


def finish_sign_in(client: TestClient, consent_url: str, **params: str) -> Response:
    """Accept at the emulator and come back to the callback, with ``params`` changing the query
    (another ``state``, an ``iss``)."""
    return client.get(CALLBACK, params={**approve(client, consent_url), **params})


@contextmanager
def another_browser(client: TestClient) -> Iterator[TestClient]:
    """A second browser (its own cookie jar) for the app that the started ``client`` runs.

    It shares ``client``'s event loop instead of entering a ``TestClient`` of its own, which
    would run the app's lifespan again in a new loop: an asyncpg pool's connections belong to
    the loop that made them, and every request of one server process runs in one loop.
    """
    other = TestClient(client.app, base_url=str(client.base_url), follow_redirects=False)
    other.portal = client.portal
    try:
        yield other
    finally:
        other.close()


def count_rows(database: Path | TestDatabase, table: str) -> int:
    """Rows in one of the package's tables, read behind the app's back."""
    if isinstance(database, TestDatabase):
        return database.count(table)
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
    return int(count)


def execute(database: Path | TestDatabase, sql: str, *args: Any, **params: Any) -> None:
    """Change the database behind the app's back (to age a session, say).

    A test database takes named parameters (``:at``), with aware datetimes stored as the
    package stores them; a SQLite file given as a path takes ``?`` placeholders and ``args``.
    """
    if isinstance(database, TestDatabase):
        if args:
            raise TypeError("a TestDatabase takes named parameters, not positional ones")
        database.execute(sql, **params)
        return
    if params:
        raise TypeError("a SQLite path takes positional parameters, not named ones")
    with sqlite3.connect(database) as connection:
        connection.execute(sql, args)


@pytest.fixture
def emu(atlassian_emulator: AtlassianEmulator) -> AtlassianEmulator:
    """The test's fresh emulator (the plugin's ``atlassian_emulator``), under a short name."""
    return atlassian_emulator


@pytest.fixture
def client(db: TestDatabase, emu: AtlassianEmulator) -> Iterator[TestClient]:
    """A browser of an :func:`emulated_app` on the test's database, its lifespan run."""
    with TestClient(emulated_app(db, emu), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A PostgreSQL URL whose server accepts the connection and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"postgresql://kavach@127.0.0.1:{listener.getsockname()[1]}/kavach"
    finally:
        listener.close()


# Served instances for the multi-process tests (on the run's PostgreSQL database).

SERVED_FACTORY = "tests.support.apps:create_app"


class Emulated(NamedTuple):
    """The emulator, and where it is served."""

    emu: AtlassianEmulator
    url: str


@pytest.fixture(scope="module")
def atlassian() -> Iterator[Emulated]:
    emu = AtlassianEmulator(auto_consent=True)
    with emu.serve() as url:
        yield Emulated(emu, url)


def app_environment(database_url: str, atlassian: Emulated) -> dict[str, str]:
    """What configures the app in every process: the same database, key and Atlassian."""
    return served_app_environment(database_url, atlassian.emu, atlassian.url, secret=SECRET)


def register_callback(atlassian: Emulated, app_url: str) -> None:
    """Register the app's callback URL, as its developer would in Atlassian's console."""
    served_register_callback(atlassian.emu, app_url)


@pytest.fixture(scope="module")
def two_instances(
    postgres_url: str, atlassian: Emulated, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Instances A and B: one process each, on ports of their own."""
    logs = tmp_path_factory.mktemp("two-instances")
    env = app_environment(postgres_url, atlassian)
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(
                uvicorn_workers(SERVED_FACTORY, workers=1, env=env, log=logs / name)
            )
            for name in ("a.log", "b.log")
        )
        for url in (a, b):
            register_callback(atlassian, url)
        yield a, b
