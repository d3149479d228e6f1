"""The app the benchmarks load: the kavach router, a bare route and a route behind CurrentUser.

Configured by the environment only (``KAVACH_*`` and ``ATLASSIAN_*``), so that every uvicorn
worker builds the same app::

    python -m uvicorn kavach_bench_app:create_app --factory --app-dir bench/apps --workers 2

``/bare`` and ``/me`` answer JSON of the same shape and size, so the only difference between
them is the ``CurrentUser`` dependency.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from kavach_fastapi import CurrentUser, atlassian_provider, kavach_router

PREFIX = "/api/kavach"
"""Where the router is mounted; the callback URL is ``{base}{PREFIX}/auth/oauth/callback/atlassian``."""


def create_app() -> FastAPI:
    """Build the benchmark app (one per worker process)."""
    app = FastAPI()
    app.include_router(
        kavach_router([atlassian_provider(scopes=["read:jira-user"])]), prefix=PREFIX
    )
    pid = str(os.getpid())

    @app.get("/bare")
    async def bare() -> dict[str, str | None]:
        return {"id": "0" * 32, "name": "Nobody in particular", "email": None, "pid": pid}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str | None]:
        return {"id": user.id, "name": user.name, "email": user.email, "pid": pid}

    @app.get("/done")
    async def done() -> dict[str, str]:
        return {"landed": "done", "pid": pid}

    return app
