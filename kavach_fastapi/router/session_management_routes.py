"""Session management: a person lists their sessions, ends one, or ends all the others.

A person only ever sees and ends their own sessions: another person's session id answers 404
``unknown_session``, exactly as an id that never existed. The two endpoints that end sessions
change state, so, like sign-out, they are refused (403) when a browser sends them from another
site. An ended session is refused at once by this process, and by every other within the
session cache's lifetime.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from ..codes import ErrorCode
from ..http.cookies import SESSION_COOKIE
from ..http.errors import error_responses
from ..models import SessionsEnded, SignedInSession
from ..runtime import Kavach
from .common import NOT_SIGNED_IN, SignedIn, cookies_of, refuse_cross_site

SESSIONS_PATH = "/auth/sessions"
ONE_SESSION_PATH = "/auth/sessions/{session_id}"


def add_session_management_routes(router: APIRouter, kavach: Kavach) -> None:
    """Add ``GET /auth/sessions``, ``DELETE /auth/sessions/{session_id}`` and
    ``DELETE /auth/sessions``."""

    @router.get(
        SESSIONS_PATH,
        response_model=list[SignedInSession],
        summary="The signed-in person's sessions",
        responses=NOT_SIGNED_IN,
    )
    async def list_sessions(found: SignedIn) -> list[SignedInSession]:
        """Every session of the signed-in person that is still valid, the current one first
        (``current: true``), then by when they were last used.

        Each says when it was signed in and last used, and from what: the trimmed user agent
        and the network (IPv4 ``/24`` or IPv6 ``/48``). Never carries a token; ``id`` is a
        random public id.
        """
        return await kavach.sessions.sessions_of(found)

    @router.delete(
        ONE_SESSION_PATH,
        response_model=SessionsEnded,
        summary="End one of the signed-in person's sessions",
        responses={
            **NOT_SIGNED_IN,
            **error_responses(ErrorCode.CROSS_SITE_REQUEST, ErrorCode.UNKNOWN_SESSION),
        },
    )
    async def end_session(
        request: Request,
        found: SignedIn,
        session_id: Annotated[str, Path(description="The `id` from `GET /auth/sessions`.")],
    ) -> Response:
        """End one of the person's own sessions, e.g. a lost laptop's.

        Ending the current session signs out: the cookie is cleared and ``signed_out`` is
        true. An id that is not one of the person's sessions answers 404 ``unknown_session``,
        whether it never existed, already ended, or is someone else's.
        """
        refuse_cross_site(
            request, kavach, ONE_SESSION_PATH.format(session_id=session_id), "Ending a session"
        )
        was_current = await kavach.sessions.end_own_session(found, session_id)
        response = JSONResponse(SessionsEnded(ended=1, signed_out=was_current).model_dump())
        if was_current:
            cookies_of(request, kavach).clear(response, SESSION_COOKIE)
        return response

    @router.delete(
        SESSIONS_PATH,
        response_model=SessionsEnded,
        summary="Sign out other devices",
        responses={**NOT_SIGNED_IN, **error_responses(ErrorCode.CROSS_SITE_REQUEST)},
    )
    async def end_other_sessions(request: Request, found: SignedIn) -> SessionsEnded:
        """End every session of the signed-in person except the one making this request."""
        refuse_cross_site(request, kavach, SESSIONS_PATH, "Signing out other devices")
        ended = await kavach.sessions.end_other_sessions(found)
        return SessionsEnded(ended=ended, signed_out=False)
