"""An app with the router at ``/api/kavach``, Atlassian faked at the transport, and helpers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from kavach_fastapi import CurrentUser, OptionalUser, User, atlassian_provider, kavach_router

from .fake_atlassian import CLIENT_SECRET, FakeAtlassian

PREFIX = "/api/kavach"
AUTHORIZE = f"{PREFIX}/auth/oauth/authorize/atlassian"
CALLBACK = f"{PREFIX}/auth/oauth/callback/atlassian"
SECRET = "test-secret-0123456789-0123456789-abcdef"


def build_app(database: Path, fake: FakeAtlassian, **options: Any) -> FastAPI:
    """An app like a user's: the router, plus routes that use the dependencies."""
    provider = atlassian_provider(
        "test-client-id", CLIENT_SECRET, auth_url="https://auth.test", api_url="https://api.test"
    )
    options.setdefault("secret", SECRET)
    app = FastAPI()
    app.include_router(
        kavach_router(
            [provider],
            database_url=f"sqlite:///{database}",
            http_transport=fake.transport(),
            **options,
        ),
        prefix=PREFIX,
    )

    @app.get("/me")
    async def me(user: CurrentUser) -> User:
        return user

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, str | None]:
        return {"user_id": user.id if user else None}

    return app


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


def count_rows(database: Path, table: str) -> int:
    """Rows in one of the package's tables, read straight from the file."""
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
    return int(count)


def execute(database: Path, sql: str, *args: Any) -> None:
    """Change the database behind the app's back (to age a session, say)."""
    with sqlite3.connect(database) as connection:
        connection.execute(sql, args)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "kavach.db"


@pytest.fixture
def fake() -> FakeAtlassian:
    return FakeAtlassian()


@pytest.fixture
def app(database: Path, fake: FakeAtlassian) -> FastAPI:
    return build_app(database, fake)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client
