"""How a session travels, declared for OpenAPI, so that "Authorize" in ``/docs`` works.

The session token travels in the ``kavach_session`` cookie (``__Host-kavach_session`` over
https) or as ``Authorization: Bearer <session token>``; FastAPI's own security classes describe
the two (`SESSION_COOKIE_SCHEME`, `SESSION_BEARER_SCHEME`).

They are written into the OpenAPI document, not into the dependencies: every sub-dependency
FastAPI solves costs every request that uses it (four levels of security dependencies cost
``CurrentUser`` about half of what a bare route costs in all), and the token is read by
[`active_session`][kavach_fastapi.dependencies.active_session] anyway. A dependency that reads
the session says so with `declares_session`, naming what it answers without one (nothing for
``optional_user``, 401 ``not_signed_in`` for ``current_user``, ``reauth_required`` too for the
Atlassian ones). When the app starts `declare_answers` has its OpenAPI document list, on every
route that uses such a dependency (however deep), the two schemes and those answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPBearer

from ..codes import ErrorCode
from .cookies import SESSION_COOKIE
from .errors import error_responses

SESSION_COOKIE_SCHEME = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="KavachSessionCookie",
    description="The session cookie the sign-in sets (`__Host-kavach_session` over https). "
    "A browser sends it by itself once signed in at `/auth/oauth/authorize/{provider}`.",
    auto_error=False,
)
SESSION_BEARER_SCHEME = HTTPBearer(
    scheme_name="KavachSessionToken",
    description="The session token, for API clients: `Authorization: Bearer <token>`; the "
    "token is the value of the session cookie.",
    auto_error=False,
)
_SCHEMES = (SESSION_COOKIE_SCHEME, SESSION_BEARER_SCHEME)

SIGN_IN_ANSWERS = (ErrorCode.NOT_SIGNED_IN,)
"""What a dependency that needs a session answers without one."""
GRANT_ANSWERS = (
    ErrorCode.NOT_SIGNED_IN,
    ErrorCode.REAUTH_REQUIRED,
    ErrorCode.REFRESH_REFUSED,
    ErrorCode.PROVIDER_UNAVAILABLE,
)
"""What a dependency that also needs the person's provider grant may answer."""

_Dependency = TypeVar("_Dependency", bound=Callable[..., Any])
_DECLARED: WeakKeyDictionary[Callable[..., Any], tuple[ErrorCode, ...]] = WeakKeyDictionary()


def declares_session(*answers: ErrorCode) -> Callable[[_Dependency], _Dependency]:
    """Mark a dependency as one that reads the session, for the OpenAPI document.

    Args:
        *answers: the error codes it answers without a (usable) session; none when the
            session is optional.
    """

    def declare(dependency: _Dependency) -> _Dependency:
        _DECLARED[dependency] = answers
        return dependency

    return declare


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def session_answers(dependant: Dependant) -> tuple[ErrorCode, ...] | None:
    """The error codes a route's session dependencies may answer, in a stable order.

    ``None`` when no dependency of the route reads the session; an empty tuple when they all
    take it as optional.
    """
    declared = [_DECLARED[call] for call in _calls(dependant) if call in _DECLARED]
    if not declared:
        return None
    return tuple(dict.fromkeys(code for answers in declared for code in answers))


def declare_answers(app: FastAPI) -> None:
    """Have the app's OpenAPI document list, on each route, the answers its dependencies declare.

    Wraps ``app.openapi`` (FastAPI's documented way to extend the document), keeping any
    wrapper the app installed; the document is made again, once, on its next request.
    """
    if getattr(app.openapi, "_kavach", False):
        return
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = make()
        _add_answers(app, document)
        app.openapi_schema = document
        return document

    openapi._kavach = True  # type: ignore[attr-defined]
    app.openapi = openapi  # type: ignore[method-assign]
    app.openapi_schema = None


def _add_answers(app: FastAPI, document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.get("schemas", {})
    body = {"$ref": "#/components/schemas/ErrorBody"} if "ErrorBody" in schemas else None
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        codes = session_answers(route.dependant)
        if codes is None:
            continue
        answers = error_responses(*codes)
        for method in route.methods or ():
            operation = document.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            _add_schemes(components, operation, optional=not answers)
            responses = operation.setdefault("responses", {})
            for status, answer in answers.items():
                declared: dict[str, Any] = {"description": answer["description"]}
                if body is not None:
                    declared["content"] = {"application/json": {"schema": body}}
                responses.setdefault(str(status), declared)


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes with their full paths, those of included routers too.

    FastAPI 0.165 keeps an included router as one entry of ``app.routes`` and walks it with
    ``iter_route_contexts`` (each context answers like the route, with the prefix and the
    router's dependencies); before, including copied every route into ``app.routes``.
    """
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in app.routes if walk is None else walk(app.routes):
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


def _add_schemes(components: dict[str, Any], operation: dict[str, Any], *, optional: bool) -> None:
    """Either scheme authorises the operation; ``{}`` (no credentials) too when ``optional``."""
    defined = components.setdefault("securitySchemes", {})
    security = operation.setdefault("security", [])
    for scheme in _SCHEMES:
        defined.setdefault(
            scheme.scheme_name,
            scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        if {scheme.scheme_name: []} not in security:
            security.append({scheme.scheme_name: []})
    if optional and {} not in security:
        security.append({})  # OpenAPI's "or no credentials at all"
