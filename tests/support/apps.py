"""The app under test, built like a user's: the router at ``/api/kavach`` and the user routes.

The user routes are written once, here (`USER_ROUTES`): ``/me`` (`CurrentUser`), ``/maybe``
(`OptionalUser`), ``/token`` (`AtlassianToken`), ``/sites`` (`AtlassianSites`) and
``/jira/{cloud_id}/myself`` (`AtlassianAPI`).

``build_app`` makes one in-process; ``create_app`` is the factory a served app runs (configured
by ``KAVACH_*``/``ATLASSIAN_*`` from ``app_environment``), every answer naming its process.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from kavach_fastapi import (
    AtlassianAPI,
    AtlassianSite,
    AtlassianSites,
    AtlassianToken,
    CurrentUser,
    OAuthProvider,
    OptionalUser,
    User,
    atlassian_provider,
    kavach_router,
)
from kavach_fastapi.emulator import AtlassianEmulator

from .browser import CALLBACK, PREFIX

__all__ = [
    "PID_HEADER",
    "PREFIX",
    "USER_ROUTES",
    "add_user_routes",
    "app_environment",
    "app_with",
    "build_app",
    "create_app",
    "register_callback",
]

PID_HEADER = "X-Worker-Pid"


async def me(user: CurrentUser) -> User:
    """``GET /me``: the signed-in person, ``401`` otherwise."""
    return user


async def maybe(user: OptionalUser) -> dict[str, str | None]:
    """``GET /maybe``: who is signed in, if anyone."""
    return {"user_id": user.id if user else None}


async def token(access_token: AtlassianToken) -> dict[str, str | int]:
    """``GET /token``: the Atlassian access token, and which process answered."""
    return {"token": access_token, "pid": os.getpid()}


async def sites(found: AtlassianSites) -> list[AtlassianSite]:
    """``GET /sites``: the person's Atlassian sites."""
    return found


async def jira_myself(cloud_id: str, atlassian: AtlassianAPI) -> JSONResponse:
    """``GET /jira/{cloud_id}/myself``: a product-API call, its answer passed on as it came."""
    answer = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
    return JSONResponse(answer.json(), status_code=answer.status_code)


USER_ROUTES: tuple[tuple[str, Callable[..., Awaitable[Any]]], ...] = (
    ("/me", me),
    ("/maybe", maybe),
    ("/token", token),
    ("/sites", sites),
    ("/jira/{cloud_id}/myself", jira_myself),
)
"""The routes a user's app would have, each using one of the package's dependencies."""


def add_user_routes(app: FastAPI) -> FastAPI:
    """Add `USER_ROUTES` to ``app``."""
    for path, endpoint in USER_ROUTES:
        app.add_api_route(path, endpoint, methods=["GET"])
    return app


def build_app(providers: Sequence[OAuthProvider], **options: Any) -> FastAPI:
    """The router (``kavach_router(providers, **options)``) at ``PREFIX``, and the user routes."""
    return app_with(kavach_router(providers, **options))


def app_with(router: APIRouter) -> FastAPI:
    """An app with ``router`` at ``PREFIX`` and the user routes."""
    app = FastAPI()
    app.include_router(router, prefix=PREFIX)
    return add_user_routes(app)


def create_app() -> FastAPI:
    """A served app (one per worker), configured by the environment; ``GET /pid`` answers who.

    Run as ``python -m uvicorn tests.support.apps:create_app --factory --workers 4``; every
    answer names the process that served it in the ``X-Worker-Pid`` header, so a test can tell
    which worker or instance handled each step of a sign-in.
    """
    app = build_app([atlassian_provider(scopes=["read:jira-user"])])

    @app.middleware("http")
    async def name_the_process(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers[PID_HEADER] = str(os.getpid())
        return response

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app


def app_environment(
    database_url: str, emulator: AtlassianEmulator, emulator_url: str, *, secret: str
) -> dict[str, str]:
    """What configures ``create_app`` in every process: the database, the key and Atlassian.

    The rate limit is off: a test or benchmark signs in often from one address.
    """
    client = emulator.default_client
    return {
        "KAVACH_DATABASE_URL": database_url,
        "KAVACH_SECRET": secret,
        "KAVACH_RATE_LIMIT": "0",
        "ATLASSIAN_CLIENT_ID": client.client_id,
        "ATLASSIAN_CLIENT_SECRET": client.client_secret,
        "ATLASSIAN_AUTH_URL": emulator_url,
        "ATLASSIAN_API_URL": emulator_url,
    }


def register_callback(emulator: AtlassianEmulator, app_url: str) -> None:
    """Register the callback of the app at ``app_url`` (its origin), as a developer would."""
    emulator.default_client.redirect_uris.append(f"{app_url}{CALLBACK}")
