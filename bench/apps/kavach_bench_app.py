"""The app the benchmarks load: the kavach router, a bare route and a route behind CurrentUser.

Configured by the environment only (``KAVACH_*`` and ``ATLASSIAN_*``), so that every uvicorn
worker builds the same app::

    python -m uvicorn kavach_bench_app:create_app --factory --app-dir bench/apps --workers 2

``/bare``, ``/dep`` and ``/me`` answer JSON of the same shape and size, so the only difference
between them is the dependency: none; one of ``CurrentUser``'s shape (an ``Annotated[User,
Depends(...)]`` parameter) that returns a fixed user without reading anything, FastAPI's own
cost of handing a route its user; and ``CurrentUser``. When the bench extra is installed the app also serves
two peers the same way: ``/sc/me``, a Starlette app behind ``SessionMiddleware`` (a signed
cookie), and ``/fu/me``, fastapi-users' ``current_user`` with its database strategy on the same
database (tables ``bench_fu_users`` and ``bench_fu_tokens``, made by ``bench/peers.py``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from kavach_fastapi import CurrentUser, User, atlassian_provider, kavach_router


class FuBase(DeclarativeBase):
    """The peer's own metadata (the tables are made by ``bench/peers.py``)."""


class FuUser(FuBase):
    """fastapi-users' user: ``SQLAlchemyBaseUserTable`` with an integer id."""

    __tablename__ = "bench_fu_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    hashed_password: Mapped[str] = mapped_column(String(1024))
    is_active: Mapped[bool] = mapped_column(Boolean)
    is_superuser: Mapped[bool] = mapped_column(Boolean)
    is_verified: Mapped[bool] = mapped_column(Boolean)


class FuToken(FuBase):
    """fastapi-users' access token: ``SQLAlchemyBaseAccessTokenTable``."""

    __tablename__ = "bench_fu_tokens"

    token: Mapped[str] = mapped_column(String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("bench_fu_users.id", ondelete="cascade"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False), index=True)


NOBODY = User(
    id="0" * 32,
    email=None,
    email_verified=False,
    name="Nobody in particular",
    image=None,
    created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
)


async def fixed_user(request: Request) -> User:
    """``CurrentUser``'s shape doing nothing: what FastAPI alone costs to hand a route its user.

    At module level, as ``Annotated[User, Depends(fixed_user)]`` is resolved in this module's
    namespace (the annotations are strings here).
    """
    return NOBODY


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

    @app.get("/dep")
    async def dep(user: Annotated[User, Depends(fixed_user)]) -> dict[str, str | None]:
        return {"id": user.id, "name": user.name, "email": user.email, "pid": pid}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str | None]:
        return {"id": user.id, "name": user.name, "email": user.email, "pid": pid}

    @app.get("/stats")
    async def stats(request: Request) -> dict[str, str | int]:
        """How many sessions this worker remembers (the benchmark warms up until all)."""
        memory = request.app.state.kavach.sessions.memory
        return {
            "pid": pid,
            "remembered": len(memory),
            # -1 until the worker has read the feed once
            "feed_age_ms": -1
            if memory._known_at == float("-inf")
            else round((memory.clock() - memory._known_at) * 1000),
            "epoch": memory.epoch,
        }

    @app.post("/warm")
    async def warm(request: Request) -> dict[str, str | int]:
        """Check each session of the body (a JSON list of tokens) in this worker, as its
        requests would have over a while; the benchmark calls it until every worker has."""
        tokens: list[str] = await request.json()
        sessions = request.app.state.kavach.sessions
        found = sum([await sessions.authenticate(token) is not None for token in tokens])
        return {"pid": pid, "found": found, "remembered": len(sessions.memory)}

    @app.post("/first")
    async def first(request: Request) -> dict[str, str]:
        """`put_route_first` for the body's path, in this worker."""
        path: str = (await request.json())["path"]
        put_route_first(app, path)
        return {"pid": pid, "first": path}

    @app.get("/done")
    async def done() -> dict[str, str]:
        return {"landed": "done", "pid": pid}

    try:
        app.mount("/sc", _signed_cookie_app(pid))
        _add_fastapi_users(app, pid)
    except ImportError:
        pass  # the bench extra is not installed: the benchmark says so and skips the peers
    return app


def put_route_first(app: FastAPI, path: str) -> None:
    """Move the route that serves ``path`` (or the mount it is under) to the front of the
    app's routes.

    Starlette tries an app's routes in turn, and each one passed costs a request about a
    microsecond; the benchmarks put the route they load first, so that no route pays for its
    place in this file.
    """
    routes = app.router.routes
    serving = [r for r in routes if path == getattr(r, "path", None)] or [
        r for r in routes if path.startswith(f"{getattr(r, 'path', None)}/")
    ]
    routes.remove(serving[0])
    routes.insert(0, serving[0])


