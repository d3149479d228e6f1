"""``kavach_router()``: the endpoints, thin, over the sign-in and session services.

The endpoints are split by concern, each module a factory of an ``APIRouter`` whose endpoints
are closures over the app's [`Kavach`][kavach_fastapi.runtime.Kavach]: signing in
(`.signin_routes`), the session (`.session_routes`), the person's sessions
(`.session_management_routes`), providers and linked accounts
(`.account_routes`), and what a provider brings itself (``OAuthProvider.routes``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import httpx2
from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from ..codes import ErrorCode
from ..dependencies import get_kavach
from ..errors import KavachError
from ..http.errors import PRIVATE_HEADERS, error_response, error_responses
from ..options import KavachOptions, Unpack
from ..providers.base import OAuthProvider
from ..runtime import Kavach, running_in
from ..uncaught import said_in_one_line
from .account_routes import add_account_routes
from .session_management_routes import add_session_management_routes
from .session_routes import add_session_routes
from .signin_routes import add_signin_routes

ROUTES_UNDER = "/auth/"
"""Where every route of the router is, below the prefix it is included with."""


class KavachRoute(APIRoute):
    """The router's edge: one place for its errors and its private headers.

    A [`KavachError`][kavach_fastapi.KavachError] from the endpoint or its dependencies is answered as the JSON error;
    every answer, errors included, is marked private (never cached, no referrer).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                _refuse_repeated_parameters(request)
                response = await handler(request)
            except KavachError as exc:
                kavach = running_in(request.scope["app"])
                response = error_response(exc) if kavach is None else kavach.answer(request, exc)
            response.headers.update(PRIVATE_HEADERS)
            return response

        return handle


def _refuse_repeated_parameters(request: Request) -> None:
    """A parameter given twice is ambiguous (which ``state``? which ``redirect_to``?): refuse."""
    names = [name for name, _ in request.query_params.multi_items()]
    if len(names) != len(set(names)):
        raise KavachError(
            "A query parameter was given more than once.", code=ErrorCode.INVALID_REQUEST
        )


class KavachRouter(APIRouter):
    """The router returned by [`kavach_router()`][kavach_fastapi.kavach_router]; ``.kavach``
    holds its runtime.

    FastAPI (0.137 and later) keeps an included router whole and tries its routes one by one
    for every request that reaches it, about 1.5 us each: an app that includes this router
    before its own routes would have each of them pay for all of the router's. Every path here
    is under `ROUTES_UNDER`, so a request whose path does not contain it is turned away at
    once. (Older FastAPI copies the routes into the app, where this router has no say: there,
    include it after the app's own routes.)
    """

    kavach: Kavach
    _all_under = False
    _routes_checked = -1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """What FastAPI's matching answers; ``NONE`` at once for a path no route here can have.

        ``scope["path"]`` ends with the path the routes are matched against (a ``root_path``
        only comes before it), so a path without `ROUTES_UNDER` matches none of them.
        """
        if ROUTES_UNDER not in scope["path"] and self._all_under_routes_under():
            return Match.NONE, {}
        return super().matches(scope)

    def _all_under_routes_under(self) -> bool:
        """Whether every route is under `ROUTES_UNDER` (asked again when routes are added)."""
        if len(self.routes) != self._routes_checked:
            self._all_under = all(
                getattr(route, "path", "").startswith(ROUTES_UNDER) for route in self.routes
            )
            self._routes_checked = len(self.routes)
        return self._all_under


AddRoutes = Callable[[APIRouter, Kavach], None]


@said_in_one_line
def kavach_router(
    providers: Sequence[OAuthProvider],
    *,
    http_transport: httpx2.AsyncBaseTransport | None = None,
    **options: Unpack[KavachOptions],
) -> KavachRouter:
    """Build the sign-in router. Include it once: ``app.include_router(router, prefix=...)``.

    Every option is a setting: ``kavach_router(providers, rate_limit=10)`` is
    ``KAVACH_RATE_LIMIT=10``, and an option not given falls back to its ``KAVACH_*`` variable.
    Each is described, with its default, in the configuration reference
    ([`KavachSettings`][kavach_fastapi.KavachSettings]).

    Args:
        providers: the sign-in providers, e.g. ``[atlassian_provider()]``.
        http_transport: an ``httpx2`` transport for provider calls (tests: the emulator).
        **options: any field of [`KavachSettings`][kavach_fastapi.KavachSettings], by name, and
            ``hooks=`` [`KavachHooks`][kavach_fastapi.KavachHooks].

    Raises:
        ConfigurationError: a setting is missing or invalid; the message names it and the fix.
    """
    kavach = Kavach.from_options(providers, http_transport=http_transport, **options)
    router = KavachRouter(
        lifespan=kavach.lifespan,
        route_class=KavachRoute,
        tags=["auth"],
        # The lifespan is the only start: an app that did not run it is told so, not served.
        dependencies=[Depends(get_kavach)],
        responses=error_responses(ErrorCode.INVALID_REQUEST, ErrorCode.DATABASE_UNAVAILABLE),
    )
    router.kavach = kavach
    concerns: list[AddRoutes] = [
        add_signin_routes,
        add_session_routes,
        add_session_management_routes,
        add_account_routes,
    ]
    concerns += [_load(provider.routes) for provider in providers if provider.routes]
    for add_routes in concerns:
        add_routes(router, kavach)
    return router


def _load(name: str) -> AddRoutes:
    """The function a provider names as ``"package.module:function"``."""
    module, _, function = name.partition(":")
    add_routes: AddRoutes = getattr(importlib.import_module(module), function)
    return add_routes
