"""A small app for running under ``uvicorn --workers N --factory``, configured by the environment.

``KAVACH_DATABASE_URL`` and ``KAVACH_SECRET`` configure the router; ``ATLASSIAN_CLIENT_ID``,
``ATLASSIAN_CLIENT_SECRET``, ``ATLASSIAN_AUTH_URL`` and ``ATLASSIAN_API_URL`` point it at an
emulator served on a loopback socket. Every worker process builds its own app::

    python -m uvicorn tests.integration.worker_app:create_app --factory --workers 4 --port 8123

Every answer names the process that served it in the ``X-Worker-Pid`` header, so a test can
tell which worker or instance handled each step of a sign-in.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from kavach_fastapi import AtlassianToken, CurrentUser, atlassian_provider, kavach_router

PREFIX = "/api/kavach"
PID_HEADER = "X-Worker-Pid"


def create_app() -> FastAPI:
    """The app: the router, plus routes that need a session, an Atlassian token, or nothing."""
    app = FastAPI()
    app.include_router(
        kavach_router([atlassian_provider(scopes=["read:jira-user"])]), prefix=PREFIX
    )

    @app.middleware("http")
    async def name_the_process(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers[PID_HEADER] = str(os.getpid())
        return response

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str | int | None]:
        return {"id": user.id, "name": user.name, "pid": os.getpid()}

    @app.get("/token")
    async def token(access_token: AtlassianToken) -> dict[str, str | int]:
        return {"token": access_token, "pid": os.getpid()}

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app
