"""Dependencies for any route of an app that includes [`kavach_router`][kavach_fastapi.kavach_router].

Use the ``Annotated`` aliases in signatures:

    @app.get("/me")
    async def me(user: CurrentUser) -> User: ...

``current_user`` answers 401 with the package's JSON error when nobody is signed in;
``optional_user`` gives ``None`` instead. A route behind either lists the session cookie and
the bearer token as OpenAPI security schemes (`kavach_fastapi.http.security`), so "Authorize"
in ``/docs`` works, and a route behind ``current_user`` lists its 401 answer. The dependencies that call a provider as that person
live beside the provider (`kavach_fastapi.atlassian.dependencies`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from .errors import ConfigurationError, NotSignedInError
from .http.cookies import session_token
from .http.security import SIGN_IN_ANSWERS, declares_session
from .models import User
from .runtime import Kavach, running_in
from .sessions import ActiveSession

_ACTIVE_SESSION = "kavach_active_session"

_NOT_STARTED = (
    "No kavach_router() is active in this app: include it with "
    "app.include_router(kavach_router(...)) and run the app with its lifespan "
    "(uvicorn does; in tests use `with TestClient(app)`)."
)


class _NotStartedError(ConfigurationError, HTTPException):  # type: ignore[override]
    """The app's lifespan has not run, so the package's error handler is not registered yet.

    The router's own routes answer it as every ``KavachError`` (``500 not_configured``). In
    the app's routes nothing of the package is installed, so it is also an ``HTTPException``,
    which FastAPI answers as JSON by itself (``{"detail": <the message>}``), rather than
    Starlette's plain-text 500 and a traceback in the log.
    """

    def __init__(self) -> None:
        # Neither base's __init__: each would hand the other its arguments (cooperative
        # super() calls), and status_code is KavachError's read-only property, the code's.
        Exception.__init__(self, _NOT_STARTED)
        self.message = self.detail = _NOT_STARTED
        self.retry_after = self.code.retry_after
        self.headers = None


def get_kavach(request: Request) -> Kavach:
    """The app's [`Kavach`][kavach_fastapi.runtime.Kavach], registered by the router's lifespan.

    Raises:
        ConfigurationError: the app never included ``kavach_router()``, or was started without
            running its lifespan.
    """
    kavach = running_in(request.scope["app"])
    if kavach is None:
        raise _NotStartedError
    return kavach


@declares_session()
async def active_session(request: Request) -> ActiveSession | None:
    """The request's valid session, looked up once per request.

    The one session dependency: the router's endpoints and the app's routes both use it.
    """
    if _ACTIVE_SESSION in request.scope:
        cached: ActiveSession | None = request.scope[_ACTIVE_SESSION]
        return cached
    kavach = get_kavach(request)
    sessions = kavach.sessions
    token_hash = sessions.token_hash(session_token(request, kavach.settings.base_url))
    found = None
    if token_hash is not None:
        found = sessions.recall(token_hash) or await sessions.check(token_hash)
    request.scope[_ACTIVE_SESSION] = found
    return found


@declares_session()
async def optional_user(request: Request) -> User | None:
    """The signed-in user, or ``None`` when nobody is signed in."""
    found = await active_session(request)
    return None if found is None else found.user


@declares_session(*SIGN_IN_ANSWERS)
async def current_user(request: Request) -> User:
    """The signed-in user.

    Raises:
        NotSignedInError: nobody is signed in (answered as 401 ``not_signed_in``).
    """
    found = await active_session(request)
    if found is None:
        raise NotSignedInError
    return found.user


CurrentUser = Annotated[User, Depends(current_user)]
"""The signed-in user; 401 when nobody is signed in."""

OptionalUser = Annotated[User | None, Depends(optional_user)]
"""The signed-in user, or ``None``."""
