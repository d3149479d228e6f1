"""How a session travels, declared for OpenAPI, so that "Authorize" in ``/docs`` works.

The session token travels in the ``kavach_session`` cookie (``__Host-kavach_session`` over
https) or as ``Authorization: Bearer <session token>``. The dependencies declare both as
security schemes with FastAPI's own classes, without letting them answer anything
(``auto_error=False``): [`active_session`][kavach_fastapi.dependencies.active_session] still
reads the token, the same way for every route.

A dependency that answers 401 without a session says so with `SignInRequired` (or
`GrantRequired`, which may also ask for a new consent). FastAPI lets only routes, not
dependencies, declare responses, so when the app starts `declare_answers` has its OpenAPI
document list those answers on every route that uses one (the app's own ``/me`` included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

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


async def session_credentials(
    _cookie: Annotated[str | None, Security(SESSION_COOKIE_SCHEME)],
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(SESSION_BEARER_SCHEME)],
) -> None:
    """Declares where a session may travel; reading it is `active_session`'s job."""


async def sign_in_required(_credentials: Annotated[None, Depends(session_credentials)]) -> None:
    """Marks a dependency that answers 401 ``not_signed_in`` without a session."""


async def grant_required(_credentials: Annotated[None, Depends(session_credentials)]) -> None:
    """Marks a dependency that also needs the person's provider grant (401 ``reauth_required``)."""


SessionCredentials = Annotated[None, Depends(session_credentials)]
SignInRequired = Annotated[None, Depends(sign_in_required)]
GrantRequired = Annotated[None, Depends(grant_required)]

_ANSWERS: dict[Callable[..., Any], tuple[ErrorCode, ...]] = {
    sign_in_required: (ErrorCode.NOT_SIGNED_IN,),
    grant_required: (
        ErrorCode.NOT_SIGNED_IN,
        ErrorCode.REAUTH_REQUIRED,
        ErrorCode.PROVIDER_UNAVAILABLE,
    ),
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def answers_of(dependant: Dependant) -> tuple[ErrorCode, ...]:
    """The error codes a route's dependencies declare they may answer, in a stable order."""
    found = {code: None for call in _calls(dependant) for code in _ANSWERS.get(call, ())}
    return tuple(found)


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
    schemas = document.get("components", {}).get("schemas", {})
    body = {"$ref": "#/components/schemas/ErrorBody"} if "ErrorBody" in schemas else None
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        answers = error_responses(*answers_of(route.dependant))
        optional = not answers and session_credentials in set(_calls(route.dependant))
        for method in route.methods or ():
            operation = document.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            if optional and {} not in operation.setdefault("security", []):
                operation["security"].append({})  # OpenAPI's "or no credentials at all"
            responses = operation.setdefault("responses", {})
            for status, answer in answers.items():
                declared: dict[str, Any] = {"description": answer["description"]}
                if body is not None:
                    declared["content"] = {"application/json": {"schema": body}}
                responses.setdefault(str(status), declared)
