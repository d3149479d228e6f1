"""The app's own routes do not pay for the kavach router's.

FastAPI (0.137 and later) keeps an included router whole and tries its routes one by one for
every request that reaches it. An app that includes the kavach router first would have every
one of its own routes tried against all of the router's, about 1.5 us each: the router turns a
request away at once when its path cannot be one of its routes (none of them is outside
``/auth/``). Older FastAPI copies an included router's routes into the app, where the router
has no say: there an app's routes pay for the kavach routes before them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from kavach_fastapi import kavach_router
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.router import KavachRoute
from kavach_fastapi.testing import emulator_provider, emulator_transport
from tests.support.apps import PREFIX, app_with

from .conftest import SECRET


@pytest.fixture
def tried(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the router's routes tried against requests, in order."""
    paths: list[str] = []
    original = KavachRoute.matches

    def counting(route: KavachRoute, scope: Scope) -> tuple[Match, Scope]:
        paths.append(route.path)
        return original(route, scope)

    monkeypatch.setattr(KavachRoute, "matches", counting)
    return paths


def app_and_router(tmp_path: Path, *extra_routes: str) -> FastAPI:
    emulator = AtlassianEmulator()
    router = kavach_router(
        [emulator_provider(emulator)],
        database_url=f"sqlite:///{tmp_path}/kavach.db",
        secret=SECRET,
        http_transport=emulator_transport(emulator),
    )
    for path in extra_routes:

        async def extra() -> dict[str, Any]:
            return {"extra": True}

        router.add_api_route(path, extra, methods=["GET"])
    app = app_with(router)

    @app.get("/after")
    async def after() -> dict[str, bool]:
        return {"after": True}

    return app


KEEPS_ROUTERS_WHOLE = tuple(int(part) for part in fastapi.__version__.split(".")[:2]) >= (0, 137)
"""Whether this FastAPI matches an included router as one (0.137 and later)."""


@pytest.mark.skipif(
    not KEEPS_ROUTERS_WHOLE, reason="FastAPI before 0.137 copies a router's routes into the app"
)
def test_a_request_for_an_app_route_tries_none_of_the_routers_routes(
    tmp_path: Path, tried: list[str]
) -> None:
    with TestClient(app_and_router(tmp_path)) as client:
        tried.clear()
        assert client.get("/after").json() == {"after": True}
        assert client.get("/me").status_code == 401
        assert client.get("/nowhere").status_code == 404
    assert tried == []


def test_the_routers_own_requests_are_matched_as_before(tmp_path: Path, tried: list[str]) -> None:
    with TestClient(app_and_router(tmp_path)) as client:
        tried.clear()
        assert client.get(f"{PREFIX}/auth/oauth/providers").status_code == 200
        assert tried, "the router's routes were tried"
        assert client.post(f"{PREFIX}/auth/session").status_code == 405
        assert client.get(f"{PREFIX}/auth/nowhere").status_code == 404


def test_a_route_added_to_the_router_outside_auth_is_still_served(tmp_path: Path) -> None:
    with TestClient(app_and_router(tmp_path, "/extra")) as client:
        assert client.get(f"{PREFIX}/extra").json() == {"extra": True}
        assert client.get("/after").json() == {"after": True}