def _signed_cookie_app(pid: str) -> Starlette:
    """A Starlette app whose user travels in a signed cookie (``SessionMiddleware``)."""
    from starlette.middleware import Middleware  # noqa: PLC0415
    from starlette.middleware.sessions import SessionMiddleware  # noqa: PLC0415

    async def me(request: Request) -> JSONResponse:
        user = request.session.get("user")
        if user is None:
            return JSONResponse({"detail": "Unauthorized"}, status_code=401)
        return JSONResponse(
            {"id": user["id"], "name": user["name"], "email": user["email"], "pid": pid}
        )

    secret = os.environ["KAVACH_SECRET"]
    return Starlette(
        routes=[Route("/me", me)],
        middleware=[Middleware(SessionMiddleware, secret_key=secret, https_only=False)],
    )


def _add_fastapi_users(app: FastAPI, pid: str) -> None:
    """``/fu/me``: fastapi-users' ``current_user`` with its database strategy."""
    from fastapi_users import BaseUserManager, FastAPIUsers, IntegerIDMixin  # noqa: PLC0415
    from fastapi_users.authentication import (  # noqa: PLC0415
        AuthenticationBackend,
        BearerTransport,
    )
    from fastapi_users.authentication.strategy.db import DatabaseStrategy  # noqa: PLC0415
    from fastapi_users.db import BaseUserDatabase  # noqa: PLC0415
    from sqlalchemy import select  # noqa: PLC0415
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine  # noqa: PLC0415

    from kavach_fastapi.database_urls import async_database_url  # noqa: PLC0415

    engine = create_async_engine(async_database_url(os.environ["KAVACH_DATABASE_URL"]))

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            yield session

    class UserDatabase(BaseUserDatabase[FuUser, int]):  # type: ignore[type-var]
        """What fastapi-users' SQLAlchemy adapter does for a read: one ``session.get``."""

        def __init__(self, session: AsyncSession) -> None:
            self.session = session

        async def get(self, id: int) -> FuUser | None:
            return await self.session.get(FuUser, id)

    class TokenDatabase:
        """fastapi-users' access-token adapter, read side: the token row, not too old."""

        def __init__(self, session: AsyncSession) -> None:
            self.session = session

        async def get_by_token(self, token: str, max_age: datetime | None = None) -> FuToken | None:
            statement = select(FuToken).where(FuToken.token == token)
            if max_age is not None:
                statement = statement.where(
                    FuToken.created_at >= max_age.astimezone(timezone.utc).replace(tzinfo=None)
                )
            return (await self.session.execute(statement)).unique().scalar_one_or_none()

        async def create(self, create_dict: dict[str, Any]) -> FuToken:
            raise NotImplementedError

        async def update(self, access_token: FuToken, update_dict: dict[str, Any]) -> FuToken:
            raise NotImplementedError

        async def delete(self, access_token: FuToken) -> None:
            raise NotImplementedError

    class UserManager(IntegerIDMixin, BaseUserManager[FuUser, int]):  # type: ignore[type-var]
        reset_password_token_secret = os.environ["KAVACH_SECRET"]
        verification_token_secret = os.environ["KAVACH_SECRET"]

    async def get_user_db(session: AsyncSession = Depends(get_session)) -> AsyncIterator[Any]:  # noqa: B008
        yield UserDatabase(session)

    async def get_manager(user_db: Any = Depends(get_user_db)) -> AsyncIterator[Any]:  # noqa: B008
        yield UserManager(user_db)

    async def get_token_db(session: AsyncSession = Depends(get_session)) -> AsyncIterator[Any]:  # noqa: B008
        yield TokenDatabase(session)

    def get_strategy(token_db: Any = Depends(get_token_db)) -> DatabaseStrategy[Any, Any, Any]:  # noqa: B008
        return DatabaseStrategy(token_db, lifetime_seconds=int(timedelta(days=7).total_seconds()))

    backend = AuthenticationBackend(
        name="db", transport=BearerTransport(tokenUrl="/fu/login"), get_strategy=get_strategy
    )
    users = FastAPIUsers[FuUser, int](get_manager, [backend])  # type: ignore[type-var]
    current_active_user = users.current_user(active=True)

    @app.get("/fu/me")
    async def fu_me(user: FuUser = Depends(current_active_user)) -> dict[str, str | None]:  # noqa: B008
        return {"id": str(user.id), "name": None, "email": user.email, "pid": pid}
