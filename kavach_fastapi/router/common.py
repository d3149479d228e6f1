"""What the router's endpoints share: the session dependencies and the cross-site check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..codes import ErrorCode
from ..dependencies import active_session
from ..errors import CrossSiteRequestError, NotSignedInError
from ..http.cookies import CookiePolicy, cookie_policy
from ..http.errors import error_responses
from ..http.requests import is_cross_site, mount_url
from ..http.security import SIGN_IN_ANSWERS, declares_session
from ..runtime import Kavach
from ..sessions import ActiveSession

MaybeSession = Annotated[ActiveSession | None, Depends(active_session)]
"""The request's session, if any: the same dependency the app's own routes use."""


@declares_session(*SIGN_IN_ANSWERS)
async def signed_in(found: MaybeSession) -> ActiveSession:
    """The request's session.

    Raises:
        NotSignedInError: nobody is signed in.
    """
    if found is None:
        raise NotSignedInError
    return found


SignedIn = Annotated[ActiveSession, Depends(signed_in)]
"""The request's session; 401 ``not_signed_in`` without one."""

NOT_SIGNED_IN = error_responses(ErrorCode.NOT_SIGNED_IN)


def cookies_of(request: Request, kavach: Kavach) -> CookiePolicy:
    """How this request's cookies are named and flagged."""
    return cookie_policy(request, kavach.settings.base_url)


def refuse_cross_site(request: Request, kavach: Kavach, route_path: str, what: str) -> None:
    """Refuse a state-changing request that a browser sent from another site.

    Raises:
        CrossSiteRequestError: it came from another site (403).
    """
    settings = kavach.settings
    base = mount_url(request, route_path, settings.base_url)
    if is_cross_site(request, base, settings.csrf_trusted_origins):
        raise CrossSiteRequestError(f"{what} must come from this site.")
