"""A small app for running under ``uvicorn --workers N --factory``, configured by the environment.

``KAVACH_DATABASE_URL`` and ``KAVACH_SECRET`` configure the router; ``ATLASSIAN_CLIENT_ID``,
``ATLASSIAN_CLIENT_SECRET``, ``ATLASSIAN_AUTH_URL`` and ``ATLASSIAN_API_URL`` point it at an
emulator served on a loopback socket. Every worker process builds its own app::

    python -m uvicorn tests.integration.worker_app:create_app --factory --workers 4 --port 8123
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from kavach_fastapi import AtlassianToken, atlassian_provider, kavach_router

PREFIX = "/api/kavach"


def create_app() -> FastAPI:
    """The app: the router, plus a route that needs an Atlassian token and one that needs none."""
    app = FastAPI()
    app.include_router(
        kavach_router([atlassian_provider(scopes=["read:jira-user"])]), prefix=PREFIX
    )

    @app.get("/token")
    async def token(access_token: AtlassianToken) -> dict[str, str | int]:
        return {"token": access_token, "pid": os.getpid()}

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app
