"""The session: what it is, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from ..codes import ErrorCode
from ..hooks import SignOutEvent, notify
from ..http.cookies import SESSION_COOKIE
from ..http.errors import error_responses
from ..http.requests import is_navigation, mount_url
from ..models import SessionInfo, SessionView, SignedOut
from ..redirects import safe_redirect
from ..runtime import Kavach
from .common import NOT_SIGNED_IN, MaybeSession, SignedIn, cookies_of, refuse_cross_site

SIGN_OUT_PATH = "/auth/sign-out"


def add_session_routes(router: APIRouter, kavach: Kavach) -> None:
    """Add ``GET /auth/session`` and ``POST /auth/sign-out``."""
    settings = kavach.settings

    @router.get(
        "/auth/session",
        response_model=SessionView,
        summary="The current session",
        responses=NOT_SIGNED_IN,
    )
    async def get_session(found: SignedIn) -> SessionView:
        """The signed-in user and when the session expires; 401 when nobody is signed in."""
        return SessionView(user=found.user, session=SessionInfo(expires_at=found.expires_at))

    @router.post(
        SIGN_OUT_PATH,
        response_model=SignedOut,
        summary="Sign out",
        responses={
            303: {
                "description": "Signed out; sent on to `redirect_to` when it was given, or to "
                "`KAVACH_LANDING_URL` when a browser page (a form) sent the request without it."
            },
            **error_responses(ErrorCode.CROSS_SITE_REQUEST),
        },
    )
    async def sign_out(
        request: Request,
        found: MaybeSession,
        redirect_to: Annotated[
            str | None, Query(description="Answer 303 to this place instead of JSON.")
        ] = None,
    ) -> Response:
        """End the session on the server and clear the cookie.

        Answers JSON to a script or API client; a browser that navigated here (an HTML form)
        is sent on to ``redirect_to``, else to ``KAVACH_LANDING_URL``. Refused (403) when a
        browser sends it from another site.
        """
        refuse_cross_site(request, kavach, SIGN_OUT_PATH, "Sign-out")
        if found is not None and await kavach.sessions.revoke(found.token_hash):
            await notify(kavach.hooks.signed_out, SignOutEvent(found.user.id), "signed_out")
        response: Response
        if redirect_to is not None or is_navigation(request):
            base = mount_url(request, SIGN_OUT_PATH, settings.base_url)
            target = safe_redirect(
                redirect_to,
                own_origin=base,
                trusted=settings.trusted_origins,
                fallback=settings.landing_url,
            )
            response = RedirectResponse(target, status_code=303)
        else:
            response = JSONResponse(SignedOut(signed_out=True).model_dump())
        cookies_of(request, kavach).clear(response, SESSION_COOKIE)
        return response
