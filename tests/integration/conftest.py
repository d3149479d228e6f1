"""An app with the router at ``/api/kavach``, Atlassian faked at the transport, and helpers.

The app's database is the ``db`` fixture (a SQLite file, then the run's PostgreSQL database), so
every test that uses ``app`` or ``client`` runs on both. ``build_app``, ``count_rows`` and
``execute`` also take a plain ``Path`` to a SQLite file, as the security suite uses them.
"""

from __future__ import annotations

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

from kavach_fastapi import (
    AtlassianProvider,
    OAuthProvider,
    atlassian_provider,
    kavach_router,
)
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import emulator_provider, emulator_transport
from kavach_fastapi.testing import sign_in as emulator_sign_in

from ..databases import TestDatabase
from ..support.apps import app_environment as served_app_environment
from ..support.apps import app_with
from ..support.apps import register_callback as served_register_callback
from ..support.browser import AUTHORIZE, CALLBACK, PREFIX
from ..support.servers import uvicorn_workers
from .fake_atlassian import CLIENT_SECRET, FakeAtlassian

# PREFIX, AUTHORIZE and CALLBACK live in tests.support.browser; the tests import them from here.
__all__ = ["AUTHORIZE", "CALLBACK", "PREFIX"]

SECRET = "test-secret-0123456789-0123456789-abcdef"


def database_url(database: Path | TestDatabase) -> str:
    """``KAVACH_DATABASE_URL`` of a test database, or of a SQLite file given as a path."""
    return database.url if isinstance(database, TestDatabase) else f"sqlite:///{database}"


def fake_provider() -> AtlassianProvider:
    """The Atlassian provider of the test app, talking to :class:`FakeAtlassian`."""
    return atlassian_provider(
        "test-client-id", CLIENT_SECRET, auth_url="https://auth.test", api_url="https://api.test"
    )


def build_app(
    database: Path | TestDatabase,
    fake: FakeAtlassian,
    *,
    providers: Sequence[OAuthProvider] | None = None,
    **options: Any,
) -> FastAPI:
    """An app like a user's (``tests.support.apps``): the router, plus the user routes.

    ``providers`` defaults to :func:`fake_provider` alone.
    """
    options.setdefault("secret", SECRET)
    return app_with(
        kavach_router(
            providers or [fake_provider()],
            database_url=database_url(database),
            http_transport=fake.transport(),
            **options,
        )
    )


def emulated_app(
    database: Path | TestDatabase, emulator: AtlassianEmulator, **options: Any
) -> FastAPI:
    """The same app, signing in against ``emulator`` in-process instead of `FakeAtlassian`.

    The emulator is kept on ``app.state.emulator`` for :func:`sign_in_at_emulator`.
    """
    options.setdefault("secret", SECRET)
    app = app_with(
        kavach_router(
            [emulator_provider(emulator)],
            database_url=database_url(database),
            http_transport=emulator_transport(emulator),
            **options,
        )
    )
    app.state.emulator = emulator
    return app


def sign_in_at_emulator(client: TestClient, redirect_to: str = "/") -> Response:
    """A whole sign-in through the emulator of an :func:`emulated_app`; the callback's answer."""
    emulator: AtlassianEmulator = client.app.state.emulator  # type: ignore[attr-defined]
    return emulator_sign_in(client, emulator, redirect_to=redirect_to)


def start_sign_in(client: TestClient, redirect_to: str | None = None) -> str:
    """Call the authorize endpoint; return the state from the consent URL."""
    params = {"redirect_to": redirect_to} if redirect_to is not None else {}
    response = client.get(AUTHORIZE, params=params)
    assert response.status_code == 302, response.text
    return consent_params(response)["state"]


def consent_params(response: Response) -> dict[str, str]:
    """The query of the consent URL an authorize answer points at."""
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {key: values[0] for key, values in query.items()}


def finish_sign_in(client: TestClient, state: str, **params: str) -> Response:
    """Come back from the consent page with a code (or what ``params`` say)."""
    query = {"state": state, "code": "authorization-code-1", **params}
    return client.get(CALLBACK, params=query)


def sign_in(client: TestClient, redirect_to: str | None = None) -> Response:
    """A whole successful sign-in; returns the callback's answer."""
    response = finish_sign_in(client, start_sign_in(client, redirect_to))
    assert response.status_code == 303, response.text
    return response


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
def fake() -> FakeAtlassian:
    return FakeAtlassian()


@pytest.fixture
def emu() -> AtlassianEmulator:
    """The emulator an :func:`emulated_app` signs in against."""
    return AtlassianEmulator()


@pytest.fixture
def app(db: TestDatabase, fake: FakeAtlassian) -> FastAPI:
    return build_app(db, fake)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
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
