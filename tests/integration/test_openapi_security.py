"""OpenAPI that Swagger can use: the session's two ways in, and the 401 a route may answer.

Routes behind ``CurrentUser`` (and the Atlassian dependencies, and the router's own signed-in
routes) declare the session cookie and the bearer token as security schemes and list their 401;
so "Authorize" in ``/docs`` sends the session token, as ``Authorization: Bearer``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import (
    AtlassianSite,
    AtlassianSites,
    CurrentUser,
    OptionalUser,
    User,
    kavach_router,
)
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.providers.atlassian import AtlassianProvider
from kavach_fastapi.testing import sign_in

from ..databases import TestDatabase
from .conftest import PREFIX, SECRET, another_browser, database_url

SCHEMES: list[dict[str, list[str]]] = [{"KavachSessionCookie": []}, {"KavachSessionToken": []}]


@pytest.fixture
def app(
    db: TestDatabase,
    kavach_emulator_provider: AtlassianProvider,
    atlassian_emulator_transport: httpx2.AsyncBaseTransport,
) -> FastAPI:
    app = FastAPI()
    router = kavach_router(
        [kavach_emulator_provider],
        database_url=database_url(db),
        secret=SECRET,
        http_transport=atlassian_emulator_transport,
    )
    app.include_router(router, prefix=PREFIX)

    @app.get("/me")
    async def me(user: CurrentUser) -> User:
        return user

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, str | None]:
        return {"user_id": user.id if user else None}

    @app.get("/sites")
    async def sites(sites: AtlassianSites) -> list[AtlassianSite]:
        return sites

    async def an_admin(user: CurrentUser) -> User:
        """An app's own dependency built on CurrentUser."""
        return user

    @app.get("/admin", dependencies=[Depends(an_admin)])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @app.get("/public")
    async def public() -> dict[str, bool]:
        return {"public": True}

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def schema(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def operation(schema: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    found: dict[str, Any] = schema["paths"][path][method]
    return found


def test_the_session_cookie_and_the_bearer_token_are_security_schemes(
    schema: dict[str, Any],
) -> None:
    schemes = schema["components"]["securitySchemes"]

    assert schemes["KavachSessionCookie"]["type"] == "apiKey"
    assert schemes["KavachSessionCookie"]["in"] == "cookie"
    assert schemes["KavachSessionCookie"]["name"] == "kavach_session"
    assert schemes["KavachSessionToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["KavachSessionToken"]["description"],
    }


@pytest.mark.parametrize(
    ("path", "named"),
    [
        pytest.param("/me", "`not_signed_in`", id="current-user"),
        pytest.param("/admin", "`not_signed_in`", id="an-apps-dependency-on-current-user"),
        pytest.param("/sites", "`not_signed_in`, `reauth_required`", id="atlassian-dependencies"),
    ],
)
def test_a_route_behind_a_signed_in_dependency_declares_both_schemes_and_its_401(
    schema: dict[str, Any], path: str, named: str
) -> None:
    found = operation(schema, path)

    assert found["security"] == SCHEMES
    assert named in found["responses"]["401"]["description"]
    assert found["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


def test_a_route_behind_the_atlassian_dependencies_declares_provider_unavailable_too(
    schema: dict[str, Any],
) -> None:
    sites = operation(schema, "/sites")

    assert "`provider_unavailable`" in sites["responses"]["503"]["description"]


def test_a_route_behind_optional_user_declares_the_schemes_as_optional_and_no_401(
    schema: dict[str, Any],
) -> None:
    maybe = operation(schema, "/maybe")

    assert maybe["security"] == [*SCHEMES, {}]
    assert "401" not in maybe["responses"]


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/auth/session", "get"),
        ("/auth/oauth/accounts", "get"),
        ("/auth/oauth/accounts/{provider}", "delete"),
        ("/auth/oauth/atlassian/sites", "get"),
    ],
)
def test_the_routers_signed_in_routes_declare_both_schemes_and_their_401(
    schema: dict[str, Any], path: str, method: str
) -> None:
    found = operation(schema, f"{PREFIX}{path}", method)

    assert found["security"] == SCHEMES
    assert "`not_signed_in`" in found["responses"]["401"]["description"]


@pytest.mark.parametrize("path", ["/public", f"{PREFIX}/auth/oauth/providers"])
def test_a_route_that_reads_no_session_declares_no_security(
    schema: dict[str, Any], path: str
) -> None:
    assert "security" not in operation(schema, path)
    assert "401" not in operation(schema, path)["responses"]


def test_swaggers_authorize_with_a_bearer_session_token_signs_the_request_in(
    client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(client, atlassian_emulator)
    token = client.cookies["kavach_session"]
    # What Swagger UI sends once "Authorize" holds the token for the bearer scheme.
    with another_browser(client) as swagger:
        answer = swagger.get("/me", headers={"Authorization": f"Bearer {token}"})
        without = swagger.get("/me")

    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "Ada Lovelace"
    assert without.status_code == 401


def test_the_document_is_the_same_on_every_request(client: TestClient) -> None:
    assert client.get("/openapi.json").json() == client.get("/openapi.json").json()
